"""A whole transformer in PyTorch from a :class:`~attncost.config.ModelConfig`: embeddings,
blocks with a per-layer attention variant, norms, FFN and heads, one to one with the cost
model's description (:func:`attncost.graphs.model_graph`, never imported here), so that
validation can compare them.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..config import ModelConfig
from . import build_attention


def _norm(m: ModelConfig, width: int) -> nn.Module:
    if m.norm == "rmsnorm":
        return nn.RMSNorm(width, eps=1e-6)
    return nn.LayerNorm(width, bias=m.norm_bias)


class FeedForward(nn.Module):
    """GELU or ReLU MLP, or SwiGLU (Shazeer 2020): down(silu(gate(x)) · up(x))."""

    def __init__(self, m: ModelConfig, width: int) -> None:
        super().__init__()
        self.kind = m.ffn_activation
        d_ff = m.resolved_d_ff
        if self.kind == "swiglu":
            self.gate = nn.Linear(width, d_ff, bias=m.ffn_bias)
            self.up = nn.Linear(width, d_ff, bias=m.ffn_bias)
            self.down = nn.Linear(d_ff, width, bias=m.ffn_bias)
        else:
            self.fc1 = nn.Linear(width, d_ff, bias=m.ffn_bias)
            self.fc2 = nn.Linear(d_ff, width, bias=m.ffn_bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.kind == "swiglu":
            return self.down(F.silu(self.gate(x)) * self.up(x))
        act = F.gelu if self.kind == "gelu" else F.relu
        return self.fc2(act(self.fc1(x)))


class Block(nn.Module):
    """One transformer block, pre-norm (GPT-2, ViT, LLaMA) or post-norm (BERT)."""

    def __init__(self, m: ModelConfig, variant: str, shared_e: nn.Parameter | None = None,
                 dropout: float = 0.1) -> None:
        super().__init__()
        width = m.attention.d_model
        self.pre_norm = m.pre_norm
        self.norm1, self.norm2 = _norm(m, width), _norm(m, width)
        self.attn = build_attention(variant, m.attention, dropout_p=dropout)
        if shared_e is not None and getattr(self.attn, "sharing", None) == "layerwise":
            self.attn.E = shared_e
        self.ffn = FeedForward(m, width)
        self.p = dropout if m.dropout else 0.0

    def drop(self, x: torch.Tensor) -> torch.Tensor:
        return F.dropout(x, self.p, self.training) if self.p else x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.pre_norm:
            x = x + self.drop(self.attn(self.norm1(x)))
            return x + self.drop(self.ffn(self.norm2(x)))
        x = self.norm1(x + self.drop(self.attn(x)))
        return self.norm2(x + self.drop(self.ffn(x)))


class TransformerModel(nn.Module):
    """Embeddings → blocks (one attention variant per layer) → final norm → heads."""

    def __init__(self, m: ModelConfig, dropout: float = 0.1) -> None:
        super().__init__()
        self.config = m
        width = m.attention.d_model
        self.p = dropout if m.dropout else 0.0
        if m.is_vision:
            self.patch_embed = nn.Conv2d(m.channels, width, m.patch_size, stride=m.patch_size)
            self.cls_token = nn.Parameter(torch.zeros(1, 1, width)) if m.cls_token else None
        else:
            self.tok_embed = nn.Embedding(m.vocab, width)
            self.type_embed = nn.Embedding(m.token_types, width) if m.token_types else None
        self.pos_embed = (nn.Parameter(torch.randn(m.max_positions, width) * 0.02)
                          if m.max_positions else None)
        self.embed_norm = _norm(m, width) if m.embedding_norm else None
        shared_e = None
        self.blocks = nn.ModuleList()
        for variant in m.layers:
            block = Block(m, variant, shared_e, dropout)
            if getattr(block.attn, "sharing", None) == "layerwise":
                shared_e = block.attn.E
            self.blocks.append(block)
        self.final_norm = _norm(m, width) if m.final_norm else None
        self.lm_head = None
        if m.lm_head:
            self.lm_head = nn.Linear(width, m.vocab, bias=False)
            if m.tied_embeddings:
                self.lm_head.weight = self.tok_embed.weight
        self.pooler = nn.Linear(width, width) if m.pooler else None
        dims = [width, *m.class_head]
        self.head = nn.ModuleList(nn.Linear(a, b) for a, b in zip(dims, dims[1:]))

    def embed(self, inputs: torch.Tensor) -> torch.Tensor:
        m = self.config
        if m.is_vision:
            h = self.patch_embed(inputs).flatten(2).transpose(1, 2)
            if self.cls_token is not None:
                h = torch.cat([self.cls_token.expand(h.shape[0], -1, -1), h], dim=1)
        else:
            h = self.tok_embed(inputs)
            if self.type_embed is not None:
                h = h + self.type_embed(torch.zeros_like(inputs))
        if self.pos_embed is not None:
            h = h + self.pos_embed[:h.shape[1]]
        if self.embed_norm is not None:
            h = self.embed_norm(h)
        return F.dropout(h, self.p, self.training) if self.p else h

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        """Token ids (batch, seq_len), or images (batch, channels, H, W) for vision."""
        m = self.config
        h = self.embed(inputs)
        for block in self.blocks:
            h = block(h)
        if self.final_norm is not None:
            h = self.final_norm(h)
        if self.lm_head is not None:
            h = self.lm_head(h)
        if self.pooler is not None or self.head:
            h = h.mean(1) if m.pooling == "mean" else h[:, 0]
            if self.pooler is not None:
                h = torch.tanh(self.pooler(h))
            for j, layer in enumerate(self.head):
                h = layer(h)
                if j < len(self.head) - 1:
                    h = F.relu(h)
        return h
