"""``linear``: the seed-002 attention, linear in sequence length and independent of any
projection dimension.

Seed 002 is Verma, "Revisiting Linformer with a modified self-attention with linear
complexity" (arXiv 2101.10277). Its full text is not available to us, so attncost models the
factorised form that has exactly the claimed properties, from Shen et al., "Efficient
Attention: Attention with Linear Complexities" (arXiv 1812.01243):

    out_i = ρ_q(Q_i) · (ρ_k(K_i)ᵀ · V_i),   ρ_q = softmax over features, ρ_k = softmax over
    positions,

computing the d_h×d_h context ρ_k(K)ᵀV first: time O(ℓ·d_h²) per head, no ℓ×ℓ or ℓ×k matrix,
weights as standard (4·d_m²). This is a stand-in labelled as such, not the paper's own code.
ρ_k normalises over all positions, so it is not causal and has no KV cache.
"""

from __future__ import annotations

from ..config import Dims, Options
from ..ops import Elementwise, MatMul
from . import register
from .core import new_graph, output_projection, split_projections


@register("linear", title="Factorised linear attention (Shen et al. form, standing in for "
          "arXiv 2101.10277)",
          source="Verma 2021, arXiv 2101.10277 (claims); form: Shen et al., arXiv 1812.01243",
          supports_causal=False, impl_matters=False, colour="#0072B2", rank=5)
def linear(d: Dims, o: Options):
    b, h, ell, dh = d.batch, d.heads, d.seq_len, d.d_head
    g = new_graph(d)
    g.notes.append("stands in for arXiv 2101.10277 (full text unavailable) with Shen et al.'s "
                   "factorised form (arXiv 1812.01243)")
    g.kv_cache_note = "linear's key softmax runs over all positions: not causal, no KV cache"
    n = b * h * ell * dh
    split_projections(g, d, o)
    # two softmaxes (features for q: rows of d_head; positions for k): 5 FLOPs/elem forward,
    # 4 backward
    for name, row_len in (("q", dh), ("k", None)):
        g.tensor(f"rho_{name}", n)
        g.add(Elementwise(f"softmax_{name}", (f"{name}_heads",), (f"rho_{name}",), numel=n,
                          fwd_per_elem=5, bwd_per_elem=4, save=(f"rho_{name}",),
                          row_len=row_len))
    g.tensor("context", b * h * dh * dh)
    g.add(MatMul("context", ("rho_k", "v_heads"), ("context",), batch=b * h, m=dh, k=ell, n=dh))
    g.tensor("attn_heads", n)
    g.add(MatMul("apply", ("rho_q", "context"), ("attn_heads",), batch=b * h, m=ell, k=dh,
                 n=dh))
    for t in ("q_heads", "k_heads", "v_heads", "rho_q", "rho_k", "context"):
        g.hold(t, "apply")  # locals of the attention function until it returns
    merged = g.copy("merge_heads", "attn_heads", "merged")
    output_projection(g, d, o, merged, h * dh)
    return g
