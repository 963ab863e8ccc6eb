"""Hugging Face ``config.json`` → :class:`ModelConfig`, without network and without transformers.

:func:`from_hf_config` reads a file (or a dict already loaded) and hands it to the reader
registered for its ``model_type`` (:func:`reader`, one per family: GPT-2, BERT/RoBERTa, ViT,
LLaMA/Mistral/Qwen2/Qwen3, Mixtral/Qwen3-MoE, Gemma/Gemma-2, Phi, DeepSeek-V2/V3). Each reader
maps the family's field names onto :class:`ModelConfig`/:class:`AttentionConfig` fields, with
the defaults the family's ``transformers`` configuration class uses when a field is absent
(e.g. ``tie_word_embeddings``: true for GPT-2, BERT and Gemma, false for LLaMA). The head is
the one ``architectures[0]`` names (``...ForCausalLM``, ``...ForMaskedLM``,
``...ForImageClassification``, the bare ``...Model``), so the parameter count is that of the
class ``transformers`` would build (``num_parameters()``; the shipped presets' counts are
checked against it in ``tests/test_hf.py``).

The model's own dtype is the default (``torch_dtype``, or ``dtype`` in files written by
transformers ≥ 4.56: float32 → fp32, bfloat16 → bf16, float16 → fp16; absent → fp32); the
sequence length defaults to the model's context (``max_position_embeddings``; RoBERTa's less
its two padding offsets). Every bad file gives one line naming the field, the file and what
is allowed.

What a reader cannot express is refused, not approximated: a field whose value would change
the count (e.g. ``qk_layernorm`` in Phi, Qwen2's sliding window on some layers only in a
pattern other than "from layer n on") raises :class:`~attncost.errors.ConfigError`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable, Mapping

from ..errors import ConfigError
from .attention import AttentionConfig
from .model import MAX_BLOCKS, ModelConfig

#: Hugging Face ``torch_dtype`` → attncost dtype.
HF_DTYPES = {"float32": "fp32", "bfloat16": "bf16", "float16": "fp16"}

#: Gated activations (the FFN has gate, up and down projections) by ``hidden_act``.
_GATED = {"silu": "swiglu", "swish": "swiglu", "gelu": "geglu", "gelu_pytorch_tanh": "geglu",
          "gelu_new": "geglu", "gelu_fast": "geglu"}
#: Plain activations (fc1, fc2) by ``hidden_act`` / ``activation_function``.
_PLAIN = {"gelu": "gelu", "gelu_new": "gelu", "gelu_fast": "gelu", "gelu_pytorch_tanh": "gelu",
          "quick_gelu": "gelu", "relu": "relu"}

Reader = Callable[["HFConfig"], dict[str, Any]]
READERS: dict[str, Reader] = {}


def reader(*model_types: str) -> Callable[[Reader], Reader]:
    """Decorator: ``read(cfg) -> fields`` reads configs of these ``model_type`` values; it
    returns :class:`ModelConfig` fields, with the attention's under ``"attention"`` and the
    number of blocks under ``"n_layers"``."""

    def deco(fn: Reader) -> Reader:
        for t in model_types:
            if t in READERS:
                raise ConfigError(f"a reader for model_type {t!r} is already registered")
            READERS[t] = fn
        return fn

    return deco


class HFConfig:
    """A loaded ``config.json`` and where it came from; typed field access with one-line
    errors naming the field and the file."""

    def __init__(self, data: Mapping[str, Any], where: str) -> None:
        self.data, self.where = dict(data), where
        self.model_type = self.data.get("model_type")

    def _bad(self, key: str, value: Any, allowed: str) -> ConfigError:
        return ConfigError(f"{self.where}: field {key!r} is {value!r}; allowed: {allowed}")

    def has(self, key: str) -> bool:
        return self.data.get(key) is not None

    def _absent(self, key: str, default: Any) -> Any:
        """``default`` for an absent or null field; an error if the field is required
        (``default`` is ``...``)."""
        if default is ...:
            raise ConfigError(f"{self.where}: missing required field {key!r} (model_type "
                              f"{self.model_type!r})")
        return default

    def integer(self, key: str, default: Any = ..., *, minimum: int = 1) -> Any:
        """An integer field (≥ ``minimum``); ``default`` when absent or null (required if
        no default is given)."""
        value = self.data.get(key)
        if value is None:
            return self._absent(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise self._bad(key, value, f"an integer >= {minimum}")
        return value

    def number(self, key: str, default: Any = None) -> Any:
        value = self.data.get(key)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
            raise self._bad(key, value, "a positive number or null")
        return float(value)

    def flag(self, key: str, default: bool) -> bool:
        value = self.data.get(key)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise self._bad(key, value, "true or false")
        return value

    def text(self, key: str, default: Any = ..., allowed: Mapping[str, Any] | None = None) -> Any:
        value = self.data.get(key)
        if value is None:
            return self._absent(key, default)
        if not isinstance(value, str) or (allowed is not None and value not in allowed):
            raise self._bad(key, value, ", ".join(sorted(allowed)) if allowed else "a string")
        return value

    def refuse(self, key: str, value: Any, why: str) -> ConfigError:
        return ConfigError(f"{self.where}: field {key!r} = {value!r} is not supported: {why}")

    @property
    def architecture(self) -> str | None:
        archs = self.data.get("architectures")
        if archs is None:
            return None
        if not isinstance(archs, list) or not archs or not all(isinstance(a, str) for a in archs):
            raise self._bad("architectures", archs, "a non-empty list of class names")
        return archs[0]

    def head(self, default: str, allowed: tuple[str, ...]) -> str:
        """Which head ``architectures[0]`` names, as the suffix of its class name among
        ``allowed`` (``ForCausalLM``, ``LMHeadModel``, ``ForMaskedLM``, ``Model``...);
        ``default`` without ``architectures``."""
        arch = self.architecture
        if arch is None:
            return default
        for suffix in sorted(allowed, key=len, reverse=True):
            if arch.endswith(suffix):
                return suffix
        raise self._bad("architectures", arch, "a class ending in " + ", ".join(allowed))

    def num_labels(self) -> int:
        labels = self.data.get("id2label")
        if isinstance(labels, dict) and labels:
            return len(labels)
        return self.integer("num_labels", 2)


# -- the entry point -------------------------------------------------------------------------


def load_hf_json(path: str | Path) -> dict[str, Any]:
    """The JSON object of a config file, or a one-line error naming the file."""
    p = Path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"HF config {str(p)!r} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"HF config {str(p)!r} cannot be read: {exc}") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(f"HF config {str(p)!r} is not valid JSON: {exc.msg} at line "
                          f"{exc.lineno}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"HF config {str(p)!r} must hold a JSON object, got "
                          f"{type(data).__name__}")
    return data


def _name_from_path(path_or_dict: Any) -> str | None:
    """A model's name from where its config lies: ``…/smollm2-135m/config.json`` →
    ``smollm2-135m``; another file name → its stem."""
    if not isinstance(path_or_dict, (str, Path)):
        return None
    p = Path(path_or_dict)
    return p.parent.name or None if p.name == "config.json" else p.stem


def from_hf_config(path_or_dict: str | Path | Mapping[str, Any], *, name: str | None = None,
                   source: str | None = None, published_params: int | None = None,
                   **overrides: Any) -> ModelConfig:
    """A :class:`ModelConfig` from a Hugging Face ``config.json`` (a path, or the dict loaded
    from one), read by the family reader of its ``model_type``; ``overrides`` are model or
    attention fields (``seq_len=4096``, ``dtype="fp32"``, ``n_layers``/``layers``,
    ``variant``...) applied last, as :func:`~attncost.config.preset` takes them."""
    if isinstance(path_or_dict, Mapping):
        data, where = dict(path_or_dict), "HF config dict"
    elif isinstance(path_or_dict, (str, Path)):
        data, where = load_hf_json(path_or_dict), f"HF config {str(path_or_dict)!r}"
    else:
        raise ConfigError(f"from_hf_config takes a path or a dict, got {path_or_dict!r}")
    cfg = HFConfig(data, where)
    kind = cfg.model_type
    if kind is None:
        raise ConfigError(f"{where}: missing required field 'model_type'; allowed: "
                          f"{', '.join(sorted(READERS))}")
    if kind not in READERS:
        raise ConfigError(f"{where}: unknown model_type {kind!r}; allowed: "
                          f"{', '.join(sorted(READERS))}")
    spec = READERS[kind](cfg)
    attn = dict(spec.pop("attention"))
    attn.setdefault("dtype", _dtype(cfg))
    blocks = spec.pop("n_layers")
    if blocks > MAX_BLOCKS:
        raise ConfigError(f"{where}: {blocks} hidden layers are more blocks than attncost "
                          f"builds; allowed: 1 to {MAX_BLOCKS:,}")
    variant = spec.pop("variant", "standard")
    arch = cfg.architecture or "no architectures (the family's default head)"
    label = name or str(data.get("_name_or_path") or "") or _name_from_path(path_or_dict) or kind
    note = spec.pop("_note", "")
    dtype_note = (f"dtype {attn['dtype']} from {_dtype_key(cfg)} {_dtype_field(cfg)!r}"
                  if _dtype_field(cfg) is not None else
                  f"dtype {attn['dtype']} (no torch_dtype: fp32, as transformers loads it)")
    desc = source or (f"Hugging Face config.json ({where.removeprefix('HF config ')}): "
                      f"model_type {kind}, {arch}")
    desc = "; ".join(x for x in (desc, dtype_note, note) if x)
    try:
        m = ModelConfig(name=label, layers=(variant,) * blocks,
                        attention=AttentionConfig(**attn), **spec,
                        source=desc, published_params=published_params)
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    if "n_layers" in overrides:
        if "layers" in overrides:
            raise ConfigError("give layers or n_layers, not both")
        overrides["layers"] = overrides.pop("n_layers")
    return m.with_(**overrides) if overrides else m


def _dtype_key(cfg: HFConfig) -> str:
    """``torch_dtype``, or ``dtype`` (transformers ≥ 4.56) when that one is not set."""
    return "torch_dtype" if cfg.data.get("torch_dtype") is not None else "dtype"


def _dtype_field(cfg: HFConfig) -> Any:
    return cfg.data.get(_dtype_key(cfg))


def _dtype(cfg: HFConfig) -> str:
    """attncost's dtype for the config's ``torch_dtype`` (``dtype``); fp32 when absent."""
    value = _dtype_field(cfg)
    if value is None:
        return "fp32"
    key = _dtype_key(cfg)
    if not isinstance(value, str) or value.removeprefix("torch.") not in HF_DTYPES:
        raise cfg._bad(key, value, ", ".join(HF_DTYPES))
    return HF_DTYPES[value.removeprefix("torch.")]


# -- shared pieces ---------------------------------------------------------------------------


def _kv_variant(heads: int, kv_heads: int) -> tuple[str, dict[str, Any]]:
    """standard (kv = heads), MQA (kv = 1) or GQA with ``kv_heads``."""
    if kv_heads == heads:
        return "standard", {}
    if kv_heads == 1:
        return "mqa", {}
    return "gqa", {"kv_heads": kv_heads}


def _act(cfg: HFConfig, key: str, table: Mapping[str, str], default: str) -> str:
    return table[cfg.text(key, default, allowed=table)]


def _lm_heads(cfg: HFConfig, tie_default: bool) -> dict[str, Any]:
    """Fields of a decoder's head: ``...ForCausalLM`` an LM head (tied or not), ``...Model``
    none."""
    head = cfg.head("ForCausalLM", ("ForCausalLM", "LMHeadModel", "Model"))
    if head == "Model":
        return {"lm_head": False, "tied_embeddings": cfg.flag("tie_word_embeddings", tie_default)}
    return {"lm_head": True, "tied_embeddings": cfg.flag("tie_word_embeddings", tie_default)}


def _window_layout(cfg: HFConfig, n_layers: int, window: int | None, *, every: int = 0,
                   start: int = 0) -> dict[str, Any]:
    """Which blocks slide: from ``start`` on, every ``every``-th global; a ``layer_types``
    list (transformers ≥ 4.53) is read when present and must follow one of those patterns."""
    if window is None:
        return {}
    types = cfg.data.get("layer_types")
    if types is not None:
        kinds = ("sliding_attention", "full_attention")
        if not isinstance(types, list) or len(types) != n_layers or \
                any(t not in kinds for t in types):
            raise cfg._bad("layer_types", types, f"{n_layers} of {', '.join(kinds)}")
        slides = [t == "sliding_attention" for t in types]
        for e in range(0, n_layers + 1):
            for s in range(0, n_layers + 1):
                pattern = [i >= s and not (e and (i + 1) % e == 0) for i in range(n_layers)]
                if pattern == slides:
                    return {"global_every": e, "window_from": s}
        raise cfg.refuse("layer_types", types, "sliding layers must be every layer from some "
                         "index on, less every n-th")
    return {"global_every": every, "window_from": start}


# -- the readers -----------------------------------------------------------------------------


@reader("gpt2")
def _gpt2(cfg: HFConfig) -> dict[str, Any]:
    """GPT-2 (``GPT2Config``: n_embd, n_head, n_layer, n_positions, n_inner = 4·n_embd)."""
    d = cfg.integer("n_embd")
    n_pos = cfg.integer("n_positions", cfg.integer("n_ctx", 1024))
    out = dict(n_layers=cfg.integer("n_layer"), vocab=cfg.integer("vocab_size"),
               max_positions=n_pos,
               d_ff=cfg.integer("n_inner", 4 * d), ffn_activation=_act(
                   cfg, "activation_function", _PLAIN, "gelu_new"),
               norm="layernorm", pre_norm=True, final_norm=True,
               attention=dict(d_model=d, heads=cfg.integer("n_head"), seq_len=n_pos, bias=True,
                              causal=True))
    out.update(_lm_heads(cfg, True))
    return out


@reader("bert", "roberta")
def _bert(cfg: HFConfig) -> dict[str, Any]:
    """BERT and RoBERTa (post-norm encoders with token types and an embedding LayerNorm):
    ``...ForMaskedLM`` the MLM head (dense + GELU + LayerNorm, decoder tied, with a bias);
    ``...Model`` the pooler; ``BertForSequenceClassification`` pooler + classifier,
    ``RobertaForSequenceClassification`` its dense + out_proj head."""
    kind = cfg.model_type
    if cfg.text("position_embedding_type", "absolute") != "absolute":
        raise cfg.refuse("position_embedding_type", cfg.data["position_embedding_type"],
                         "only absolute (learned) positions are modelled")
    n_pos = cfg.integer("max_position_embeddings", 512)
    # RoBERTa numbers positions from padding_idx + 1: two rows are never used
    seq = n_pos - cfg.integer("pad_token_id", 1, minimum=0) - 1 if kind == "roberta" else n_pos
    out: dict[str, Any] = dict(
        n_layers=cfg.integer("num_hidden_layers", 12), vocab=cfg.integer("vocab_size"),
        max_positions=n_pos, token_types=cfg.integer("type_vocab_size", 2),
        embedding_norm=True, d_ff=cfg.integer("intermediate_size", 3072),
        ffn_activation=_act(cfg, "hidden_act", _PLAIN, "gelu"), norm="layernorm",
        pre_norm=False, final_norm=False,
        attention=dict(d_model=cfg.integer("hidden_size", 768),
                       heads=cfg.integer("num_attention_heads", 12), seq_len=seq, bias=True))
    head = cfg.head("ForMaskedLM", ("ForMaskedLM", "Model", "ForSequenceClassification"))
    if head == "ForMaskedLM":
        out.update(lm_head=True, tied_embeddings=cfg.flag("tie_word_embeddings", True),
                   lm_head_bias=True, mlm_transform=True)
    elif head == "Model":
        out.update(pooler=True, pooling="cls")
    elif kind == "bert":
        out.update(pooler=True, pooling="cls", class_head=(cfg.num_labels(),))
    else:
        d = out["attention"]["d_model"]
        out.update(pooling="cls", class_head=(d, cfg.num_labels()),
                   _note="classification head dense + tanh + out_proj, costed with ReLU")
    return out


@reader("vit")
def _vit(cfg: HFConfig) -> dict[str, Any]:
    """ViT (Dosovitskiy et al. 2020): patch embedding, class token, learned positions,
    pre-norm; ``ViTForImageClassification`` a linear classifier on the class token,
    ``ViTModel`` the pooler."""
    if not cfg.flag("qkv_bias", True):
        raise cfg.refuse("qkv_bias", False, "attncost puts biases on every projection or on "
                         "q, k, v only; ViT's output projection always has one")
    image, patch = cfg.integer("image_size", 224), cfg.integer("patch_size", 16)
    tokens = (image // patch) ** 2 + 1
    out: dict[str, Any] = dict(
        n_layers=cfg.integer("num_hidden_layers", 12), image_size=image, patch_size=patch,
        channels=cfg.integer("num_channels", 3), cls_token=True, max_positions=tokens,
        d_ff=cfg.integer("intermediate_size", 3072),
        ffn_activation=_act(cfg, "hidden_act", _PLAIN, "gelu"), norm="layernorm",
        pre_norm=True, final_norm=True, pooling="cls",
        attention=dict(d_model=cfg.integer("hidden_size", 768),
                       heads=cfg.integer("num_attention_heads", 12), seq_len=tokens, bias=True))
    head = cfg.head("Model", ("ForImageClassification", "Model"))
    if head == "Model":
        out["pooler"] = True
    else:
        out["class_head"] = (cfg.num_labels(),)
    return out


def _decoder(cfg: HFConfig, *, tie: bool, qkv_bias: bool = False,
             gated: Mapping[str, str] = _GATED, act_key: str = "hidden_act",
             act_default: str = "silu") -> dict[str, Any]:
    """The LLaMA-style decoder every later family starts from: RoPE (no learned positions),
    RMSNorm pre-norm, a gated FFN, GQA/MQA by ``num_key_value_heads``, ``head_dim`` when set,
    ``attention_bias`` (q, k, v and o) and ``mlp_bias``."""
    d, heads = cfg.integer("hidden_size"), cfg.integer("num_attention_heads")
    kv = cfg.integer("num_key_value_heads", heads)
    if heads % kv:
        raise cfg._bad("num_key_value_heads", kv, f"a divisor of num_attention_heads={heads}")
    variant, kv_fields = _kv_variant(heads, kv)
    attn: dict[str, Any] = dict(d_model=d, heads=heads, seq_len=cfg.integer(
        "max_position_embeddings"), causal=True, bias=cfg.flag("attention_bias", False),
        qkv_bias=qkv_bias, **kv_fields)
    if cfg.has("head_dim"):
        attn["d_head"] = cfg.integer("head_dim")
    out = dict(n_layers=cfg.integer("num_hidden_layers"), vocab=cfg.integer("vocab_size"),
               d_ff=cfg.integer("intermediate_size"),
               ffn_activation=_act(cfg, act_key, gated, act_default),
               ffn_bias=cfg.flag("mlp_bias", False), norm="rmsnorm", norm_bias=False,
               pre_norm=True, final_norm=True, variant=variant, attention=attn)
    out.update(_lm_heads(cfg, tie))
    return out


def _sliding(cfg: HFConfig, out: dict[str, Any], *, use_flag: bool, every: int = 0) -> None:
    """The family's sliding window: ``sliding_window`` (null: none), gated by
    ``use_sliding_window`` where the family has it (Qwen2/3: from ``max_window_layers``)."""
    window = cfg.integer("sliding_window", None)
    start = 0
    if use_flag:
        if not cfg.flag("use_sliding_window", False):
            window = None
        else:
            start = cfg.integer("max_window_layers", 0, minimum=0)
    if window is not None:
        out["attention"]["window"] = window
        out.update(_window_layout(cfg, out["n_layers"], window, every=every, start=start))


@reader("llama", "mistral", "qwen2", "qwen3")
def _llama(cfg: HFConfig) -> dict[str, Any]:
    """LLaMA (Touvron et al. 2023), Mistral (sliding window), Qwen2 (biases on q, k, v only),
    Qwen3 (RMSNorm on each head's queries and keys)."""
    kind = cfg.model_type
    out = _decoder(cfg, tie=False, qkv_bias=kind == "qwen2")
    if kind == "qwen3":
        out["attention"]["qk_norm"] = True
    _sliding(cfg, out, use_flag=kind in ("qwen2", "qwen3"))
    return out


@reader("mixtral", "qwen3_moe")
def _moe(cfg: HFConfig) -> dict[str, Any]:
    """Mixtral (Jiang et al. 2024, arXiv 2401.04088: ``num_local_experts``, top-2, weights
    renormalised) and Qwen3-MoE (``num_experts``, ``moe_intermediate_size``,
    ``norm_topk_prob``, q/k RMSNorms): every block a mixture of experts."""
    kind = cfg.model_type
    out = _decoder(cfg, tie=False)
    if kind == "mixtral":
        out.update(experts=cfg.integer("num_local_experts", 8),
                   experts_per_token=cfg.integer("num_experts_per_tok", 2), moe_renormalize=True)
        _sliding(cfg, out, use_flag=False)
        return out
    step = cfg.integer("decoder_sparse_step", 1)
    if step != 1:
        raise cfg.refuse("decoder_sparse_step", step, "every block must be a mixture of experts")
    if cfg.data.get("mlp_only_layers"):
        raise cfg.refuse("mlp_only_layers", cfg.data["mlp_only_layers"],
                         "every block must be a mixture of experts")
    out["attention"]["qk_norm"] = True
    out.update(experts=cfg.integer("num_experts"),
               experts_per_token=cfg.integer("num_experts_per_tok"),
               expert_d_ff=cfg.integer("moe_intermediate_size"),
               moe_renormalize=cfg.flag("norm_topk_prob", False))
    _sliding(cfg, out, use_flag=True)
    return out


@reader("gemma", "gemma2")
def _gemma(cfg: HFConfig) -> dict[str, Any]:
    """Gemma (Gemma Team 2024, arXiv 2403.08295): GeGLU, embeddings × √d_model, ``head_dim``,
    tied embeddings, RMSNorm with (1 + weight) (the same parameters). Gemma-2 (arXiv
    2408.00118) adds norms after attention and FFN, logit soft-capping (attention and final)
    and a sliding window on every other block (block 0 slides)."""
    key = "hidden_activation" if cfg.has("hidden_activation") else "hidden_act"
    out = _decoder(cfg, tie=True, act_key=key, act_default="gelu_pytorch_tanh")
    if out["ffn_activation"] != "geglu":
        raise cfg.refuse(key, cfg.data.get(key), "Gemma's FFN is GeGLU (a GELU activation)")
    out["embed_scale"] = True
    if cfg.model_type == "gemma2":
        out["sandwich_norm"] = True
        out["attention"]["softcap"] = cfg.number("attn_logit_softcapping")
        if out["lm_head"]:
            out["final_softcap"] = cfg.number("final_logit_softcapping")
        _sliding(cfg, out, use_flag=False, every=2)
    return out


@reader("phi")
def _phi(cfg: HFConfig) -> dict[str, Any]:
    """Phi-1/1.5/2 (``PhiForCausalLM``): parallel attention and FFN after one LayerNorm,
    biases everywhere (q, k, v, dense, fc1, fc2, the LM head), GELU MLP, partial RoPE (no
    parameters)."""
    if cfg.flag("qk_layernorm", False):
        raise cfg.refuse("qk_layernorm", True, "Phi's per-head LayerNorms are not modelled")
    d, heads = cfg.integer("hidden_size"), cfg.integer("num_attention_heads")
    kv = cfg.integer("num_key_value_heads", heads)
    variant, kv_fields = _kv_variant(heads, kv)
    out = dict(n_layers=cfg.integer("num_hidden_layers"), vocab=cfg.integer("vocab_size"),
               d_ff=cfg.integer("intermediate_size"),
               ffn_activation=_act(cfg, "hidden_act", _PLAIN, "gelu_new"), ffn_bias=True,
               norm="layernorm", norm_bias=True, pre_norm=True, parallel_block=True,
               final_norm=True, variant=variant,
               attention=dict(d_model=d, heads=heads, causal=True, bias=True,
                              seq_len=cfg.integer("max_position_embeddings"), **kv_fields))
    out.update(_lm_heads(cfg, False))
    if out["lm_head"]:
        out["lm_head_bias"] = True
    return out


@reader("deepseek_v2", "deepseek_v3")
def _deepseek(cfg: HFConfig) -> dict[str, Any]:
    """DeepSeek-V2/V3 (arXiv 2405.04434, 2412.19437): MLA with RMSNormed latents (``q_lora_rank``
    null: queries projected directly, V2-Lite), DeepSeekMoE FFNs (routed and shared experts,
    the first ``first_k_dense_replace`` blocks dense). The multi-token-prediction module of V3
    (``num_nextn_predict_layers``) is not part of the model transformers builds, nor here."""
    kind = cfg.model_type
    if cfg.flag("attention_bias", False):
        raise cfg.refuse("attention_bias", True, "biases on the MLA down-projections only are "
                         "not modelled")
    nope, v_dim = cfg.integer("qk_nope_head_dim"), cfg.integer("v_head_dim")
    if nope != v_dim:
        raise cfg.refuse("v_head_dim", v_dim, f"attncost's MLA uses one head width for values "
                         f"and the keys' non-RoPE part (qk_nope_head_dim={nope})")
    freq = cfg.integer("moe_layer_freq", 1)
    if freq != 1:
        raise cfg.refuse("moe_layer_freq", freq, "every block after the dense ones must be a "
                         "mixture of experts")
    q_rank = cfg.integer("q_lora_rank", None)
    heads = cfg.integer("num_attention_heads")
    attn: dict[str, Any] = dict(
        d_model=cfg.integer("hidden_size"), heads=heads, d_head=nope,
        seq_len=cfg.integer("max_position_embeddings"), causal=True,
        kv_latent=cfg.integer("kv_lora_rank"), rope_dim=cfg.integer("qk_rope_head_dim"),
        latent_norm=True, direct_q=q_rank is None)
    if q_rank is not None:
        attn["q_latent"] = q_rank
    n_layers = cfg.integer("num_hidden_layers")
    out: dict[str, Any] = dict(
        n_layers=n_layers, vocab=cfg.integer("vocab_size"), d_ff=cfg.integer("intermediate_size"),
        ffn_activation=_act(cfg, "hidden_act", _GATED, "silu"), ffn_bias=False,
        norm="rmsnorm", norm_bias=False, pre_norm=True, final_norm=True, variant="mla",
        attention=attn)
    experts = cfg.integer("n_routed_experts", None)
    if experts is not None:
        out.update(experts=experts, experts_per_token=cfg.integer("num_experts_per_tok"),
                   expert_d_ff=cfg.integer("moe_intermediate_size"),
                   shared_experts=cfg.integer("n_shared_experts", 0, minimum=0),
                   dense_layers=min(n_layers, cfg.integer("first_k_dense_replace", 0, minimum=0)),
                   moe_renormalize=cfg.flag("norm_topk_prob", kind == "deepseek_v3"))
        scoring = cfg.text("scoring_func", "softmax" if kind == "deepseek_v2" else "sigmoid")
        if scoring != "softmax":
            out["_note"] = (f"router scoring {scoring} costed as softmax (the same matmul "
                            f"FLOPs; other FLOPs differ by a few per expert score)")
    out.update(_lm_heads(cfg, False))
    return out

