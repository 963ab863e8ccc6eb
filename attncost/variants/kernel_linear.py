"""Kernel linear attention: Katharopoulos et al. 2020, "Transformers are RNNs" (arXiv
2006.16236), feature map φ(x) = elu(x) + 1.

Non-causal: out_i = φ(Q_i) (φ(K_i)ᵀ V_i) / (φ(Q_i) Σ_j φ(K_i)_j): a d_h×d_h context per head,
linear in ℓ. Causal (training): the parallel form, ((φ(Q)φ(K)ᵀ) ⊙ M) V / rowsum(...), ℓ×ℓ per
head like softmax attention, as simple PyTorch implementations train it. Decoding is recurrent
with a constant state of h·(d_h² + d_h) per sequence and layer: no per-token KV cache.
"""

from __future__ import annotations

from ..config import Dims, Options
from ..ops import Elementwise, MatMul, triangle
from . import register
from .core import new_graph, output_projection, split_projections


@register("kernel-linear", title="Kernel linear attention (φ = elu + 1)",
          source="Katharopoulos et al. 2020, arXiv 2006.16236", impl_matters=False,
          colour="#B8B8B8", outline=True, rank=9)
def kernel_linear(d: Dims, o: Options):
    b, h, ell, dh = d.batch, d.heads, d.seq_len, d.d_head
    bh = b * h
    g = new_graph(d)
    g.decode_state = h * (dh * dh + dh)
    n = bh * ell * dh
    split_projections(g, d, o)
    for name in ("q", "k"):
        # elu: exp, subtract, select = 2 FLOPs/elem (+ backward 2), saves its input; +1: 1 FLOP
        g.tensor(f"elu_{name}", n)
        g.add(Elementwise(f"elu_{name}", (f"{name}_heads",), (f"elu_{name}",), numel=n,
                          fwd_per_elem=2, bwd_per_elem=2, save=(f"{name}_heads",)))
        g.tensor(f"phi_{name}", n)
        g.add(Elementwise(f"plus_one_{name}", (f"elu_{name}",), (f"phi_{name}",), numel=n,
                          fwd_per_elem=1, bwd_per_elem=0))
    if o.causal:
        useful = bh * triangle(ell)
        g.tensor("scores", bh * ell * ell)
        g.add(MatMul("qk", ("phi_q", "phi_k"), ("scores",), batch=bh, m=ell, k=dh, n=ell,
                     useful_macs=useful * dh))
        g.tensor("causal_mask", ell * ell, role="const", storage="bool")
        g.add(Elementwise("make_causal_mask", (), ("causal_mask",), numel=ell * ell))
        g.tensor("masked", bh * ell * ell)
        g.add(Elementwise("mask", ("scores", "causal_mask"), ("masked",), numel=bh * ell * ell,
                          fwd_per_elem=1, bwd_per_elem=1, save=("causal_mask",),
                          useful_numel=useful))
        g.tensor("numerator", n)
        g.add(MatMul("pv", ("masked", "v_heads"), ("numerator",), batch=bh, m=ell, k=ell, n=dh,
                     useful_macs=useful * dh))
        g.tensor("denominator", bh * ell)
        g.add(Elementwise("rowsum", ("masked",), ("denominator",), numel=bh * ell * ell,
                          fwd_per_elem=1, bwd_per_elem=1, useful_numel=useful,
                          grad_is_view=True))
    else:
        g.tensor("context", bh * dh * dh)
        g.add(MatMul("context", ("phi_k", "v_heads"), ("context",), batch=bh, m=dh, k=ell, n=dh))
        g.tensor("key_sum", bh * dh)
        g.add(Elementwise("key_sum", ("phi_k",), ("key_sum",), numel=n, fwd_per_elem=1,
                          bwd_per_elem=1, grad_is_view=True))
        g.tensor("numerator", n)
        g.add(MatMul("apply", ("phi_q", "context"), ("numerator",), batch=bh, m=ell, k=dh, n=dh))
        g.tensor("denominator", bh * ell)
        g.add(MatMul("normaliser", ("phi_q", "key_sum"), ("denominator",), batch=bh, m=ell,
                     k=dh, n=1))
    # numerator / denominator: 1 FLOP/elem forward; backward 4/elem (g/den, −g·num/den², sum);
    # saves both operands; PyTorch forms the −g·num/den² term with three temporaries of n elements
    g.tensor("attn_heads", n)
    g.add(Elementwise("normalise", ("numerator", "denominator"), ("attn_heads",), numel=n,
                      fwd_per_elem=1, bwd_per_elem=4, save=("numerator", "denominator"),
                      bwd_workspace=3))
    for t in g.tensors:  # locals of the attention function live until it returns
        if t.startswith(("q_heads", "k_heads", "v_heads", "phi_", "masked", "causal_mask",
                         "context", "numerator", "denominator")):
            g.hold(t, "normalise")
    merged = g.copy("merge_heads", "attn_heads", "merged")
    output_projection(g, d, o, merged, h * dh)
    return g
