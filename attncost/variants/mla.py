"""Multi-head latent attention (MLA): DeepSeek-AI 2024, "DeepSeek-V2" (arXiv 2405.04434),
section 2.1.

Keys and values come from a shared latent c_KV = X W_DKV (d_c = ``kv_latent``); queries from
c_Q = X W_DQ (d_c' = ``q_latent``); a decoupled RoPE key k_R = RoPE(X W_KR) (d_hR =
``rope_dim``) is shared by all heads, a RoPE query q_R = RoPE(c_Q W_QR) is per head:

    k_i = [c_KV W_UK,i ; k_R],  q_i = [c_Q W_UQ,i ; q_R,i],  v_i = c_KV W_UV,i,
    O = concat_i softmax(q_i k_iᵀ/√(d_h + d_hR)) v_i · W_O.

Weights: d_m·d_c + 2·d_c·h·d_h + d_m·d_hR + d_m·d_c' + d_c'·h·(d_h + d_hR) + h·d_h·d_m.
KV cache per token: d_c + d_hR (the latent and the shared RoPE key). Modelled as trained (keys
and values up-projected, no weight absorption). RoPE costs 3 FLOPs per element (x·cos +
rot(x)·sin) and saves its ℓ×d_hR cos and sin tables. The fused kernel needs equal head
widths, so values are zero-padded to d_h + d_hR there.

The released checkpoints (Hugging Face ``DeepseekV2Attention``/``DeepseekV3Attention``) add
two options: ``latent_norm``, an RMSNorm on c_KV (``kv_a_layernorm``, d_c weights) and on c_Q
(``q_a_layernorm``, d_c' weights) before their up-projections; ``direct_q``, no query latent
(DeepSeek-V2-Lite, ``q_lora_rank`` null): q_C and q_R are projected from X directly,
d_m·h·(d_h + d_hR) weights. Their fused projections (``kv_a_proj_with_mqa`` = [W_DKV; W_KR],
``kv_b_proj`` = [W_UK; W_UV], ``q_proj`` = [W_UQ; W_QR]) have the same weights and FLOPs as
the separate ones here. Values are d_h wide, as the keys' non-RoPE part (DeepSeek-V2/V3:
v_head_dim = qk_nope_head_dim = 128).
"""

from __future__ import annotations

from ..config import Dims, Options
from ..ops import Elementwise
from . import register
from .core import attention, new_graph, output_projection, project, rms_norm


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
    q_note = "no query latent" if o.direct_q else f"q_latent d_c' = {d.q_latent}"
    g.notes.append(f"MLA latents: kv_latent d_c = {d.kv_latent}, {q_note}, rope_dim d_hR = {dr}"
                   + (" (RMSNorms on the latents)" if o.latent_norm else ""))
    c_kv = project(g, d, o, "c_kv", "x", d.kv_latent, kv_cache=True)
    if o.latent_norm:
        c_kv = rms_norm(g, "kv_norm", c_kv, "c_kv_normed", t, d.kv_latent)
    project(g, d, o, "k_c", c_kv, h * dh, d_in=d.kv_latent)
    project(g, d, o, "v", c_kv, h * dh, d_in=d.kv_latent)
    project(g, d, o, "k_r_pre", "x", dr)
    _rope(g, d, "k_r", "k_r_pre", t * dr, dr, kv_cache=True)
    locals_ = ["c_kv", c_kv, "k_c", "k_r", "q_c", "q_r"]
    if o.direct_q:
        c_q, q_in = "x", d.d_model
    else:
        c_q, q_in = project(g, d, o, "c_q", "x", d.q_latent), d.q_latent
        if o.latent_norm:
            c_q = rms_norm(g, "q_norm", c_q, "c_q_normed", t, d.q_latent)
        locals_ += ["c_q", c_q]
    project(g, d, o, "q_c", c_q, h * dh, d_in=q_in)
    project(g, d, o, "q_r_pre", c_q, h * dr, d_in=q_in)
    _rope(g, d, "q_r", "q_r_pre", t * h * dr, dr)
    # concatenations (copies): q = [q_c; q_r] per head, k = [k_c; k_r broadcast to heads]
    g.tensor("q", t * h * (dh + dr))
    g.add(Elementwise("concat_q", ("q_c", "q_r"), ("q",), numel=t * h * (dh + dr)))
    g.tensor("k", t * h * (dh + dr))
    g.add(Elementwise("concat_k", ("k_c", "k_r"), ("k",), numel=t * h * (dh + dr)))
    for name in dict.fromkeys(locals_):
        g.hold(name, "concat_k")  # locals of the q/k/v function, freed when it returns
    merged = attention(g, d, o, q="q", k="k", v="v", d_qk=dh + dr, d_v=dh)
    output_projection(g, d, o, merged, h * dh)
    return g
