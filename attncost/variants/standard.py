"""Multi-head attention and its shared-key/value relatives: standard (MHA), MQA, GQA.

Standard: Vaswani et al. 2017, "Attention Is All You Need" (arXiv 1706.03762):
O = concat(H_1..H_h) W_O, H_i = softmax(Q_i K_iᵀ/√d_h) V_i, Q = X W_Q, K = X W_K, V = X W_V.
MQA: Shazeer 2019, "Fast Transformer Decoding" (arXiv 1911.02150): one key/value head.
GQA: Ainslie et al. 2023 (arXiv 2305.13245): ``kv_heads`` key/value heads, each shared by
heads/kv_heads query heads.

KV cache per token per layer: 2·kv_heads·d_head elements (keys and values).

``qk_norm`` (Qwen3; Dehghani et al. 2023, arXiv 2302.05442): an RMSNorm over each head's
d_head features of the queries and of the keys, one d_head weight each, before the core.
"""

from __future__ import annotations

from ..config import Dims, Options
from . import register
from .core import attention, new_graph, output_projection, project, rms_norm


def grouped(d: Dims, o: Options, kv_heads) -> "Graph":  # noqa: F821
    """The one description behind MHA (kv_heads = heads), GQA and MQA (kv_heads = 1)."""
    g = new_graph(d)
    q = project(g, d, o, "q", "x", d.heads * d.d_head)
    k = project(g, d, o, "k", "x", kv_heads * d.d_head, kv_cache=True)
    project(g, d, o, "v", "x", kv_heads * d.d_head, kv_cache=True)
    if o.qk_norm:
        q = rms_norm(g, "q_norm", q, "q_normed", d.tokens * d.heads, d.d_head)
        k = rms_norm(g, "k_norm", k, "k_normed", d.tokens * kv_heads, d.d_head)
    merged = attention(g, d, o, q=q, k=k, v="v", kv_heads=kv_heads)
    output_projection(g, d, o, merged, d.heads * d.d_head)
    return g


@register("standard", title="Multi-head scaled dot-product attention (MHA)",
          source="Vaswani et al. 2017, arXiv 1706.03762", colour="#000000", rank=0)
def standard(d: Dims, o: Options):
    return grouped(d, o, d.heads)


@register("mqa", title="Multi-query attention (one K/V head)",
          source="Shazeer 2019, arXiv 1911.02150", colour="#D55E00", rank=6)
def mqa(d: Dims, o: Options):
    return grouped(d, o, 1)


@register("gqa", title="Grouped-query attention (kv_heads K/V heads)",
          source="Ainslie et al. 2023, arXiv 2305.13245", colour="#CC79A7", rank=7)
def gqa(d: Dims, o: Options):
    return grouped(d, o, d.kv_heads)
