"""Closed forms: sympy formulas of every metric and exact vectorised numpy functions of them.

:func:`formulas` derives a variant's metrics from its graph built on sympy symbols (the same
walk that gives exact integers); :func:`numeric_function` lambdifies them into an
:class:`IntFunction` that evaluates whole grids of configurations exactly (int64, or Python
ints where int64 could overflow).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import Any, Iterable

from ..config import DIM_FIELDS, AttentionConfig, Options, symbolic_dims
from .derive import Peak, derive
from .walk import Precision


def formulas(variant: str, options: Options, prec: Precision, layers: int = 1) -> dict[str, Any]:
    """sympy expressions of every metric (peaks as ``Max``) for one variant and options.

    Cached per registered variant record: re-registering a variant (``replace=True``) makes
    a new record, so its formulas are derived afresh."""
    from .. import variants
    from ..metrics import generation

    return _formulas(variants.get(variant), options, prec, layers, generation())


@lru_cache(maxsize=256)
def _formulas(variant: Any, options: Options, prec: Precision, layers: int,
              metrics_generation: int) -> dict[str, Any]:
    from ..graphs import layer_graph

    cfg = AttentionConfig(**asdict(options), dtype=prec.dtype, optimizer=prec.optimizer,
                          master_weights=prec.master_weights,
                          input_requires_grad=prec.input_requires_grad)
    return derive(layer_graph(variant.name, cfg, layers, symbolic=True), prec).metrics


def symbols() -> list:
    """The dimension symbols, in :data:`~attncost.config.DIM_FIELDS` order."""
    d = symbolic_dims()
    return [getattr(d, f) for f in DIM_FIELDS]


def numeric_function(variant: str, options: Options, prec: Precision, layers: int,
                     metrics: tuple[str, ...]) -> "IntFunction":
    """One vectorised function computing ``metrics`` together (shared subexpressions).

    Lambdified once per (variant record, options, precision, layers, metrics) and cached;
    see :class:`IntFunction` for how it stays exact. Undefined metrics come back as None."""
    from .. import variants
    from ..metrics import generation

    return _numeric_function(variants.get(variant), options, prec, layers, metrics,
                             generation())


@lru_cache(maxsize=1024)
def _numeric_function(variant: Any, options: Options, prec: Precision, layers: int,
                      metrics: tuple[str, ...], metrics_generation: int) -> "IntFunction":
    exprs = _formulas(variant, options, prec, layers, metrics_generation)
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
    value of the dimensions (their difference has no negative coefficient); of identical
    ones the first is kept.

    Each candidate becomes a row of exact integer coefficients over the monomials they use
    (scaled by the common denominator), and dominance is one vectorised comparison per row:
    linear in the candidates per row instead of a sympy subtraction per pair (a 64-layer
    stack has hundreds of candidates)."""
    import math

    import numpy as np
    import sympy

    cands = [sympy.sympify(c) for c in candidates]
    gens = sorted(set().union(*(c.free_symbols for c in cands)), key=str) or [sympy.Symbol("_")]
    terms = [sympy.Poly(c, *gens).as_dict() for c in cands]
    monomials = sorted(set().union(*terms))
    column = {m: k for k, m in enumerate(monomials)}
    scale = math.lcm(*(int(sympy.fraction(v)[1]) for t in terms for v in t.values()))
    rows = [[0] * len(monomials) for _ in terms]
    for row, t in zip(rows, terms):
        for m, v in t.items():
            row[column[m]] = int(v * scale)
    big = max((abs(v) for row in rows for v in row), default=0) >= 2**62
    coef = np.array(rows, dtype=object if big else np.int64).reshape(len(rows), -1)
    keep = []
    for i in range(len(cands)):
        diff = coef - coef[i]
        bounds = (diff >= 0).all(axis=1)  # candidate j ≥ candidate i everywhere
        same = (diff == 0).all(axis=1)
        bounds[i] = False
        dominated = (bounds & ~same).any() or same[:i].any()
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
