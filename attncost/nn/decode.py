"""Token-by-token decoding with a KV cache, for the modules of :mod:`attncost.nn.attention`
and whole models (:class:`attncost.nn.model.TransformerModel`), written from the papers and
never from the cost model, so that decoding costs can be checked against it.

One step takes the next token's input (batch, 1, d_model) at position ``pos``, appends what the
variant caches to ``cache`` (a dict of tensors per layer) and returns the token's output:

* MHA, GQA, MQA: keys and values per KV head (a sliding window keeps the last ``window``);
* Optimised: keys and the input itself (its values are slices of x); Efficient: the input
  (keys and values are both slices of x);
* MLA (DeepSeek-V2, arXiv 2405.04434, §2.1.3): the latent c_KV and the RoPE key; the
  up-projections are absorbed — scores q_C,i W_UK,i · c_KV + q_R,i · k_R, output
  (p · c_KV) W_UV,iᵀ — so keys and values are never rebuilt (needs no biases there);
* kernel-linear (Katharopoulos et al. 2020, arXiv 2006.16236, §3.4): the running sums
  S = Σ φ(k)ᵀ v and z = Σ φ(k), updated in place of a growing cache.

Variants that cannot decode causally (Super, Linformer, factorised linear) are refused. The
outputs equal the causal forward's at every position (tested).
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F

from .attention import (EfficientAttention, GroupedQueryAttention, KernelLinearAttention,
                        LatentAttention, OptimisedAttention, merge_heads, split_heads)

Cache = dict[str, torch.Tensor]


def _append(cache: Cache, name: str, t: torch.Tensor, dim: int,
            window: int | None = None) -> torch.Tensor:
    """``cache[name]`` with ``t`` appended along ``dim`` (the last ``window`` kept)."""
    full = t if name not in cache else torch.cat([cache[name], t], dim)
    if window is not None and full.shape[dim] > window:
        full = full.narrow(dim, full.shape[dim] - window, window).contiguous()
    cache[name] = full
    return full


def _softmax_attend(mod: Any, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor
                    ) -> torch.Tensor:
    """softmax(q kᵀ/√d) v for one query per head over every cached key (no mask: a decoder
    sees no future keys); shared KV heads expanded as the module's materialised path does."""
    if k.shape[1] != q.shape[1]:
        rep = q.shape[1] // k.shape[1]
        k, v = k.repeat_interleave(rep, dim=1), v.repeat_interleave(rep, dim=1)
    scores = torch.matmul(q, k.transpose(-2, -1)) * (1.0 / math.sqrt(q.shape[-1]))
    if mod.softcap is not None:
        scores = torch.tanh(scores / mod.softcap) * mod.softcap
    return torch.matmul(torch.softmax(scores, dim=-1), v)


def _grouped_step(mod: GroupedQueryAttention, x: torch.Tensor, cache: Cache, pos: int
                  ) -> torch.Tensor:
    h, g = mod.heads, mod.kv_heads
    q = split_heads(mod._normed(mod.q_proj(x), mod.q_norm, h), h)
    k = _append(cache, "k", split_heads(mod._normed(mod.k_proj(x), mod.k_norm, g), g), 2,
                mod.window)
    v = _append(cache, "v", split_heads(mod.v_proj(x), g), 2, mod.window)
    return mod.out_proj(merge_heads(_softmax_attend(mod, q, k, v)))


def _optimised_step(mod: OptimisedAttention, x: torch.Tensor, cache: Cache, pos: int
                    ) -> torch.Tensor:
    h = mod.heads
    k = _append(cache, "k", mod.k_proj(x), 1, mod.window)
    xs = _append(cache, "x", x, 1, mod.window)
    q = split_heads(mod.q_proj(x), h)
    return mod.out_proj(merge_heads(_softmax_attend(mod, q, split_heads(k, h),
                                                    split_heads(xs, h))))


def _efficient_step(mod: EfficientAttention, x: torch.Tensor, cache: Cache, pos: int
                    ) -> torch.Tensor:
    h = mod.heads
    xh = split_heads(_append(cache, "x", x, 1, mod.window), h)
    q = split_heads(mod.q_proj(x), h)
    return mod.out_proj(merge_heads(_softmax_attend(mod, q, xh, xh)))


def _latent_step(mod: LatentAttention, x: torch.Tensor, cache: Cache, pos: int
                 ) -> torch.Tensor:
    """MLA with absorbed up-projections over the cached latent and RoPE key."""
    if mod.k_up.bias is not None or mod.v_up.bias is not None:
        raise ValueError("absorbed MLA decoding needs no biases on the up-projections")
    b = x.shape[0]
    h, dh, dr, dc = mod.heads, mod.d_head, mod.rope_dim, mod.kv_latent
    c_kv = mod.kv_down(x)
    c = _append(cache, "c_kv", c_kv if mod.kv_norm is None else mod.kv_norm(c_kv), 1)
    k_r = _append(cache, "k_r", mod.rope(mod.k_rope(x), pos), 1)
    c_q = x if mod.q_down is None else mod.q_down(x)
    c_q = c_q if mod.q_norm is None else mod.q_norm(c_q)
    q_c = mod.q_up(c_q).view(b, h, dh)
    q_r = mod.rope(mod.q_rope(c_q).view(b, 1, h, dr), pos).view(b, h, dr)
    q_lat = torch.einsum("bhd,hdc->bhc", q_c, mod.k_up.weight.view(h, dh, dc))
    scores = (torch.einsum("bhc,btc->bht", q_lat, c)
              + torch.einsum("bhr,btr->bht", q_r, k_r)) * (1.0 / math.sqrt(dh + dr))
    o_lat = torch.einsum("bht,btc->bhc", torch.softmax(scores, dim=-1), c)
    out = torch.einsum("bhc,hdc->bhd", o_lat, mod.v_up.weight.view(h, dh, dc))
    return mod.out_proj(out.reshape(b, 1, h * dh))


def _kernel_linear_step(mod: KernelLinearAttention, x: torch.Tensor, cache: Cache, pos: int
                        ) -> torch.Tensor:
    """Recurrent: S += φ(k)ᵀ v, z += φ(k); out = φ(q) S / (φ(q)·z + ε)."""
    h = mod.heads
    q = split_heads(mod.q_proj(x), h)
    k = split_heads(mod.k_proj(x), h)
    v = split_heads(mod.v_proj(x), h)
    phi_q, phi_k = F.elu(q) + 1, F.elu(k) + 1
    update = torch.matmul(phi_k.transpose(-2, -1), v)
    cache["S"] = update if "S" not in cache else cache["S"] + update
    cache["z"] = phi_k if "z" not in cache else cache["z"] + phi_k
    numerator = torch.matmul(phi_q, cache["S"])
    denominator = torch.matmul(phi_q, cache["z"].transpose(-2, -1))
    return mod.out_proj(merge_heads(numerator / (denominator + mod.eps)))


_STEPS = ((GroupedQueryAttention, _grouped_step), (OptimisedAttention, _optimised_step),
          (EfficientAttention, _efficient_step), (LatentAttention, _latent_step),
          (KernelLinearAttention, _kernel_linear_step))


def attention_step(module: Any, x: torch.Tensor, cache: Cache, pos: int) -> torch.Tensor:
    """The output (batch, 1, d_model) of the token ``x`` at position ``pos``; ``cache`` (this
    layer's) gains what the variant keeps."""
    if not getattr(module, "causal", False):
        raise ValueError("decoding needs a causal module (causal=True)")
    for cls, step in _STEPS:
        if isinstance(module, cls):
            return step(module, x, cache, pos)
    raise ValueError(f"{type(module).__name__} cannot decode causally with a KV cache")


def decode_layer(module: Any, x: torch.Tensor) -> tuple[torch.Tensor, Cache]:
    """Every position of ``x`` (batch, n, d_model) decoded one token at a time: the outputs
    (batch, n, d_model) and the cache after the last."""
    cache: Cache = {}
    outs = [attention_step(module, x[:, i:i + 1], cache, i) for i in range(x.shape[1])]
    return torch.cat(outs, 1), cache


def cache_bytes(caches: Any) -> int:
    """Bytes of every tensor of one cache (a dict) or of a model's caches (a list of them)."""
    items = [caches] if isinstance(caches, dict) else list(caches)
    return sum(t.numel() * t.element_size() for c in items for t in c.values())


# -- whole models ------------------------------------------------------------------------------


def _block_step(block: Any, x: torch.Tensor, cache: Cache, pos: int) -> torch.Tensor:
    """One block on one token, as :meth:`attncost.nn.model.Block.forward` runs it, the
    attention replaced by its decoding step (dropout off: inference)."""
    def attn(t: torch.Tensor) -> torch.Tensor:
        return attention_step(block.attn, t, cache, pos)

    if block.parallel:
        h = block.norm1(x)
        return attn(h) + block.ffn(h) + x
    if block.pre_norm:
        x = x + block._post(block.post1, attn(block.norm1(x)))
        return x + block._post(block.post2, block.ffn(block.norm2(x)))
    x = block.norm1(x + attn(x))
    return block.norm2(x + block.ffn(x))


def _embed_step(model: Any, ids: torch.Tensor, pos: int) -> torch.Tensor:
    m = model.config
    h = model.tok_embed(ids)
    if m.embed_scale:
        h = h * math.sqrt(m.attention.d_model)
    if model.type_embed is not None:
        h = h + model.type_embed(torch.zeros_like(ids))
    if model.pos_embed is not None:
        h = h + model.pos_embed[pos:pos + 1]
    return h if model.embed_norm is None else model.embed_norm(h)


def model_step(model: Any, ids: torch.Tensor, caches: list[Cache], pos: int) -> torch.Tensor:
    """Logits (batch, 1, vocab) of the tokens ``ids`` (batch, 1) at position ``pos`` of a
    causal language model (:class:`~attncost.nn.model.TransformerModel` with an LM head);
    ``caches`` holds one dict per block."""
    m = model.config
    if model.lm_head is None or m.is_vision:
        raise ValueError("decoding needs a token model with an LM head")
    while len(caches) < len(model.blocks):
        caches.append({})
    h = _embed_step(model, ids, pos)
    for block, cache in zip(model.blocks, caches):
        h = _block_step(block, h, cache, pos)
    if model.final_norm is not None:
        h = model.final_norm(h)
    if model.mlm is not None:
        h = model.mlm["norm"](F.gelu(model.mlm["dense"](h)))
    h = model.lm_head(h)
    if m.final_softcap is not None:
        h = torch.tanh(h / m.final_softcap) * m.final_softcap
    return h


def decode_model(model: Any, ids: torch.Tensor) -> tuple[torch.Tensor, list[Cache]]:
    """Logits of every position of ``ids`` (batch, n), one token at a time, and the caches."""
    caches: list[Cache] = []
    outs = [model_step(model, ids[:, i:i + 1], caches, i) for i in range(ids.shape[1])]
    return torch.cat(outs, 1), caches


def generate(model: Any, prompt: torch.Tensor, n_tokens: int
             ) -> tuple[torch.Tensor, list[Cache]]:
    """Greedy decoding: the prompt (batch, p) run token by token, then ``n_tokens`` tokens,
    each the most likely next one; returns (batch, p + n_tokens) tokens and the caches."""
    logits, caches = decode_model(model, prompt)
    tokens = [prompt]
    nxt = logits[:, -1:].argmax(-1)
    for i in range(n_tokens):
        tokens.append(nxt)
        if i + 1 < n_tokens:
            nxt = model_step(model, nxt, caches, prompt.shape[1] + i).argmax(-1)
    return torch.cat(tokens, 1), caches
