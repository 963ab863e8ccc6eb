"""Decoding costs (attncost.decode) against a real decoding loop with a KV cache
(attncost.nn.decode): per-token matmul FLOPs counted by torch's FlopCounterMode and KV-cache
bytes of the tensors the loop keeps, exactly; outputs of the loop equal the causal forward's."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import attncost as ac
from attncost.config import from_hf_config
from attncost.errors import ConfigError, UnsupportedError

torch = pytest.importorskip("torch")

from attncost.measure import flop_counter  # noqa: E402
from attncost.nn import build_attention  # noqa: E402
from attncost.nn.decode import (attention_step, cache_bytes, decode_layer,  # noqa: E402
                                decode_model, model_step)

TINY = json.loads((Path(__file__).parent / "data" / "hf_tiny_configs.json").read_text())
PROMPT, NEW = 5, 3

LAYERS = {
    "standard": dict(variant="standard"),
    "standard-window": dict(variant="standard", window=4),
    "standard-softcap-nobias": dict(variant="standard", softcap=30.0, bias=False),
    "optimised": dict(variant="optimised"),
    "efficient": dict(variant="efficient"),
    "efficient-window": dict(variant="efficient", window=3),
    "mqa": dict(variant="mqa"),
    "gqa-2": dict(variant="gqa", kv_heads=2),
    "mla": dict(variant="mla", bias=False),
    "mla-odd-rope": dict(variant="mla", rope_dim=3),  # an odd RoPE width (d_head 30 → 15)
    "kernel-linear": dict(variant="kernel-linear"),
}


def _steps(step, cache, inputs, start):
    """Run ``step(x, cache, pos)`` on each input; (outputs, FLOPs per step, cache bytes
    before and after each step)."""
    outs, flops, sizes = [], [], []
    for i, x in enumerate(inputs):
        before = cache_bytes(cache)
        with flop_counter() as fc:
            outs.append(step(x, cache, start + i))
        flops.append(fc.get_total_flops())
        sizes.append((before, cache_bytes(cache)))
    return outs, flops, sizes


@pytest.mark.parametrize("case", LAYERS)
def test_layer_decoding_matches_the_loop_exactly(case):
    kw = dict(LAYERS[case])
    variant = kw.pop("variant")
    cfg = ac.AttentionConfig(d_model=32, heads=4, seq_len=PROMPT, batch=2, causal=True,
                             dropout=False, **kw)
    costs = ac.decode_costs(variant, NEW, config=cfg, device="rpi5-8gb")
    torch.manual_seed(0)
    mod = build_attention(variant, cfg).eval()
    x = torch.randn(2, PROMPT + NEW, 32)
    with torch.no_grad():
        full = mod(x)
        prompt_out, cache = decode_layer(mod, x[:, :PROMPT])
        outs, flops, sizes = _steps(lambda t, c, p: attention_step(mod, t, c, p), cache,
                                    [x[:, i:i + 1] for i in range(PROMPT, PROMPT + NEW)],
                                    PROMPT)
    # the loop is a decoder of this module: the causal forward's outputs at every position
    assert torch.allclose(torch.cat([prompt_out, *outs], 1), full, atol=1e-5)
    # per-token matmul FLOPs (2 × MACs), first and last generated token, exactly
    assert (costs.first.flops_matmul, costs.last.flops_matmul) == (flops[0], flops[-1])
    assert costs.first.context == PROMPT + 1 and costs.last.context == PROMPT + NEW
    # all tokens: the exact telescoping sum
    assert costs.total_flops_matmul == sum(flops)
    # the KV cache after the n tokens, and what each token reads of it, exactly
    assert costs.kv_cache_bytes == cache_bytes(cache) == costs.last.kv_bytes_read
    assert costs.first.kv_bytes_read == sizes[0][1]
    # bytes a token writes: its keys and values (the recurrent state: all of it)
    window = kw.get("window")
    if variant == "kernel-linear":
        assert costs.first.kv_bytes_written == cache_bytes(cache)
    elif window is None:
        assert costs.first.kv_bytes_written == sizes[0][1] - sizes[0][0]
    # every weight is read once per token
    assert costs.first.weight_bytes_read == sum(p.numel() * p.element_size()
                                                for p in mod.parameters())
    # the roofline: max(compute, memory) on the device, memory-bound here
    dev = ac.devices.get_device("rpi5-8gb")
    assert costs.first.latency_s == pytest.approx(max(
        costs.first.flops_matmul / dev.peak("fp32", True)[0]
        + costs.first.flops_other / dev.peak("fp32", False)[0],
        costs.first.bytes / dev.bandwidth))
    assert costs.first.bound == "memory"
    assert costs.first.tokens_per_s == pytest.approx(2 / costs.first.latency_s)


def test_rope_rotates_pairs_and_leaves_an_odd_last_element():
    """RoPE is a rotation (norms kept), the identity at position 0, relative (q·k depends on
    the distance only), and an odd width's last element stays as it is."""
    from attncost.nn.attention import LatentAttention

    rope = LatentAttention.rope
    torch.manual_seed(0)
    for dim in (1, 2, 3, 8, 15):
        t = torch.randn(2, 6, 3, dim)
        out = rope(t)
        assert torch.allclose(out.norm(dim=-1), t.norm(dim=-1), atol=1e-5)
        assert torch.allclose(out[:, 0], t[:, 0])
        if dim % 2:
            assert torch.equal(out[..., -1], t[..., -1])
        q, k = torch.randn(1, 1, 1, dim), torch.randn(1, 1, 1, dim)
        dots = [(rope(q, a) * rope(k, a + 2)).sum() for a in (0, 3, 7)]
        assert torch.allclose(torch.stack(dots), dots[0].expand(3), atol=1e-4)


MODELS = ["gpt2", "llama", "llama-tied-mqa", "mistral", "mixtral", "gemma2", "phi",
          "deepseek_v2"]


@pytest.mark.parametrize("name", MODELS)
def test_model_decoding_matches_the_loop_exactly(name):
    """Whole models (tiny configs of each family: tied heads, MQA, sliding windows, MoE,
    soft-capping and sandwich norms, a parallel block, MLA): logits, per-token FLOPs and the
    KV cache of the loop over every block."""
    m = from_hf_config(TINY[name], name=name, batch=2, seq_len=PROMPT, dropout=False)
    costs = ac.decode_costs(m, NEW)
    from attncost.nn.model import TransformerModel

    torch.manual_seed(0)
    net = TransformerModel(m, dropout=0.0).eval()
    ids = torch.randint(0, m.vocab, (2, PROMPT + NEW))
    with torch.no_grad():
        full = net(ids)
        prompt_out, caches = decode_model(net, ids[:, :PROMPT])
        outs, flops, _ = _steps(lambda t, c, p: model_step(net, t, c, p), caches,
                                [ids[:, i:i + 1] for i in range(PROMPT, PROMPT + NEW)], PROMPT)
    assert torch.allclose(torch.cat([prompt_out, *outs], 1), full, atol=1e-4)
    assert (costs.first.flops_matmul, costs.last.flops_matmul) == (flops[0], flops[-1])
    assert costs.total_flops_matmul == sum(flops)
    assert costs.kv_cache_bytes == cache_bytes(caches)
    # the memory budget's KV cache of those tokens, from the graph at the prompt's length
    # (shorter than a window the loop fills): the loop's cache too
    from attncost.decode import cache_bytes_of_tokens
    from attncost.graphs import model_graph

    assert cache_bytes_of_tokens(model_graph(m), 4, 2, 2 * (PROMPT + NEW)) == \
        cache_bytes(caches)
    if not any(".experts." in n for n, _ in net.named_parameters()):
        # weights read: every parameter, the embedding tables only their looked-up rows
        # (two sequences), a tied head in full
        tables = [net.tok_embed.weight] if net.lm_head.weight is not net.tok_embed.weight \
            else []
        tables += [net.pos_embed] if net.pos_embed is not None else []
        size = 4
        expected = sum(p.numel() for p in net.parameters()) - sum(
            t.numel() - 2 * t.shape[-1] for t in tables)
        assert costs.first.weight_bytes_read == expected * size


def test_totals_with_a_window_are_exact():
    cfg = ac.AttentionConfig(d_model=16, heads=2, seq_len=2, batch=1, causal=True, window=3)
    costs = ac.decode_costs("gqa", 6, config=cfg, kv_heads=1)
    per = [ac.decode_costs("gqa", 1, config=cfg, kv_heads=1, prompt_len=p).first
           for p in range(2, 8)]
    assert costs.total_flops_matmul + costs.total_flops_other == sum(t.flops for t in per)
    assert costs.total_bytes == sum(t.bytes for t in per)
    assert per[-1].kv_bytes_read == per[2].kv_bytes_read  # the window is full from L = 3


def test_memory_budget_bounds_a_sliding_windows_cache():
    """--decode-tokens in a fit: a sliding-window model's cache stops growing at its window
    per sequence (Mistral-7B: 4,096 tokens), a model without one grows with every token, and
    Gemma-2's local layers stop while its global ones grow."""
    for name, window in (("mistral-7b-v0.1", 4096), ("gpt2", None), ("gemma-2-2b", 4096)):
        base = ac.estimate_model(name, mode="infer", device="h100-sxm")
        per_token = base.metrics["kv_cache_bytes_per_token"]
        for batch in (1, 3):
            for n in (window or 300, 3 * (window or 300)):
                est = ac.estimate_model(name, mode="infer", device="h100-sxm", batch=batch,
                                        decode_tokens=n * batch)
                added = est.fit.required_bytes - est.metrics["inference_peak_bytes"]
                if window is None or n <= window:
                    assert added == per_token * n * batch
                elif name.startswith("mistral"):
                    assert added == per_token * window * batch
                else:  # half the layers local: more than the window, less than every token
                    assert per_token * window * batch < added < per_token * n * batch
    # more tokens per sequence than the model has positions for cannot be decoded
    with pytest.raises(ConfigError, match="1,025 tokens per sequence .* longest context 1,024"):
        ac.estimate_model("gpt2", mode="infer", device="h100-sxm", decode_tokens=1025)
    assert ac.estimate_model("gpt2", mode="infer", device="h100-sxm", batch=2,
                             decode_tokens=2048).fit.fits
    assert ac.max_batch(ac.preset("mistral-7b-v0.1", seq_len=512), "h100-sxm", mode="infer",
                        decode_tokens=10**6) is not None  # 10⁶ tokens would need 122 GiB


def test_presets_and_non_decoders():
    d = ac.decode_costs("llama-3.2-1b", 4, prompt_len=8, device="h100-sxm")
    # tied LM head: the head reads the whole token table, so every parameter is read once
    assert d.first.weight_bytes_read == 1_235_814_400 * 2
    assert d.first.bound == "memory" and d.tokens_per_s > 0
    for target, kind in [("bert-base", UnsupportedError), ("vit-b16", UnsupportedError),
                         ("linformer", UnsupportedError), ("super", UnsupportedError),
                         ("nope", ConfigError)]:
        with pytest.raises(kind):
            ac.decode_costs(target, 4)
    with pytest.raises(ConfigError, match="n_tokens"):
        ac.decode_costs("standard", 0)
    with pytest.raises(ConfigError, match="longest context"):
        ac.decode_costs("gpt2", 2, prompt_len=1024)


def test_cli_decode(tmp_path):
    from typer.testing import CliRunner

    from attncost.cli import app

    runner = CliRunner()
    r = runner.invoke(app, ["estimate", "-v", "gqa", "-v", "linformer", "--decode", "3",
                            "--seq-len", "16", "--device", "rpi5-8gb", "--format", "json"])
    assert r.exit_code == 0, r.output
    data = json.loads(r.output)
    assert data[0]["decode"]["first"]["context"] == 17
    assert data[0]["decode"]["first"]["flops_matmul"] == ac.decode_costs(
        "gqa", 3, seq_len=16).first.flops_matmul
    assert data[1]["decode"] is None and "causal" in data[1]["decode_note"]
    r = runner.invoke(app, ["estimate", "--preset", "gpt2", "--decode", "2", "--seq-len", "8",
                            "--layers", "1"])
    assert r.exit_code == 0, r.output
    assert "first token" in r.output and "KV cache after" in r.output
    md, js = tmp_path / "d.md", tmp_path / "d.json"
    r = runner.invoke(app, ["decode", "gpt2", "bert-base", "-n", "2", "--prompt-len", "8",
                            "--device", "h100-sxm", "-o", str(md), "-o", str(js)])
    assert r.exit_code == 0, r.output
    assert "| gpt2 | fp32 | 8 |" in md.read_text()
    assert "bert-base" in json.loads(js.read_text())["left_out"]
    r = runner.invoke(app, ["decode", "gpt2", "-o", str(tmp_path / "d.txt")])
    assert r.exit_code != 0 and "suffix" in r.output and "Traceback" not in r.output
    r = runner.invoke(app, ["estimate", "--decode", "0"])
    assert r.exit_code != 0 and "n_tokens" in r.output


def test_default_prompt_is_shortened_to_fit_the_context_and_an_explicit_one_is_refused():
    """gpt2 has 1,024 learned positions and seq_len 1,024: the default prompt leaves room for
    the generated tokens; a prompt the user gives is never changed, and one too long is a
    one-line error naming the model."""
    import attncost as ac
    from attncost.errors import ConfigError

    d = ac.decode_costs("gpt2", 128)
    assert (d.prompt_len, d.n_tokens) == (1024 - 128, 128)
    with pytest.raises(ConfigError, match=r"gpt2.*1000 \+ 128 = 1128 exceeds the longest "
                                          r"context 1,024"):
        ac.decode_costs("gpt2", 128, prompt_len=1000)
