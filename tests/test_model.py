"""Whole models: published parameter counts and the literature's accounting anchors."""

import pytest

import attncost as ac
from attncost import estimate_model, preset

PUBLISHED = {
    "gpt2": 124_439_808,        # Hugging Face gpt2 (GPT2LMHeadModel, tied head)
    "bert-base": 109_482_240,   # bert-base-uncased BertModel with pooler
    "vit-b16": 86_567_656,      # timm vit_base_patch16_224
    "llama2-7b": 6_738_415_616,  # meta-llama/Llama-2-7b-hf
}


@pytest.mark.parametrize("name,count", PUBLISHED.items())
def test_presets_match_published_counts(name, count):
    assert preset(name).published_params == count
    assert estimate_model(name).metrics["params"] == count


def test_seed_imdb_hand_count():
    """The seed paper's IMDB model as the reimplementation builds it, counted by hand:
    embeddings 20000·32 + 32·32, attention 4·(32·32 + 32), two LayerNorms 2·64, FFN
    2·(32·32 + 32), head 32·6 + 6 + 6·1 + 1."""
    expected = 640_000 + 1_024 + 4_224 + 128 + 2_112 + 198 + 7
    assert estimate_model("seed-imdb").metrics["params"] == expected == 647_693
    # Efficient drops W_K and W_V (2·(32·32 + 32)); Super adds W_A back as nn.Linear(32, 32)
    assert estimate_model("seed-imdb", variant="efficient").metrics["params"] == expected - 2112
    assert estimate_model("seed-imdb", variant="super").metrics["params"] == \
        expected - 2112 + 32 * 32 + 32


def _layer_delta(metric, **kw):
    """One block's share: a 2-block model minus a 1-block model."""
    two = estimate_model("gpt2", n_layers=2, **kw).metrics[metric]
    one = estimate_model("gpt2", n_layers=1, **kw).metrics[metric]
    return two - one


def test_megatron_layer_flops():
    """Narayanan et al. 2021 (arXiv 2104.04473): a GPT layer's forward is 24·B·s·h² + 4·B·s²·h
    matmul FLOPs; training (no recomputation) is 3× forward, 72·B·s·l·h²(1 + s/6h + V/12lh)."""
    b, s, h, v, layers = 2, 1024, 768, 50257, 12
    assert _layer_delta("flops_fwd_matmul", batch=b, bias=False) == \
        24 * b * s * h * h + 4 * b * s * s * h
    m = estimate_model("gpt2", batch=b).metrics
    fwd_bwd = m["flops_fwd_matmul"] + m["flops_bwd_matmul"]
    assert fwd_bwd == 72 * b * s * layers * h * h + 12 * b * s * s * h * layers + 6 * b * s * h * v


def test_korthikanti_activation_memory():
    """Korthikanti et al. 2022 (arXiv 2205.05198): per layer s·b·h·(34 + 5·a·s/h) bytes with
    16-bit activations and 1-byte dropout masks; attncost also keeps LayerNorm's fp32 mean and
    rstd (2 LayerNorms × 2 × 4 bytes per row), which that accounting leaves out, and, GPT-2
    being causal, the s×s boolean mask that ``masked_fill`` saves."""
    b, s, h, a = 2, 1024, 768, 12
    delta = _layer_delta("activation_bytes", batch=b, dtype="bf16", dropout=True)
    assert delta == s * b * h * 34 + 5 * a * s * s * b + 2 * 2 * 4 * s * b + s * s
    plain = _layer_delta("activation_bytes", batch=b, dtype="bf16", dropout=True, causal=False)
    assert plain == s * b * h * 34 + 5 * a * s * s * b + 2 * 2 * 4 * s * b


def test_flash_removes_the_5as2b_term():
    b, s, h, a = 1, 1024, 768, 12
    mat = _layer_delta("activation_bytes", batch=b, dtype="bf16", dropout=True)
    fused = _layer_delta("activation_bytes", batch=b, dtype="bf16", dropout=True, impl="fused")
    # the fused kernel drops 5as²b (and the causal mask); it saves its own output, which is
    # also W_O's input (its (b, s, h, d) layout makes the head merge a view), so the 11sbh
    # stay, plus an fp32 log-sum-exp per row (4asb)
    assert mat - 5 * a * s * s * b - s * s < fused < mat
    assert fused == 34 * s * b * h + 4 * a * s * b + 16 * s * b


def test_kv_cache_and_mixed_layers():
    m = estimate_model("llama2-7b", dtype="fp16").metrics
    assert m["kv_cache_bytes_per_token"] == 32 * 2 * 4096 * 2  # 0.5 MiB per token
    mixed = ac.ModelConfig(name="mix", layers=("efficient", "standard", "super"),
                           attention=ac.AttentionConfig(d_model=64, heads=4, seq_len=32),
                           vocab=100)
    e = estimate_model(mixed)
    assert e.kv_cache_note is not None  # Super cannot decode, so neither can the model
    per = {v: ac.estimate(v, d_model=64, heads=4, seq_len=32).metrics["params"]
           for v in ("efficient", "standard", "super")}
    blocks = sum(per.values())
    d = 64
    rest = 100 * d + 3 * (2 * (2 * d) + (d * 4 * d + 4 * d) + (4 * d * d + d)) + 2 * d
    assert e.metrics["params"] == blocks + rest


def test_model_errors():
    with pytest.raises(ac.UnknownNameError, match="unknown preset 'gpt5'"):
        preset("gpt5")
    with pytest.raises(ac.ConfigError, match="max_positions=1024"):
        estimate_model("gpt2", seq_len=2048)
    with pytest.raises(ac.ConfigError, match="does not match the image"):
        estimate_model("vit-b16", seq_len=100)
