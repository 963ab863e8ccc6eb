"""Graph → every metric: :func:`derive` reads the graph's facts once and evaluates each
metric of :data:`attncost.metrics.METRICS` on them.

Memory model (what a demanding user needs stated):

* ``weight_bytes``: parameters in the configured dtype; parameters sharing a ``share_key`` count
  once. ``grad_bytes``: one gradient per parameter, same dtype. ``optimizer_bytes``: states
  (Adam 2, SGD with momentum 1, SGD 0) plus an fp32 master copy under mixed precision; states
  are fp32 under mixed precision, else in the parameter dtype (as ``torch.optim`` keeps them).
* ``activation_bytes``: the distinct storages autograd saves for backward (views share their
  base's storage; parameters excluded; boolean masks 1 byte; log-sum-exp fp32).
* ``inference_peak_bytes``: weights + the largest set of live activations at any operation of a
  forward pass without autograd (:mod:`attncost.costs.liveness`).
* ``train_peak_bytes``: weights + optimizer state + the largest of (forward: live tensors plus
  everything saved so far) and (backward: saved tensors still needed + live activation
  gradients + the parameter gradients made so far).
* ``kv_cache_bytes_per_token``: per token, the tensors a causal decoder keeps (marked
  ``kv_cache`` in the description); ``None`` where the variant cannot decode causally.
* ``bytes_fwd`` / ``bytes_bwd``: bytes each operation reads and writes (the roofline's memory
  traffic).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..ops import Graph
from ..sizes import Size, is_symbolic
from .walk import GraphFacts, OpCost, Precision


@dataclass(frozen=True)
class Peak:
    """A maximum over candidate expressions (kept apart so numpy can take it elementwise)."""

    base: Size
    candidates: tuple


@dataclass
class Derived:
    """Everything :func:`derive` computes from a graph."""

    metrics: dict[str, Any]
    ops: list[OpCost] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    kv_cache_note: str | None = None


def derive(graph: Graph, prec: Precision) -> Derived:
    """Every metric of :data:`~attncost.metrics.METRICS` for ``graph`` (ints or sympy, as the
    graph is built)."""
    from ..metrics import METRICS

    facts = GraphFacts(graph, prec)
    metrics = {name: facts.metric(name) for name in METRICS}
    return Derived(metrics, facts.op_costs, list(graph.notes), graph.kv_cache_note)


def resolve_peak(value: Any) -> Any:
    """A :class:`Peak` as one number (ints) or one sympy ``Max`` (expressions)."""
    if not isinstance(value, Peak):
        return value
    if any(is_symbolic(c) for c in value.candidates) or is_symbolic(value.base):
        import sympy

        from .formulas import prune_dominated

        return value.base + sympy.Max(*prune_dominated(value.candidates))
    return value.base + max(value.candidates, default=0)


def per_token(numel: Size, tokens: Size) -> Size:
    """Elements per token of a tensor that grows with the tokens (exact)."""
    if is_symbolic(numel) or is_symbolic(tokens):
        import sympy

        return sympy.cancel(numel / tokens)
    q, r = divmod(numel, tokens)
    assert r == 0, "a KV-cache tensor must be a whole number of elements per token"
    return q
