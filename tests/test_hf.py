"""Hugging Face configs (issue 13): reading config.json without transformers, parity with the
models transformers builds, the features the families need (MoE, sliding windows, QKV-only
biases, Gemma, MLA as DeepSeek ships it), presets, swap_attention and the what-if report.

Reference numbers (tests/data, made by tests/data/make_hf_reference.py with transformers
5.24.0 / torch 2.13.0): ``hf_reference_counts.json``, num_parameters() of each shipped
config's class on the meta device; ``hf_tiny_reference.json``, num_parameters() and the
forward matmul FLOPs FlopCounterMode counts on the transformers model (eager attention) of a
tiny config of every family. When transformers is importable the counts are also checked live.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import attncost as ac
from attncost.config import from_hf_config, preset, preset_names, swap_attention
from attncost.config.presets import hf_preset_names, hf_sidecar

DATA = Path(__file__).parent / "data"
REFERENCE = json.loads((DATA / "hf_reference_counts.json").read_text())
TINY = json.loads((DATA / "hf_tiny_configs.json").read_text())
TINY_REF = json.loads((DATA / "hf_tiny_reference.json").read_text())
HF_PRESETS = hf_preset_names()
MOE = {"mixtral-8x7b-v0.1", "qwen3-30b-a3b", "deepseek-v2-lite", "deepseek-v3"}


def tiny(name: str, **over):
    """The tiny config ``name`` at batch 2 and 16 tokens (ViT: its 17 patches + class)."""
    raw = TINY[name]
    extra = {} if raw["model_type"] == "vit" else {"seq_len": 16}
    return from_hf_config(raw, name=name, batch=2, **{**extra, **over})


# -- parity with transformers ------------------------------------------------------------------


def test_reference_counts_record_their_transformers_version():
    assert REFERENCE["_about"]["transformers_version"] == "5.24.0"
    for name in HF_PRESETS:
        assert REFERENCE[name]["transformers_version"] == "5.24.0"
        assert hf_sidecar(name)["reference"]["count"] == REFERENCE[name]["num_parameters"]


def test_at_least_fifteen_hf_presets_with_small_edge_models():
    assert len(HF_PRESETS) >= 15
    assert {"smollm2-135m", "tinyllama-1.1b-chat-v1.0", "qwen2.5-0.5b"} <= set(HF_PRESETS)
    assert {"gpt2", "bert-base", "vit-b16", "llama2-7b", "seed-imdb"} <= set(preset_names())
    assert len(preset_names()) == len(set(preset_names()))


@pytest.mark.parametrize("name", HF_PRESETS)
def test_shipped_presets_equal_transformers_num_parameters(name):
    ref = REFERENCE[name]
    e = ac.estimate_model(name)
    assert e.metrics["params"] == ref["num_parameters"]
    assert preset(name).published_params == ref["num_parameters"]
    if "moe" in ref:  # total − routed + routed·k/E
        assert e.metrics["params_active"] == ref["moe"]["active_parameters_per_token"]
        assert e.metrics["params_active"] < e.metrics["params"]
    else:
        assert e.metrics["params_active"] == e.metrics["params"]


def test_gpt2_config_equals_the_toml_preset():
    hf = ac.estimate_model(f"hf:{DATA / 'hf_gpt2_config.json'}").metrics
    assert hf["params"] == REFERENCE["gpt2"]["num_parameters"]
    toml = ac.estimate_model("gpt2").metrics
    for metric in ("params", "flops_fwd", "flops_bwd", "activation_bytes", "train_peak_bytes"):
        assert hf[metric] == toml[metric], metric


@pytest.mark.parametrize("name", [n for n in TINY])
def test_tiny_family_configs_equal_transformers(name):
    """Parameters and forward matmul FLOPs of transformers' own model (eager attention,
    eager experts) for a tiny config of every family."""
    e = ac.estimate_model(tiny(name)).metrics
    assert e["params"] == TINY_REF[name]["num_parameters"]
    assert e["flops_fwd_matmul"] == TINY_REF[name]["flops_fwd_matmul"]


def _transformers_count(raw: dict) -> int:
    import torch
    import transformers
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING

    d = {k: v for k, v in raw.items() if k not in ("quantization_config", "auto_map")}
    cfg = CONFIG_MAPPING[d.pop("model_type")].from_dict(d)
    cls = getattr(transformers, raw["architectures"][0])
    with torch.device("meta"):
        return cls._from_config(cfg).num_parameters()


@pytest.mark.parametrize("name", HF_PRESETS + ["gpt2"])
def test_live_transformers_counts(name):
    """Only where transformers is installed (not in attncost's environment)."""
    pytest.importorskip("transformers")
    path = DATA / "hf_gpt2_config.json" if name == "gpt2" else \
        Path(ac.config.presets.__file__).parent.parent / "data" / "hf" / name / "config.json"
    raw = json.loads(path.read_text())
    assert ac.estimate_model(from_hf_config(raw)).metrics["params"] == _transformers_count(raw)


# -- attncost's own PyTorch model agrees exactly ----------------------------------------------


def _measure(m):
    torch = pytest.importorskip("torch")
    from attncost.measure import count_flops, count_params, saved_activation_bytes
    from attncost.nn.model import TransformerModel

    torch.manual_seed(0)
    net = TransformerModel(m)
    b = m.attention.batch
    x = (torch.randn(b, m.channels, m.image_size, m.image_size) if m.is_vision
         else torch.randint(0, m.vocab, (b, m.attention.seq_len)))
    w, bias = count_params(net)
    flops = count_flops(net, x)
    return w + bias, flops, saved_activation_bytes(net, x)


@pytest.mark.parametrize("impl", ["materialised", "fused"])
@pytest.mark.parametrize("name", [n for n in TINY])
def test_tiny_family_configs_equal_attncost_pytorch_model(name, impl):
    """Parameters, matmul FLOPs (forward, backward) and saved activations of
    attncost.nn.model on every family's features: MoE, sliding windows, QKV-only biases,
    q/k norms, Gemma's scaling, sandwich norms and soft-capping, MLA with normed latents,
    Phi's parallel block, BERT's MLM head."""
    m = tiny(name)
    if impl == "fused":
        if m.attention.softcap is not None:
            pytest.skip("soft-capping needs the materialised path")
        m = m.with_(impl="fused")
    predicted = ac.estimate_model(m).metrics
    params, flops, saved = _measure(m)
    assert params == predicted["params"]
    assert flops.forward == predicted["flops_fwd_matmul"]
    assert flops.backward == predicted["flops_bwd_matmul"] + predicted["flops_bwd_recompute"]
    assert saved == predicted["activation_bytes"]


# -- errors --------------------------------------------------------------------------------------


@pytest.mark.parametrize("raw, fragments", [
    ({"model_type": "mamba", "hidden_size": 8}, ["unknown model_type 'mamba'", "llama"]),
    ({"hidden_size": 8}, ["missing required field 'model_type'"]),
    ({"model_type": "llama", "num_attention_heads": 4, "num_hidden_layers": 2,
      "vocab_size": 10, "intermediate_size": 8, "max_position_embeddings": 8},
     ["missing required field 'hidden_size'", "'llama'"]),
    ({**TINY["llama"], "num_attention_heads": "4"}, ["'num_attention_heads' is '4'",
                                                     "an integer >= 1"]),
    ({**TINY["llama"], "num_hidden_layers": True}, ["'num_hidden_layers' is True"]),
    ({**TINY["llama"], "num_key_value_heads": 3}, ["a divisor of num_attention_heads=4"]),
    ({**TINY["llama"], "torch_dtype": "float8_e4m3fn"}, ["'torch_dtype'", "bfloat16"]),
    ({**TINY["llama"], "hidden_act": "tanh"}, ["'hidden_act' is 'tanh'", "silu"]),
    ({**TINY["llama"], "architectures": ["LlamaForTokenClassification"]},
     ["'architectures'", "ForCausalLM"]),
    ({**TINY["llama"], "tie_word_embeddings": "yes"}, ["true or false"]),
    ({**TINY["phi"], "qk_layernorm": True}, ["'qk_layernorm'", "not supported"]),
    ({**TINY["deepseek_v3"], "v_head_dim": 24}, ["'v_head_dim'", "qk_nope_head_dim=16"]),
    ({**TINY["qwen3_moe"], "decoder_sparse_step": 2}, ["'decoder_sparse_step'"]),
    ({**TINY["bert"], "position_embedding_type": "relative_key"}, ["absolute"]),
])
def test_bad_configs_are_one_line_errors(raw, fragments):
    with pytest.raises(ac.ConfigError) as exc:
        from_hf_config(raw)
    message = str(exc.value)
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message, message


def test_bad_files_are_one_line_errors_naming_the_file(tmp_path):
    bad = tmp_path / "config.json"
    bad.write_text("{not json")
    for target, fragment in ((bad, "is not valid JSON"), (tmp_path / "none.json",
                                                          "does not exist")):
        with pytest.raises(ac.ConfigError) as exc:
            ac.estimate_model(f"hf:{target}")
        assert str(target) in str(exc.value) and fragment in str(exc.value)
        assert "\n" not in str(exc.value)
    bad.write_text(json.dumps({**TINY["llama"], "model_type": "mamba"}))
    with pytest.raises(ac.ConfigError, match=f"HF config '{bad}': unknown model_type 'mamba'"):
        preset(f"hf:{bad}")
    with pytest.raises(ac.ConfigError, match="hf: needs a path"):
        preset("hf:")


def test_hf_path_with_overrides(tmp_path):
    path = tmp_path / "config.json"
    path.write_text(json.dumps(TINY["llama"]))
    e = ac.estimate_model(f"hf:{path}", seq_len=8, dtype="bf16", n_layers=3)
    assert e.inputs["attention"]["seq_len"] == 8 and len(e.inputs["layers"]) == 3
    assert e.inputs["attention"]["dtype"] == "bf16"


# -- dtypes, context, families ------------------------------------------------------------------


@pytest.mark.parametrize("name, dtype", [("llama-2-7b", "fp16"), ("llama-3.1-8b", "bf16"),
                                         ("gemma-2-2b", "fp32"), ("gpt2-medium", "fp32"),
                                         ("vit-base-patch16-224", "fp32"), ("phi-2", "fp16")])
def test_presets_default_to_their_own_dtype(name, dtype):
    e = ac.estimate_model(name)
    assert e.inputs["attention"]["dtype"] == dtype
    assert f"dtype {dtype} " in preset(name).source
    assert e.metrics["weight_bytes"] == e.metrics["params"] * {"fp32": 4, "bf16": 2,
                                                               "fp16": 2}[dtype]
    assert ac.estimate_model(name, dtype="fp32").inputs["attention"]["dtype"] == "fp32"


def test_from_hf_config_says_which_dtype_it_used():
    m = from_hf_config(TINY["llama"] | {"torch_dtype": "bfloat16"})
    assert m.attention.dtype == "bf16" and "dtype bf16 from torch_dtype 'bfloat16'" in m.source
    assert from_hf_config({k: v for k, v in TINY["llama"].items() if k != "torch_dtype"}
                          ).attention.dtype == "fp32"
    assert from_hf_config(TINY["llama"] | {"torch_dtype": None, "dtype": "float16"}
                          ).attention.dtype == "fp16"


def test_family_mappings():
    assert preset("llama-2-7b").layers[0] == "standard"
    llama3 = preset("llama-3.1-8b")
    assert llama3.layers[0] == "gqa" and llama3.attention.kv_heads == 8
    assert llama3.attention.seq_len == 131072 and not llama3.tied_embeddings
    assert from_hf_config(TINY["llama-tied-mqa"]).layers[0] == "mqa"
    qwen = preset("qwen2.5-0.5b")
    assert qwen.attention.qkv_bias and not qwen.attention.bias and qwen.tied_embeddings
    assert qwen.attention.window is None  # use_sliding_window false
    gemma = preset("gemma-2-2b")
    assert gemma.attention.d_head == 256 and gemma.embed_scale and gemma.sandwich_norm
    assert gemma.attention.window == 4096 and gemma.global_every == 2
    assert [gemma.slides(i) for i in range(4)] == [True, False, True, False]
    ds = preset("deepseek-v3")
    a = ds.attention
    assert ds.layers[0] == "mla" and (a.kv_latent, a.q_latent, a.rope_dim, a.d_head) == \
        (512, 1536, 64, 128)
    assert a.latent_norm and not a.direct_q and ds.dense_layers == 3
    assert (ds.experts, ds.experts_per_token, ds.shared_experts) == (256, 8, 1)
    assert preset("deepseek-v2-lite").attention.direct_q
    assert preset("roberta-base").attention.seq_len == 512
    assert preset("qwen3-30b-a3b").attention.qk_norm


# -- MoE ----------------------------------------------------------------------------------------


def test_moe_counts_active_experts_and_the_router():
    m = tiny("mixtral")
    e = ac.estimate_model(m).metrics
    tokens, d, k, d_ff, layers = 32, 64, 2, 96, 2
    experts = ac.estimate_model(m.with_(experts=8)).metrics
    # twice the experts: twice the routed weights, the same expert FLOPs; the router grows
    routed = 4 * 3 * d * d_ff * layers
    assert experts["params"] - e["params"] == routed + 4 * d * layers
    assert experts["flops_fwd_matmul"] - e["flops_fwd_matmul"] == 2 * tokens * d * 4 * layers
    assert e["params_active"] == e["params"] - routed + routed * k // 4
    top3 = ac.estimate_model(m.with_(experts_per_token=3)).metrics
    assert top3["flops_fwd_matmul"] - e["flops_fwd_matmul"] == \
        2 * tokens * 3 * d * d_ff * layers
    assert top3["params"] == e["params"] and top3["params_active"] > e["params_active"]


def test_moe_config_errors():
    m = tiny("mixtral")
    for bad, fragment in (({"experts_per_token": 5}, "between 1 and experts=4"),
                          ({"experts": 0}, "need routed experts"),
                          ({"expert_d_ff": 0}, "expert_d_ff must be a positive integer")):
        with pytest.raises(ac.ConfigError, match=fragment):
            m.with_(**bad)


# -- sliding windows and useful FLOPs --------------------------------------------------------


def test_sliding_window_bounds_useful_flops_and_the_kv_cache():
    m = tiny("mistral")  # window 8, 16 tokens, 2 blocks, 4 heads of 16, batch 2
    full = m.with_(window=None)
    w, f = ac.estimate_model(m).metrics, ac.estimate_model(full).metrics
    # PyTorch computes the whole masked rectangle either way
    assert w["flops_fwd"] == f["flops_fwd"] and w["flops_bwd"] == f["flops_bwd"]
    # unmasked pairs per head: causal 16·17/2 = 136, the band 8·9/2 + 8·8 = 100
    layers, b, h, dh = 2, 2, 4, 16
    per_pair = 2 * dh + 2 * dh + 7  # q·k, p·v, scale + mask + softmax (5)
    assert f["flops_fwd_useful"] - w["flops_fwd_useful"] == layers * b * h * 36 * per_pair
    assert w["flops_bwd_useful"] < f["flops_bwd_useful"] < f["flops_bwd"]
    # the decoder keeps 8 of 16 tokens
    assert w["kv_cache_bytes"] * 2 == f["kv_cache_bytes"]
    assert f["kv_cache_bytes"] == f["kv_cache_bytes_per_token"] * b * 16
    assert w["kv_cache_bytes_per_token"] == f["kv_cache_bytes_per_token"]
    assert any("sliding window" in n for n in ac.estimate_model(m).notes)
    # a window at least as long as the sequence changes nothing
    assert ac.estimate_model(m.with_(window=16)).metrics["flops_fwd_useful"] == \
        f["flops_fwd_useful"]


def test_gemma2_slides_on_every_other_block():
    m = tiny("gemma2")  # window 8 on block 0, global block 1
    e = ac.estimate_model(m).metrics
    per_block = e["kv_cache_bytes_per_token"] // 2
    assert e["kv_cache_bytes"] == per_block * 2 * (8 + 16)


def test_window_errors():
    with pytest.raises(ac.ConfigError, match="needs causal=True"):
        ac.AttentionConfig(window=4)
    with pytest.raises(ac.ConfigError, match="window must be a positive integer"):
        ac.AttentionConfig(causal=True, window=0)
    with pytest.raises(ac.UnsupportedError, match="no softmax attention core"):
        ac.estimate("kernel-linear", causal=True, window=4, seq_len=16)
    with pytest.raises(ac.ConfigError, match="softcap=50.0 needs impl=materialised"):
        ac.AttentionConfig(softcap=50.0, impl="fused")


def test_useful_backward_flops():
    causal = ac.estimate("standard", causal=True, seq_len=64, d_model=64, heads=4).metrics
    plain = ac.estimate("standard", seq_len=64, d_model=64, heads=4).metrics
    assert plain["flops_bwd_useful"] == plain["flops_bwd"]
    assert causal["flops_bwd_useful"] < causal["flops_bwd"]
    # the gradient matmuls of q·kᵀ and p·v on the 64·65/2 unmasked pairs of 4 heads (d_h 16)
    pairs_full, pairs = 4 * 64 * 64, 4 * 64 * 65 // 2
    per_pair_bwd = 2 * 16 * 2 * 2 + 1 + 1 + 4  # 2 matmuls × 2 gradients; scale, mask, softmax
    assert causal["flops_bwd"] - causal["flops_bwd_useful"] == (pairs_full - pairs) * per_pair_bwd
    fused = ac.estimate("standard", causal=True, seq_len=64, d_model=64, heads=4,
                        impl="fused").metrics
    assert fused["flops_bwd_useful"] < fused["flops_bwd"]


# -- swap_attention --------------------------------------------------------------------------


def test_swap_attention_by_range():
    m = preset("llama-3.1-8b")
    s = swap_attention(m, "0-11:efficient,12-31:gqa")
    assert s.layers == ("efficient",) * 12 + ("gqa",) * 20
    assert swap_attention(m, "efficient").layers == ("efficient",) * 32
    assert swap_attention(m, "5:mqa").layers[4:7] == ("gqa", "mqa", "gqa")
    d, g, dh = 4096, 8, 128
    saved = ac.estimate_model(m).metrics["params"] - ac.estimate_model(s).metrics["params"]
    assert saved == 12 * 2 * d * g * dh  # W_K and W_V of the twelve swapped blocks


@pytest.mark.parametrize("spec, fragment", [
    ("0-40:gqa", "exceeds the model's 32 blocks"), ("3-1:gqa", "runs backwards"),
    ("0-3:gqa,2-5:mqa", "block 2 is named twice"), ("x:gqa", "is not a block index"),
    ("0-3:", "names no variant"), ("0-3:gqa,mqa", "has no range"), ("", "variant name"),
    ("nope", "unknown variant 'nope'"), ("0-3:nope", "unknown variant 'nope'")])
def test_swap_attention_errors(spec, fragment):
    with pytest.raises(ac.AttncostError) as exc:
        swap_attention(preset("llama-3.1-8b"), spec)
    assert fragment in str(exc.value) and "\n" not in str(exc.value)


# -- the what-if report ----------------------------------------------------------------------


def test_what_if_table_covers_every_preset():
    from attncost.hf_report import what_if_table

    text = what_if_table()
    for name in preset_names():
        assert f"| {name} |" in text
    assert "**impossible**" in text and "**dearer**" in text
    committed = Path(__file__).parents[1] / "reports" / "what-if-presets.md"
    if committed.exists():
        assert committed.read_text() == text
