"""Multi-head latent attention (MLA): DeepSeek-AI 2024, "DeepSeek-V2" (arXiv 2405.04434),
section 2.1.

Keys and values come from a shared latent c_KV = X W_DKV (d_c = ``kv_latent``); queries from
c_Q = X W_DQ (d_c' = ``q_latent``); a decoupled RoPE key k_R = RoPE(X W_KR) (d_hR =
``rope_dim``) is shared by all heads, a RoPE query q_R = RoPE(c_Q W_QR) is per head:

    k_i = [c_KV W_UK,i ; k_R],  q_i = [c_Q W_UQ,i ; q_R,i],  v_i = c_KV W_UV,i,
    O = concat_i softmax(q_i k_iᵀ/√(d_h + d_hR)) v_i · W_O.

Weights: d_m·d_c + 2·d_c·h·d_h + d_m·d_hR + d_m·d_c' + d_c'·h·(d_h + d_hR) + h·d_h·d_m.
KV cache per token: d_c + d_hR (the latent and the shared RoPE key). Modelled as trained (keys
and values up-projected, no weight absorption); DeepSeek-V2's RMSNorms on the two latents
(d_c + d_c' weights) are not included. RoPE costs 3 FLOPs per element (x·cos + rot(x)·sin)
and saves its ℓ×d_hR cos and sin tables. The fused kernel needs equal head widths, so values
are zero-padded to d_h + d_hR there.
"""

from __future__ import annotations

from ..config import Dims, Options
from ..ops import Elementwise
from . import register
from .core import attention, new_graph, output_projection, project


def _rope(g, d: Dims, name: str, src: str, numel, dim, kv_cache: bool = False) -> str:
    """RoPE: x·cos + rotate(x)·sin, 3 FLOPs per element forward and backward; the
    multiplications save the position tables cos and sin (ℓ × dim each, constants)."""
    ell = d.seq_len
    for table in ("cos", "sin"):
        g.tensor(f"{name}.{table}", ell * dim, role="const")
    g.add(Elementwise(f"{name}.tables", (), (f"{name}.cos", f"{name}.sin"), numel=2 * ell * dim))
    g.tensor(name, numel, kv_cache=kv_cache)
    g.add(Elementwise(f"rope_{src}", (src, f"{name}.cos", f"{name}.sin"), (name,), numel=numel,
                      fwd_per_elem=3, bwd_per_elem=3, save=(f"{name}.cos", f"{name}.sin")))
    return name


@register("mla", title="Multi-head latent attention (DeepSeek-V2)",
          source="DeepSeek-AI 2024, arXiv 2405.04434", colour="#7F7F7F", rank=8)
def mla(d: Dims, o: Options):
    h, dh, dr = d.heads, d.d_head, d.rope_dim
    t = d.tokens
    g = new_graph(d)
    g.notes.append(f"MLA latents: kv_latent d_c = {d.kv_latent}, q_latent d_c' = {d.q_latent}, "
                   f"rope_dim d_hR = {dr}")
    project(g, d, o, "c_kv", "x", d.kv_latent, kv_cache=True)
    project(g, d, o, "k_c", "c_kv", h * dh, d_in=d.kv_latent)
    project(g, d, o, "v", "c_kv", h * dh, d_in=d.kv_latent)
    project(g, d, o, "k_r_pre", "x", dr)
    _rope(g, d, "k_r", "k_r_pre", t * dr, dr, kv_cache=True)
    project(g, d, o, "c_q", "x", d.q_latent)
    project(g, d, o, "q_c", "c_q", h * dh, d_in=d.q_latent)
    project(g, d, o, "q_r_pre", "c_q", h * dr, d_in=d.q_latent)
    _rope(g, d, "q_r", "q_r_pre", t * h * dr, dr)
    # concatenations (copies): q = [q_c; q_r] per head, k = [k_c; k_r broadcast to heads]
    g.tensor("q", t * h * (dh + dr))
    g.add(Elementwise("concat_q", ("q_c", "q_r"), ("q",), numel=t * h * (dh + dr)))
    g.tensor("k", t * h * (dh + dr))
    g.add(Elementwise("concat_k", ("k_c", "k_r"), ("k",), numel=t * h * (dh + dr)))
    for t in ("c_kv", "k_c", "k_r", "c_q", "q_c", "q_r"):
        g.hold(t, "concat_k")  # locals of the q/k/v function, freed when it returns
    merged = attention(g, d, o, q="q", k="k", v="v", d_qk=dh + dr, d_v=dh)
    output_projection(g, d, o, merged, h * dh)
    return g
