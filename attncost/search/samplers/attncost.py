"""attncost's searcher: exact costs, a surrogate that assumes no form, proposals that climb.

Costs are known exactly (:class:`~attncost.search.space.LayerSpace`); only accuracy is learned,
by a Gaussian process on the per-layer choices (:mod:`~attncost.search.samplers.gp`: a
per-layer Hamming kernel, which can represent interactions between any layers, plus a kernel
on the count vector, for count effects). Each proposal is the candidate that maximises

    a(x) = PoF(x) · (c_ref − c(x)) / c_ref,   PoF(x) = Φ((μ(x) − target) / s(x))

— the probability that it meets the target times the saving it would bring (constrained
expected improvement with a known objective: Gardner et al. 2014; Gelbart et al. 2014) —
among candidates strictly cheaper than ``c_ref``, the cost of the current answer (or, before
any is certified, of the cheapest architecture the model believes feasible). Because a
candidate's probability of feasibility enters multiplied by its saving, proposals climb to
costlier arrangements when cheap ones keep failing, and never propose one no cheaper than
the answer (it could not improve it) or over the budget.

Candidates come from a trust region around the best evaluated architectures (every one-layer
change and every swap of two layers, and random two-layer changes: Casmopolitan, Wan et al.
2021; White et al. 2021 on local search in NAS) and from random arrangements of random count
vectors cheaper than ``c_ref`` (exploration). A share of proposals, larger when the model's
leave-one-out fit is poor (calibration or rank correlation), is drawn at random from the
cheaper pool instead of by the model (SMAC's interleaving; De Ath et al., "Greed is Good").

It starts with the one-variant stacks the budget allows, cheapest first, and a few random
arrangements spread over the cost range.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from ..evidence import Evidence
from ..space import LayerSpace
from .gp import HammingGP

#: Exploration share: the base rate, and how much a poorly fitting model adds.
EXPLORE_BASE = 0.1
EXPLORE_BAD_FIT = 0.25
#: Hyperparameters are refitted every this many new observations (conditioning is always).
REFIT_EVERY = 8
RANDOM_CANDIDATES = 1500
TRUST_PARENTS = 8
#: Proposals aim above the target by the margin this many fresh runs can certify.
CERTIFY_RUNS = 8


class CostAwareGP:
    """The proposer, independent of Optuna (the loop and the Optuna sampler both use it)."""

    def __init__(self, space: LayerSpace, target: float, seed: int = 0,
                 init_random: int = 4) -> None:
        self.space = space
        self.target = target
        self.rng = np.random.default_rng(seed)
        self.names = space.variants
        self.index = {v: i for i, v in enumerate(self.names)}
        self.gp = HammingGP(space.layers, len(self.names))
        self._fitted_at = -REFIT_EVERY
        self.init_random = init_random
        self._budget_cache: dict[tuple[str, ...], bool] = {}
        costs = space.final_costs
        self._count_order = np.argsort(costs, kind="stable")
        self._count_ok = space.final_usage_ok
        self.last: dict[str, Any] = {}

    # -- helpers ---------------------------------------------------------------------

    def budget_ok(self, arch: tuple[str, ...]) -> bool:
        if arch not in self._budget_cache:
            self._budget_cache[arch] = bool(self.space.budget_ok(arch))
        return self._budget_cache[arch]

    def encode(self, archs: Sequence[tuple[str, ...]]) -> np.ndarray:
        return np.array([[self.index[v] for v in a] for a in archs], dtype=np.int64).reshape(
            len(archs), self.space.layers)

    def decode(self, row: np.ndarray) -> tuple[str, ...]:
        return tuple(self.names[int(v)] for v in row)

    def _allowed(self, arch: tuple[str, ...]) -> bool:
        return all(v in layer for v, layer in zip(arch, self.space.choices))

    # -- the initial design ------------------------------------------------------------

    def _initial(self, tried: set, pending: set) -> tuple[str, ...] | None:
        stacks = [(v,) * self.space.layers for v in self.names]
        stacks = sorted((a for a in stacks if self._allowed(a) and self.budget_ok(a)),
                        key=self.space.cost)
        for a in stacks:
            if a not in tried and a not in pending:
                return a
        done_random = len(tried) - len(stacks)
        if done_random < self.init_random:
            cheaper = self._random_pool(math.inf, tried | pending, 200)
            if cheaper:  # spread over the cost range: a random cost quantile each time
                cheaper.sort(key=self.space.cost)
                q = (done_random + self.rng.random()) / self.init_random
                return cheaper[min(len(cheaper) - 1, int(q * len(cheaper)))]
        return None

    # -- candidates ------------------------------------------------------------------

    def _random_pool(self, c_ref: float, exclude: set, n: int) -> list[tuple[str, ...]]:
        """Random arrangements of random in-budget count vectors cheaper than ``c_ref``."""
        costs = self.space.final_costs
        ok = np.flatnonzero((costs < c_ref) & self._count_ok)
        if not len(ok):
            return []
        counts = self.space.counts[self.space.layers]
        out, seen = [], set()
        for c in self.rng.choice(ok, size=min(n * 2, 50 * n), replace=True):
            row = np.repeat(np.arange(len(self.names)), counts[c])
            arch = self.decode(self.rng.permutation(row))
            if arch in exclude or arch in seen or not self._allowed(arch):
                continue
            seen.add(arch)
            out.append(arch)
            if len(out) >= n:
                break
        return out

    def _neighbours(self, parents: Sequence[tuple[str, ...]]) -> list[tuple[str, ...]]:
        """Every one-layer change and every swap of two layers of each parent, and random
        two-layer changes."""
        out = []
        L = self.space.layers
        for p in parents:
            for i in range(L):
                for v in self.space.choices[i]:
                    if v != p[i]:
                        out.append(p[:i] + (v,) + p[i + 1:])
                for j in range(i + 1, L):
                    if p[i] != p[j]:
                        q = list(p)
                        q[i], q[j] = q[j], q[i]
                        out.append(tuple(q))
            for _ in range(40):
                i, j = self.rng.choice(L, 2, replace=False)
                q = list(p)
                q[i] = str(self.rng.choice(self.space.choices[i]))
                q[j] = str(self.rng.choice(self.space.choices[j]))
                out.append(tuple(q))
        return out

    # -- proposing -------------------------------------------------------------------

    def propose(self, evidence: Evidence, pending: set | frozenset = frozenset()
                ) -> tuple[str, ...] | None:
        """The next new architecture to evaluate (None when no untried in-budget
        arrangement is cheaper than the answer)."""
        from threadpoolctl import threadpool_limits

        tried = set(evidence.candidates)
        first = self._initial(tried, set(pending))
        if first is not None:
            self.last = {"why": "initial design"}
            return first
        with threadpool_limits(1):  # small matrices: threads only contend
            return self._model_proposal(evidence, tried, set(pending))

    def _observations(self, evidence: Evidence) -> tuple[np.ndarray, np.ndarray]:
        archs, ys = [], []
        for c in evidence.candidates.values():
            for r in c.runs:
                if r.accuracy is not None and r.status in ("trained", "pruned"):
                    archs.append(c.arch)
                    ys.append(r.accuracy)
        return self.encode(archs), np.array(ys)

    def _model_proposal(self, evidence: Evidence, tried: set, pending: set
                        ) -> tuple[str, ...] | None:
        X, y = self._observations(evidence)
        if len(y) < 3:
            pool = self._random_pool(math.inf, tried | pending, 1)
            return pool[0] if pool else None
        refit = len(y) - self._fitted_at >= REFIT_EVERY
        self.gp.fit(X, y, noise=evidence.sigma, refit=refit)
        if refit:
            self._fitted_at = len(y)
        c_ref = self._reference_cost(evidence)
        exclude = tried | pending
        ranked = sorted(evidence.candidates.values(),
                        key=lambda c: -(c.mean if c.mean is not None else -1))
        parents = [c.arch for c in ranked[:TRUST_PARENTS]]
        answer = evidence.answer()
        if answer is not None and answer.arch not in parents:
            parents.append(answer.arch)
        local = [a for a in dict.fromkeys(self._neighbours(parents))
                 if a not in exclude and self.space.cost(a) < c_ref and self.budget_ok(a)]
        randoms = [a for a in self._random_pool(c_ref, exclude, RANDOM_CANDIDATES)
                   if self.budget_ok(a)]
        pool = list(dict.fromkeys(local + randoms))
        if not pool:
            return None
        explore = EXPLORE_BASE + (EXPLORE_BAD_FIT if (self.gp.calibration > 2.0 or
                                                      self.gp.rank < 0.3) else 0.0)
        self.last = {"calibration": self.gp.calibration, "rank": self.gp.rank,
                     "c_ref": c_ref, "pool": len(pool), "explore": explore}
        if randoms and self.rng.random() < explore:
            self.last["why"] = "exploration"
            return randoms[int(self.rng.integers(len(randoms)))]
        mean, sd = self.gp.predict(self.encode(pool))
        # what can be certified is what matters: aim above the target by the margin a
        # typical number of fresh runs can resolve at the current noise
        aim = self.target + evidence.margin(CERTIFY_RUNS)
        pof = 0.5 * (1.0 + _erf((mean - aim) / (np.sqrt(2) * np.maximum(sd, 1e-9))))
        cost = np.array([self.space.cost(a) for a in pool])
        if math.isfinite(c_ref):
            score = pof * (c_ref - cost) / c_ref
        else:  # nothing believed feasible yet: find feasibility first, cheaper preferred
            score = pof - 0.05 * cost / cost.max()
        best = int(np.argmax(score))
        self.last.update(why="model", pof=float(pof[best]), mean=float(mean[best]), aim=aim)
        return pool[best]

    def _reference_cost(self, evidence: Evidence) -> float:
        """The answer's cost; before one is certified, the cost of the cheapest evaluated
        architecture the model believes meets the target (so proposals improve on it)."""
        answer = evidence.answer()
        if answer is not None:
            return answer.cost
        archs = list(evidence.candidates)
        if not archs:
            return math.inf
        mean, _ = self.gp.predict(self.encode(archs))
        aim = self.target + evidence.margin(CERTIFY_RUNS)
        believed = [self.space.cost(a) for a, m in zip(archs, mean) if m >= aim]
        return min(believed) if believed else math.inf


def _erf(x: np.ndarray) -> np.ndarray:
    from scipy.special import erf

    return erf(x)
