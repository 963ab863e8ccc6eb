"""Costs of candidate architectures, exact from the cost model, and the sampler's view of them.

A candidate is a tuple of variant names, one per layer, of a homogeneous stack. Its costs
come from :func:`attncost.api.estimate_model` on the whole model (embeddings, FFNs, heads
included); :func:`layer_space` turns them into the per-variant layer costs the sampler
plans with, and checks on the way that they really are additive.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from itertools import combinations_with_replacement
from typing import Any, Callable, Sequence

import numpy as np

from ..api import estimate_model
from ..config import ModelConfig
from ..errors import AttncostError

#: What each cost metric means, with its unit.
COST_LABELS = {"params": "parameters", "flops": "FLOPs per step",
               "memory": "peak memory (bytes)", "latency": "roofline latency (s)"}


@dataclass
class LayerSpace:
    """Per-layer variant choices with a cost for every count vector.

    ``cost_per_variant[v]`` is what one layer of ``variants[v]`` adds to ``base_cost``;
    ``budget_ok(arch)`` is the exact budget check of one arrangement (may be non-additive,
    e.g. peak memory)."""

    choices: tuple[tuple[str, ...], ...]
    base_cost: float
    cost_per_variant: dict[str, float]
    budget_ok: Callable[[tuple[str, ...]], bool] = lambda arch: True
    additive_usage: dict[str, float] | None = None  # per-layer budget usage, if additive
    usage_limit: float | None = None
    #: the exact cost of an arrangement where it is not additive over layers (peak memory);
    #: searchers that plan with count vectors need the additive form
    exact_cost: Callable[[tuple[str, ...]], float] | None = None

    @property
    def additive(self) -> bool:
        return self.exact_cost is None

    @cached_property
    def variants(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(v for layer in self.choices for v in layer))

    @property
    def layers(self) -> int:
        return len(self.choices)

    def cost(self, arch: Sequence[str]) -> float:
        if self.exact_cost is not None:
            return self.exact_cost(tuple(arch))
        return self.base_cost + sum(self.cost_per_variant[v] for v in arch)

    @cached_property
    def counts(self) -> list[np.ndarray]:
        """counts[i]: every count vector of i layers (rows), i = 0 … layers."""
        V = len(self.variants)
        out = []
        for i in range(self.layers + 1):
            rows = [np.bincount(np.array(c, dtype=int), minlength=V)
                    for c in combinations_with_replacement(range(V), i)]
            out.append(np.array(rows, dtype=np.int64).reshape(-1, V))
        return out

    @cached_property
    def row_index(self) -> list[dict[tuple[int, ...], int]]:
        """row_index[i][count vector] → its row in counts[i]."""
        return [{tuple(row): j for j, row in enumerate(rows)} for rows in self.counts]

    @cached_property
    def transitions(self) -> list[np.ndarray]:
        """transitions[i][c, v]: the index in counts[i+1] of counts[i][c] plus one layer v."""
        unit = np.eye(len(self.variants), dtype=np.int64)
        return [np.array([[self.row_index[i + 1][tuple(row + unit[v])]
                           for v in range(len(self.variants))] for row in self.counts[i]])
                for i in range(self.layers)]

    @cached_property
    def final_costs(self) -> np.ndarray:
        c = np.array([self.cost_per_variant[v] for v in self.variants])
        return self.base_cost + self.counts[self.layers] @ c

    @cached_property
    def final_usage_ok(self) -> np.ndarray:
        if self.additive_usage is None or self.usage_limit is None:
            return np.ones(len(self.counts[self.layers]), dtype=bool)
        u = np.array([self.additive_usage[v] for v in self.variants])
        return self.counts[self.layers] @ u <= self.usage_limit

    @cached_property
    def allowed(self) -> np.ndarray:
        return np.array([[v in layer for v in self.variants] for layer in self.choices])


@dataclass(frozen=True)
class CandidateCost:
    """The analytic costs of one candidate, and whether it fits the budget (and why not)."""

    params: int
    flops: int
    memory: int
    latency_s: float | None
    violations: dict[str, float]  # relative excess over each budget (≤ 0: within)
    reason: str

    @property
    def fits(self) -> bool:
        return all(v <= 0 for v in self.violations.values())

    def value(self, metric: str) -> float:
        if metric == "latency":
            if self.latency_s is None:
                raise AttncostError("latency needs a device with peak FLOP/s and bandwidth")
            return self.latency_s
        return float(getattr(self, metric))

    def as_dict(self) -> dict[str, Any]:
        return {"params": self.params, "flops": self.flops, "memory_bytes": self.memory,
                "latency_s": self.latency_s, "violations": dict(self.violations),
                "fits": self.fits, "reason": self.reason}


def candidate_cost(model: ModelConfig, *, device: str | None, mode: str, headroom: float,
                   memory_budget: int | None, latency_budget_s: float | None,
                   latency_of: Callable[[ModelConfig], float] | None = None) -> CandidateCost:
    """Costs of one model and its budget check: memory against the smaller of the device's
    budget (capacity less headroom) and ``memory_budget``; latency against
    ``latency_budget_s``. FLOPs are forward + backward in train mode, forward in infer.
    Latency: ``latency_of(model)`` where given (a profile's prediction, a measurement), else
    the device's roofline."""
    est = estimate_model(model, device=device, mode=mode, headroom=headroom)
    m = est.metrics
    memory = int(m["train_peak_bytes"] if mode == "train" else m["inference_peak_bytes"])
    flops = int(m["flops_fwd"] + (m["flops_bwd"] if mode == "train" else 0))
    latency = latency_of(model) if latency_of is not None else (
        est.roofline.latency_s if est.roofline else None)
    violations: dict[str, float] = {}
    reasons = []
    limits = [b for b in (memory_budget, est.fit.budget_bytes if est.fit else None) if b]
    if limits:
        limit = min(limits)
        violations["memory"] = (memory - limit) / limit
        if memory > limit:
            reasons.append(f"memory {memory:,} B > budget {limit:,} B")
    if latency_budget_s is not None and latency is not None:
        violations["latency"] = (latency - latency_budget_s) / latency_budget_s
        if latency > latency_budget_s:
            reasons.append(f"latency {latency * 1e3:.3g} ms > budget "
                           f"{latency_budget_s * 1e3:.3g} ms")
    return CandidateCost(int(m["params"]), flops, memory, latency, violations,
                         "; ".join(reasons) or "within budget")


def layer_space(choices: tuple[tuple[str, ...], ...], metric: str,
                cost_of: Callable[[tuple[str, ...]], CandidateCost],
                check_additive: bool = True, need_additive: bool = True) -> LayerSpace:
    """The search's :class:`LayerSpace`: per-variant layer costs measured as the difference
    between a 2-layer and a 1-layer stack of that variant, scaled to ``len(choices)`` layers.

    With ``check_additive`` the whole-model cost of a mixed arrangement is compared with the
    additive prediction; a mismatch (more than 1e-9 relative) raises when ``need_additive``
    (a searcher that plans with count vectors would be wrong), and otherwise makes the space
    use the exact whole-model cost of each arrangement."""
    layers = len(choices)
    variants = tuple(dict.fromkeys(v for layer in choices for v in layer))
    per: dict[str, float] = {}
    base: float | None = None
    for v in variants:
        one = cost_of((v,)).value(metric)
        two = cost_of((v, v)).value(metric)
        per[v] = two - one
        base = one - per[v] if base is None else base
    assert base is not None
    space = LayerSpace(choices, base, per, budget_ok=lambda arch: cost_of(arch).fits)
    if check_additive and layers > 1:
        mixed = tuple(choices[i][(i * 7 + 3) % len(choices[i])] for i in range(layers))
        exact = cost_of(mixed).value(metric)
        predicted = space.cost(mixed)
        if abs(exact - predicted) > 1e-9 * max(abs(exact), 1.0):
            if need_additive:
                raise AttncostError(
                    f"{metric} is not additive over layers for {mixed} ({exact} vs "
                    f"{predicted}); use --sampler tpe for this search")
            space.exact_cost = lambda arch: cost_of(arch).value(metric)
    return space


def space_for(model: ModelConfig, variants: tuple[str, ...] | list[str], *,
              metric: str = "latency", device: str | None = None, mode: str = "train",
              headroom: float = 0.1, memory: int | str | None = None,
              latency_ms: float | None = None) -> LayerSpace:
    """The :class:`LayerSpace` of a skeleton: every layer of ``model`` may use any of
    ``variants``; costs (``metric``: params, flops, memory or latency) come from the cost
    model, and the budget is ``device``'s memory less ``headroom`` and/or ``memory`` bytes and
    ``latency_ms`` (roofline). What :func:`attncost.search.blackbox_search` takes."""
    import functools

    from ..units import parse_bytes

    budget = parse_bytes(memory) if memory is not None else None
    limit = latency_ms / 1e3 if latency_ms is not None else None
    cost_of = functools.cache(lambda arch: candidate_cost(
        model.with_(layers=arch), device=device, mode=mode, headroom=headroom,
        memory_budget=budget, latency_budget_s=limit))
    choices = (tuple(variants),) * len(model.layers)
    space = layer_space(choices, metric, cost_of, need_additive=False)
    space.budget_ok = lambda arch: cost_of(tuple(arch)).fits
    return space
