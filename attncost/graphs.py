"""Graphs of stacks and whole models: what the cost model derives every metric from.

:func:`layer_graph` is ``layers`` attention layers of one variant in a chain;
:func:`model_graph` turns a :class:`~attncost.config.ModelConfig` (embeddings, blocks with any
variant per layer, norms, FFN, heads) into one :class:`~attncost.ops.Graph`, so every metric
of a single layer exists for the whole model too, derived the same way.

Per-element FLOP conventions of the non-attention parts (forward / backward):
LayerNorm 7 / 10 (mean, centre, square, sum, scale, affine 2) and saves its input and fp32
mean and rstd per row; RMSNorm 3 / 5 then × weight 1 / 2, saving its input, the fp32 rstd
and the normalised input; GELU 8 / 12 saves its
input; ReLU 1 / 1 saves its output; SiLU 4 / 6 saves its input; gate product 1 / 2 saves both
inputs; residual add 1 / 0; dropout 1 / 1 saves a bool mask; embedding lookup 0 forward,
backward one add per gathered element, saves the int64 indices.
"""

from __future__ import annotations

from typing import Any, Callable

from .config import AttentionConfig, Dims, ModelConfig, Options, symbolic_dims
from .errors import ConfigError
from .ops import Elementwise, Graph, MatMul
from .sizes import total

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


def _embeddings(g: Graph, m: ModelConfig, d: Dims) -> str:
    """Patch embedding (+ class token) or token embedding (+ token types); learned
    positions; an embedding norm and dropout. Returns the hidden state's name."""
    b, width, tokens = d.batch, d.d_model, d.tokens
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
        g.param("pos_embed", m.max_positions * width)
        h = _add(g, "add_pos", h, "pos_embed", "embedded")
    if m.embedding_norm:
        h = _norm(g, m, "embed_norm", h, "embed_normed", tokens, width)
    return _dropout(g, m, "embed_dropout", h)


def _block(g: Graph, m: ModelConfig, i: int, layer: Graph, h: str, d: Dims) -> str:
    """Transformer block ``i`` around the attention graph ``layer``: norms (pre or post),
    residuals, dropout and the FFN. Returns the hidden state's name."""
    p, tokens, width = f"blocks.{i}.", d.tokens, d.d_model
    x_in = _norm(g, m, f"{p}norm1", h, f"{p}norm1.out", tokens, width) if m.pre_norm else h
    g.tensor(f"{p}attn.out", tokens * width)
    g.extend(layer, f"{p}attn.", {"x": x_in, "out": f"{p}attn.out"})
    a = _dropout(g, m, f"{p}attn_dropout", f"{p}attn.out")
    h = _add(g, f"{p}residual1", h, a, f"{p}res1")
    if not m.pre_norm:
        h = _norm(g, m, f"{p}norm1", h, f"{p}norm1.out", tokens, width)
    f_in = _norm(g, m, f"{p}norm2", h, f"{p}norm2.out", tokens, width) if m.pre_norm else h
    f = _dropout(g, m, f"{p}ffn_dropout", _ffn(g, m, p, f_in, tokens, width, m.resolved_d_ff))
    h = _add(g, f"{p}residual2", h, f, f"{p}res2")
    if not m.pre_norm:
        h = _norm(g, m, f"{p}norm2", h, f"{p}norm2.out", tokens, width)
    return h


def _heads(g: Graph, m: ModelConfig, h: str, d: Dims) -> str:
    """LM head (tied or not), pooling, BERT's pooler and the classifier MLP."""
    b, width, tokens = d.batch, d.d_model, d.tokens
    if m.lm_head:
        share = "tok_embed" if m.tied_embeddings else None
        g.linear("lm_head", h, "logits", tokens, width, m.vocab, False, share_key=share)
        h = "logits"
    if not (m.pooler or m.class_head):
        return h
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
    return h


def model_graph(m: ModelConfig, d: Dims | None = None) -> Graph:
    """The whole model as one graph (ints; pass symbolic ``d`` for formulas)."""
    from . import variants

    cfg = m.attention
    d = cfg.dims() if d is None else d
    g = Graph(tokens=d.tokens)
    decode, kv_note = [], None
    h = _embeddings(g, m, d)
    for i, variant in enumerate(m.layers):
        v = variants.get(variant)
        layer = v.build(d, v.options_for(cfg.options()))
        h = _block(g, m, i, layer, h, d)
        if layer.decode_state is not None:
            decode.append(layer.decode_state)
        kv_note = kv_note or layer.kv_cache_note
        for note in layer.notes:
            if note not in g.notes:
                g.notes.append(f"layer {i}: {note}")
    if m.final_norm:
        h = _norm(g, m, "final_norm", h, "final", d.tokens, d.d_model)
    h = _heads(g, m, h, d)
    g.output = g.root(h)  # the model's output is whatever came last
    g.kv_cache_note = kv_note
    g.decode_state = total(decode) if decode else None
    return g


# -- stacks of one variant ------------------------------------------------------------------


def stack(builder: Callable[[Dims, Options], Graph], d: Dims, o: Options, layers: int) -> Graph:
    """``layers`` attention layers in a chain (each layer's output feeds the next)."""
    if layers == 1:
        return builder(d, o)
    top = Graph(tokens=d.tokens)
    top.tensor("x", d.tokens * d.d_model, role="input")
    prev = "x"
    decode = []
    for i in range(layers):
        g = builder(d, o)
        out = "out" if i == layers - 1 else f"l{i}.out"
        top.tensor(out, d.tokens * d.d_model)
        top.extend(g, f"l{i}.", {"x": prev, "out": out})
        prev = out
        if g.decode_state is not None:
            decode.append(g.decode_state)
        top.kv_cache_note = top.kv_cache_note or g.kv_cache_note
        for note in g.notes:
            if note not in top.notes:
                top.notes.append(note)
    top.decode_state = total(decode) if decode else None
    return top


def check_layers(layers: Any) -> int:
    """A number of stacked layers: a positive integer, or a one-line error."""
    if isinstance(layers, bool) or not isinstance(layers, int) or layers <= 0:
        raise ConfigError(f"layers must be a positive integer, got {layers!r}")
    return layers


def layer_graph(variant: str, cfg: AttentionConfig, layers: int = 1,
                symbolic: bool = False) -> Graph:
    """The graph of ``layers`` layers of ``variant`` under ``cfg`` (ints, or sympy symbols)."""
    from . import variants

    check_layers(layers)
    v = variants.get(variant)
    d = symbolic_dims() if symbolic else cfg.dims()
    o = v.options_for(cfg.options())
    first = v.build(d, o)  # validates (causal support, slicing) even when stacking
    return first if layers == 1 else stack(v.build, d, o, layers)
