"""Whole transformer models: a per-layer list of attention variants inside a standard stack.

A :class:`ModelConfig` describes embeddings (token, positional, token-type, or a vision patch
embedding with a class token), ``layers`` transformer blocks (the attention variant of each
block, an FFN with GELU, ReLU or SwiGLU, LayerNorm or RMSNorm, pre- or post-norm), a final norm
and heads (LM head tied or not, BERT's pooler, a classification MLP). :func:`model_graph`
turns it into one :class:`~attncost.ops.Graph`, so every metric of a single layer exists for
the whole model too, derived the same way.

Per-element FLOP conventions of the non-attention parts (forward / backward):
LayerNorm 7 / 10 (mean, centre, square, sum, scale, affine 2) and saves its input and fp32
mean and rstd per row; RMSNorm 3 / 5 then × weight 1 / 2, saving its input, the fp32 rstd
and the normalised input; GELU 8 / 12 saves its
input; ReLU 1 / 1 saves its output; SiLU 4 / 6 saves its input; gate product 1 / 2 saves both
inputs; residual add 1 / 0; dropout 1 / 1 saves a bool mask; embedding lookup 0 forward,
backward one add per gathered element, saves the int64 indices.
"""

from __future__ import annotations

import tomllib
from dataclasses import asdict, dataclass, field, fields, replace
from functools import lru_cache
from importlib import resources
from typing import Any

from .config import AttentionConfig, Dims, Options
from .errors import ConfigError, unknown
from .ops import Elementwise, Graph, MatMul

FFN_ACTIVATIONS = ("gelu", "relu", "swiglu")
NORMS = ("layernorm", "rmsnorm")
POOLING = ("cls", "mean", "none")


@dataclass(frozen=True)
class ModelConfig:
    """A transformer stack. ``layers`` is the attention variant of each block, in order."""

    name: str = "custom"
    layers: tuple[str, ...] = ("standard",) * 2
    attention: AttentionConfig = field(default_factory=AttentionConfig)
    d_ff: int | None = None
    ffn_mult: float = 4.0
    ffn_activation: str = "gelu"
    ffn_bias: bool = True
    norm: str = "layernorm"
    norm_bias: bool = True
    pre_norm: bool = True
    final_norm: bool = True
    vocab: int = 0
    tied_embeddings: bool = True
    lm_head: bool = False
    max_positions: int = 0  # learned positional embeddings (0: none, e.g. RoPE)
    token_types: int = 0
    embedding_norm: bool = False
    pooler: bool = False
    image_size: int = 0
    patch_size: int = 0
    channels: int = 3
    cls_token: bool = False
    pooling: str = "cls"
    class_head: tuple[int, ...] = ()
    dropout: bool = False
    source: str = ""
    published_params: int | None = None

    def __post_init__(self) -> None:
        if not self.layers:
            raise ConfigError("a model needs at least one layer")
        if self.ffn_activation not in FFN_ACTIVATIONS:
            raise unknown("FFN activation", self.ffn_activation, FFN_ACTIVATIONS)
        if self.norm not in NORMS:
            raise unknown("norm", self.norm, NORMS)
        if self.pooling not in POOLING:
            raise unknown("pooling", self.pooling, POOLING)
        for name in ("vocab", "max_positions", "token_types", "image_size", "patch_size"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise ConfigError(f"{name} must be a non-negative integer, got {v!r}")
        if self.d_ff is not None and (not isinstance(self.d_ff, int) or self.d_ff <= 0):
            raise ConfigError(f"d_ff must be a positive integer, got {self.d_ff!r}")
        if self.is_vision:
            if self.image_size % self.patch_size:
                raise ConfigError(f"patch_size={self.patch_size} must divide "
                                  f"image_size={self.image_size}")
            if self.attention.seq_len != self.vision_tokens:
                raise ConfigError(
                    f"seq_len={self.attention.seq_len} does not match the image: "
                    f"({self.image_size}/{self.patch_size})² patches"
                    f"{' + 1 class token' if self.cls_token else ''} = {self.vision_tokens}")
        elif self.vocab <= 0:
            raise ConfigError("a text model needs vocab > 0 (or image_size and patch_size)")
        if self.max_positions and self.attention.seq_len > self.max_positions:
            raise ConfigError(f"seq_len={self.attention.seq_len} exceeds the model's "
                              f"max_positions={self.max_positions}")

    @property
    def is_vision(self) -> bool:
        return self.image_size > 0 and self.patch_size > 0

    @property
    def vision_tokens(self) -> int:
        return (self.image_size // self.patch_size) ** 2 + int(self.cls_token)

    @property
    def resolved_d_ff(self) -> int:
        if self.d_ff is not None:
            return self.d_ff
        return int(round(self.attention.d_model * self.ffn_mult))

    def with_(self, **changes: Any) -> "ModelConfig":
        """A copy with model fields or attention fields (``seq_len``, ``dtype``...) changed."""
        model_fields = {f.name for f in fields(self)}
        attn_fields = {f.name for f in fields(AttentionConfig)}
        mine = {k: v for k, v in changes.items() if k in model_fields}
        attn = {k: v for k, v in changes.items() if k in attn_fields}
        bad = set(changes) - model_fields - attn_fields
        if bad:
            raise unknown("model field", sorted(bad)[0], model_fields | attn_fields)
        if "layers" in mine and isinstance(mine["layers"], (list, tuple)):
            mine["layers"] = tuple(mine["layers"])
        return replace(self, attention=self.attention.with_(**attn) if attn else self.attention,
                       **mine)

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["attention"] = self.attention.as_dict()
        out["layers"] = list(self.layers)
        return out


# -- the graph -----------------------------------------------------------------------------


def _norm(g: Graph, m: ModelConfig, name: str, x: str, out: str, rows: Any, width: Any) -> str:
    """LayerNorm: one fused op saving its input and fp32 mean and rstd per row.
    RMSNorm (composite on CPU in PyTorch): x·rsqrt(mean(x²) + ε) saving x and the fp32 rstd,
    then × weight saving the normalised x."""
    g.param(f"{name}.weight", width)
    if m.norm == "layernorm":
        if m.norm_bias:
            g.param(f"{name}.bias", width, kind="bias")
        g.tensor(f"{name}.stats", 2 * rows, storage="fp32")
        g.tensor(out, rows * width)
        g.add(Elementwise(name, (x, f"{name}.weight"), (out, f"{name}.stats"),
                          numel=rows * width, fwd_per_elem=7, bwd_per_elem=10,
                          save=(x, f"{name}.stats")))
        return out
    g.tensor(f"{name}.stats", rows, storage="fp32")
    g.tensor(f"{name}.normed", rows * width)
    g.add(Elementwise(f"{name}.rms", (x,), (f"{name}.normed", f"{name}.stats"),
                      numel=rows * width, fwd_per_elem=3, bwd_per_elem=5,
                      save=(x, f"{name}.stats")))
    g.tensor(out, rows * width)
    g.add(Elementwise(f"{name}.scale", (f"{name}.normed", f"{name}.weight"), (out,),
                      numel=rows * width, fwd_per_elem=1, bwd_per_elem=2,
                      save=(f"{name}.normed",)))
    return out


def _add(g: Graph, name: str, a: str, b: str, out: str) -> str:
    g.tensor(out, g.tensors[a].numel)
    g.add(Elementwise(name, (a, b), (out,), numel=g.tensors[a].numel, fwd_per_elem=1))
    return out


def _dropout(g: Graph, m: ModelConfig, name: str, x: str) -> str:
    if not m.dropout:
        return x
    n = g.tensors[x].numel
    g.tensor(f"{name}.mask", n, storage="bool")
    g.tensor(f"{name}.out", n)
    g.add(Elementwise(name, (x,), (f"{name}.out", f"{name}.mask"), numel=n, fwd_per_elem=1,
                      bwd_per_elem=1, save=(f"{name}.mask",)))
    return f"{name}.out"


def _ffn(g: Graph, m: ModelConfig, p: str, x: str, tokens: Any, d: Any, d_ff: Any) -> str:
    act_name = f"{p}ffn.act"
    if m.ffn_activation == "swiglu":
        gate = g.linear(f"{p}ffn.gate", x, f"{p}ffn.gate.out", tokens, d, d_ff, m.ffn_bias)
        up = g.linear(f"{p}ffn.up", x, f"{p}ffn.up.out", tokens, d, d_ff, m.ffn_bias)
        g.tensor(f"{p}ffn.silu", tokens * d_ff)
        g.add(Elementwise(f"{p}ffn.silu", (gate,), (f"{p}ffn.silu",), numel=tokens * d_ff,
                          fwd_per_elem=4, bwd_per_elem=6, save=(gate,)))
        g.tensor(act_name, tokens * d_ff)
        g.add(Elementwise(f"{p}ffn.gate_mul", (f"{p}ffn.silu", up), (act_name,),
                          numel=tokens * d_ff, fwd_per_elem=1, bwd_per_elem=2,
                          save=(f"{p}ffn.silu", up)))
        down_name = f"{p}ffn.down"
    else:
        h = g.linear(f"{p}ffn.fc1", x, f"{p}ffn.fc1.out", tokens, d, d_ff, m.ffn_bias)
        g.tensor(act_name, tokens * d_ff)
        if m.ffn_activation == "gelu":
            g.add(Elementwise(f"{p}ffn.gelu", (h,), (act_name,), numel=tokens * d_ff,
                              fwd_per_elem=8, bwd_per_elem=12, save=(h,)))
        else:
            g.add(Elementwise(f"{p}ffn.relu", (h,), (act_name,), numel=tokens * d_ff,
                              fwd_per_elem=1, bwd_per_elem=1, save=(act_name,)))
        down_name = f"{p}ffn.fc2"
    return g.linear(down_name, act_name, f"{p}ffn.out", tokens, d_ff, d, m.ffn_bias)


def model_graph(m: ModelConfig, d: Dims | None = None) -> Graph:
    """The whole model as one graph (ints; pass symbolic ``d`` for formulas)."""
    from . import variants

    cfg = m.attention
    d = cfg.dims() if d is None else d
    o = cfg.options()
    b, width = d.batch, d.d_model
    tokens = d.tokens
    g = Graph(tokens=tokens)
    decode, kv_note = [], None

    # -- embeddings --
    if m.is_vision:
        patches = (m.image_size // m.patch_size) ** 2
        g.tensor("image", b * m.channels * m.image_size ** 2, role="input", grad=False)
        g.tensor("patches", b * patches * width)
        g.param("patch_embed.weight", m.channels * m.patch_size ** 2 * width)
        g.param("patch_embed.bias", width, kind="bias")
        g.add(MatMul("patch_embed", ("image", "patch_embed.weight"), ("patches",), batch=1,
                     m=b * patches, k=m.channels * m.patch_size ** 2, n=width,
                     bias="patch_embed.bias"))
        h = "patches"
        if m.cls_token:
            g.param("cls_token", width)
            g.tensor("with_cls", tokens * width)
            g.add(Elementwise("concat_cls", ("patches", "cls_token"), ("with_cls",),
                              numel=tokens * width))
            h = "with_cls"
    else:
        g.tensor("ids", tokens, role="input", storage="int64", grad=False)
        g.param("tok_embed.weight", m.vocab * width, share_key="tok_embed")
        g.tensor("tok", tokens * width)
        g.add(Elementwise("tok_embed", ("ids", "tok_embed.weight"), ("tok",), numel=tokens * width,
                          bwd_per_elem=1, save=("ids",)))
        h = "tok"
        if m.token_types:  # token-type ids (all segment 0 here): their own int64 tensor
            g.param("type_embed.weight", m.token_types * width)
            g.tensor("type_ids", tokens, role="const", storage="int64")
            g.add(Elementwise("make_type_ids", (), ("type_ids",), numel=tokens))
            g.tensor("types", tokens * width)
            g.add(Elementwise("type_embed", ("type_ids", "type_embed.weight"), ("types",),
                              numel=tokens * width, bwd_per_elem=1, save=("type_ids",)))
            h = _add(g, "add_types", h, "types", "tok_types")
    if m.max_positions:
        n_pos = m.max_positions
        g.param("pos_embed", n_pos * width)
        h = _add(g, "add_pos", h, "pos_embed", "embedded")
    if m.embedding_norm:
        h = _norm(g, m, "embed_norm", h, "embed_normed", tokens, width)
    h = _dropout(g, m, "embed_dropout", h)

    # -- blocks --
    d_ff = m.resolved_d_ff
    for i, variant in enumerate(m.layers):
        p = f"blocks.{i}."
        v = variants.get(variant)
        vo = o if v.impl_matters else Options(o.bias, o.causal, "materialised", o.sharing,
                                              o.dropout)
        layer = v.build(d, vo)
        x_in = _norm(g, m, f"{p}norm1", h, f"{p}norm1.out", tokens, width) if m.pre_norm else h
        g.tensor(f"{p}attn.out", tokens * width)
        g.extend(layer, f"{p}attn.", {"x": x_in, "out": f"{p}attn.out"})
        a = _dropout(g, m, f"{p}attn_dropout", f"{p}attn.out")
        h = _add(g, f"{p}residual1", h, a, f"{p}res1")
        if not m.pre_norm:
            h = _norm(g, m, f"{p}norm1", h, f"{p}norm1.out", tokens, width)
        f_in = _norm(g, m, f"{p}norm2", h, f"{p}norm2.out", tokens, width) if m.pre_norm else h
        f = _dropout(g, m, f"{p}ffn_dropout", _ffn(g, m, p, f_in, tokens, width, d_ff))
        h = _add(g, f"{p}residual2", h, f, f"{p}res2")
        if not m.pre_norm:
            h = _norm(g, m, f"{p}norm2", h, f"{p}norm2.out", tokens, width)
        if layer.decode_state is not None:
            decode.append(layer.decode_state)
        kv_note = kv_note or layer.kv_cache_note
        for note in layer.notes:
            if note not in g.notes:
                g.notes.append(f"layer {i}: {note}")
    if m.final_norm:
        h = _norm(g, m, "final_norm", h, "final", tokens, width)

    # -- heads --
    if m.lm_head:
        share = "tok_embed" if m.tied_embeddings else None
        g.linear("lm_head", h, "logits", tokens, width, m.vocab, False, share_key=share)
        h = "logits"
    if m.pooler or m.class_head:
        if m.pooling == "mean":
            g.tensor("pooled", b * width)
            g.add(Elementwise("mean_pool", (h,), ("pooled",), numel=tokens * width,
                              fwd_per_elem=1, bwd_per_elem=1))
            h = "pooled"
        elif m.pooling == "cls":
            h = g.view("pooled", h, numel=b * width)
        if m.pooler:
            g.linear("pooler", h, "pooler.pre", b, width, width, True)
            g.tensor("pooler.out", b * width)
            g.add(Elementwise("pooler.tanh", ("pooler.pre",), ("pooler.out",), numel=b * width,
                              fwd_per_elem=4, bwd_per_elem=2, save=("pooler.out",)))
            h = "pooler.out"
        d_in = width
        for j, d_out in enumerate(m.class_head):
            h = g.linear(f"head.{j}", h, f"head.{j}.out", b, d_in, d_out, True)
            if j < len(m.class_head) - 1:
                g.tensor(f"head.{j}.act", b * d_out)
                g.add(Elementwise(f"head.{j}.relu", (h,), (f"head.{j}.act",), numel=b * d_out,
                                  fwd_per_elem=1, bwd_per_elem=1, save=(f"head.{j}.act",)))
                h = f"head.{j}.act"
            d_in = d_out
    g.output = g.root(h)  # the model's output is whatever came last
    g.kv_cache_note = kv_note
    g.decode_state = sum(decode) if decode else None
    return g


# -- presets ---------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _preset_table() -> dict[str, dict[str, Any]]:
    text = resources.files("attncost.data").joinpath("presets.toml").read_text()
    return tomllib.loads(text)


def preset_names() -> list[str]:
    return list(_preset_table())


def preset(name: str, **overrides: Any) -> ModelConfig:
    """A shipped model (``gpt2``, ``bert-base``, ``vit-b16``, ``llama2-7b``, ``seed-imdb``...)
    with optional field overrides (model or attention fields)."""
    table = _preset_table()
    if name not in table:
        raise unknown("preset", name, table)
    spec = dict(table[name])
    attn = AttentionConfig(**spec.pop("attention"))
    n_layers = spec.pop("n_layers")
    variant = spec.pop("variant", "standard")
    for key in ("class_head",):
        if key in spec:
            spec[key] = tuple(spec[key])
    m = ModelConfig(name=name, layers=(variant,) * n_layers, attention=attn, **spec)
    if overrides:
        if "n_layers" in overrides:
            n = overrides.pop("n_layers")
            overrides.setdefault("layers", (m.layers[0],) * n)
        if "variant" in overrides:
            v = overrides.pop("variant")
            overrides["layers"] = (v,) * len(overrides.get("layers", m.layers))
        m = m.with_(**overrides)
    return m
