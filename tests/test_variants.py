"""Every variant's formulas pinned to independently derived numbers.

The expected values below are written from the papers' definitions (and
../shared/reference/variants.md), not from attncost's code: weights by matrix shapes, MACs by
matrix products, bytes by what autograd saves.
"""

from fractions import Fraction

import pytest

import attncost as ac
from attncost import AttentionConfig, estimate

FP32 = 4


def macs(metrics):
    return metrics["flops_fwd_matmul"] // 2


# -- parameters ---------------------------------------------------------------------------


@pytest.mark.parametrize("d,h,ell", [(512, 8, 256), (96, 3, 77), (64, 4, 64)])
def test_paper_parameter_ratios(d, h, ell):
    """Optimised keeps 3/4 and Efficient 1/2 of standard's projection weights (arXiv
    2403.01643); Super adds the ℓ×ℓ kernel."""
    p = {v: estimate(v, d_model=d, heads=h, seq_len=ell).metrics["params"]
         for v in ("standard", "optimised", "efficient", "super")}
    assert p["standard"] == 4 * d * d
    assert Fraction(p["optimised"], p["standard"]) == Fraction(3, 4)
    assert Fraction(p["efficient"], p["standard"]) == Fraction(1, 2)
    assert p["super"] == 2 * d * d + ell * ell


def test_super_is_25_percent_smaller_at_seq_len_equal_d_model():
    """The paper's "25 % fewer parameters" for Super holds at ℓ = d_m: 3d² vs 4d²."""
    std = estimate("standard", d_model=256, heads=4, seq_len=256).metrics["params"]
    sup = estimate("super", d_model=256, heads=4, seq_len=256).metrics["params"]
    assert Fraction(sup, std) == Fraction(3, 4)


def test_super_has_fewer_weights_iff_seq_len_below_sqrt2_d_model():
    """Derived: 2d² + ℓ² < 4d² ⇔ ℓ < √2·d; for d = 512, √2·512 = 724.08."""
    rows = ac.crossover("super", "standard", "params", d_model=512, lo=1, hi=2048)
    assert [r["at"] for r in rows] == [725]


def test_biases():
    """nn.Linear biases: +4d, +3d, +2d; Super's W_A as nn.Linear(ℓ, ℓ) adds +ℓ."""
    d, ell = 64, 32
    expect = {"standard": 4 * d, "optimised": 3 * d, "efficient": 2 * d, "super": 2 * d + ell}
    for v, extra in expect.items():
        m = estimate(v, d_model=d, heads=4, seq_len=ell, bias=True).metrics
        assert m["params_biases"] == extra
        assert m["params"] == m["params_weights"] + extra


def test_gqa_mqa_weights():
    """MQA 2d² + 2d·d_h; GQA with g KV heads 2d² + 2d·g·d_h (Shazeer 2019; Ainslie 2023)."""
    d, h, g = 512, 8, 2
    dh = d // h
    assert estimate("mqa", d_model=d, heads=h).metrics["params"] == 2 * d * d + 2 * d * dh
    assert estimate("gqa", d_model=d, heads=h, kv_heads=g).metrics["params"] == \
        2 * d * d + 2 * d * g * dh
    assert estimate("gqa", d_model=d, heads=h, kv_heads=h).metrics["params"] == 4 * d * d


def test_mla_deepseek_v2():
    """DeepSeek-V2 attention (arXiv 2405.04434): d 5120, 128 heads of 128, d_c 512, d_c' 1536,
    d_hR 64. Weights by shape; KV cache 576 elements per token vs 32,768 for MHA."""
    d, h, dh, dc, dq, dr = 5120, 128, 128, 512, 1536, 64
    m = estimate("mla", d_model=d, heads=h, d_head=dh, seq_len=16, kv_latent=dc, q_latent=dq,
                 rope_dim=dr).metrics
    assert m["params"] == (d * dc + 2 * dc * h * dh + d * dr + d * dq + dq * h * (dh + dr)
                           + h * dh * d)
    assert m["kv_cache_bytes_per_token"] == (dc + dr) * FP32
    mha = estimate("standard", d_model=d, heads=h, d_head=dh, seq_len=16).metrics
    assert mha["kv_cache_bytes_per_token"] == 32768 * FP32


def test_linformer_sharing_weights():
    """Extra weights over standard: none 2hkℓ, headwise 2kℓ, key-value kℓ, layerwise kℓ
    once for the whole stack (Wang et al. 2020, section 4)."""
    d, h, ell, k = 128, 4, 256, 32
    std = 4 * d * d
    extra = {"none": 2 * h * k * ell, "headwise": 2 * k * ell, "key-value": k * ell,
             "layerwise": k * ell}
    for sharing, e in extra.items():
        m = estimate("linformer", d_model=d, heads=h, seq_len=ell, k=k, sharing=sharing).metrics
        assert m["params"] == std + e, sharing
    three = {s: estimate("linformer", d_model=d, heads=h, seq_len=ell, k=k, sharing=s,
                         layers=3).metrics["params"] for s in extra}
    assert three["layerwise"] == 3 * std + k * ell
    assert three["key-value"] == 3 * (std + k * ell)


def test_linformer_built_for_max_seq_len():
    """E, F are k×L for the length L the model is built for; shorter inputs slice them."""
    m = estimate("linformer", d_model=64, heads=4, seq_len=100, max_seq_len=512, k=64).metrics
    assert m["params"] == 4 * 64 * 64 + 2 * 64 * 512


# -- forward FLOPs ----------------------------------------------------------------------------


def test_reference_block_truth():
    """variants.md §6: one block, batch 1, ℓ 256, d 512, 8 heads, no biases: 335,544,320 MACs."""
    assert macs(estimate("standard", d_model=512, heads=8, seq_len=256).metrics) == 335_544_320


@pytest.mark.parametrize("b,ell,d,h", [(1, 256, 512, 8), (3, 77, 96, 3), (2, 64, 64, 4)])
def test_paper_forward_macs(b, ell, d, h):
    """Derived in variants.md §1 (batch b): standard 4ℓd² + 2ℓ²d, Optimised 3ℓd² + 2ℓ²d,
    Efficient 2ℓd² + 2ℓ²d, Super 2ℓd² + 3ℓ²d."""
    expect = {"standard": 4 * ell * d * d + 2 * ell * ell * d,
              "optimised": 3 * ell * d * d + 2 * ell * ell * d,
              "efficient": 2 * ell * d * d + 2 * ell * ell * d,
              "super": 2 * ell * d * d + 3 * ell * ell * d}
    for v, per_seq in expect.items():
        for impl in ("materialised", "fused"):
            m = estimate(v, batch=b, seq_len=ell, d_model=d, heads=h, impl=impl).metrics
            assert macs(m) == b * per_seq, (v, impl)


def test_practical_variants_forward_flops():
    """variants.md §4: MQA 4bℓd² + 4bℓd·d_h + 4bℓ²d, GQA with g·d_h, kernel linear 8bℓd² +
    4bℓh·d_h² (+ the normaliser φ(Q)·Σφ(K): 2bℓh·d_h)."""
    b, ell, d, h, g = 2, 128, 256, 8, 2
    dh = d // h
    fl = lambda v, **kw: estimate(v, batch=b, seq_len=ell, d_model=d, heads=h, **kw)  # noqa: E731
    assert fl("mqa").metrics["flops_fwd_matmul"] == \
        4 * b * ell * d * d + 4 * b * ell * d * dh + 4 * b * ell * ell * d
    assert fl("gqa", kv_heads=g).metrics["flops_fwd_matmul"] == \
        4 * b * ell * d * d + 4 * b * ell * d * g * dh + 4 * b * ell * ell * d
    assert fl("kernel-linear").metrics["flops_fwd_matmul"] == \
        8 * b * ell * d * d + 4 * b * ell * h * dh * dh + 2 * b * ell * h * dh
    assert fl("linear").metrics["flops_fwd_matmul"] == \
        8 * b * ell * d * d + 4 * b * ell * h * dh * dh


def test_linformer_core_falls_by_2k_over_ell():
    """variants.md §3: the ℓ-dependent core falls from 4bℓ²d to 8bℓkd FLOPs (projections of
    K and V along the sequence, E·K and F·V, add 4bℓkd)."""
    b, ell, d, h, k = 2, 512, 128, 4, 64
    m = estimate("linformer", batch=b, seq_len=ell, d_model=d, heads=h, k=k).metrics
    assert m["flops_fwd_matmul"] == 8 * b * ell * d * d + 4 * b * ell * k * d + 4 * b * k * ell * d


def test_causal_convention():
    """Full rectangle as PyTorch counts it; useful work counts ℓ(ℓ+1)/2 pairs per head."""
    b, ell, d, h = 1, 100, 64, 4
    full = estimate("standard", batch=b, seq_len=ell, d_model=d, heads=h, causal=True).metrics
    plain = estimate("standard", batch=b, seq_len=ell, d_model=d, heads=h).metrics
    assert full["flops_fwd_matmul"] == plain["flops_fwd_matmul"]
    proj = 2 * 4 * b * ell * d * d
    pairs = ell * (ell + 1) // 2
    useful_mm = proj + 2 * 2 * b * h * (d // h) * pairs
    # useful other: scale + mask + softmax (1 + 1 + 5 per kept score)
    assert full["flops_fwd_useful"] == useful_mm + 7 * b * h * pairs
    assert plain["flops_fwd_useful"] == plain["flops_fwd"]


def test_backward_is_derived_per_operation():
    """Backward matmul FLOPs: two products per matmul when both operands need a gradient; the
    first projections skip the input gradient when the input does not need one."""
    m = estimate("standard", d_model=64, heads=4, seq_len=32).metrics
    assert m["flops_bwd_matmul"] == 2 * m["flops_fwd_matmul"]
    frozen = estimate("standard", d_model=64, heads=4, seq_len=32,
                      input_requires_grad=False).metrics
    # q, k, v projections: 3 · (2 · ℓ · d · d) FLOPs of input gradient fewer
    assert m["flops_bwd_matmul"] - frozen["flops_bwd_matmul"] == 3 * 2 * 32 * 64 * 64
    fused = estimate("standard", d_model=64, heads=4, seq_len=32, impl="fused").metrics
    assert fused["flops_bwd_matmul"] == m["flops_bwd_matmul"]
    assert fused["flops_bwd_recompute"] == 2 * 4 * 32 * 32 * 16  # q·kᵀ again, 4 heads
    assert fused["flops_bwd"] == (fused["flops_bwd_matmul"] + fused["flops_bwd_other"]
                                  + fused["flops_bwd_recompute"])


# -- memory ----------------------------------------------------------------------------------


def test_standard_saved_activations_by_hand():
    """Materialised, fp32, no dropout: x (saved by the projections), the q, k, v head copies,
    the merged heads (input of W_O) — 5·bℓd elements — and the softmax output b·h·ℓ²."""
    b, ell, d, h = 3, 77, 96, 3
    m = estimate("standard", batch=b, seq_len=ell, d_model=d, heads=h).metrics
    assert m["activation_bytes"] == FP32 * (5 * b * ell * d + b * h * ell * ell)
    causal = estimate("standard", batch=b, seq_len=ell, d_model=d, heads=h, causal=True).metrics
    assert causal["activation_bytes"] - m["activation_bytes"] == ell * ell  # bool mask
    drop = estimate("standard", batch=b, seq_len=ell, d_model=d, heads=h, dropout=True).metrics
    # dropout saves its bool mask, and p·v saves the dropped probabilities (softmax still
    # saves its own output): b·h·ℓ² · (1 + 4) bytes more
    assert drop["activation_bytes"] - m["activation_bytes"] == b * h * ell * ell * (1 + FP32)


def test_fused_saves_no_scores():
    """Flash-style SDPA saves q, k, v, the output (also W_O's input: the head merge of its
    (b, ℓ, h, d) output is a view) and an fp32 log-sum-exp per row; x is saved by the
    projections."""
    b, ell, d, h = 2, 64, 64, 4
    m = estimate("standard", batch=b, seq_len=ell, d_model=d, heads=h, impl="fused").metrics
    assert m["activation_bytes"] == FP32 * (5 * b * ell * d) + 4 * b * h * ell
    eff = estimate("efficient", batch=b, seq_len=ell, d_model=d, heads=h, impl="fused").metrics
    # keys and values are views of x, which the q projection saves anyway
    assert eff["activation_bytes"] == FP32 * (3 * b * ell * d) + 4 * b * h * ell


def test_kv_cache_per_token():
    """Derived (variants.md §1, §4): standard and Optimised 2d, Efficient d, MQA 2d_h, GQA
    2g·d_h; undefined for Super, Linformer and linear; kernel-linear keeps a constant state."""
    d, h = 256, 8
    kv = {v: estimate(v, d_model=d, heads=h, kv_heads=2).metrics["kv_cache_bytes_per_token"]
          for v in ac.variant_names()}
    assert kv["standard"] == kv["optimised"] == 2 * d * FP32
    assert kv["efficient"] == d * FP32
    assert kv["mqa"] == 2 * (d // h) * FP32 and kv["gqa"] == 2 * 2 * (d // h) * FP32
    assert kv["super"] is None and kv["linformer"] is None and kv["linear"] is None
    kl = estimate("kernel-linear", d_model=d, heads=h).metrics
    assert kl["kv_cache_bytes_per_token"] == 0
    assert kl["decode_state_bytes"] == h * ((d // h) ** 2 + d // h) * FP32
    bf = estimate("standard", d_model=d, heads=h, dtype="bf16").metrics
    assert bf["kv_cache_bytes_per_token"] == 2 * d * 2


def test_training_memory_adam_mixed_precision():
    """Mixed precision Adam: 2 (bf16 weights) + 2 (grads) + 12 (fp32 master, m, v) bytes per
    parameter (Korthikanti et al. 2022)."""
    m = estimate("standard", d_model=128, heads=4, dtype="bf16").metrics
    n = m["params"]
    assert (m["weight_bytes"], m["grad_bytes"], m["optimizer_bytes"]) == (2 * n, 2 * n, 12 * n)
    sgd = estimate("standard", d_model=128, heads=4, optimizer="sgd").metrics
    assert sgd["optimizer_bytes"] == 0
    pure = estimate("standard", d_model=128, heads=4, dtype="bf16", master_weights=False).metrics
    assert pure["optimizer_bytes"] == 2 * 2 * n  # Adam states kept in bf16 like the params


def test_peaks_are_consistent():
    for v in ac.variant_names():
        m = estimate(v, d_model=64, heads=4, seq_len=64, batch=2).metrics
        assert m["inference_peak_bytes"] > m["weight_bytes"]
        assert m["train_peak_bytes"] >= (m["weight_bytes"] + m["optimizer_bytes"]
                                         + m["activation_bytes"]), v


def test_unsupported_causal_and_slicing_errors():
    with pytest.raises(ac.UnsupportedError, match="linformer"):
        estimate("linformer", causal=True)
    with pytest.raises(ac.UnsupportedError, match="linear"):
        estimate("linear", causal=True)
    with pytest.raises(ac.ConfigError, match="heads·d_head must equal d_model"):
        estimate("efficient", d_model=64, heads=4, d_head=8)
    estimate("super", causal=True)  # Super trains causally with a lower-triangular W_A


def test_custom_variant_file(example_variant_file):
    """A variant defined in a few lines outside the package gets every metric."""
    from attncost.variants import load_variant_file

    load_variant_file(example_variant_file)
    d = 128
    m = estimate("shared-kv", d_model=d, heads=4, seq_len=32).metrics
    assert m["params"] == 3 * d * d
    assert m["kv_cache_bytes_per_token"] == d * FP32
    assert str(ac.formula("shared-kv", "params")) == "3*d_m**2"


def test_formulas_print():
    import sympy

    assert str(ac.formula("efficient", "params")) == "2*d_m**2"
    assert sympy.latex(ac.formula("super", "params")) == r"2 d_{m}^{2} + \ell^{2}"
    assert ac.formula("super", "kv_cache_bytes_per_token") is None
    with pytest.raises(ac.UnknownNameError):
        ac.formula("standard", "bananas")


def test_config_validation_messages():
    with pytest.raises(ac.ConfigError, match="heads=7 does not divide d_model=512"):
        AttentionConfig(d_model=512, heads=7)
    with pytest.raises(ac.ConfigError, match="seq_len must be a positive integer, got 0"):
        AttentionConfig(seq_len=0)
    with pytest.raises(ac.ConfigError, match="k=600 exceeds"):
        AttentionConfig(seq_len=512, k=600)
    with pytest.raises(ac.UnknownNameError, match="unknown variant 'flash'"):
        estimate("flash")
    with pytest.raises(ac.UnknownNameError, match="dtype"):
        AttentionConfig(dtype="fp64")
