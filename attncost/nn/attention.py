"""PyTorch modules of every attention variant, written from the papers (batch-first).

These are independent implementations: they never read attncost's cost formulas, so that
validation compares two separate things. Every module takes ``x`` of shape (batch, seq_len,
d_model) and returns the same shape.

Implementations: ``materialised`` computes the ℓ×ℓ scores explicitly (head split as a
contiguous copy, ``q @ kᵀ``, scale, soft-capping c·tanh(s/c) if asked (Gemma-2),
``masked_fill`` with a boolean mask for causal — banded for a sliding window (Mistral,
Gemma-2) — softmax, dropout, ``p @ v``); ``fused`` calls ``F.scaled_dot_product_attention``
on head views (with an additive banded mask for a sliding window). Variants that cannot mask
causally raise :class:`ValueError` when asked to. ``qkv_bias`` puts biases on the input
projections only (Qwen2); ``bias`` on every projection.
"""

from __future__ import annotations

import math
from typing import Any

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


def hidden_mask(n: int, m: int, window: int | None, device: Any) -> torch.Tensor:
    """The (n, m) boolean mask of the keys a causal query must not see: the future, and with a
    sliding window of w keys those more than w − 1 positions back."""
    ones = torch.ones(n, m, dtype=torch.bool, device=device)
    future = ones.triu(1)
    return future if window is None else future | ones.tril(-window)


def softmax_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, *, causal: bool,
                      impl: str, dropout: float, training: bool, window: int | None = None,
                      softcap: float | None = None) -> torch.Tensor:
    """softmax(q kᵀ/√d) v over heads. q: (b, h, n, d) views; k, v: (b, h or g, m, d).
    ``window``: causal sliding window of that many keys; ``softcap``: c·tanh(scores/c)."""
    scale = 1.0 / math.sqrt(q.shape[-1])
    p_drop = dropout if training else 0.0
    window = window if causal else None
    if impl == "fused":
        if softcap is not None:
            raise ValueError("the fused kernel cannot soft-cap logits; use materialised")
        extra: dict[str, Any] = {"enable_gqa": True} if int(k.shape[1]) != int(q.shape[1]) else {}
        if window is not None:  # an additive banded mask in the activation dtype
            n, m = q.shape[-2], k.shape[-2]
            extra["attn_mask"] = torch.zeros(n, m, dtype=q.dtype, device=q.device).masked_fill(
                hidden_mask(n, m, window, q.device), float("-inf"))
            return F.scaled_dot_product_attention(q, k, v, dropout_p=p_drop, **extra)
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
    if softcap is not None:
        scores = torch.tanh(scores / softcap) * softcap
    if causal:
        n, m = scores.shape[-2:]
        scores = scores.masked_fill(hidden_mask(n, m, window, q.device), float("-inf"))
    probs = torch.softmax(scores, dim=-1)
    if p_drop:
        probs = F.dropout(probs, p_drop, training=True)
    return torch.matmul(probs, v)


class _Base(nn.Module):
    def __init__(self, d_model: int, heads: int, d_head: int | None, bias: bool, causal: bool,
                 impl: str, dropout: float, *, qkv_bias: bool = False,
                 window: int | None = None, softcap: float | None = None) -> None:
        super().__init__()
        if impl not in IMPLS:
            raise ValueError(f"impl must be one of {IMPLS}, got {impl!r}")
        self.d_model, self.heads = d_model, heads
        self.d_head = d_head if d_head is not None else d_model // heads
        self.bias, self.causal, self.impl, self.dropout = bias, causal, impl, dropout
        self.in_bias = bias or qkv_bias  # biases of the projections into the attention
        self.window, self.softcap = window, softcap

    def attend(self, q, k, v):
        return softmax_attention(q, k, v, causal=self.causal, impl=self.impl,
                                 dropout=self.dropout, training=self.training,
                                 window=self.window, softcap=self.softcap)


class GroupedQueryAttention(_Base):
    """Standard multi-head attention (kv_heads = heads; Vaswani et al. 2017), GQA (Ainslie et
    al. 2023) and MQA (kv_heads = 1; Shazeer 2019)."""

    def __init__(self, d_model: int, heads: int, d_head: int | None = None,
                 kv_heads: int | None = None, bias: bool = False, causal: bool = False,
                 impl: str = "materialised", dropout: float = 0.0, qk_norm: bool = False,
                 **extra: Any) -> None:
        super().__init__(d_model, heads, d_head, bias, causal, impl, dropout, **extra)
        self.kv_heads = kv_heads or heads
        inner, kv_inner = heads * self.d_head, self.kv_heads * self.d_head
        self.q_proj = nn.Linear(d_model, inner, bias=self.in_bias)
        self.k_proj = nn.Linear(d_model, kv_inner, bias=self.in_bias)
        self.v_proj = nn.Linear(d_model, kv_inner, bias=self.in_bias)
        self.out_proj = nn.Linear(inner, d_model, bias=bias)
        # Qwen3's RMSNorm over each head's features of queries and keys
        self.q_norm = nn.RMSNorm(self.d_head, eps=1e-6) if qk_norm else None
        self.k_norm = nn.RMSNorm(self.d_head, eps=1e-6) if qk_norm else None

    def _normed(self, t: torch.Tensor, norm: nn.Module | None, heads: int) -> torch.Tensor:
        if norm is None:
            return t
        b, n, _ = t.shape
        return norm(t.view(b, n, heads, self.d_head)).view(b, n, heads * self.d_head)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # no locals: the projections live exactly as long as the attention call's arguments
        h, g = self.heads, self.kv_heads
        return self.out_proj(merge_heads(self.attend(
            split_heads(self._normed(self.q_proj(x), self.q_norm, h), h),
            split_heads(self._normed(self.k_proj(x), self.k_norm, g), g),
            split_heads(self.v_proj(x), g))))


class OptimisedAttention(_Base):
    """Hosseini et al. (arXiv 2403.01643): no W_V; head i attends over X's i-th column slice."""

    def __init__(self, d_model: int, heads: int, bias: bool = False, causal: bool = False,
                 impl: str = "materialised", dropout: float = 0.0, **extra: Any) -> None:
        super().__init__(d_model, heads, None, bias, causal, impl, dropout, **extra)
        self.q_proj = nn.Linear(d_model, d_model, bias=self.in_bias)
        self.k_proj = nn.Linear(d_model, d_model, bias=self.in_bias)
        self.out_proj = nn.Linear(d_model, d_model, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out_proj(merge_heads(self.attend(split_heads(self.q_proj(x), self.heads),
                                                     split_heads(self.k_proj(x), self.heads),
                                                     split_heads(x, self.heads))))


class EfficientAttention(_Base):
    """Hosseini et al. (arXiv 2403.01643): no W_V, no W_K; keys and values are both X's i-th
    column slice."""

    def __init__(self, d_model: int, heads: int, bias: bool = False, causal: bool = False,
                 impl: str = "materialised", dropout: float = 0.0, **extra: Any) -> None:
        super().__init__(d_model, heads, None, bias, causal, impl, dropout, **extra)
        self.q_proj = nn.Linear(d_model, d_model, bias=self.in_bias)
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
                 causal: bool = False, impl: str = "materialised", dropout: float = 0.0,
                 **extra: Any) -> None:
        super().__init__(d_model, heads, None, bias, causal, impl, dropout, **extra)
        self.max_seq_len = max_seq_len
        self.q_proj = nn.Linear(d_model, d_model, bias=self.in_bias)
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
                 shared_e: nn.Parameter | None = None, **extra: Any) -> None:
        super().__init__(d_model, heads, None, bias, causal, impl, dropout, **extra)
        if causal:
            raise ValueError("Linformer cannot mask causally (E mixes the whole sequence)")
        self.max_seq_len, self.k, self.sharing = max_seq_len, k, sharing
        self.q_proj = nn.Linear(d_model, d_model, bias=self.in_bias)
        self.k_proj = nn.Linear(d_model, d_model, bias=self.in_bias)
        self.v_proj = nn.Linear(d_model, d_model, bias=self.in_bias)
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

    def __init__(self, d_model: int, heads: int, bias: bool, causal: bool,
                 qkv_bias: bool = False, window: int | None = None,
                 softcap: float | None = None) -> None:
        if window is not None or softcap is not None:
            raise ValueError("no softmax over ℓ×ℓ scores: a sliding window and soft-capping "
                             "do not apply")
        super().__init__(d_model, heads, None, bias, causal, "materialised", 0.0,
                         qkv_bias=qkv_bias)
        self.q_proj = nn.Linear(d_model, d_model, bias=self.in_bias)
        self.k_proj = nn.Linear(d_model, d_model, bias=self.in_bias)
        self.v_proj = nn.Linear(d_model, d_model, bias=self.in_bias)
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
                 impl: str = "materialised", dropout: float = 0.0, **extra: Any) -> None:
        if causal:
            raise ValueError("factorised linear attention normalises keys over all positions: "
                             "it cannot mask causally")
        super().__init__(d_model, heads, bias, causal, **extra)

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
                 impl: str = "materialised", dropout: float = 0.0, eps: float = 1e-6,
                 **extra: Any) -> None:
        super().__init__(d_model, heads, bias, causal, **extra)
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
    c_KV → keys and values, latent c_Q → queries, a decoupled RoPE key shared by the heads.
    ``latent_norm``: RMSNorms on both latents (the released DeepSeek-V2/V3 checkpoints);
    ``direct_q``: queries projected from x, no query latent (DeepSeek-V2-Lite)."""

    def __init__(self, d_model: int, heads: int, d_head: int | None = None,
                 kv_latent: int | None = None, q_latent: int | None = None,
                 rope_dim: int | None = None, bias: bool = False, causal: bool = False,
                 impl: str = "materialised", dropout: float = 0.0, latent_norm: bool = False,
                 direct_q: bool = False, **extra: Any) -> None:
        super().__init__(d_model, heads, d_head, bias, causal, impl, dropout, **extra)
        dh, b = self.d_head, self.in_bias
        self.kv_latent = kv_latent or 4 * dh
        self.q_latent = q_latent or 12 * dh
        self.rope_dim = rope_dim or max(1, dh // 2)
        self.kv_down = nn.Linear(d_model, self.kv_latent, bias=b)
        self.kv_norm = nn.RMSNorm(self.kv_latent, eps=1e-6) if latent_norm else None
        self.k_up = nn.Linear(self.kv_latent, heads * dh, bias=b)
        self.v_up = nn.Linear(self.kv_latent, heads * dh, bias=b)
        self.k_rope = nn.Linear(d_model, self.rope_dim, bias=b)
        q_in = d_model if direct_q else self.q_latent
        self.q_down = None if direct_q else nn.Linear(d_model, self.q_latent, bias=b)
        self.q_norm = nn.RMSNorm(self.q_latent, eps=1e-6) if latent_norm and not direct_q \
            else None
        self.q_up = nn.Linear(q_in, heads * dh, bias=b)
        self.q_rope = nn.Linear(q_in, heads * self.rope_dim, bias=b)
        self.out_proj = nn.Linear(heads * dh, d_model, bias=bias)

    @staticmethod
    def rope(t: torch.Tensor, start: int = 0) -> torch.Tensor:
        """Rotary embedding over the last dim (pairs rotated by position-dependent angles);
        the positions are ``start`` … ``start + n - 1`` (a decoder's next tokens). An odd
        dimension's last element is left unrotated (angle 0)."""
        n, dim = t.shape[1], t.shape[-1]
        half = dim // 2
        pos = torch.arange(start, start + n, device=t.device, dtype=t.dtype)
        freq = 10000 ** (-torch.arange(max(half, 1), device=t.device, dtype=t.dtype) / max(half, 1))
        ang = pos[:, None] * freq[None, :]
        if dim % 2:  # the unpaired last element: cos 1, sin 0
            ang = ang[:, :half]
            cos = torch.cat([ang.cos(), ang.cos(), torch.ones_like(pos)[:, None]], -1)
            sin = torch.cat([ang.sin(), ang.sin(), torch.zeros_like(pos)[:, None]], -1)
        else:
            cos = torch.cat([ang.cos(), ang.cos()], -1)
            sin = torch.cat([ang.sin(), ang.sin()], -1)
        shape = (1, n) + (1,) * (t.dim() - 3) + (dim,)
        rotated = torch.cat([-t[..., half:2 * half], t[..., :half], t[..., 2 * half:]], -1)
        return t * cos.view(shape) + rotated * sin.view(shape)

    def qkv(self, x: torch.Tensor):
        """Queries, keys and values as head views (the latents are freed on return)."""
        b, n, _ = x.shape
        h, dh, dr = self.heads, self.d_head, self.rope_dim
        c_kv = self.kv_down(x)
        c_kv_n = c_kv if self.kv_norm is None else self.kv_norm(c_kv)
        k_c = self.k_up(c_kv_n).view(b, n, h, dh)
        v = self.v_up(c_kv_n)
        k_r = self.rope(self.k_rope(x))  # (b, n, dr), shared by the heads
        c_q = x if self.q_down is None else self.q_down(x)
        c_q_n = c_q if self.q_norm is None else self.q_norm(c_q)
        q_c = self.q_up(c_q_n).view(b, n, h, dh)
        q_r = self.rope(self.q_rope(c_q_n).view(b, n, h, dr))
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
    return dict(bias=cfg.bias, causal=cfg.causal, impl=cfg.impl, dropout=dropout,
                qkv_bias=cfg.qkv_bias, window=cfg.window, softcap=cfg.softcap)


@register_module("standard")
def _standard(cfg: AttentionConfig, dropout: float) -> nn.Module:
    d = cfg.dims()
    return GroupedQueryAttention(d.d_model, d.heads, d.d_head, d.heads, qk_norm=cfg.qk_norm,
                                 **_common(cfg, dropout))


@register_module("mqa")
def _mqa(cfg: AttentionConfig, dropout: float) -> nn.Module:
    d = cfg.dims()
    return GroupedQueryAttention(d.d_model, d.heads, d.d_head, 1, qk_norm=cfg.qk_norm,
                                 **_common(cfg, dropout))


@register_module("gqa")
def _gqa(cfg: AttentionConfig, dropout: float) -> nn.Module:
    d = cfg.dims()
    return GroupedQueryAttention(d.d_model, d.heads, d.d_head, d.kv_heads, qk_norm=cfg.qk_norm,
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
                           latent_norm=cfg.latent_norm, direct_q=cfg.direct_q,
                           **_common(cfg, dropout))
