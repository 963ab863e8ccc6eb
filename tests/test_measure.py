"""The PyTorch modules are correct, and the cost model equals what real runs measure.

Exact metrics (parameters, matmul FLOPs forward and backward, bytes saved for backward) must
match on every variant, both implementations, causal or not, biases or not, at odd sizes.
"""

import itertools

import pytest

torch = pytest.importorskip("torch")

import attncost as ac  # noqa: E402
from attncost import variants  # noqa: E402
from attncost.measure import (count_flops, count_params, flop_counter,  # noqa: E402
                              saved_activation_bytes)
from attncost.nn import build_attention  # noqa: E402

GRID = [dict(d_model=96, heads=3, seq_len=77, batch=3), dict(d_model=64, heads=4, seq_len=16,
                                                               batch=1, kv_heads=2)]


def configs():
    for dims, impl, causal, bias in itertools.product(GRID, ("materialised", "fused"),
                                                      (False, True), (False, True)):
        for variant in variants.builtin_names():
            if causal and not variants.get(variant).supports_causal:
                continue
            yield variant, ac.AttentionConfig(impl=impl, causal=causal, bias=bias, **dims)


CASES = list(configs())


@pytest.mark.parametrize("variant,cfg", CASES,
                         ids=[f"{v}-{c.impl}-{'causal' if c.causal else 'full'}-"
                              f"{'bias' if c.bias else 'nobias'}-{c.d_model}" for v, c in CASES])
def test_model_equals_measurement(variant, cfg):
    torch.manual_seed(0)
    module = build_attention(variant, cfg)
    x = torch.randn(cfg.batch, cfg.seq_len, cfg.d_model, requires_grad=True)
    predicted = ac.estimate(variant, cfg).metrics
    weights, biases = count_params(module)
    assert (weights, biases) == (predicted["params_weights"], predicted["params_biases"])
    flops = count_flops(module, x)
    assert flops.forward == predicted["flops_fwd_matmul"]
    assert flops.backward == predicted["flops_bwd_matmul"] + predicted["flops_bwd_recompute"]
    assert saved_activation_bytes(module, x) == predicted["activation_bytes"]


def test_cpu_sdpa_is_counted_and_equals_the_math_path():
    """torch's own FlopCounterMode counts 0 for the CPU flash kernel; attncost's mapping counts
    it, and the count equals the explicit-matmul (MATH backend) count, forward and backward."""
    from torch.nn.attention import SDPBackend, sdpa_kernel
    from torch.utils.flop_counter import FlopCounterMode

    q, k, v = (torch.randn(2, 4, 64, 16, requires_grad=True) for _ in range(3))

    def run(counter, backend=None):
        with counter:
            if backend is None:
                out = torch.nn.functional.scaled_dot_product_attention(q, k, v)
            else:
                with sdpa_kernel(backend):
                    out = torch.nn.functional.scaled_dot_product_attention(q, k, v)
            out.sum().backward()
        return counter.get_total_flops()

    assert run(FlopCounterMode(display=False)) == 0
    fused = run(flop_counter())
    math = run(FlopCounterMode(display=False), SDPBackend.MATH)
    # forward 2 matmuls; backward: dV, dP, dQ, dK, plus the fused kernel's recompute of q·kᵀ
    per_matmul = 2 * 2 * 4 * 64 * 64 * 16
    assert math == 6 * per_matmul
    assert fused == 7 * per_matmul


@pytest.mark.parametrize("variant", [v for v in variants.builtin_names()
                                     if variants.get(v).supports_causal])
def test_causal_masking_hides_the_future(variant):
    torch.manual_seed(0)
    cfg = ac.AttentionConfig(d_model=32, heads=4, seq_len=10, causal=True, kv_heads=2)
    module = build_attention(variant, cfg).eval()
    x = torch.randn(2, 10, 32)
    y = x.clone()
    y[:, 6:] = torch.randn(2, 4, 32)  # change only the future of positions 0..5
    assert torch.allclose(module(x)[:, :6], module(y)[:, :6], atol=1e-5)
    assert not torch.allclose(module(x)[:, 6:], module(y)[:, 6:], atol=1e-5)


@pytest.mark.parametrize("variant", [v for v in variants.builtin_names()
                                     if variants.get(v).impl_matters])
def test_fused_equals_materialised(variant):
    torch.manual_seed(0)
    base = dict(d_model=32, heads=4, seq_len=12, batch=2, k=6)
    mat = build_attention(variant, ac.AttentionConfig(impl="materialised", **base))
    fused = build_attention(variant, ac.AttentionConfig(impl="fused", **base))
    fused.load_state_dict(mat.state_dict())
    x = torch.randn(2, 12, 32)
    assert torch.allclose(mat(x), fused(x), atol=1e-5)


@pytest.mark.parametrize("variant", variants.builtin_names())
def test_gradients_are_right(variant):
    """torch.autograd.gradcheck in float64 on a tiny configuration."""
    torch.manual_seed(0)
    cfg = ac.AttentionConfig(d_model=8, heads=2, seq_len=5, batch=1, k=3, kv_heads=1)
    module = build_attention(variant, cfg).double()
    x = torch.randn(1, 5, 8, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(module, (x,), eps=1e-6, atol=1e-5)


def test_modules_reject_what_they_cannot_do():
    with pytest.raises(ValueError, match="causal"):
        build_attention("linformer", ac.AttentionConfig(causal=False).with_(causal=True))
    with pytest.raises(ValueError, match="exceeds"):
        m = build_attention("super", ac.AttentionConfig(d_model=16, heads=2, seq_len=8))
        m(torch.randn(1, 9, 16))


def test_super_follows_the_paper():
    """H_i = softmax(Q_i X_iᵀ/√d) (W_A X_i): computed by hand for one head."""
    torch.manual_seed(0)
    m = build_attention("super", ac.AttentionConfig(d_model=4, heads=1, seq_len=3)).eval()
    x = torch.randn(1, 3, 4)
    q = x[0] @ m.q_proj.weight.T
    s = torch.softmax(q @ x[0].T / 2.0, dim=-1)  # softmax over keys
    h = s @ (m.align.weight @ x[0])
    assert torch.allclose(m(x)[0], h @ m.out_proj.weight.T, atol=1e-6)


MODELS = {
    "gpt2": dict(n_layers=2, d_model=64, heads=4, seq_len=32, vocab=100, max_positions=64),
    "bert-base": dict(n_layers=2, d_model=64, heads=4, seq_len=32, vocab=100, max_positions=64),
    "vit-b16": dict(n_layers=2, d_model=64, heads=4, image_size=32, patch_size=8, seq_len=17,
                    max_positions=17, class_head=(10,)),
    "llama2-7b": dict(n_layers=2, d_model=64, heads=4, seq_len=32, vocab=100, d_ff=96),
    "seed-imdb": {},
}


@pytest.mark.parametrize("name", MODELS)
def test_whole_models_equal_measurement(name):
    """Small versions of every preset (same structure, smaller sizes) and a mixed stack."""
    from attncost.nn.model import TransformerModel

    torch.manual_seed(0)
    m = ac.preset(name, **MODELS[name])
    _check_model(m, TransformerModel)


def test_mixed_stack_equals_measurement():
    from attncost.nn.model import TransformerModel

    m = ac.ModelConfig(name="mixed", layers=("efficient", "standard", "super", "linformer"),
                       attention=ac.AttentionConfig(d_model=64, heads=4, seq_len=32, k=8,
                                                    sharing="layerwise"),
                       vocab=100, max_positions=32, class_head=(10,), pooling="mean")
    _check_model(m, TransformerModel)


def _check_model(m, cls):
    net = cls(m)
    b = m.attention.batch
    x = (torch.randn(b, m.channels, m.image_size, m.image_size) if m.is_vision
         else torch.randint(0, m.vocab, (b, m.attention.seq_len)))
    predicted = ac.estimate_model(m).metrics
    weights, biases = count_params(net)
    assert weights + biases == predicted["params"]
    flops = count_flops(net, x)
    assert flops.forward == predicted["flops_fwd_matmul"]
    assert flops.backward == predicted["flops_bwd_matmul"] + predicted["flops_bwd_recompute"]
    assert saved_activation_bytes(net, x) == predicted["activation_bytes"]
