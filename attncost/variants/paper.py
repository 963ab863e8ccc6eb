"""The seed paper's three variants: Optimised, Efficient and Super attention.

Hosseini, Hosseini, Castro, Purver, "Cost-Effective Attention Mechanisms for Low Resource
Settings: Necessity & Sufficiency of Linear Transformations" (arXiv 2403.01643; v1 "You Need to
Pay Better Attention"). With X_i the i-th slice of d_head columns of X:

* Optimised: no W_V.   H_i = softmax(Q W_i^Q (X W_i^K)ᵀ/√d_h) · X_i; W_O kept (3·d_m² weights).
* Efficient: no W_V, no W_K.   H_i = softmax(Q W_i^Q X_iᵀ/√d_h) · X_i; W_O kept (2·d_m²).
* Super: Efficient plus a learnable alignment kernel W_A ∈ R^{L×L} on the sequence axis, shared
  by all heads: H_i = softmax(Q W_i^Q X_iᵀ/√d_h) · (W_A X_i) (v2, eqs. 19–23); 2·d_m² + L².
  W_A fixes the sequence length L the model is built for; shorter inputs use W_A[:ℓ, :ℓ]. With
  ``bias`` on, W_A is an ``nn.Linear(L, L)`` over the sequence axis (+L bias), as in the
  PyTorch reimplementation. Causal use needs W_A lower-triangular (``tril``, else future tokens
  leak through W_A X); it still cannot decode past L, so no KV cache is defined.

Head slicing requires heads·d_head = d_model.
"""

from __future__ import annotations

from ..config import Dims, Options
from ..errors import ConfigError
from ..ops import Elementwise, MatMul, triangle
from . import register
from .core import attention, new_graph, output_projection, project


def _check_slices(name: str, d: Dims) -> None:
    hd = d.heads * d.d_head
    if isinstance(hd, int) and hd != d.d_model:
        raise ConfigError(
            f"variant {name!r} slices X into heads, so heads·d_head must equal d_model; got "
            f"heads={d.heads}, d_head={d.d_head}, d_model={d.d_model}")


@register("optimised", title="Optimised attention (no W_V)",
          source="Hosseini et al., arXiv 2403.01643", colour="#E69F00", rank=1)
def optimised(d: Dims, o: Options):
    _check_slices("optimised", d)
    g = new_graph(d, cache_input=True)
    project(g, d, o, "q", "x", d.d_model)
    project(g, d, o, "k", "x", d.d_model, kv_cache=True)
    merged = attention(g, d, o, q="q", k="k", v="x")
    output_projection(g, d, o, merged, d.d_model)
    return g


@register("efficient", title="Efficient attention (no W_V, no W_K)",
          source="Hosseini et al., arXiv 2403.01643", colour="#56B4E9", rank=2)
def efficient(d: Dims, o: Options):
    _check_slices("efficient", d)
    g = new_graph(d, cache_input=True)
    project(g, d, o, "q", "x", d.d_model)
    merged = attention(g, d, o, q="q", k="x", v="x")
    output_projection(g, d, o, merged, d.d_model)
    return g


@register("super", title="Super attention (Efficient + learnable L×L alignment kernel W_A)",
          source="Hosseini et al., arXiv 2403.01643 (v2, eqs. 19-23)", colour="#009E73",
          rank=3)
def super_(d: Dims, o: Options):
    _check_slices("super", d)
    b, ell, big_l = d.batch, d.seq_len, d.max_seq_len
    g = new_graph(d)
    g.notes.append(
        f"Super's W_A is L×L with L = max_seq_len: the model is built for sequences of at most "
        f"L tokens (L² = {big_l * big_l} weights here)")
    g.kv_cache_note = ("Super's W_A mixes whole sequences of length L: no causal decoding "
                       "with a growing KV cache")
    project(g, d, o, "q", "x", d.d_model)
    w_a = g.param("W_A.weight", big_l * big_l)
    b_a = g.param("W_A.bias", big_l, kind="bias") if o.bias else None
    w_used = g.view("W_A_slice", w_a, numel=ell * ell)  # W_A[:ℓ, :ℓ]
    useful = None
    if o.causal:
        # W_A.tril(): 1 select per entry forward and backward, saves nothing
        g.tensor("W_A_tril", ell * ell)
        g.add(Elementwise("tril_W_A", (w_used,), ("W_A_tril",), numel=ell * ell,
                          fwd_per_elem=1, bwd_per_elem=1))
        w_used = "W_A_tril"
        useful = b * triangle(ell) * d.d_model
    g.tensor("aligned", d.tokens * d.d_model)
    if b_a is None:
        g.add(MatMul("align", (w_used, "x"), ("aligned",), batch=b, m=ell, k=ell, n=d.d_model,
                     useful_macs=useful))
    else:  # W_A X, then + b_A broadcast over features (a separate add, 1 FLOP per element)
        g.tensor("aligned_nobias", d.tokens * d.d_model)
        g.add(MatMul("align", (w_used, "x"), ("aligned_nobias",), batch=b, m=ell, k=ell,
                     n=d.d_model, useful_macs=useful))
        bias_used = g.view("W_A.bias_slice", b_a, numel=ell)
        g.add(Elementwise("align_bias", ("aligned_nobias", bias_used), ("aligned",),
                          numel=d.tokens * d.d_model, fwd_per_elem=1, bwd_per_elem=1))
    if o.causal and b_a is not None:
        g.hold("W_A_tril", "align_bias")  # a local of the module's aligned() until it returns
    merged = attention(g, d, o, q="q", k="x", v="aligned")
    output_projection(g, d, o, merged, d.d_model)
    return g
