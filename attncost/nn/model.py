"""A whole transformer in PyTorch from a :class:`~attncost.config.ModelConfig`: embeddings,
blocks with a per-layer attention variant (sliding-window or global), norms, FFN (dense or a
mixture of experts) and heads, one to one with the cost model's description
(:func:`attncost.graphs.model_graph`, never imported here), so that validation can compare
them.
"""

from __future__ import annotations

import math

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
    """GELU or ReLU MLP, or a gated one (Shazeer 2020, arXiv 2002.05202): SwiGLU
    down(silu(gate(x)) · up(x)) or GeGLU (Gemma: GELU, tanh approximation)."""

    def __init__(self, m: ModelConfig, width: int, d_ff: int | None = None) -> None:
        super().__init__()
        self.kind = m.ffn_activation
        d_ff = m.resolved_d_ff if d_ff is None else d_ff
        if self.kind in ("swiglu", "geglu"):
            self.gate = nn.Linear(width, d_ff, bias=m.ffn_bias)
            self.up = nn.Linear(width, d_ff, bias=m.ffn_bias)
            self.down = nn.Linear(d_ff, width, bias=m.ffn_bias)
        else:
            self.fc1 = nn.Linear(width, d_ff, bias=m.ffn_bias)
            self.fc2 = nn.Linear(d_ff, width, bias=m.ffn_bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.kind == "swiglu":
            return self.down(F.silu(self.gate(x)) * self.up(x))
        if self.kind == "geglu":
            return self.down(F.gelu(self.gate(x), approximate="tanh") * self.up(x))
        act = F.gelu if self.kind == "gelu" else F.relu
        return self.fc2(act(self.fc1(x)))


class MoE(nn.Module):
    """A mixture-of-experts FFN (Shazeer et al. 2017, arXiv 1701.06538; Mixtral, arXiv
    2401.04088; DeepSeekMoE, arXiv 2401.06066): a router picks ``experts_per_token`` of
    ``experts`` FFNs per token (softmax, top-k, optionally renormalised), each expert runs on
    the tokens routed to it, their outputs are weighted and added back per token; shared
    experts (one FFN of ``shared_experts`` × ``expert_d_ff``) see every token."""

    def __init__(self, m: ModelConfig, width: int) -> None:
        super().__init__()
        self.k, self.renormalise = m.experts_per_token, m.moe_renormalize
        d_ff = m.resolved_expert_d_ff
        self.router = nn.Linear(width, m.experts, bias=False)
        self.experts = nn.ModuleList(FeedForward(m, width, d_ff) for _ in range(m.experts))
        self.shared = (FeedForward(m, width, m.shared_experts * d_ff) if m.shared_experts
                       else None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, d = x.shape
        h = x.reshape(b * n, d)
        probs = torch.softmax(self.router(h), dim=-1)
        weight, expert_ids = probs.topk(self.k, dim=-1)
        if self.renormalise:
            weight = weight / weight.sum(-1, keepdim=True)
        flat = expert_ids.reshape(-1)
        order = flat.argsort(stable=True)  # the slots grouped by expert
        token_ids = order // self.k  # the token each slot came from
        counts = torch.bincount(flat, minlength=len(self.experts)).tolist()
        routed = h.index_select(0, token_ids)
        outs = torch.cat([expert(part) for expert, part in
                          zip(self.experts, routed.split(counts))])
        weighted = outs * weight.reshape(-1)[order].unsqueeze(-1)
        out = torch.zeros_like(h).index_add(0, token_ids, weighted)
        if self.shared is not None:
            out = out + self.shared(h)
        return out.view(b, n, d)


class Block(nn.Module):
    """One transformer block ``index``: pre-norm (GPT-2, ViT, LLaMA), post-norm (BERT),
    sandwich norms (Gemma-2) or parallel attention and FFN (Phi-2)."""

    def __init__(self, m: ModelConfig, variant: str, shared_e: nn.Parameter | None = None,
                 dropout: float = 0.1, index: int = 0) -> None:
        super().__init__()
        width = m.attention.d_model
        self.pre_norm, self.parallel = m.pre_norm, m.parallel_block
        self.norm1 = _norm(m, width)
        self.norm2 = None if m.parallel_block else _norm(m, width)
        self.post1 = _norm(m, width) if m.sandwich_norm else None
        self.post2 = _norm(m, width) if m.sandwich_norm else None
        self.attn = build_attention(variant, m.block_attention(index), dropout_p=dropout)
        if shared_e is not None and getattr(self.attn, "sharing", None) == "layerwise":
            self.attn.E = shared_e
        self.ffn = MoE(m, width) if m.is_moe_block(index) else FeedForward(m, width)
        self.p = dropout if m.dropout else 0.0

    def drop(self, x: torch.Tensor) -> torch.Tensor:
        return F.dropout(x, self.p, self.training) if self.p else x

    @staticmethod
    def _post(norm: nn.Module | None, x: torch.Tensor) -> torch.Tensor:
        return x if norm is None else norm(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.parallel:
            h = self.norm1(x)
            return self.drop(self.attn(h)) + self.drop(self.ffn(h)) + x
        if self.pre_norm:
            x = x + self.drop(self._post(self.post1, self.attn(self.norm1(x))))
            return x + self.drop(self._post(self.post2, self.ffn(self.norm2(x))))
        x = self.norm1(x + self.drop(self.attn(x)))
        return self.norm2(x + self.drop(self.ffn(x)))


class TransformerModel(nn.Module):
    """Embeddings → blocks (one attention variant per layer) → final norm → heads."""

    def __init__(self, m: ModelConfig, dropout: float = 0.1) -> None:
        super().__init__()
        self.config = m
        width = m.attention.d_model
        self.p = dropout if m.dropout else 0.0
        if m.is_features:  # continuous inputs (batch, seq_len, features)
            self.feature_proj = nn.Linear(m.features, width)
        elif m.is_vision:
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
        for i, variant in enumerate(m.layers):
            block = Block(m, variant, shared_e, dropout, index=i)
            if getattr(block.attn, "sharing", None) == "layerwise":
                shared_e = block.attn.E
            self.blocks.append(block)
        self.final_norm = _norm(m, width) if m.final_norm else None
        self.lm_head = self.mlm = None
        if m.lm_head:
            if m.mlm_transform:  # BERT's MLM transform: dense + GELU + LayerNorm
                self.mlm = nn.ModuleDict({"dense": nn.Linear(width, width),
                                          "norm": _norm(m, width)})
            self.lm_head = nn.Linear(width, m.vocab, bias=m.lm_head_bias)
            if m.tied_embeddings:
                self.lm_head.weight = self.tok_embed.weight
        self.pooler = nn.Linear(width, width) if m.pooler else None
        dims = [width, *m.class_head]
        self.head = nn.ModuleList(nn.Linear(a, b) for a, b in zip(dims, dims[1:]))

    def embed(self, inputs: torch.Tensor) -> torch.Tensor:
        m = self.config
        if m.is_features:
            h = self.feature_proj(inputs)
        elif m.is_vision:
            h = self.patch_embed(inputs).flatten(2).transpose(1, 2)
            if self.cls_token is not None:
                h = torch.cat([self.cls_token.expand(h.shape[0], -1, -1), h], dim=1)
        else:
            h = self.tok_embed(inputs)
            if m.embed_scale:  # Gemma: × √d_model
                h = h * math.sqrt(m.attention.d_model)
            if self.type_embed is not None:
                h = h + self.type_embed(torch.zeros_like(inputs))
        if self.pos_embed is not None:
            h = h + self.pos_embed[:h.shape[1]]
        if self.embed_norm is not None:
            h = self.embed_norm(h)
        return F.dropout(h, self.p, self.training) if self.p else h

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        """Token ids (batch, seq_len), feature vectors (batch, seq_len, features), or images
        (batch, channels, H, W) for vision. Pooling ``none`` classifies every token."""
        m = self.config
        h = self.embed(inputs)
        for block in self.blocks:
            h = block(h)
        if self.final_norm is not None:
            h = self.final_norm(h)
        if self.lm_head is not None:
            if self.mlm is not None:
                h = self.mlm["norm"](F.gelu(self.mlm["dense"](h)))
            h = self.lm_head(h)
            if m.final_softcap is not None:  # Gemma-2
                h = torch.tanh(h / m.final_softcap) * m.final_softcap
        if self.pooler is not None or self.head:
            if m.pooling != "none":
                h = h.mean(1) if m.pooling == "mean" else h[:, 0]
            if self.pooler is not None:
                h = torch.tanh(self.pooler(h))
            for j, layer in enumerate(self.head):
                h = layer(h)
                if j < len(self.head) - 1:
                    h = F.relu(h)
        return h
