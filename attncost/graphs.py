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
backward one add per gathered element, saves the int64 indices; embedding scale (Gemma) 1 / 1;
tanh 4 / 2 saves its output.

A mixture-of-experts FFN (:func:`_moe`; Shazeer et al. 2017, arXiv 1701.06538; Mixtral,
arXiv 2401.04088; DeepSeekMoE, arXiv 2401.06066) follows :class:`attncost.nn.model.MoE`: a
router (d_model → experts, no bias), softmax over the experts (5 / 4), top-k (saves the int64
expert ids), optional renormalisation of the k weights (sum 1 / 0, divide 1 / 4), a stable
sort of the batch·seq_len·k routed slots by expert, a gather of their inputs (0 / 1, saves
the int64 token ids), each expert's FFN on its slots, a concatenation (a copy), the slots'
weights gathered (saves the sort order) and multiplied in (1 / 3), and a scatter-add back to
the tokens (1 / 0, saves the token ids and its source); shared experts are a dense FFN on
every token, added.
The experts are described as one grouped computation over the batch·seq_len·k slots: its
FLOPs and saved tensors equal the per-expert sum whatever the routing, since every slot is
computed by exactly one expert; its weights are experts × one expert's, of which a token uses
k (``Tensor.active``, the ``params_active`` metric). The inference peak holds every expert's
hidden activations at once (an upper bound: PyTorch frees each expert's after it).
"""

from __future__ import annotations

from typing import Any, Callable

from .config import AttentionConfig, Dims, ModelConfig, Options, symbolic_dims
from .config.model import MAX_BLOCKS
from .errors import ConfigError, UnsupportedError
from .ops import Elementwise, Graph, MatMul
from .sizes import total
from .variants.core import rms_norm, softcap

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
    return rms_norm(g, name, x, out, rows, width)


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


def _ffn(g: Graph, m: ModelConfig, p: str, x: str, tokens: Any, d: Any, d_ff: Any,
         experts: int = 0, active: int = 0, part: str = "ffn") -> str:
    """A dense FFN (GELU, ReLU, or gated SwiGLU/GeGLU: down(act(gate(x))·up(x)), Shazeer 2020,
    arXiv 2002.05202) over ``tokens`` rows; with ``experts``, the routed experts' FFN as one
    grouped computation (weights experts × one expert's, ``active`` of them per token)."""
    act_name = f"{p}{part}.act"

    def lin(name: str, src: str, out: str, d_in: Any, d_out: Any) -> str:
        if not experts:
            return g.linear(name, src, out, tokens, d_in, d_out, m.ffn_bias)
        w = g.tensor(f"{name}.weight", experts * d_in * d_out, role="param", storage="param",
                     active=active * d_in * d_out)
        b = g.tensor(f"{name}.bias", experts * d_out, role="param", storage="param",
                     param_kind="bias", active=active * d_out) if m.ffn_bias else None
        g.tensor(out, tokens * d_out)
        g.add(MatMul(name, (src, w), (out,), batch=1, m=tokens, k=d_in, n=d_out, bias=b))
        return out

    if m.ffn_activation in ("swiglu", "geglu"):
        gate = lin(f"{p}{part}.gate", x, f"{p}{part}.gate.out", d, d_ff)
        up = lin(f"{p}{part}.up", x, f"{p}{part}.up.out", d, d_ff)
        kind, fwd, bwd = ("silu", 4, 6) if m.ffn_activation == "swiglu" else ("gelu", 8, 12)
        g.tensor(f"{p}{part}.{kind}", tokens * d_ff)
        g.add(Elementwise(f"{p}{part}.{kind}", (gate,), (f"{p}{part}.{kind}",),
                          numel=tokens * d_ff, fwd_per_elem=fwd, bwd_per_elem=bwd,
                          save=(gate,)))
        g.tensor(act_name, tokens * d_ff)
        g.add(Elementwise(f"{p}{part}.gate_mul", (f"{p}{part}.{kind}", up), (act_name,),
                          numel=tokens * d_ff, fwd_per_elem=1, bwd_per_elem=2,
                          save=(f"{p}{part}.{kind}", up)))
        down_name = f"{p}{part}.down"
    else:
        h = lin(f"{p}{part}.fc1", x, f"{p}{part}.fc1.out", d, d_ff)
        g.tensor(act_name, tokens * d_ff)
        if m.ffn_activation == "gelu":
            g.add(Elementwise(f"{p}{part}.gelu", (h,), (act_name,), numel=tokens * d_ff,
                              fwd_per_elem=8, bwd_per_elem=12, save=(h,)))
        else:
            g.add(Elementwise(f"{p}{part}.relu", (h,), (act_name,), numel=tokens * d_ff,
                              fwd_per_elem=1, bwd_per_elem=1, save=(act_name,)))
        down_name = f"{p}{part}.fc2"
    return lin(down_name, act_name, f"{p}{part}.out", d_ff, d)


def _moe(g: Graph, m: ModelConfig, p: str, x: str, tokens: Any, d: Any) -> str:
    """A mixture-of-experts FFN, step by step as :class:`attncost.nn.model.MoE` runs it (see
    the module docstring). Returns the output's name."""
    n_exp, k, d_ff = m.experts, m.experts_per_token, m.resolved_expert_d_ff
    q, slots = f"{p}moe.", tokens * k
    logits = g.linear(f"{q}router", x, f"{q}logits", tokens, d, n_exp, False)
    g.tensor(f"{q}probs", tokens * n_exp)
    g.add(Elementwise(f"{q}softmax", (logits,), (f"{q}probs",), numel=tokens * n_exp,
                      fwd_per_elem=5, bwd_per_elem=4, save=(f"{q}probs",)))
    g.tensor(f"{q}topk", slots)
    g.tensor(f"{q}expert_ids", slots, storage="int64")
    g.add(Elementwise(f"{q}topk", (f"{q}probs",), (f"{q}topk", f"{q}expert_ids"),
                      numel=tokens * n_exp, save=(f"{q}expert_ids",)))
    weights = f"{q}topk"
    if m.moe_renormalize:
        g.tensor(f"{q}topk_sum", tokens)
        g.add(Elementwise(f"{q}topk_sum", (weights,), (f"{q}topk_sum",), numel=slots,
                          fwd_per_elem=1, grad_is_view=True))
        g.tensor(f"{q}weights", slots)
        g.add(Elementwise(f"{q}renormalise", (weights, f"{q}topk_sum"), (f"{q}weights",),
                          numel=slots, fwd_per_elem=1, bwd_per_elem=4,
                          save=(weights, f"{q}topk_sum")))
        weights = f"{q}weights"
    # slots sorted by expert (a stable argsort) and the token each slot came from (order // k)
    g.tensor(f"{q}order", slots, storage="int64")
    g.tensor(f"{q}token_ids", slots, storage="int64")
    g.add(Elementwise(f"{q}sort", (f"{q}expert_ids",), (f"{q}order", f"{q}token_ids"),
                      numel=slots))
    g.tensor(f"{q}routed", slots * d)
    g.add(Elementwise(f"{q}dispatch", (x, f"{q}token_ids"), (f"{q}routed",), numel=slots * d,
                      bwd_per_elem=1, save=(f"{q}token_ids",)))
    y = _ffn(g, m, p, f"{q}routed", slots, d, d_ff, experts=n_exp, active=k,
             part="moe.experts")
    y = g.copy(f"{q}concat", y, f"{q}expert_outs")
    g.tensor(f"{q}slot_weights", slots)
    g.add(Elementwise(f"{q}gather_weights", (weights, f"{q}order"), (f"{q}slot_weights",),
                      numel=slots, bwd_per_elem=1, save=(f"{q}order",)))
    g.tensor(f"{q}weighted", slots * d)
    g.add(Elementwise(f"{q}weigh", (y, f"{q}slot_weights"), (f"{q}weighted",),
                      numel=slots * d, fwd_per_elem=1, bwd_per_elem=3,
                      save=(y, f"{q}slot_weights")))
    g.tensor(f"{q}zeros", tokens * d, role="const")
    g.add(Elementwise(f"{q}zeros", (), (f"{q}zeros",), numel=tokens * d))
    g.tensor(f"{q}combined", tokens * d)
    # index_add's backward gathers the output gradient and shapes it as its source: it saves
    # the token ids and the source
    g.add(Elementwise(f"{q}combine", (f"{q}zeros", f"{q}weighted", f"{q}token_ids"),
                      (f"{q}combined",), numel=slots * d, fwd_per_elem=1,
                      save=(f"{q}token_ids", f"{q}weighted")))
    out = f"{q}combined"
    if m.shared_experts:
        shared = _ffn(g, m, p, x, tokens, d, m.shared_experts * d_ff, part="moe.shared")
        out = _add(g, f"{q}add_shared", out, shared, f"{q}out")
    return out


def _embeddings(g: Graph, m: ModelConfig, d: Dims) -> str:
    """Patch embedding (+ class token) or token embedding (+ token types); learned
    positions; an embedding norm and dropout. Returns the hidden state's name."""
    b, width, tokens = d.batch, d.d_model, d.tokens
    if m.is_features:  # continuous inputs: nn.Linear(features, d_model) on every position
        g.tensor("features", tokens * m.features, role="input", grad=False)
        h = g.linear("feature_proj", "features", "projected", tokens, m.features, width, True)
    elif m.is_vision:
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
        if m.embed_scale:  # Gemma: × √d_model (a Python scalar: saves nothing)
            g.tensor("tok_scaled", tokens * width)
            g.add(Elementwise("embed_scale", ("tok",), ("tok_scaled",), numel=tokens * width,
                              fwd_per_elem=1, bwd_per_elem=1))
            h = "tok_scaled"
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
    """Transformer block ``i`` around the attention graph ``layer``: norms (pre, post or
    Gemma-2's sandwich; one shared norm in Phi-2's parallel block), residuals, dropout and the
    FFN (dense or mixture of experts). Returns the hidden state's name."""
    p, tokens, width = f"blocks.{i}.", d.tokens, d.d_model

    def ffn(x: str) -> str:
        if m.is_moe_block(i):
            return _moe(g, m, p, x, tokens, width)
        return _ffn(g, m, p, x, tokens, width, m.resolved_d_ff)

    x_in = _norm(g, m, f"{p}norm1", h, f"{p}norm1.out", tokens, width) if m.pre_norm else h
    g.tensor(f"{p}attn.out", tokens * width)
    g.extend(layer, f"{p}attn.", {"x": x_in, "out": f"{p}attn.out"})
    a = f"{p}attn.out"
    if m.sandwich_norm:
        a = _norm(g, m, f"{p}norm1_post", a, f"{p}norm1_post.out", tokens, width)
    a = _dropout(g, m, f"{p}attn_dropout", a)
    if m.parallel_block:  # Phi-2: h + attn(ln(h)) + ffn(ln(h)), the branches added first
        f = _dropout(g, m, f"{p}ffn_dropout", ffn(x_in))
        both = _add(g, f"{p}branches", a, f, f"{p}branches.out")
        return _add(g, f"{p}residual", both, h, f"{p}res")
    h = _add(g, f"{p}residual1", h, a, f"{p}res1")
    if not m.pre_norm:
        h = _norm(g, m, f"{p}norm1", h, f"{p}norm1.out", tokens, width)
    f_in = _norm(g, m, f"{p}norm2", h, f"{p}norm2.out", tokens, width) if m.pre_norm else h
    f = ffn(f_in)
    if m.sandwich_norm:
        f = _norm(g, m, f"{p}norm2_post", f, f"{p}norm2_post.out", tokens, width)
    f = _dropout(g, m, f"{p}ffn_dropout", f)
    h = _add(g, f"{p}residual2", h, f, f"{p}res2")
    if not m.pre_norm:
        h = _norm(g, m, f"{p}norm2", h, f"{p}norm2.out", tokens, width)
    return h


def _heads(g: Graph, m: ModelConfig, h: str, d: Dims) -> str:
    """LM head (tied or not, with a bias, after BERT's MLM transform, soft-capped), pooling,
    BERT's pooler and the classifier MLP (on every token with ``pooling = "none"``)."""
    b, width, tokens = d.batch, d.d_model, d.tokens
    if m.lm_head:
        if m.mlm_transform:  # BERT/RoBERTa: dense + GELU + LayerNorm before the decoder
            g.linear("mlm.dense", h, "mlm.dense.out", tokens, width, width, True)
            g.tensor("mlm.act", tokens * width)
            g.add(Elementwise("mlm.gelu", ("mlm.dense.out",), ("mlm.act",),
                              numel=tokens * width, fwd_per_elem=8, bwd_per_elem=12,
                              save=("mlm.dense.out",)))
            h = _norm(g, m, "mlm.norm", "mlm.act", "mlm.out", tokens, width)
        share = "tok_embed" if m.tied_embeddings else None
        g.linear("lm_head", h, "logits", tokens, width, m.vocab, m.lm_head_bias,
                 share_key=share)
        h = "logits"
        if m.final_softcap is not None:
            h = softcap(g, "logits.", h, tokens * m.vocab)
    if not (m.pooler or m.class_head):
        return h
    if m.pooling == "mean":
        g.tensor("pooled", b * width)
        g.add(Elementwise("mean_pool", (h,), ("pooled",), numel=tokens * width,
                          fwd_per_elem=1, bwd_per_elem=1))
        h = "pooled"
    elif m.pooling == "cls":
        h = g.view("pooled", h, numel=b * width)
    else:  # "none": the pooler and classifier run on every token
        b = tokens
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
        v, block = variants.get(variant), m.block_attention(i)
        layer = _build(v, d, v.options_for(block.options()))
        h = _block(g, m, i, layer, h, d)
        g.attention_layers.append((f"blocks.{i}.attn.",
                                   attention_key(variant, block.impl, block.causal)))
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


def attention_key(variant: str, impl: str, causal: bool) -> str:
    """``variant:impl:causal`` of an attention layer as it runs in PyTorch (``causal`` 0 or 1;
    ``impl`` ``materialised`` for a variant whose implementation does not matter): the name of
    its reference layers in a latency profile (:mod:`attncost.latency.reference`)."""
    from . import variants

    impl = impl if variants.get(variant).impl_matters else "materialised"
    return f"{variant}:{impl}:{int(bool(causal))}"


def _build(v: Any, d: Dims, o: Options) -> Graph:
    """The graph of variant record ``v``; a sliding window or soft-capping needs a softmax
    attention core (:func:`attncost.variants.core.attention`) to apply to."""
    g = v.build(d, o)
    if (o.window is not None or o.softcap is not None) and not g.softmax_core:
        raise UnsupportedError(
            f"variant {v.name!r} has no softmax attention core: a sliding window and logit "
            f"soft-capping do not apply; unset window and softcap, or use a softmax variant")
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
    """A number of stacked layers: an integer from 1 to :data:`MAX_BLOCKS`, or a one-line
    error."""
    if isinstance(layers, bool) or not isinstance(layers, int) or not 1 <= layers <= MAX_BLOCKS:
        raise ConfigError(f"layers must be an integer from 1 to {MAX_BLOCKS:,}, got {layers!r}")
    return layers


def layer_graph(variant: str, cfg: AttentionConfig, layers: int = 1,
                symbolic: bool = False) -> Graph:
    """The graph of ``layers`` layers of ``variant`` under ``cfg`` (ints, or sympy symbols)."""
    from . import variants

    check_layers(layers)
    v = variants.get(variant)
    d = symbolic_dims() if symbolic else cfg.dims()
    o = v.options_for(cfg.options())
    first = _build(v, d, o)  # validates (causal support, slicing) even when stacking
    g = first if layers == 1 else stack(v.build, d, o, layers)
    key = attention_key(variant, cfg.impl, cfg.causal)
    g.attention_layers = [("", key)] if layers == 1 else [(f"l{i}.", key)
                                                            for i in range(layers)]
    return g
