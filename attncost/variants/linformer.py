"""Linformer: Wang et al. 2020, "Linformer: Self-Attention with Linear Complexity"
(arXiv 2006.04768).

head_i = softmax(Q W_i^Q (E_i K W_i^K)ᵀ/√d_h) · (F_i V W_i^V), E_i, F_i ∈ R^{k×L}: keys and
values are projected along the sequence axis from L (the length the model is built for) down to
k. Shorter inputs use E[:, :ℓ]. Sharing modes (section 4 of the paper):

* ``none``: E_i, F_i per head (2·h·k·L weights per layer);
* ``headwise``: one E, one F per layer (2·k·L);
* ``key-value``: E = F per layer (k·L);
* ``layerwise``: one E = F for the whole model (k·L once; counted once in a stack).

The projections have no bias (as in the reference implementations). Encoder-only: E mixes the
whole sequence, so there is no causal masking and no KV cache.
"""

from __future__ import annotations

from ..config import Dims, Options
from ..ops import MatMul
from . import register
from .core import attention, new_graph, output_projection, project


@register("linformer", title="Linformer (keys/values projected to length k)",
          source="Wang et al. 2020, arXiv 2006.04768", supports_causal=False,
          colour="#F0E442", outline=True, rank=4)
def linformer(d: Dims, o: Options):
    b, h, ell, k, big_l, dh = d.batch, d.heads, d.seq_len, d.k, d.max_seq_len, d.d_head
    g = new_graph(d)
    g.notes.append(f"Linformer's E, F are k×L with L = max_seq_len: the model is built for "
                   f"sequences of at most L tokens (k = {k}, sharing = {o.sharing})")
    g.kv_cache_note = "Linformer projects the whole sequence (E·K): no causal decoding"
    project(g, d, o, "q", "x", h * dh)
    per_head = o.sharing == "none"
    n_e = h * k * big_l if per_head else k * big_l
    share = "linformer.E" if o.sharing == "layerwise" else None
    e = g.param("E", n_e, share_key=share)
    f = g.param("F", n_e) if o.sharing in ("none", "headwise") else e
    used_numel = (h if per_head else 1) * k * ell
    e_used = g.view("E_slice", e, numel=used_numel)
    f_used = e_used if f == e else g.view("F_slice", f, numel=used_numel)
    for src, proj, out in (("k", e_used, "k_low"), ("v", f_used, "v_low")):
        project(g, d, o, src, "x", h * dh)  # each projected, then compressed, in turn
        if per_head:  # (h, k, ℓ) @ (b, h, ℓ, d_h) -> (b, h, k, d_h)
            heads = g.copy(f"split_{src}", src, f"{src}_split")
            g.tensor(out, b * h * k * dh)
            g.add(MatMul(f"{out}", (proj, heads), (out,), batch=b * h, m=k, k=ell, n=dh))
        else:  # (k, ℓ) @ (b, ℓ, h·d_h) -> (b, k, h·d_h)
            g.tensor(out, b * k * h * dh)
            g.add(MatMul(f"{out}", (proj, src), (out,), batch=b, m=k, k=ell, n=h * dh))
    merged = attention(g, d, o, q="q", k="k_low", v="v_low", kv_len=k, heads_layout=per_head)
    output_projection(g, d, o, merged, h * dh)
    return g
