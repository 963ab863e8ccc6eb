"""PyTorch modules of every attention variant, written from the papers (batch-first).

These are independent implementations: they never read attncost's cost formulas, so that
validation compares two separate things. Every module takes ``x`` of shape (batch, seq_len,
d_model) and returns the same shape.

Implementations: ``materialised`` computes the ℓ×ℓ scores explicitly (head split as a
contiguous copy, ``q @ kᵀ``, scale, ``masked_fill`` with a boolean mask for causal, softmax,
dropout, ``p @ v``); ``fused`` calls ``F.scaled_dot_product_attention`` on head views.
Variants that cannot mask causally raise :class:`ValueError` when asked to.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ..config import AttentionConfig
from . import register_module

IMPLS = ("materialised", "fused")


def split_heads(t: torch.Tensor, heads: int) -> torch.Tensor:
    """(b, n, heads·d) -> (b, heads, n, d) as a view (no copy)."""
    b, n, _ = t.shape
    return t.view(b, n, heads, -1).transpose(1, 2)


def merge_heads(t: torch.Tensor) -> torch.Tensor:
    """(b, heads, n, d) -> (b, n, heads·d) (a copy: the transpose is not contiguous)."""
    b, h, n, d = t.shape
    return t.transpose(1, 2).reshape(b, n, h * d)


def softmax_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, *, causal: bool,
                      impl: str, dropout: float, training: bool) -> torch.Tensor:
    """softmax(q kᵀ/√d) v over heads. q: (b, h, n, d) views; k, v: (b, h or g, m, d)."""
    scale = 1.0 / math.sqrt(q.shape[-1])
    p_drop = dropout if training else 0.0
    if impl == "fused":
        extra = {"enable_gqa": True} if int(k.shape[1]) != int(q.shape[1]) else {}
        return F.scaled_dot_product_attention(q, k, v, dropout_p=p_drop, is_causal=causal,
                                              **extra)
    q = q.contiguous()
    if k.shape[1] != q.shape[1]:  # GQA/MQA: expand the shared heads to every query head
        rep = q.shape[1] // k.shape[1]
        same = k is v
        k = k.repeat_interleave(rep, dim=1)
        v = k if same else v.repeat_interleave(rep, dim=1)
    else:
        same = k is v
        k = k.contiguous()
        v = k if same else v.contiguous()
    scores = torch.matmul(q, k.transpose(-2, -1)) * scale
    if causal:
        n, m = scores.shape[-2:]
        future = torch.ones(n, m, dtype=torch.bool, device=q.device).triu(1)
        scores = scores.masked_fill(future, float("-inf"))
    probs = torch.softmax(scores, dim=-1)
    if p_drop:
        probs = F.dropout(probs, p_drop, training=True)
    return torch.matmul(probs, v)


class _Base(nn.Module):
    def __init__(self, d_model: int, heads: int, d_head: int | None, bias: bool, causal: bool,
                 impl: str, dropout: float) -> None:
        super().__init__()
        if impl not in IMPLS:
            raise ValueError(f"impl must be one of {IMPLS}, got {impl!r}")
        self.d_model, self.heads = d_model, heads
        self.d_head = d_head if d_head is not None else d_model // heads
        self.bias, self.causal, self.impl, self.dropout = bias, causal, impl, dropout

    def attend(self, q, k, v):
        return softmax_attention(q, k, v, causal=self.causal, impl=self.impl,
                                 dropout=self.dropout, training=self.training)


class GroupedQueryAttention(_Base):
    """Standard multi-head attention (kv_heads = heads; Vaswani et al. 2017), GQA (Ainslie et
    al. 2023) and MQA (kv_heads = 1; Shazeer 2019)."""

    def __init__(self, d_model: int, heads: int, d_head: int | None = None,
                 kv_heads: int | None = None, bias: bool = False, causal: bool = False,
                 impl: str = "materialised", dropout: float = 0.0) -> None:
        super().__init__(d_model, heads, d_head, bias, causal, impl, dropout)
        self.kv_heads = kv_heads or heads
        inner, kv_inner = heads * self.d_head, self.kv_heads * self.d_head
        self.q_proj = nn.Linear(d_model, inner, bias=bias)
        self.k_proj = nn.Linear(d_model, kv_inner, bias=bias)
        self.v_proj = nn.Linear(d_model, kv_inner, bias=bias)
        self.out_proj = nn.Linear(inner, d_model, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out_proj(merge_heads(self.attend(split_heads(self.q_proj(x), self.heads),
                                                     split_heads(self.k_proj(x), self.kv_heads),
                                                     split_heads(self.v_proj(x), self.kv_heads))))


class OptimisedAttention(_Base):
    """Hosseini et al. (arXiv 2403.01643): no W_V; head i attends over X's i-th column slice."""

    def __init__(self, d_model: int, heads: int, bias: bool = False, causal: bool = False,
                 impl: str = "materialised", dropout: float = 0.0) -> None:
        super().__init__(d_model, heads, None, bias, causal, impl, dropout)
        self.q_proj = nn.Linear(d_model, d_model, bias=bias)
        self.k_proj = nn.Linear(d_model, d_model, bias=bias)
        self.out_proj = nn.Linear(d_model, d_model, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out_proj(merge_heads(self.attend(split_heads(self.q_proj(x), self.heads),
                                                     split_heads(self.k_proj(x), self.heads),
                                                     split_heads(x, self.heads))))


class EfficientAttention(_Base):
    """Hosseini et al. (arXiv 2403.01643): no W_V, no W_K; keys and values are both X's i-th
    column slice."""

    def __init__(self, d_model: int, heads: int, bias: bool = False, causal: bool = False,
                 impl: str = "materialised", dropout: float = 0.0) -> None:
        super().__init__(d_model, heads, None, bias, causal, impl, dropout)
        self.q_proj = nn.Linear(d_model, d_model, bias=bias)
        self.out_proj = nn.Linear(d_model, d_model, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        xh = split_heads(x, self.heads)  # keys and values: one view of x (one copy if materialised)
        return self.out_proj(merge_heads(self.attend(split_heads(self.q_proj(x), self.heads),
                                                     xh, xh)))


class SuperAttention(_Base):
    """Hosseini et al. (arXiv 2403.01643 v2, eqs. 19-23): Efficient attention whose values are
    W_A·X_i, W_A ∈ R^{L×L} a learnable kernel on the sequence axis shared by the heads (an
    ``nn.Linear(L, L)`` over positions when ``bias``). Causal: W_A is made lower-triangular."""

    def __init__(self, d_model: int, heads: int, max_seq_len: int, bias: bool = False,
                 causal: bool = False, impl: str = "materialised", dropout: float = 0.0) -> None:
        super().__init__(d_model, heads, None, bias, causal, impl, dropout)
        self.max_seq_len = max_seq_len
        self.q_proj = nn.Linear(d_model, d_model, bias=bias)
        self.align = nn.Linear(max_seq_len, max_seq_len, bias=bias)  # W_A (rows: positions out)
        self.out_proj = nn.Linear(d_model, d_model, bias=bias)

    def aligned(self, x: torch.Tensor) -> torch.Tensor:
        """W_A X (+ bias) for every sequence: positions mixed by the alignment kernel."""
        n = x.shape[1]
        if n > self.max_seq_len:
            raise ValueError(f"seq_len {n} exceeds the length W_A was built for "
                             f"({self.max_seq_len})")
        w = self.align.weight[:n, :n]
        if self.causal:
            w = w.tril()
        out = torch.bmm(w.expand(x.shape[0], n, n), x)
        return out if self.align.bias is None else out + self.align.bias[:n, None]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.heads
        return self.out_proj(merge_heads(self.attend(split_heads(self.q_proj(x), h),
                                                     split_heads(x, h),
                                                     split_heads(self.aligned(x), h))))


class LinformerAttention(_Base):
    """Wang et al. 2020 (arXiv 2006.04768): keys and values projected along the sequence from
    L to k by E, F ∈ R^{k×L} (per head, per layer, E = F, or one E shared by every layer)."""

    def __init__(self, d_model: int, heads: int, max_seq_len: int, k: int,
                 sharing: str = "headwise", bias: bool = False, causal: bool = False,
                 impl: str = "materialised", dropout: float = 0.0,
                 shared_e: nn.Parameter | None = None) -> None:
        super().__init__(d_model, heads, None, bias, causal, impl, dropout)
        if causal:
            raise ValueError("Linformer cannot mask causally (E mixes the whole sequence)")
        self.max_seq_len, self.k, self.sharing = max_seq_len, k, sharing
        self.q_proj = nn.Linear(d_model, d_model, bias=bias)
        self.k_proj = nn.Linear(d_model, d_model, bias=bias)
        self.v_proj = nn.Linear(d_model, d_model, bias=bias)
        self.out_proj = nn.Linear(d_model, d_model, bias=bias)
        shape = (heads, k, max_seq_len) if sharing == "none" else (k, max_seq_len)

        def proj() -> nn.Parameter:
            return nn.Parameter(torch.randn(*shape) / math.sqrt(max_seq_len))

        if sharing == "layerwise":
            self.E = shared_e if shared_e is not None else proj()
            self.F = None
        else:
            self.E = proj()
            self.F = proj() if sharing in ("none", "headwise") else None

    def low(self, t: torch.Tensor, proj: torch.Tensor) -> torch.Tensor:
        """Project keys or values along the sequence: (b, n, h·d) -> heads (b, h, k, d)."""
        proj = proj[..., :t.shape[1]]
        if self.sharing == "none":  # per-head E_i: (h, k, n) @ (b, h, n, d)
            return torch.einsum("hkn,bhnd->bhkd", proj, split_heads(t, self.heads).contiguous())
        # one E: (k, n) @ (b, n, h·d) for every sequence
        return split_heads(torch.bmm(proj.expand(t.shape[0], *proj.shape), t), self.heads)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f = self.F if self.F is not None else self.E
        return self.out_proj(merge_heads(self.attend(split_heads(self.q_proj(x), self.heads),
                                                     self.low(self.k_proj(x), self.E),
                                                     self.low(self.v_proj(x), f))))


class _LinearFamily(_Base):
    """Q, K, V projections split into contiguous heads, an ``attention(q, k, v)`` of the
    subclass (no softmax over ℓ×ℓ scores, so one implementation), then W_O."""

    def __init__(self, d_model: int, heads: int, bias: bool, causal: bool) -> None:
        super().__init__(d_model, heads, None, bias, causal, "materialised", 0.0)
        self.q_proj = nn.Linear(d_model, d_model, bias=bias)
        self.k_proj = nn.Linear(d_model, d_model, bias=bias)
        self.v_proj = nn.Linear(d_model, d_model, bias=bias)
        self.out_proj = nn.Linear(d_model, d_model, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.heads
        return self.out_proj(merge_heads(self.attention(
            split_heads(self.q_proj(x), h).contiguous(), split_heads(self.k_proj(x), h).contiguous(),
            split_heads(self.v_proj(x), h).contiguous())))


class FactorisedLinearAttention(_LinearFamily):
    """``linear``: out = ρ_q(Q)(ρ_k(K)ᵀV), ρ_q softmax over features, ρ_k over positions
    (Shen et al., arXiv 1812.01243), standing in for arXiv 2101.10277. Not causal."""

    def __init__(self, d_model: int, heads: int, bias: bool = False, causal: bool = False,
                 impl: str = "materialised", dropout: float = 0.0) -> None:
        if causal:
            raise ValueError("factorised linear attention normalises keys over all positions: "
                             "it cannot mask causally")
        super().__init__(d_model, heads, bias, causal)

    @staticmethod
    def attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        rho_q = torch.softmax(q, dim=-1)  # over features
        rho_k = torch.softmax(k, dim=-2)  # over positions
        context = torch.matmul(rho_k.transpose(-2, -1), v)  # (b, h, d, d)
        return torch.matmul(rho_q, context)



class KernelLinearAttention(_LinearFamily):
    """Katharopoulos et al. 2020 (arXiv 2006.16236), φ(x) = elu(x) + 1. Non-causal: the
    d×d context first; causal: the parallel masked form used for training."""

    def __init__(self, d_model: int, heads: int, bias: bool = False, causal: bool = False,
                 impl: str = "materialised", dropout: float = 0.0, eps: float = 1e-6) -> None:
        super().__init__(d_model, heads, bias, causal)
        self.eps = eps

    def attention(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        phi_q, phi_k = F.elu(q) + 1, F.elu(k) + 1
        if self.causal:
            n = q.shape[-2]
            scores = torch.matmul(phi_q, phi_k.transpose(-2, -1))
            future = torch.ones(n, n, dtype=torch.bool, device=q.device).triu(1)
            scores = scores.masked_fill(future, 0.0)
            numerator = torch.matmul(scores, v)
            denominator = scores.sum(-1)
        else:
            context = torch.matmul(phi_k.transpose(-2, -1), v)
            numerator = torch.matmul(phi_q, context)
            denominator = torch.matmul(phi_q, phi_k.sum(-2).unsqueeze(-1)).squeeze(-1)
        return numerator / (denominator.unsqueeze(-1) + self.eps)



class LatentAttention(_Base):
    """Multi-head latent attention (DeepSeek-V2, arXiv 2405.04434 §2.1), as trained: latent
    c_KV → keys and values, latent c_Q → queries, a decoupled RoPE key shared by the heads."""

    def __init__(self, d_model: int, heads: int, d_head: int | None = None,
                 kv_latent: int | None = None, q_latent: int | None = None,
                 rope_dim: int | None = None, bias: bool = False, causal: bool = False,
                 impl: str = "materialised", dropout: float = 0.0) -> None:
        super().__init__(d_model, heads, d_head, bias, causal, impl, dropout)
        dh = self.d_head
        self.kv_latent = kv_latent or 4 * dh
        self.q_latent = q_latent or 12 * dh
        self.rope_dim = rope_dim or max(1, dh // 2)
        self.kv_down = nn.Linear(d_model, self.kv_latent, bias=bias)
        self.k_up = nn.Linear(self.kv_latent, heads * dh, bias=bias)
        self.v_up = nn.Linear(self.kv_latent, heads * dh, bias=bias)
        self.k_rope = nn.Linear(d_model, self.rope_dim, bias=bias)
        self.q_down = nn.Linear(d_model, self.q_latent, bias=bias)
        self.q_up = nn.Linear(self.q_latent, heads * dh, bias=bias)
        self.q_rope = nn.Linear(self.q_latent, heads * self.rope_dim, bias=bias)
        self.out_proj = nn.Linear(heads * dh, d_model, bias=bias)

    @staticmethod
    def rope(t: torch.Tensor) -> torch.Tensor:
        """Rotary embedding over the last dim (pairs rotated by position-dependent angles)."""
        n, dim = t.shape[1], t.shape[-1]
        half = dim // 2
        pos = torch.arange(n, device=t.device, dtype=t.dtype)
        freq = 10000 ** (-torch.arange(max(half, 1), device=t.device, dtype=t.dtype) / max(half, 1))
        ang = pos[:, None] * freq[None, :]
        cos = torch.cat([ang.cos(), ang.cos()], -1)[..., :dim]
        sin = torch.cat([ang.sin(), ang.sin()], -1)[..., :dim]
        shape = (1, n) + (1,) * (t.dim() - 3) + (dim,)
        rotated = torch.cat([-t[..., half:], t[..., :half]], -1) if dim > 1 else t
        return t * cos.view(shape) + rotated * sin.view(shape)

    def qkv(self, x: torch.Tensor):
        """Queries, keys and values as head views (the latents are freed on return)."""
        b, n, _ = x.shape
        h, dh, dr = self.heads, self.d_head, self.rope_dim
        c_kv = self.kv_down(x)
        k_c = self.k_up(c_kv).view(b, n, h, dh)
        v = self.v_up(c_kv)
        k_r = self.rope(self.k_rope(x))  # (b, n, dr), shared by the heads
        c_q = self.q_down(x)
        q_c = self.q_up(c_q).view(b, n, h, dh)
        q_r = self.rope(self.q_rope(c_q).view(b, n, h, dr))
        q = torch.cat([q_c, q_r], -1).view(b, n, h * (dh + dr))
        k = torch.cat([k_c, k_r[:, :, None, :].expand(b, n, h, dr)], -1).view(b, n, h * (dh + dr))
        return split_heads(q, h), split_heads(k, h), split_heads(v, h)

    def attend_latent(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        if self.impl == "fused" and self.rope_dim:
            # flash kernels need equal head widths: zero-pad the values to d_h + d_hR
            return self.attend(q, k, F.pad(v, (0, self.rope_dim)))[..., :self.d_head]
        return self.attend(q, k, v)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out_proj(merge_heads(self.attend_latent(*self.qkv(x))))


# -- the modules of the built-in variants, by name -----------------------------------------


def _common(cfg: AttentionConfig, dropout: float) -> dict:
    return dict(bias=cfg.bias, causal=cfg.causal, impl=cfg.impl, dropout=dropout)


@register_module("standard")
def _standard(cfg: AttentionConfig, dropout: float) -> nn.Module:
    d = cfg.dims()
    return GroupedQueryAttention(d.d_model, d.heads, d.d_head, d.heads, **_common(cfg, dropout))


@register_module("mqa")
def _mqa(cfg: AttentionConfig, dropout: float) -> nn.Module:
    d = cfg.dims()
    return GroupedQueryAttention(d.d_model, d.heads, d.d_head, 1, **_common(cfg, dropout))


@register_module("gqa")
def _gqa(cfg: AttentionConfig, dropout: float) -> nn.Module:
    d = cfg.dims()
    return GroupedQueryAttention(d.d_model, d.heads, d.d_head, d.kv_heads,
                                 **_common(cfg, dropout))


@register_module("optimised")
def _optimised(cfg: AttentionConfig, dropout: float) -> nn.Module:
    return OptimisedAttention(cfg.d_model, cfg.heads, **_common(cfg, dropout))


@register_module("efficient")
def _efficient(cfg: AttentionConfig, dropout: float) -> nn.Module:
    return EfficientAttention(cfg.d_model, cfg.heads, **_common(cfg, dropout))


@register_module("super")
def _super(cfg: AttentionConfig, dropout: float) -> nn.Module:
    return SuperAttention(cfg.d_model, cfg.heads, cfg.dims().max_seq_len,
                          **_common(cfg, dropout))


@register_module("linformer")
def _linformer(cfg: AttentionConfig, dropout: float) -> nn.Module:
    d = cfg.dims()
    return LinformerAttention(d.d_model, d.heads, d.max_seq_len, d.k, cfg.sharing,
                              **_common(cfg, dropout))


@register_module("linear")
def _linear(cfg: AttentionConfig, dropout: float) -> nn.Module:
    return FactorisedLinearAttention(cfg.d_model, cfg.heads, **_common(cfg, dropout))


@register_module("kernel-linear")
def _kernel_linear(cfg: AttentionConfig, dropout: float) -> nn.Module:
    return KernelLinearAttention(cfg.d_model, cfg.heads, **_common(cfg, dropout))


@register_module("mla")
def _mla(cfg: AttentionConfig, dropout: float) -> nn.Module:
    d = cfg.dims()
    return LatentAttention(d.d_model, d.heads, d.d_head, d.kv_latent, d.q_latent, d.rope_dim,
                           **_common(cfg, dropout))
