"""PyTorch modules of every attention variant (imports torch).

:func:`build_attention` makes the module that matches an :class:`~attncost.AttentionConfig`
and a variant name; the classes live in :mod:`attncost.nn.attention`.
"""

from __future__ import annotations

from ..config import AttentionConfig
from .attention import (EfficientAttention, FactorisedLinearAttention, GroupedQueryAttention,
                        KernelLinearAttention, LatentAttention, LinformerAttention,
                        OptimisedAttention, SuperAttention)

__all__ = ["MODULES", "build_attention", "GroupedQueryAttention", "OptimisedAttention",
           "EfficientAttention", "SuperAttention", "LinformerAttention",
           "FactorisedLinearAttention", "KernelLinearAttention", "LatentAttention"]


#: Variants with a PyTorch module here (user-registered variants have none).
MODULES = ("standard", "mqa", "gqa", "optimised", "efficient", "super", "linformer", "linear",
           "kernel-linear", "mla")


def build_attention(variant: str, cfg: AttentionConfig, dropout_p: float = 0.1):
    """The ``nn.Module`` of ``variant`` for ``cfg`` (``cfg.dropout`` switches ``dropout_p``)."""
    d = cfg.dims()
    common = dict(bias=cfg.bias, causal=cfg.causal, impl=cfg.impl,
                  dropout=dropout_p if cfg.dropout else 0.0)
    if variant in ("standard", "mqa", "gqa"):
        kv = {"standard": d.heads, "mqa": 1, "gqa": d.kv_heads}[variant]
        return GroupedQueryAttention(d.d_model, d.heads, d.d_head, kv, **common)
    if variant == "optimised":
        return OptimisedAttention(d.d_model, d.heads, **common)
    if variant == "efficient":
        return EfficientAttention(d.d_model, d.heads, **common)
    if variant == "super":
        return SuperAttention(d.d_model, d.heads, d.max_seq_len, **common)
    if variant == "linformer":
        return LinformerAttention(d.d_model, d.heads, d.max_seq_len, d.k, cfg.sharing, **common)
    if variant == "linear":
        return FactorisedLinearAttention(d.d_model, d.heads, **common)
    if variant == "kernel-linear":
        return KernelLinearAttention(d.d_model, d.heads, **common)
    if variant == "mla":
        return LatentAttention(d.d_model, d.heads, d.d_head, d.kv_latent, d.q_latent,
                               d.rope_dim, **common)
    raise ValueError(f"no PyTorch module for variant {variant!r}")
