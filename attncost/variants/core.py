"""Building blocks shared by the variants: the graph's input, projections, and the
softmax-attention core in its two implementations.

``materialised`` is the explicit PyTorch path: head split (a contiguous copy, as
``torch.matmul`` makes of a transposed view), ``q kᵀ`` (bmm), scale, causal mask
(``masked_fill`` with an on-the-fly boolean mask, which autograd saves), softmax (saves its
output), optional dropout (saves a boolean mask), ``p v`` (bmm), head merge (a copy).

``fused`` is ``F.scaled_dot_product_attention`` with a flash-style kernel: q, k, v are views
(no copies); the ℓ×ℓ scores never exist in memory; the kernel saves q, k, v, the output and an
fp32 log-sum-exp per query row.

A causal **sliding window** of w keys (``o.window``; Beltagy et al. 2020, arXiv 2004.05150;
Mistral 7B, arXiv 2310.06825) is a banded mask: the materialised path masks the same ℓ×ℓ
rectangle (one boolean mask, ``~tril | tril(-w)``), the fused kernel receives it as an
additive mask (ℓ×ℓ in the activation dtype, saved for backward) and still computes the whole
rectangle, as PyTorch executes it; the useful FLOPs count the band (:func:`~attncost.ops.band`)
and a decoder keeps at most w tokens of keys and values (``kv_tokens``). **Soft-capping**
(``o.softcap``, Gemma-2): scores ← c·tanh(scores/c) after the scale, three per-score ops
(divide and multiply by a Python scalar: 1 FLOP each, saving nothing; tanh 4 forward, 2
backward, saving its output), materialised only.
"""

from __future__ import annotations

from ..config import Dims, Options
from ..errors import UnsupportedError
from ..ops import Elementwise, FusedAttention, Graph, MatMul, band, triangle
from ..sizes import is_symbolic


def _differs(a, b) -> bool:
    """a != b for ints; for symbols, whether they are different expressions."""
    return a != b


def new_graph(d: Dims, cache_input: bool = False) -> Graph:
    """An empty layer graph with its input ``x`` (batch·seq_len·d_model).

    ``cache_input``: a decoder must keep x itself per token (keys or values are slices of x).
    """
    g = Graph(tokens=d.tokens)
    g.tensor("x", d.tokens * d.d_model, role="input", kv_cache=cache_input)
    return g


def project(g: Graph, d: Dims, o: Options, name: str, src: str, d_out, d_in=None,
            kv_cache: bool = False) -> str:
    """``name = Linear(src)`` over all tokens: W ∈ R^{d_in×d_out} (+ bias if ``o.bias`` or
    ``o.qkv_bias``: every projection into the attention has one then, Qwen2's q, k, v)."""
    g.tensor(name, d.tokens * d_out, kv_cache=kv_cache)
    return g.linear(f"{name}_proj", src, name, d.tokens, d.d_model if d_in is None else d_in,
                    d_out, o.bias or o.qkv_bias)


def rms_norm(g: Graph, name: str, x: str, out: str, rows, width) -> str:
    """RMSNorm over the last ``width`` elements of ``rows`` rows (Zhang & Sennrich 2019, arXiv
    1910.07467), composite on CPU in PyTorch: x·rsqrt(mean(x²) + ε), 3 FLOPs per element
    forward and 5 backward, saving x and the fp32 rstd per row; then × weight (1 / 2), saving
    the normalised x. The weight (``width``) is declared by the caller or here."""
    if f"{name}.weight" not in g.tensors:
        g.param(f"{name}.weight", width)
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


def split_projections(g: Graph, d: Dims, o: Options, names=("q", "k", "v")) -> None:
    """Project x to each of ``names`` (heads·d_head wide) and split it into heads as a
    contiguous copy ``<name>_heads`` (batch, heads, seq_len, d_head): for variants that work
    on heads outside the softmax-attention core (linear, kernel-linear)."""
    for name in names:
        project(g, d, o, name, "x", d.heads * d.d_head)
        g.copy(f"split_{name}", name, f"{name}_heads")


def output_projection(g: Graph, d: Dims, o: Options, merged: str, d_in) -> str:
    """``out = merged @ W_O (+ b_O if ``o.bias``)``, W_O ∈ R^{d_in×d_model}."""
    return g.linear("out_proj", merged, "out", d.tokens, d_in, d.d_model, o.bias)


def attention(g: Graph, d: Dims, o: Options, *, q: str, k: str, v: str, kv_len=None,
              d_qk=None, d_v=None, kv_heads=None, heads_layout: bool = False) -> str:
    """``softmax(q kᵀ/√d_qk [+ mask]) v`` for every head; returns the merged
    (batch, seq_len, heads·d_v) tensor.

    ``q`` is (batch, seq_len, heads·d_qk); ``k``/``v`` are (batch, kv_len, kv_heads·d) in token
    layout, or already (batch, heads, kv_len, d) when ``heads_layout`` (the materialised path
    still makes them contiguous: a copy). ``k`` and ``v`` may be
    the same tensor (Efficient attention): it is split into heads once. ``kv_heads`` < heads
    (MQA/GQA): the materialised path expands keys and values to every head (a copy, as
    ``repeat_interleave`` makes); the fused kernel reads the shared heads directly. The fused
    kernel needs d_v = d_qk: other widths are zero-padded (MLA). A sliding window
    (``o.window``) and soft-capping (``o.softcap``) are applied here (module docstring).
    """
    shape = _Shape(d, o, d.seq_len if kv_len is None else kv_len,
                   d.d_head if d_qk is None else d_qk, d.d_head if d_v is None else d_v,
                   d.heads if kv_heads is None else kv_heads)
    g.softmax_core = True
    if shape.window is not None:
        _bound_kv_cache(g, d, shape.window)
    if o.impl == "fused":
        return _fused(g, shape, q, k, v, heads_layout)
    return _materialised(g, shape, q, k, v)


def _bound_kv_cache(g: Graph, d: Dims, window: int) -> None:
    """A decoder keeps at most ``window`` tokens per sequence of everything it caches."""
    from dataclasses import replace

    kept = d.batch * min(d.seq_len, window)
    for name, t in list(g.tensors.items()):
        if t.kv_cache:
            g.tensors[name] = replace(t, kv_tokens=kept, kv_window=window)
    g.notes.append(f"sliding window: each query sees at most {window} keys; a decoder keeps "
                   f"at most {window} tokens per sequence")


class _Shape:
    """The sizes of one attention core."""

    def __init__(self, d: Dims, o: Options, kv_len, d_qk, d_v, kv_heads) -> None:
        self.b, self.h, self.ell = d.batch, d.heads, d.seq_len
        self.bh = d.batch * d.heads
        self.kv_len, self.d_qk, self.d_v, self.kv_heads = kv_len, d_qk, d_v, kv_heads
        self.causal, self.dropout = o.causal, o.dropout
        self.window = o.window if o.causal else None
        self.softcap = o.softcap
        if self.window is not None and (is_symbolic(self.ell) or is_symbolic(kv_len)):
            raise UnsupportedError(
                f"a sliding window (window={self.window}) has no closed-form formula (the "
                f"useful pairs are piecewise in the length); use exact estimates")

    def useful_pairs(self):
        """Unmasked (query, key) pairs per head: the causal triangle or the window's band;
        None without a mask."""
        if self.window is not None:
            return band(self.ell, self.window)
        return triangle(self.ell) if self.causal else None


def _fused(g: Graph, s: _Shape, q: str, k: str, v: str, heads_layout: bool) -> str:
    """``F.scaled_dot_product_attention`` with a flash kernel on head views."""
    qh = g.view("q_heads", q)
    kh = k if heads_layout else g.view("k_heads", k)
    vh = kh if v == k else (v if heads_layout else g.view("v_heads", v))
    width, padded = s.d_v, _differs(s.d_v, s.d_qk)
    if padded:
        # flash kernels need equal head widths: values are zero-padded to d_qk (a copy)
        width = s.d_qk
        g.tensor("v_padded", s.b * s.kv_heads * s.kv_len * s.d_qk)
        g.add(Elementwise("pad_v", (vh,), ("v_padded",),
                          numel=s.b * s.kv_heads * s.kv_len * s.d_qk))
        vh = "v_padded"
    inputs: tuple[str, ...] = (qh, kh, vh)
    if s.window is not None:
        # the banded mask, passed as an additive mask in the activation dtype (the CPU kernel
        # converts a boolean one); the kernel saves it for backward
        g.tensor("window_mask", s.ell * s.kv_len, role="const")
        g.add(Elementwise("make_window_mask", (), ("window_mask",), numel=s.ell * s.kv_len))
        inputs += ("window_mask",)
    g.tensor("attn_heads", s.bh * s.ell * width)
    g.tensor("lse", s.bh * s.ell, storage="fp32")
    g.add(FusedAttention("sdpa", inputs, ("attn_heads", "lse"), batch_heads=s.bh,
                         q_len=s.ell, kv_len=s.kv_len, d_qk=s.d_qk, d_v=width,
                         causal=s.causal, window=s.window))
    if not padded:
        # the kernel writes its output as (b, ℓ, h, d): merging heads is a view
        return g.view("merged", "attn_heads")
    # the output sliced back to d_v and merged: a copy of bh·ℓ·d_v elements
    g.tensor("merged", s.bh * s.ell * s.d_v)
    g.add(Elementwise("merge_heads", ("attn_heads",), ("merged",), numel=s.bh * s.ell * s.d_v))
    return "merged"


def _materialised(g: Graph, s: _Shape, q: str, k: str, v: str) -> str:
    """The explicit PyTorch path: head copies, ``q kᵀ``, scale, mask, softmax, dropout,
    ``p v``, head merge (see the module docstring)."""
    qh = g.copy("split_q", q, "q_heads")

    def heads_of(src: str, name: str, d_x) -> str:
        g.tensor(name, s.bh * s.kv_len * d_x)
        op = "expand" if s.kv_heads != s.h else "split"
        g.add(Elementwise(f"{op}_{name}", (src,), (name,), numel=s.bh * s.kv_len * d_x))
        return name

    kh = heads_of(k, "k_heads", s.d_qk)
    vh = kh if v == k else heads_of(v, "v_heads", s.d_v)
    scores = s.bh * s.ell * s.kv_len
    pairs = s.useful_pairs()
    useful = None if pairs is None else s.bh * pairs
    g.tensor("scores", scores)
    g.add(MatMul("qk", (qh, kh), ("scores",), batch=s.bh, m=s.ell, k=s.d_qk, n=s.kv_len,
                 useful_macs=None if useful is None else useful * s.d_qk))
    logits = _scaled_and_masked(g, s, scores, useful)
    # softmax over keys: max, subtract, exp, sum, divide = 5 FLOPs per score forward;
    # backward y·(g − Σ g·y) = 4 per score; saves its output
    g.tensor("probs", scores)
    g.add(Elementwise("softmax", (logits,), ("probs",), numel=scores, fwd_per_elem=5,
                      bwd_per_elem=4, save=("probs",), useful_numel=useful))
    weights = "probs"
    if s.dropout:
        # dropout: one multiply per score by the scaled keep-mask; saves the bool mask
        g.tensor("dropout_mask", scores, storage="bool")
        g.tensor("probs_dropped", scores)
        g.add(Elementwise("attn_dropout", ("probs",), ("probs_dropped", "dropout_mask"),
                          numel=scores, fwd_per_elem=1, bwd_per_elem=1,
                          save=("dropout_mask",), useful_numel=useful))
        weights = "probs_dropped"
    g.tensor("attn_heads", s.bh * s.ell * s.d_v)
    g.add(MatMul("pv", (weights, vh), ("attn_heads",), batch=s.bh, m=s.ell, k=s.kv_len,
                 n=s.d_v, useful_macs=None if useful is None else useful * s.d_v))
    # Python references (the caller's arguments, the core's locals) keep the inputs, their
    # head copies, the logits and the probabilities alive until the core returns
    for t in (q, k, v, qh, kh, vh, logits, "probs", weights):
        g.hold(t, "pv")
    # (b, h, ℓ, d_v) -> (b, ℓ, h·d_v): transpose + reshape copies
    return g.copy("merge_heads", "attn_heads", "merged")


def _scaled_and_masked(g: Graph, s: _Shape, scores, useful) -> str:
    """Scale (one multiply per score; saves nothing: the factor is a Python scalar), the
    soft-cap if any, then the causal mask: ``masked_fill(~tril, -inf)`` (with a window,
    ``~tril | tril(-w)``), one select per score, saving the bool mask."""
    g.tensor("scaled", scores)
    g.add(Elementwise("scale", ("scores",), ("scaled",), numel=scores, fwd_per_elem=1,
                      bwd_per_elem=1, useful_numel=useful))
    logits = "scaled" if s.softcap is None else softcap(g, "", "scaled", scores, useful)
    if not s.causal:
        return logits
    g.tensor("causal_mask", s.ell * s.kv_len, role="const", storage="bool")
    g.add(Elementwise("make_causal_mask", (), ("causal_mask",), numel=s.ell * s.kv_len))
    g.tensor("masked", scores)
    g.add(Elementwise("mask", (logits, "causal_mask"), ("masked",), numel=scores,
                      fwd_per_elem=1, bwd_per_elem=1, save=("causal_mask",),
                      useful_numel=useful))
    return "masked"


def softcap(g: Graph, prefix: str, x: str, numel, useful=None) -> str:
    """c·tanh(x/c) (Gemma-2's soft-capping, Gemma Team 2024, arXiv 2408.00118 §2): divide
    and multiply by a Python scalar (1 FLOP per element each, saving nothing), tanh in between
    (4 forward, 2 backward, saving its output). Returns the capped tensor's name."""
    g.tensor(f"{prefix}softcap_in", numel)
    g.add(Elementwise(f"{prefix}softcap_div", (x,), (f"{prefix}softcap_in",), numel=numel,
                      fwd_per_elem=1, bwd_per_elem=1, useful_numel=useful))
    g.tensor(f"{prefix}softcap_tanh", numel)
    g.add(Elementwise(f"{prefix}softcap_tanh", (f"{prefix}softcap_in",),
                      (f"{prefix}softcap_tanh",), numel=numel, fwd_per_elem=4, bwd_per_elem=2,
                      save=(f"{prefix}softcap_tanh",), useful_numel=useful))
    g.tensor(f"{prefix}softcapped", numel)
    g.add(Elementwise(f"{prefix}softcap_mul", (f"{prefix}softcap_tanh",),
                      (f"{prefix}softcapped",), numel=numel, fwd_per_elem=1, bwd_per_elem=1,
                      useful_numel=useful))
    return f"{prefix}softcapped"
