"""Decoding: what each generated token costs, next to the prefill of the prompt.

A causal decoder first runs the prompt (``prompt_len`` = the configuration's ``seq_len``
tokens per sequence, ``batch`` sequences: the **prefill**), then generates ``n_tokens`` tokens
one at a time, each attending to the keys and values cached for every earlier token. For the
generated token at context length L (L = prompt_len + i, i = 1 … n_tokens, the token itself
included), per batch of sequences:

* **FLOPs** — exact integers. A token-local step costs what the token adds to the causal
  forward's useful work: F(L) − F(L − 1), F(ℓ) the useful FLOPs (unmasked pairs) of the
  graph at length ℓ (projections, FFN, norms and the LM head once per token; L keys and values
  per head in the attention core; a sliding window keeps min(L, w)). The causal mask and
  dropout are not run while decoding and are not counted. Variants whose decoder computes
  differently register a :class:`DecodeRule`: MLA decodes with absorbed up-projections over
  the cached latent (DeepSeek-V2, arXiv 2405.04434, §2.1.3), kernel-linear attention
  recurrently over its running sums (Katharopoulos et al. 2020, arXiv 2006.16236, §3.4).
  Matmul FLOPs are 2 × MACs, as ``FlopCounterMode`` counts them; ``tests/test_decode.py``
  checks them exactly against the decoding loop of :mod:`attncost.nn.decode`.
* **Bytes read** — the weights (every parameter a matmul reads, in full; an embedding or
  position table only the rows looked up — at batch > 1 an upper bound for position tables,
  which the batch shares; routed experts: the active ones per token), the KV cache (the cache
  after this token, L tokens per sequence, or the window; kernel-linear: its state) and the
  KV bytes written (the token's keys and values; kernel-linear: its state rewritten).
  Activations are not counted (a few vectors per token).
* **Roofline time per token** — max(FLOPs / peak, bytes / bandwidth) on a device; decoding
  is memory-bound almost always, and tokens/s = batch / time.

Totals over the ``n_tokens`` tokens are exact for FLOPs and bytes (telescoping sums and
closed forms); the total decode time sums the per-token roofline, its FLOPs interpolated
linearly between the first and last token (exact without sliding windows, where a token's
FLOPs are affine in L).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Callable

from .config import AttentionConfig, Dims, ModelConfig, Options
from .errors import ConfigError, UnsupportedError

#: The most tokens :func:`decode_costs` sums over (prompt and generated, per sequence).
MAX_CONTEXT = 10_000_000

#: Operations of the softmax-attention core (:func:`attncost.variants.core.attention`).
SOFTMAX_CORE = frozenset({
    "split_q", "split_k_heads", "split_v_heads", "expand_k_heads", "expand_v_heads", "qk",
    "scale", "softcap_div", "softcap_tanh", "softcap_mul", "make_causal_mask",
    "make_window_mask", "mask", "softmax", "attn_dropout", "pv", "merge_heads", "sdpa",
    "pad_v"})


@dataclass(frozen=True)
class DecodeRule:
    """How a variant's decoder differs from its causal forward: the layer's operations it
    does not run per token (``replaces``: names within the layer) and the FLOPs of what it
    runs instead, ``core(dims, options, L) -> (matmul, other)`` for the whole batch at
    context L (affine in L)."""

    variant: str
    replaces: frozenset[str]
    core: Callable[[Dims, Options, int], tuple[int, int]]
    doc: str


DECODE_RULES: dict[str, DecodeRule] = {}


def decode_rule(variant: str, replaces: frozenset[str] | set[str], doc: str
                ) -> Callable[[Callable], Callable]:
    """Register the :class:`DecodeRule` of ``variant`` (once)."""
    def deco(fn: Callable[[Dims, Options, int], tuple[int, int]]) -> Callable:
        if variant in DECODE_RULES:
            raise ConfigError(f"a decode rule for {variant!r} is already registered")
        DECODE_RULES[variant] = DecodeRule(variant, frozenset(replaces), fn, doc)
        return fn

    return deco


@decode_rule("mla", SOFTMAX_CORE | {"k_c_proj", "v_proj", "concat_q", "concat_k"},
             "absorbed up-projections: scores q_C W_UKᵀ · c_KV + q_R · k_R over the cached "
             "latents, output (p · c_KV) W_UV")
def _mla_core(d: Dims, o: Options, ell: int) -> tuple[int, int]:
    """Per head: q_C,i W_UK,i (d_h·d_c MACs), scores over the L cached latents and RoPE keys
    ((d_c + d_hR)·L), p·c_KV (L·d_c), then W_UV,i (d_c·d_h); other: the two score parts
    added, the scale and the softmax, 7 per score (DeepSeek-V2 §2.1.3)."""
    if o.bias or o.qkv_bias:
        raise UnsupportedError("MLA decoding is modelled with absorbed up-projections, "
                               "which needs bias=False and qkv_bias=False")
    bh, dh, dc, dr = d.batch * d.heads, d.d_head, d.kv_latent, d.rope_dim
    macs = bh * (dh * dc + (dc + dr) * ell + ell * dc + dc * dh)
    return 2 * macs, 7 * bh * ell


@decode_rule("kernel-linear", {"qk", "make_causal_mask", "mask", "pv", "rowsum", "normalise",
                               "context", "key_sum", "apply", "normaliser"},
             "recurrent: S += φ(k)ᵀv, z += φ(k), out = φ(q)S / φ(q)·z")
def _kernel_linear_core(d: Dims, o: Options, ell: int) -> tuple[int, int]:
    """Per head: the outer product φ(k)ᵀ v (d_h² MACs), φ(q) S (d_h²), φ(q)·z (d_h); other:
    S and z updated (d_h² + d_h adds) and the division (d_h). Independent of L."""
    bh, dh = d.batch * d.heads, d.d_head
    return 2 * bh * (2 * dh * dh + dh), bh * (dh * dh + 2 * dh)


# -- what is decoded ------------------------------------------------------------------------


@dataclass
class _Target:
    """A decoder: its graph at any length, its attention layers (prefix of their operations,
    variant, configuration), name and precision."""

    variant: str
    title: str
    graph_at: Callable[[int], Any]
    layers: list[tuple[str, str, AttentionConfig]]
    prec: Any
    batch: int
    prompt: int
    max_context: int | None
    estimate_at: Callable[[int], Any]
    notes: list[str] = field(default_factory=list)


def _variant_target(variant: str, base: AttentionConfig, fields: dict[str, Any], layers: int,
                    device: Any) -> _Target:
    """``layers`` layers of ``variant`` under ``base`` with ``fields``, made causal."""
    from . import variants
    from .api import estimate
    from .costs import Precision
    from .graphs import check_layers, layer_graph

    v = variants.get(variant)
    check_layers(layers)
    if not v.supports_causal:
        raise UnsupportedError(f"variant {v.name!r} cannot decode: it has no causal form, and "
                               f"a decoder generates tokens causally")
    causal = fields.get("causal", base.causal)
    notes = [] if causal else ["decoding is causal: causal=True used"]
    cfg = base.with_(**{**fields, "causal": True})
    prefixes = [""] if layers == 1 else [f"l{i}." for i in range(layers)]
    return _Target(v.name, v.title, lambda n: layer_graph(v.name, cfg.with_(seq_len=n), layers),
                   [(p, v.name, cfg) for p in prefixes], Precision.of(cfg), cfg.batch,
                   cfg.seq_len, cfg.max_seq_len,
                   lambda n: estimate(v.name, cfg.with_(seq_len=n), layers=layers,
                                      device=device, mode="infer"), notes)


def _model_target(m: ModelConfig, device: Any) -> _Target:
    from .api import estimate_model
    from .costs import Precision
    from .graphs import model_graph

    if not m.lm_head:
        raise UnsupportedError(f"model {m.name!r} has no LM head: it does not generate tokens")
    if not m.attention.causal:
        raise UnsupportedError(f"model {m.name!r} is not causal (causal=False): it does not "
                               f"decode tokens; set causal=True to model it as a decoder")
    layers = [(f"blocks.{i}.attn.", v, m.block_attention(i)) for i, v in enumerate(m.layers)]
    variant = "+".join(dict.fromkeys(m.layers))
    return _Target(variant, f"model {m.name} ({len(m.layers)} layers: {variant})",
                   lambda n: model_graph(m.with_(seq_len=n)), layers,
                   Precision.of(m.attention), m.attention.batch, m.attention.seq_len,
                   m.max_positions or None,
                   lambda n: estimate_model(m.with_(seq_len=n), device=device, mode="infer"))


def _target(target: Any, config: AttentionConfig | None, layers: int, device: Any,
            fields: dict[str, Any]) -> _Target:
    """A :class:`_Target` from a variant name (with a configuration and ``fields``), a
    :class:`ModelConfig`, a preset name or ``hf:PATH`` (``fields`` override the model's)."""
    from . import variants
    from .api import model_config

    from .config import preset_names

    if isinstance(target, str) and target in variants.names():
        return _variant_target(target, config or AttentionConfig(), fields, layers, device)
    if isinstance(target, str) and not target.startswith("hf:") and \
            target not in preset_names():
        raise ConfigError(f"unknown decode target {target!r}; allowed: a variant "
                          f"({', '.join(variants.names())}), a preset "
                          f"({', '.join(preset_names())}) or 'hf:PATH'")
    if isinstance(target, (str, ModelConfig)):
        if config is not None:
            raise ConfigError("config applies to a variant; give a model's fields as keywords")
        return _model_target(model_config(target, **fields), device)
    raise ConfigError(f"decode target {target!r} must be a variant name, a ModelConfig, a "
                      f"preset name or 'hf:PATH'")


# -- FLOPs and bytes of one token -----------------------------------------------------------


def _skipper(t: _Target) -> Callable[[str], bool]:
    """Whether an operation (by its name in the graph) is replaced by a decode rule."""
    ruled = [(p, DECODE_RULES[v].replaces) for p, v, _ in t.layers if v in DECODE_RULES]

    def skip(name: str) -> bool:
        return any(name.startswith(p) and name[len(p):] in rep for p, rep in ruled)

    return skip


def _not_run(op: Any, graph: Any) -> bool:
    """Work a decoder does not do: applying a causal mask (it reads no future keys) and
    dropout (inference)."""
    tensors = graph.tensors
    return (any(tensors[i].role == "const" and tensors[i].storage == "bool" for i in op.inputs)
            or any(tensors[o].storage == "bool" for o in op.outputs))


def useful_flops(graph: Any, skip: Callable[[str], bool]) -> tuple[int, int]:
    """(matmul, other) useful forward FLOPs of ``graph`` (unmasked pairs only), leaving out
    the operations ``skip`` names and work a decoder does not run."""
    mm = other = 0
    for op in graph.ops:
        if skip(op.name):
            continue
        mm += op.flops_fwd_useful_matmul()
        if not _not_run(op, graph):
            other += op.flops_fwd_useful_other()
    return int(mm), int(other)


def _cores(t: _Target, ell: int) -> tuple[int, int]:
    """The decode rules' (matmul, other) FLOPs at context ``ell``, summed over layers."""
    from . import variants

    mm = other = 0
    for _, v, cfg in t.layers:
        if v in DECODE_RULES:
            a, b = DECODE_RULES[v].core(cfg.dims(), variants.get(v).options_for(cfg.options()),
                                        ell)
            mm, other = mm + a, other + b
    return mm, other


def _kv_layout(graph: Any, batch: int) -> list[tuple[int, int | None]]:
    """(elements per token position of the whole batch, window or None) of each tensor a
    decoder caches (``Tensor.kv_window``: the tokens per sequence a sliding window keeps)."""
    return [(int(t.numel) // int(graph.tokens) * batch, t.kv_window)
            for t in graph.tensors.values() if t.kv_cache]


def cache_bytes_of_tokens(graph: Any, act_bytes: int, batch: int, tokens: int,
                          context: int | None = None) -> int:
    """Bytes of the KV cache ``tokens`` decoded tokens add (batch included: ⌈tokens / batch⌉
    per sequence): each cached tensor's bytes per token, a sliding-window layer's for at most
    its window per sequence (a decoder then overwrites its oldest); a one-line error when the
    tokens per sequence exceed the longest ``context`` (None: not known)."""
    per_seq = -(-tokens // batch)
    if context and per_seq > context:
        raise ConfigError(f"decode_tokens={tokens:,} is {per_seq:,} tokens per sequence "
                          f"(batch {batch}), beyond the longest context {context:,} (its "
                          f"learned positions or max_seq_len)")
    elems = sum(per * (per_seq if w is None or per_seq <= w else w)
                for per, w in _kv_layout(graph, batch))
    return elems * act_bytes


def kept_tokens(lo: int, hi: int, window: int | None) -> int:
    """Σ_{L=lo}^{hi} min(L, window): cached tokens read over contexts lo … hi (exact)."""
    if hi < lo:
        return 0
    if window is None or window >= hi:
        return (lo + hi) * (hi - lo + 1) // 2
    if window < lo:
        return (hi - lo + 1) * window
    return (lo + window) * (window - lo + 1) // 2 + (hi - window) * window


def weights_read(graph: Any, act_bytes: int, batch: int) -> int:
    """Bytes of parameters one decode step reads (see the module docstring): every parameter
    in full (a bias or a norm's shift is read by the op it belongs to), except that a table
    only element-wise ops touch (an embedding lookup, a position table) is read at most for
    the elements they touch, and a routed expert's weight for its active part per token
    (``active`` × batch); a parameter shared under one key (a tied LM head) is read once, at
    the most any of its readers reads."""
    from .ops import Elementwise

    touched: dict[str, int] = {}
    for op in graph.ops:
        for name in op.inputs:
            root = graph.root(name)
            if graph.tensors[root].role == "param":
                n = int(op.numel) if isinstance(op, Elementwise) else None
                prev = touched.get(root, 0)
                touched[root] = None if n is None or prev is None else max(prev, n)
    read: dict[str, int] = {}
    for root, tensor in graph.tensors.items():
        if tensor.role != "param" or graph.root(root) != root:
            continue
        full = int(tensor.numel) if tensor.active is None else min(
            int(tensor.numel), int(tensor.active) * batch)
        part = touched.get(root)
        n = full if part is None else min(full, part)
        key = tensor.share_key or root
        read[key] = max(read.get(key, 0), n)
    return sum(read.values()) * act_bytes


# -- the report ---------------------------------------------------------------------------------


@dataclass
class TokenCost:
    """One generated token at context ``context`` (tokens per sequence, itself included),
    for the whole batch."""

    context: int
    flops_matmul: int
    flops_other: int
    weight_bytes_read: int
    kv_bytes_read: int
    kv_bytes_written: int
    latency_s: float | None = None
    tokens_per_s: float | None = None
    bound: str | None = None

    @property
    def flops(self) -> int:
        return self.flops_matmul + self.flops_other

    @property
    def bytes(self) -> int:
        return self.weight_bytes_read + self.kv_bytes_read + self.kv_bytes_written

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "flops": self.flops, "bytes": self.bytes}


@dataclass
class DecodeCosts:
    """Prefill of the prompt and decoding of ``n_tokens`` tokens, side by side."""

    variant: str
    title: str
    batch: int
    prompt_len: int
    n_tokens: int
    dtype: str
    prefill: dict[str, Any]
    first: TokenCost
    last: TokenCost
    total_flops_matmul: int
    total_flops_other: int
    total_bytes: int
    kv_cache_bytes: int
    kv_cache_bytes_per_token: int | None
    decode_state_bytes: int | None
    device: str | None = None
    total_time_s: float | None = None
    rules: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def tokens_per_s(self) -> float | None:
        """Mean generated tokens per second over the ``n_tokens`` steps (whole batch)."""
        if not self.total_time_s:
            return None
        return self.batch * self.n_tokens / self.total_time_s

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["first"], out["last"] = self.first.as_dict(), self.last.as_dict()
        out["total_flops"] = self.total_flops_matmul + self.total_flops_other
        out["tokens_per_s"] = self.tokens_per_s
        return out

    def side_by_side(self) -> list[dict[str, Any]]:
        """Rows ``metric``, ``prefill``, ``first token``, ``last token``, ``all tokens``
        (raw numbers; None where a figure does not apply) for a table."""
        p, f, l = self.prefill, self.first, self.last
        n = self.n_tokens
        return [
            {"metric": "tokens (whole batch)", "prefill": self.batch * self.prompt_len,
             "first token": self.batch, "last token": self.batch, "all tokens": self.batch * n},
            {"metric": "context per sequence", "prefill": self.prompt_len,
             "first token": f.context, "last token": l.context, "all tokens": l.context},
            {"metric": "FLOPs", "prefill": p["flops"], "first token": f.flops,
             "last token": l.flops,
             "all tokens": self.total_flops_matmul + self.total_flops_other},
            {"metric": "  matmul", "prefill": p["flops_matmul"], "first token": f.flops_matmul,
             "last token": l.flops_matmul, "all tokens": self.total_flops_matmul},
            {"metric": "bytes moved", "prefill": p["bytes"], "first token": f.bytes,
             "last token": l.bytes, "all tokens": self.total_bytes},
            {"metric": "  weights read", "prefill": None, "first token": f.weight_bytes_read,
             "last token": l.weight_bytes_read, "all tokens": f.weight_bytes_read * n},
            {"metric": "  KV read", "prefill": None, "first token": f.kv_bytes_read,
             "last token": l.kv_bytes_read, "all tokens": None},
            {"metric": "KV cache after", "prefill": p["kv_cache_bytes"], "first token": None,
             "last token": self.kv_cache_bytes, "all tokens": self.kv_cache_bytes},
            {"metric": "roofline time (s)", "prefill": p.get("latency_s"),
             "first token": f.latency_s, "last token": l.latency_s,
             "all tokens": self.total_time_s},
            {"metric": "tokens/s", "prefill": p.get("tokens_per_s"),
             "first token": f.tokens_per_s, "last token": l.tokens_per_s,
             "all tokens": self.tokens_per_s},
        ]


def _check_count(name: str, value: Any, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(f"{name} must be an integer ≥ {minimum}, got {value!r}")
    return value


def _roofline(tc: TokenCost, device: Any, dtype: str, batch: int) -> TokenCost:
    """``tc`` with its roofline time, bound and tokens/s on ``device``."""
    peak_mm, _ = device.peak(dtype, matmul=True)
    peak_v, _ = device.peak(dtype, matmul=False)
    compute = tc.flops_matmul / peak_mm + tc.flops_other / peak_v
    memory = tc.bytes / device.bandwidth
    tc.latency_s = max(compute, memory)
    tc.bound = "compute" if compute >= memory else "memory"
    tc.tokens_per_s = batch / tc.latency_s if tc.latency_s > 0 else None
    return tc


# -- the computation ----------------------------------------------------------------------------


class _Steps:
    """Per-token FLOPs and bytes of one decoder, graphs built once per length."""

    def __init__(self, t: _Target, hi: int) -> None:
        from .units import dtype_bytes

        self.t, self.skip, self._graphs = t, _skipper(t), {}
        last = self.graph(hi)
        if last.kv_cache_note:
            raise UnsupportedError(f"{t.variant}: {last.kv_cache_note}")
        self.ab = dtype_bytes(t.prec.dtype)
        self.layout = _kv_layout(last, t.batch)
        self.state = int(last.decode_state or 0) * t.batch  # kernel-linear: per sequence
        self.weights = weights_read(self.graph(1), self.ab, t.batch)
        self.written = (sum(per for per, _ in self.layout) + self.state) * self.ab

    def graph(self, ell: int) -> Any:
        if ell not in self._graphs:
            self._graphs[ell] = self.t.graph_at(ell)
        return self._graphs[ell]

    def useful(self, ell: int) -> tuple[int, int]:
        return useful_flops(self.graph(ell), self.skip) if ell >= 1 else (0, 0)

    def flops(self, ell: int) -> tuple[int, int]:
        """(matmul, other) FLOPs of the token at context ``ell``."""
        (a, b), (c, d), (e, f) = self.useful(ell), self.useful(ell - 1), _cores(self.t, ell)
        return a - c + e, b - d + f

    def kv_read(self, lo: int, hi: int) -> int:
        """Bytes of cache (and state) read over contexts lo … hi."""
        elems = sum(per * kept_tokens(lo, hi, w) for per, w in self.layout)
        return (elems + (hi - lo + 1) * self.state) * self.ab

    def token(self, ell: int) -> TokenCost:
        mm, other = self.flops(ell)
        return TokenCost(ell, mm, other, self.weights, self.kv_read(ell, ell), self.written)

    def totals(self, lo: int, hi: int) -> tuple[int, int, int]:
        """Exact (matmul FLOPs, other FLOPs, bytes) of the tokens at contexts lo … hi: the
        useful work telescopes; the rules' cores are affine in the context."""
        n = hi - lo + 1
        (a, b), (c, d) = self.useful(hi), self.useful(lo - 1)
        (e1, f1), (e2, f2) = _cores(self.t, lo), _cores(self.t, hi)
        mm = a - c + n * (e1 + e2) // 2
        other = b - d + n * (f1 + f2) // 2
        return mm, other, n * (self.weights + self.written) + self.kv_read(lo, hi)

    def total_time(self, first: TokenCost, last: TokenCost, device: Any, dtype: str) -> float:
        """Σ of per-token roofline times (FLOPs interpolated between first and last)."""
        import numpy as np

        ell = np.arange(first.context, last.context + 1, dtype=np.float64)
        frac = (ell - first.context) / max(last.context - first.context, 1)
        mm = first.flops_matmul + (last.flops_matmul - first.flops_matmul) * frac
        other = first.flops_other + (last.flops_other - first.flops_other) * frac
        kv = sum(per * np.minimum(ell, w if w is not None else np.inf) for per, w in self.layout)
        peak_mm, _ = device.peak(dtype, matmul=True)
        peak_v, _ = device.peak(dtype, matmul=False)
        memory = (self.weights + self.written + (kv + self.state) * self.ab) / device.bandwidth
        return float(np.maximum(mm / peak_mm + other / peak_v, memory).sum())


def _prefill(t: _Target, prompt: int) -> tuple[dict[str, Any], Any]:
    est = t.estimate_at(prompt)
    m = est.metrics
    state = (m.get("decode_state_bytes") or 0) * t.batch
    out = {"flops": m["flops_fwd"], "flops_matmul": m["flops_fwd_matmul"],
           "flops_useful": m["flops_fwd_useful"], "bytes": m["bytes_fwd"],
           "kv_cache_bytes": (m.get("kv_cache_bytes") or 0) + state,
           "latency_s": None, "bound": None, "tokens_per_s": None}
    if est.roofline is not None:
        out.update(latency_s=est.roofline.latency_s, bound=est.roofline.bound,
                   tokens_per_s=t.batch * prompt / est.roofline.latency_s
                   if est.roofline.latency_s > 0 else None)
    return out, est


def decode_costs(target: Any = "standard", n_tokens: int = 128, *,
                 config: AttentionConfig | None = None, layers: int = 1,
                 prompt_len: int | None = None, device: Any = None,
                 **fields: Any) -> DecodeCosts:
    """Prefill and per-token decoding costs (:class:`DecodeCosts`) of ``target`` — a variant
    name (``layers`` of it under ``config`` and ``fields``), a :class:`ModelConfig`, a preset
    name or ``"hf:PATH"`` (``fields`` override the model's) — generating ``n_tokens`` tokens
    after a prompt of ``prompt_len`` tokens (default: the configuration's ``seq_len``,
    shortened so that prompt and generated tokens fit the model's longest context) for
    each of ``batch`` sequences; roofline times on ``device`` (a name or a Device)."""
    from .api import resolve_device

    n = _check_count("n_tokens", n_tokens)
    dev = resolve_device(device)
    t = _target(target, config, layers, dev, fields)
    limit = min(t.max_context or MAX_CONTEXT, MAX_CONTEXT)
    p = t.prompt if prompt_len is None else _check_count("prompt_len", prompt_len)
    if prompt_len is None and p + n > limit and limit > n:
        p = limit - n  # the default prompt: the configuration's seq_len, shortened to fit
    hi = p + n
    if hi > limit:
        raise ConfigError(f"{t.title}: prompt_len + n_tokens = {p} + {n} = {hi} exceeds the longest "
                          f"context {limit:,} (its learned positions, max_seq_len or "
                          f"attncost's limit); generate fewer tokens or shorten the prompt")
    steps = _Steps(t, hi)
    prefill, est = _prefill(t, p)
    first, last = steps.token(p + 1), steps.token(hi)
    mm, other, nbytes = steps.totals(p + 1, hi)
    out = DecodeCosts(t.variant, t.title, t.batch, p, n, t.prec.dtype, prefill, first, last,
                      mm, other, nbytes, steps.kv_read(hi, hi),
                      est.metrics.get("kv_cache_bytes_per_token"),
                      est.metrics.get("decode_state_bytes"),
                      rules=[f"{v}: {DECODE_RULES[v].doc}" for v in
                             dict.fromkeys(v for _, v, _ in t.layers) if v in DECODE_RULES],
                      notes=list(t.notes))
    if dev is not None and dev.peak_flops and dev.bandwidth > 0:
        out.device = dev.name
        for tc in (first, last):
            _roofline(tc, dev, t.prec.dtype, t.batch)
        out.total_time_s = steps.total_time(first, last, dev, t.prec.dtype)
    return out
