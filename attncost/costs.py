"""Operations → metrics: exact integers, sympy formulas and vectorised numpy functions.

:func:`derive` walks a :class:`~attncost.ops.Graph` once and adds up, per operation, what the
operation itself knows (FLOPs, saved tensors, bytes). It is generic over the number type: the
same walk over a graph built from ints gives exact Python ints, over a graph built from sympy
symbols gives the formulas, which :func:`numeric_function` lambdifies for numpy sweeps.

Memory model (what a demanding user needs stated):

* ``weight_bytes``: parameters in the configured dtype; parameters sharing a ``share_key`` count
  once. ``grad_bytes``: one gradient per parameter, same dtype. ``optimizer_bytes``: states
  (Adam 2, SGD with momentum 1, SGD 0) plus an fp32 master copy under mixed precision; states
  are fp32 under mixed precision, else in the parameter dtype (as ``torch.optim`` keeps them).
* ``activation_bytes``: the distinct storages autograd saves for backward (views share their
  base's storage; parameters excluded; boolean masks 1 byte; log-sum-exp fp32).
* ``inference_peak_bytes``: weights + the largest set of live activations at any operation of a
  forward pass without autograd (each tensor lives from its producer to its last reader; the
  input, held by the caller, for the whole pass).
* ``train_peak_bytes``: weights + optimizer state + the largest of (forward: live tensors plus
  everything saved so far) and (backward: saved tensors still needed + live activation
  gradients + the parameter gradients made so far), walking the operations in reverse;
  gradients start as None (``zero_grad(set_to_none=True)``, PyTorch's default).
* ``kv_cache_bytes_per_token``: per token, the tensors a causal decoder keeps (marked
  ``kv_cache`` in the description); ``None`` where the variant cannot decode causally.
* ``bytes_fwd`` / ``bytes_bwd``: bytes each operation reads and writes (the roofline's memory
  traffic): forward, inputs + outputs (+ weights); backward, saved tensors + output gradient +
  input and weight gradients.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Callable, Iterable

from .config import DIM_FIELDS, OPTIMIZERS, AttentionConfig, Dims, Options
from .ops import FIXED_BYTES, FusedAttention, Graph, Size, consumers, needs_grad_map, producers
from .units import dtype_bytes

#: The metrics every estimate carries, in output order, with their units.
METRICS: dict[str, str] = {
    "params": "count",
    "params_weights": "count",
    "params_biases": "count",
    "flops_fwd": "FLOP",
    "flops_fwd_matmul": "FLOP",
    "flops_fwd_other": "FLOP",
    "flops_fwd_useful": "FLOP",
    "flops_bwd": "FLOP",
    "flops_bwd_matmul": "FLOP",
    "flops_bwd_other": "FLOP",
    "flops_bwd_recompute": "FLOP",
    "weight_bytes": "B",
    "grad_bytes": "B",
    "optimizer_bytes": "B",
    "activation_bytes": "B",
    "inference_peak_bytes": "B",
    "train_peak_bytes": "B",
    "kv_cache_bytes_per_token": "B",
    "decode_state_bytes": "B",
    "bytes_fwd": "B",
    "bytes_bwd": "B",
}
#: Metrics that are a maximum over candidate expressions (peaks).
PEAK_METRICS = ("inference_peak_bytes", "train_peak_bytes")


@dataclass(frozen=True)
class Peak:
    """A maximum over candidate expressions (kept apart so numpy can take it elementwise)."""

    base: Size
    candidates: tuple


@dataclass(frozen=True)
class Precision:
    """How many bytes things take: activations/weights dtype, optimizer, master weights."""

    dtype: str = "fp32"
    optimizer: str = "adam"
    master_weights: bool = False
    input_requires_grad: bool = True

    @classmethod
    def of(cls, cfg: AttentionConfig) -> "Precision":
        return cls(cfg.dtype, cfg.optimizer, cfg.resolved_master_weights, cfg.input_requires_grad)


@dataclass
class OpCost:
    """One operation's share of the totals (the per-op breakdown)."""

    name: str
    kind: str
    flops_fwd_matmul: Size
    flops_fwd_other: Size
    flops_bwd_matmul: Size
    flops_bwd_other: Size
    flops_bwd_recompute: Size
    bytes_fwd: Size
    bytes_bwd: Size


@dataclass
class Derived:
    """Everything :func:`derive` computes from a graph."""

    metrics: dict[str, Any]
    ops: list[OpCost] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    kv_cache_note: str | None = None


def _is_symbolic(x: Any) -> bool:
    return hasattr(x, "free_symbols")


def total(items: Iterable[Size]) -> Size:
    """Sum that stays an exact int for ints and builds one flat sympy Add for expressions."""
    items = list(items)
    if any(_is_symbolic(i) for i in items):
        import sympy

        return sympy.Add(*items)
    return sum(items)


def derive(graph: Graph, prec: Precision) -> Derived:
    """Every metric of :data:`METRICS` for ``graph`` (ints or sympy, as the graph is built)."""
    act_b = dtype_bytes(prec.dtype)
    sizes = {"act": act_b, "param": act_b, **FIXED_BYTES}
    tensors = graph.tensors
    # exact ints: the plain sum is much faster than the generic one
    symbolic = any(_is_symbolic(t.numel) for t in tensors.values())
    add_all = total if symbolic else sum

    def nbytes(name: str) -> Size:
        t = tensors[name]
        return t.numel * sizes[t.storage]

    need = needs_grad_map(graph, prec.input_requires_grad)
    root = {n: graph.root(n) for n in tensors}

    # -- parameters (shared ones once) -------------------------------------------------
    seen_share: set[str] = set()
    weights, biases = [], []
    for t in tensors.values():
        if t.role != "param":
            continue
        if t.share_key:
            if t.share_key in seen_share:
                continue
            seen_share.add(t.share_key)
        (biases if t.param_kind == "bias" else weights).append(t.numel)
    params_w, params_b = add_all(weights), add_all(biases)
    params = params_w + params_b
    n_states = OPTIMIZERS[prec.optimizer]
    master = prec.master_weights and act_b < 4
    state_b = 4 if master else act_b

    # -- per-op FLOPs and bytes ----------------------------------------------------------
    op_costs: list[OpCost] = []
    saved_by: list[list[str]] = []
    for op in graph.ops:
        saved = [root[s] for s in op.saved(need)]
        saved = [s for s in dict.fromkeys(saved) if tensors[s].role != "param"]
        saved_by.append(saved)
        reads = add_all(nbytes(t) for t in op.inputs)
        writes = add_all(nbytes(t) for t in op.outputs)
        grad_out = add_all(nbytes(t) for t in op.outputs if need.get(t) and tensors[t].storage == "act")
        grad_in = add_all(nbytes(t) for t in op.inputs if need.get(t))
        bwd_reads = add_all(nbytes(t) for t in op.saved(need)) + grad_out
        has_bwd = any(need.get(t) for t in op.inputs)
        kind = ("fused-attention" if isinstance(op, FusedAttention)
                else "matmul" if op.is_matmul else "elementwise")
        if not op.is_matmul and op.flops_fwd_other() == 0 and op.inputs:
            kind = "copy"
        op_costs.append(OpCost(
            op.name, kind, 2 * op.macs(), op.flops_fwd_other(),
            op.flops_bwd_matmul(need), op.flops_bwd_other(need), op.flops_bwd_recompute(),
            reads + writes, (bwd_reads + grad_in) if has_bwd else 0))

    m: dict[str, Any] = {
        "params": params, "params_weights": params_w, "params_biases": params_b,
        "flops_fwd_matmul": add_all(c.flops_fwd_matmul for c in op_costs),
        "flops_fwd_other": add_all(c.flops_fwd_other for c in op_costs),
        "flops_bwd_matmul": add_all(c.flops_bwd_matmul for c in op_costs),
        "flops_bwd_other": add_all(c.flops_bwd_other for c in op_costs),
        "flops_bwd_recompute": add_all(c.flops_bwd_recompute for c in op_costs),
        "flops_fwd_useful": add_all(op.flops_fwd_useful_matmul() + op.flops_fwd_useful_other()
                                  for op in graph.ops),
        "weight_bytes": params * act_b,
        "grad_bytes": params * act_b,
        "optimizer_bytes": params * (n_states * state_b + (4 if master else 0)),
        "bytes_fwd": add_all(c.bytes_fwd for c in op_costs),
        "bytes_bwd": add_all(c.bytes_bwd for c in op_costs),
    }
    m["flops_fwd"] = m["flops_fwd_matmul"] + m["flops_fwd_other"]
    m["flops_bwd"] = m["flops_bwd_matmul"] + m["flops_bwd_other"] + m["flops_bwd_recompute"]
    all_saved = list(dict.fromkeys(s for saved in saved_by for s in saved))
    m["activation_bytes"] = add_all(nbytes(s) for s in all_saved)

    # -- liveness: inference and training peaks ----------------------------------------------
    n_ops = len(graph.ops)
    prod = producers(graph)
    cons = consumers(graph)
    roots = [n for n, t in tensors.items() if t.alias_of is None and t.role != "param"]
    last_read = {r: max(cons[r], default=prod[r]) for r in roots}  # by the ops themselves
    # where a tensor's gradient is first allocated: its last reader whose backward makes a
    # real buffer (a sum's backward only expands a view)
    grad_from = {r: max((i for i in cons[r] if not getattr(graph.ops[i], "grad_is_view", False)),
                        default=last_read[r]) for r in roots}
    last_use = dict(last_read)  # ... or by references the code holds
    op_index = {op.name: i for i, op in enumerate(graph.ops)}
    for t, op_name in graph.holds:
        r = graph.root(t)
        if r in last_use:
            last_use[r] = max(last_use[r], op_index[op_name])
    out_name = graph.output
    if out_name in last_use:
        last_use[out_name] = n_ops
    inputs = [r for r in roots if tensors[r].role == "input"]
    for r in inputs:  # the caller holds its input for the whole step
        last_use[r] = n_ops
    start_at: dict[int, list[str]] = {}
    end_at: dict[int, list[str]] = {}
    for r in roots:
        start_at.setdefault(max(prod[r], 0), []).append(r)
        end_at.setdefault(last_use[r], []).append(r)
    saved_set = set(all_saved)
    release = {}  # saved root -> first (lowest-index) op saving it: freed after its backward
    for i, saved in enumerate(saved_by):
        for s in saved:
            release.setdefault(s, i)

    inf_cands, fwd_cands = [], []
    live: list[Size] = []
    live_train: list[Size] = []
    for i in range(n_ops):
        live.extend(nbytes(r) for r in start_at.get(i, []))
        live_train.extend(nbytes(r) for r in start_at.get(i, []))
        inf_cands.append(add_all(live))
        fwd_cands.append(add_all(live_train))
        for r in end_at.get(i, []):
            live.remove(nbytes(r))
            if r not in saved_set:
                live_train.remove(nbytes(r))

    grad_roots = [r for r in roots if need.get(r) and tensors[r].storage == "act"
                  and (cons[r] or r == out_name)]
    gstart = {r: (n_ops if r == out_name else grad_from[r]) for r in grad_roots}
    # a parameter's gradient appears at the backward of its last reader and stays (until the
    # optimizer step); shared parameters (one share_key) have one gradient
    pgrad_start: dict[str, tuple[int, Size]] = {}
    for n, t in tensors.items():
        if t.role != "param":
            continue
        readers = [i for i, op in enumerate(graph.ops)
                   if any(graph.root(x) == n for x in op.inputs)]
        key = t.share_key or n
        start = max(readers, default=n_ops)
        if key not in pgrad_start or start > pgrad_start[key][0]:
            pgrad_start[key] = (start, t.numel * act_b)
    bwd_cands = []
    held = add_all(nbytes(r) for r in inputs if r not in saved_set)
    saved_live = [nbytes(s) for s in all_saved]
    grads_live: list[Size] = []
    for r in grad_roots:
        if gstart[r] >= n_ops:
            grads_live.append(nbytes(r))
    for _, (start, nb) in pgrad_start.items():
        if start >= n_ops:
            grads_live.append(nb)
    for i in reversed(range(n_ops)):
        for r in grad_roots:
            if gstart[r] == i:
                grads_live.append(nbytes(r))
        for _, (start, nb) in pgrad_start.items():
            if start == i:
                grads_live.append(nb)
        # the op's backward returns one gradient per input position: a second position of the
        # same storage, or a storage whose gradient already exists (read by a later op too),
        # gets a buffer of its own before autograd adds them up
        transient, seen = [], set()
        for t in graph.ops[i].inputs:
            r = root[t]
            if not need.get(t) or tensors[r].role == "param" or tensors[r].storage != "act":
                continue
            if r in seen or gstart.get(r, -1) > i:
                transient.append(nbytes(t))
            seen.add(r)
        workspace = getattr(graph.ops[i], "bwd_workspace", 0)
        if workspace and any(need.get(t) for t in graph.ops[i].inputs):
            transient.append(workspace * graph.ops[i].numel * act_b)
        bwd_cands.append(held + add_all(saved_live) + add_all(grads_live) + add_all(transient))
        for r in grad_roots:
            if prod[r] == i and prod[r] >= 0:
                grads_live.remove(nbytes(r))
        for s, rel in release.items():
            if rel == i:
                saved_live.remove(nbytes(s))

    m["inference_peak_bytes"] = Peak(m["weight_bytes"], tuple(_dedupe(inf_cands)))
    m["train_peak_bytes"] = Peak(m["weight_bytes"] + m["optimizer_bytes"],
                                 tuple(_dedupe(fwd_cands + bwd_cands)))

    # -- decoding state ----------------------------------------------------------------------
    if graph.kv_cache_note:
        m["kv_cache_bytes_per_token"] = None
    else:
        per_token = [tensors[n].numel for n in tensors if tensors[n].kv_cache]
        m["kv_cache_bytes_per_token"] = _per_token(add_all(per_token), graph.tokens) * act_b
    m["decode_state_bytes"] = (None if graph.decode_state is None
                               else graph.decode_state * act_b)
    return Derived(m, op_costs, list(graph.notes), graph.kv_cache_note)


def _per_token(numel: Size, tokens: Size) -> Size:
    if _is_symbolic(numel) or _is_symbolic(tokens):
        import sympy

        return sympy.cancel(numel / tokens)
    q, r = divmod(numel, tokens)
    assert r == 0, "a KV-cache tensor must be a whole number of elements per token"
    return q


def _dedupe(items: list) -> list:
    """Distinct values in order (ints and sympy expressions both hash by value)."""
    return list(dict.fromkeys(items))


def resolve_peak(value: Any) -> Any:
    """A :class:`Peak` as one number (ints) or one sympy ``Max`` (expressions)."""
    if not isinstance(value, Peak):
        return value
    if any(_is_symbolic(c) for c in value.candidates) or _is_symbolic(value.base):
        import sympy

        return value.base + sympy.Max(*prune_dominated(value.candidates))
    return value.base + max(value.candidates, default=0)


# -- building graphs -------------------------------------------------------------------------


def stack(builder: Callable[[Dims, Options], Graph], d: Dims, o: Options, layers: int) -> Graph:
    """``layers`` attention layers in a chain (each layer's output feeds the next)."""
    if layers == 1:
        return builder(d, o)
    top = Graph(tokens=d.tokens)
    top.tensor("x", d.tokens * d.d_model, role="input")
    prev = "x"
    decode = []
    for i in range(layers):
        g = builder(d, o)
        out = "out" if i == layers - 1 else f"l{i}.out"
        top.tensor(out, d.tokens * d.d_model)
        top.extend(g, f"l{i}.", {"x": prev, "out": out})
        prev = out
        if g.decode_state is not None:
            decode.append(g.decode_state)
        top.kv_cache_note = top.kv_cache_note or g.kv_cache_note
        for note in g.notes:
            if note not in top.notes:
                top.notes.append(note)
    top.decode_state = total(decode) if decode else None
    return top


def layer_graph(variant: str, cfg: AttentionConfig, layers: int = 1, symbolic: bool = False) -> Graph:
    """The graph of ``layers`` layers of ``variant`` under ``cfg`` (ints, or sympy symbols)."""
    from . import variants
    from .config import symbolic_dims

    if isinstance(layers, bool) or not isinstance(layers, int) or layers <= 0:
        from .errors import ConfigError

        raise ConfigError(f"layers must be a positive integer, got {layers!r}")
    v = variants.get(variant)
    d = symbolic_dims() if symbolic else cfg.dims()
    o = cfg.options()
    if not v.impl_matters:
        o = Options(o.bias, o.causal, "materialised", o.sharing, o.dropout)
    v.build(d, o)  # validates (causal support, slicing) even when stacking
    return stack(v.build, d, o, layers)


# -- symbolic formulas and lambdified numpy functions -----------------------------------


@lru_cache(maxsize=256)
def formulas(variant: str, options: Options, prec: Precision, layers: int = 1) -> dict[str, Any]:
    """sympy expressions of every metric (peaks as ``Max``) for one variant and options."""
    cfg = AttentionConfig(bias=options.bias, causal=options.causal, impl=options.impl,
                          sharing=options.sharing, dropout=options.dropout, dtype=prec.dtype,
                          optimizer=prec.optimizer, master_weights=prec.master_weights,
                          input_requires_grad=prec.input_requires_grad)
    derived = derive(layer_graph(variant, cfg, layers, symbolic=True), prec)
    return derived.metrics


def symbols() -> list:
    """The dimension symbols, in :data:`~attncost.config.DIM_FIELDS` order."""
    from .config import symbolic_dims

    d = symbolic_dims()
    return [getattr(d, f) for f in DIM_FIELDS]


@lru_cache(maxsize=1024)
def numeric_function(variant: str, options: Options, prec: Precision, layers: int,
                     metrics: tuple[str, ...]) -> "IntFunction":
    """One vectorised function computing ``metrics`` together (shared subexpressions).

    Lambdified once per (variant, options, precision, layers, metrics) and cached; see
    :class:`IntFunction` for how it stays exact. Undefined metrics come back as None."""
    exprs = formulas(variant, options, prec, layers)
    segments: list[tuple[list[Any], list[Any]] | None] = []
    for metric in metrics:
        expr = exprs[metric]
        if expr is None:
            segments.append(None)
        elif isinstance(expr, Peak):
            segments.append(([expr.base], prune_dominated(expr.candidates)))
        else:
            segments.append(([expr], []))
    return IntFunction(segments, symbols())


def prune_dominated(candidates: Iterable[Any]) -> list[Any]:
    """Drop peak candidates that another candidate bounds from above for every positive
    value of the dimensions (their difference has no negative coefficient)."""
    import sympy

    cands = [sympy.sympify(c) for c in candidates]
    gens = sorted(set().union(*(c.free_symbols for c in cands)), key=str) or [sympy.Symbol("_")]
    polys = [sympy.Poly(c, *gens) for c in cands]
    keep = []
    for i, p in enumerate(polys):
        dominated = False
        for j, other in enumerate(polys):
            if i == j:
                continue
            diff = other - p
            if diff.is_zero:
                dominated = j < i  # identical: keep the first
            else:
                dominated = all(co >= 0 for co in diff.coeffs())
            if dominated:
                break
        if not dominated:
            keep.append(cands[i])
    return keep


class IntFunction:
    """Exact vectorised evaluation of integer-valued polynomial metrics.

    Each segment is (terms summed, candidates of which the elementwise maximum is added), or
    None for an undefined metric. Every expression is split into an integer-coefficient
    numerator and an integer denominator (the causal ℓ(ℓ+1)/2 is the only source of one); all
    numerators are lambdified into one numpy function with common subexpressions shared and
    evaluated in int64 — unless an upper bound computed exactly in Python ints (|coefficients|
    at the largest inputs) reaches 2^62, in which case the arrays are evaluated as Python ints
    (object dtype): slower, never wrong. Large sweeps are evaluated in blocks of
    :attr:`BLOCK` elements, which keeps the temporaries in cache (about twice as fast).
    """

    def __init__(self, segments: list[tuple[list[Any], list[Any]] | None], syms: list[Any]):
        import sympy

        self._layout: list[tuple[list[int], list[int]] | None] = []
        nums: list[Any] = []
        bounds: list[Any] = []
        self._dens: list[int] = []
        for seg in segments:
            if seg is None:
                self._layout.append(None)
                continue
            idx: tuple[list[int], list[int]] = ([], [])
            for slot, exprs in zip(idx, seg):
                for e in exprs:
                    poly = sympy.Poly(sympy.sympify(e), *syms, domain="QQ")
                    den, poly = poly.clear_denoms(convert=True)  # integer coefficients
                    slot.append(len(nums))
                    nums.append(poly.as_expr())
                    bounds.append(sum((abs(c) * sympy.Mul(*(s**k for s, k in zip(syms, m)))
                                       for m, c in poly.terms()), sympy.Integer(0)))
                    self._dens.append(int(den))
            self._layout.append(idx)
        self._fn = sympy.lambdify(syms, nums, modules="numpy", cse=True)
        self._bound = sympy.lambdify(syms, bounds, modules="math")

    def __call__(self, **dims: Any) -> Any:
        return self.evaluate(prepare(dims))[0]

    #: Elements evaluated at a time: the temporaries of a block stay in cache and are reused
    #: by the allocator, instead of fresh 8-byte-per-element arrays for every operation.
    BLOCK = 1 << 15

    def evaluate(self, prepared: "Prepared") -> list[Any]:
        """One array per segment (None for undefined ones), on arrays made by :func:`prepare`."""
        import numpy as np

        big = max(self._bound(*prepared.top), default=0) >= 2**62 or prepared.is_object
        size = int(np.prod(prepared.shape)) if prepared.shape else 1
        if big or size <= self.BLOCK:
            args = prepared.as_object() if big else prepared.int64
            return [None if v is None else np.broadcast_to(v, prepared.shape)
                    for v in self._evaluate(args, big)]
        flat = [np.broadcast_to(a, prepared.shape).reshape(-1) for a in prepared.int64]
        outs = [None if seg is None else np.empty(size, dtype=np.int64) for seg in self._layout]
        for start in range(0, size, self.BLOCK):
            block = [a[start:start + self.BLOCK] for a in flat]
            for out, v in zip(outs, self._evaluate(block, False)):
                if out is not None:
                    out[start:start + self.BLOCK] = v
        return [None if o is None else o.reshape(prepared.shape) for o in outs]

    def _evaluate(self, args: list[Any], big: bool) -> list[Any]:
        import numpy as np

        values = self._fn(*args)
        dtype = object if big else np.int64

        def term(i: int) -> Any:
            v = np.asarray(values[i], dtype=dtype)
            return v // self._dens[i] if self._dens[i] != 1 else v

        out: list[Any] = []
        for seg in self._layout:
            if seg is None:
                out.append(None)
                continue
            summed, maxed = seg
            total_ = term(summed[0])
            for i in summed[1:]:
                total_ = total_ + term(i)
            if maxed:
                best = term(maxed[0])
                for i in maxed[1:]:
                    best = np.maximum(best, term(i))
                total_ = total_ + best
            out.append(total_)
        return out


@dataclass
class Prepared:
    """Dimension arrays converted once: int64 arrays, their maxima, the broadcast shape."""

    int64: list[Any]
    top: list[int]
    shape: tuple[int, ...]
    is_object: bool = False

    def as_object(self) -> list[Any]:
        return [a.astype(object) for a in self.int64]


def prepare(dims: dict[str, Any]) -> Prepared:
    """Convert keyword dimension arrays (:data:`~attncost.config.DIM_FIELDS`) for evaluation."""
    import numpy as np

    args = [np.asarray(dims[name]) for name in DIM_FIELDS]
    for name, a in zip(DIM_FIELDS, args):
        if a.dtype.kind not in "iu" and not (a.dtype == object):
            raise TypeError(f"dimension {name} must be an integer array, got dtype {a.dtype}")
    shape = np.broadcast_shapes(*(a.shape for a in args))
    top = [int(a.max()) if a.size else 0 for a in args]
    if any(t >= 2**62 for t in top):
        return Prepared([a.astype(object) for a in args], top, shape, True)
    return Prepared([a.astype(np.int64, copy=False) for a in args], top, shape)
