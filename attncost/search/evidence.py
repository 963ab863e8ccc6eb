"""What the evaluations say about each architecture, and the answer they support.

Every evaluation is one run of one architecture with one seed (a training run, or one call of
a black box). :class:`Evidence` groups them by architecture and decides, at a stated
confidence, which architectures are certified to meet the target, which are ruled out, which
are still open — and so the answer: **the cheapest architecture certified to meet the target**,
never the cheapest lucky observation.

Certification is a two-stage test, so that neither the luck that made a candidate look good
nor looking at the data again and again can certify it:

* **Screening.** Every run of a candidate until it is put to a confirmation is a screening
  run. Screening decides *whether* to confirm a candidate and *how many* runs to plan — the
  runs needed, at the current noise, for a test at this level to pass with 80 % power if the
  candidate is as good as its screening mean (:meth:`Evidence.plan`).
* **Confirmation.** A batch of that many fresh runs, planned before any is seen. The
  candidate is certified when the batch is complete and its mean's lower bound
  ``mean − z·σ/√n`` clears the target; otherwise its confirmation failed, and it is never
  confirmed again. ``z`` is the one-sided normal quantile at ``1 − (1 − confidence)/K``:
  Bonferroni over the K confirmations a search may run (fixed by its budget,
  :data:`RUNS_PER_CONFIRMATION` evaluations per confirmation), so the chance that any
  architecture certified in a search truly misses the target is at most 1 − confidence.
* **Ruled out**: a screening upper bound ``mean + z₁·σ/√n`` below the target (z₁ at the stated
  confidence), or a first run pruned as hopeless or diverged.

Noise: σ is pooled over every architecture run more than once (all runs),
``σ² = (ν₀σ₀² + Σ (nᵢ−1)sᵢ²) / (ν₀ + Σ (nᵢ−1))``, with a prior guess σ₀ worth ν₀ runs; for an
architecture with three runs or more, never less than its own sample sd.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from statistics import NormalDist
from typing import Any, Callable, Iterable, Sequence

#: Statuses of runs that measured something (a pruned run measured a partial accuracy).
MEASURED = ("trained", "pruned")
#: Statuses of runs that count as evaluations (they used a training run / a black-box call).
EVALUATED = ("trained", "pruned", "diverged")
#: Evaluations per confirmation the Bonferroni plan assumes (K = budget / this).
RUNS_PER_CONFIRMATION = 25
#: Power of a planned confirmation (0.9: tuned on instances 0–1 of the landscapes, against 0.8),
#: if the candidate is as good as its screening mean less
#: :data:`SHRINK` standard errors (screening means are biased upward: the lucky ones are the
#: ones confirmed).
POWER = 0.9
SHRINK = 0.0


@dataclass(frozen=True)
class Run:
    """One evaluation: an architecture, its seed, the accuracy measured (None if none), how
    it ended (trained | pruned | diverged), and, for a confirmation run, the size of the
    batch it belongs to (0: a screening run)."""

    arch: tuple[str, ...]
    seed: int
    accuracy: float | None
    status: str = "trained"
    order: int = 0  # when it ran (earlier runs first)
    batch: int = 0  # confirmation runs: the planned size of their batch


@dataclass
class Candidate:
    """Everything measured about one architecture."""

    arch: tuple[str, ...]
    cost: float
    runs: list[Run] = field(default_factory=list)

    def _acc(self, runs: Iterable[Run]) -> list[float]:
        return [r.accuracy for r in runs if r.status == "trained" and r.accuracy is not None]

    @property
    def accuracies(self) -> list[float]:
        return self._acc(self.runs)

    @property
    def screening(self) -> list[float]:
        return self._acc(r for r in self.runs if not r.batch)

    @property
    def confirmation(self) -> list[float]:
        return self._acc(r for r in self.runs if r.batch)

    @property
    def batch_size(self) -> int:
        """The planned size of its confirmation (0: never put to one)."""
        return max((r.batch for r in self.runs), default=0)

    @property
    def n(self) -> int:
        return len(self.accuracies)

    @property
    def mean(self) -> float | None:
        acc = self.accuracies
        return sum(acc) / len(acc) if acc else None

    @property
    def stopped(self) -> bool:
        """Pruned as hopeless or diverged: ruled out without a full measurement."""
        return any(r.status in ("pruned", "diverged") for r in self.runs)

    def sd(self) -> float | None:
        acc = self.accuracies
        if len(acc) < 2:
            return None
        m = sum(acc) / len(acc)
        return math.sqrt(sum((a - m) ** 2 for a in acc) / (len(acc) - 1))

    def next_seed(self, claimed: Iterable[int] = ()) -> int:
        used = {r.seed for r in self.runs} | set(claimed)
        return next(s for s in range(len(used) + 1) if s not in used)


@dataclass(frozen=True)
class Verdict:
    """An architecture's standing at the stated confidence."""

    state: str  # certified | confirming | failed | ruled-out | open
    mean: float | None  # over every run
    lower: float | None  # lower bound of a complete confirmation (what certifies)
    upper: float | None  # upper bound: of a complete confirmation, else of the screening
    p_meets: float | None  # probability its true accuracy meets the target (all runs)
    n: int
    n_confirm: int
    confirmed_mean: float | None = None  # the mean of a complete confirmation (unbiased)


class Evidence:
    """Runs grouped by architecture, judged against ``target`` at ``confidence``."""

    def __init__(self, runs: Sequence[Run], cost: Callable[[tuple[str, ...]], float],
                 target: float, confidence: float = 0.95, noise_prior: float = 0.02,
                 noise_prior_weight: float = 3.0,
                 allowed: Callable[[tuple[str, ...]], bool] = lambda arch: True,
                 budget: int | None = None) -> None:
        self.target, self.confidence = target, confidence
        self.noise_prior, self.noise_prior_weight = noise_prior, noise_prior_weight
        self.allowed = allowed  # within the budget: only those can be the answer
        self.candidates: dict[tuple[str, ...], Candidate] = {}
        for r in sorted(runs, key=lambda r: r.order):
            c = self.candidates.get(r.arch)
            if c is None:
                c = self.candidates[r.arch] = Candidate(r.arch, cost(r.arch))
            c.runs.append(r)
        self._sigma_after = self._pooled_sigma_history(runs)
        self.sigma = self._pooled_sigma()
        self.confirmations = sum(1 for c in self.candidates.values() if c.batch_size)
        self.planned = max(1, budget // RUNS_PER_CONFIRMATION) if budget else None
        k = self.planned or max(1, self.confirmations)
        self.z_certify = NormalDist().inv_cdf(1.0 - (1.0 - confidence) / k)
        self.z_rule_out = NormalDist().inv_cdf(confidence)
        self.verdicts = {a: self._judge(c) for a, c in self.candidates.items()}

    @property
    def evaluations(self) -> int:
        return sum(1 for c in self.candidates.values() for r in c.runs if r.status in EVALUATED)

    def _pooled_sigma(self) -> float:
        num = self.noise_prior_weight * self.noise_prior ** 2
        den = self.noise_prior_weight
        for c in self.candidates.values():
            acc = c.accuracies
            if len(acc) >= 2:
                m = sum(acc) / len(acc)
                num += sum((a - m) ** 2 for a in acc)
                den += len(acc) - 1
        return math.sqrt(num / den)

    def _pooled_sigma_history(self, runs: Sequence[Run]) -> list[tuple[int, float]]:
        """(order, pooled σ after that run) for every run, in order: a confirmation is
        judged with the noise known when its last run came in, so a certificate never lapses
        as later runs move the estimate."""
        num = self.noise_prior_weight * self.noise_prior ** 2
        den = self.noise_prior_weight
        stats: dict[tuple[str, ...], tuple[int, float, float]] = {}  # n, mean, M2 (Welford)
        out = []
        for r in sorted(runs, key=lambda r: r.order):
            if r.status == "trained" and r.accuracy is not None:
                n, mean, m2 = stats.get(r.arch, (0, 0.0, 0.0))
                n += 1
                delta = r.accuracy - mean
                mean += delta / n
                new_m2 = m2 + delta * (r.accuracy - mean)
                num += new_m2 - m2
                den += 1 if n >= 2 else 0
                stats[r.arch] = (n, mean, new_m2)
            out.append((r.order, math.sqrt(num / den)))
        return out

    def sigma_at(self, order: int) -> float:
        """The pooled σ as it was after run ``order``."""
        import bisect

        i = bisect.bisect_right([o for o, _ in self._sigma_after], order) - 1
        return self._sigma_after[i][1] if i >= 0 else self.noise_prior

    def sigma_of(self, c: Candidate) -> float:
        """The noise sd used for ``c``: the pooled one, or its own once it has 3 runs and
        they spread wider."""
        own = c.sd() if c.n >= 3 else None
        return max(self.sigma, own or 0.0)

    def _judge(self, c: Candidate) -> Verdict:
        mean, n = c.mean, c.n
        if c.stopped or mean is None:
            return Verdict("ruled-out", mean, None, None, 0.0, n, 0)
        s = self.sigma_of(c)
        p = 1.0 - NormalDist(mean, s / math.sqrt(n)).cdf(self.target)
        screen = c.screening
        upper = (sum(screen) / len(screen) + self.z_rule_out * s / math.sqrt(len(screen))
                 if screen else None)
        conf, size = c.confirmation, c.batch_size
        lower = confirmed = None
        if size and len(conf) >= size:
            last = max(r.order for r in c.runs if r.batch)
            own = c.sd() if c.n >= 3 else None  # (its runs' spread, at most as wide now)
            s_then = max(self.sigma_at(last), own or 0.0)
            confirmed = sum(conf) / len(conf)
            half = self.z_certify * s_then / math.sqrt(len(conf))
            lower, upper = confirmed - half, confirmed + half
            state = "certified" if lower >= self.target else "failed"
        elif size:
            state = "confirming"
        elif upper is not None and upper < self.target:
            state = "ruled-out"
        else:
            state = "open"
        return Verdict(state, mean, lower, upper, p, n, len(conf), confirmed)

    # -- the answer and what to do next ---------------------------------------------

    def answer(self) -> Candidate | None:
        """The cheapest certified architecture within the budget (None when none is)."""
        certified = [c for a, c in self.candidates.items()
                     if self.verdicts[a].state == "certified" and self.allowed(a)]
        return min(certified, key=lambda c: (c.cost, -c.mean)) if certified else None

    def answer_cost(self) -> float:
        a = self.answer()
        return a.cost if a is not None else math.inf

    def margin(self, runs: int) -> float:
        """How far above the target a true accuracy must be for a confirmation of ``runs``
        runs to pass with :data:`POWER` at the current noise."""
        z_power = NormalDist().inv_cdf(POWER)
        return (self.z_certify + z_power) * self.sigma / math.sqrt(max(runs, 1))

    def plan(self, c: Candidate) -> float:
        """Runs a confirmation of ``c`` needs to pass with :data:`POWER` if its true accuracy
        is its screening mean (inf when that mean is not above the target)."""
        screen = c.screening
        if not screen:
            return math.inf
        s = self.sigma_of(c)
        gap = sum(screen) / len(screen) - SHRINK * s / math.sqrt(len(screen)) - self.target
        if gap <= 0:
            return math.inf
        z_power = NormalDist().inv_cdf(POWER)
        return max(3.0, math.ceil(((self.z_certify + z_power) * s / gap) ** 2))

    def open_cheaper(self) -> list[Candidate]:
        """Open (not yet confirmed or ruled out) architectures within the budget, cheaper
        than the answer, cheapest first."""
        bound = self.answer_cost()
        return sorted((c for a, c in self.candidates.items()
                       if self.verdicts[a].state == "open" and c.cost < bound
                       and self.allowed(a)), key=lambda c: c.cost)

    def confirming(self) -> list[Candidate]:
        """Architectures whose confirmation is under way (not all its runs done)."""
        return [c for a, c in self.candidates.items() if self.verdicts[a].state == "confirming"]

    def pareto_front(self) -> list[Candidate]:
        """Architectures no other one beats on both mean accuracy and cost (multi-objective
        searches), cheapest first."""
        measured = [c for a, c in self.candidates.items()
                    if c.mean is not None and not c.stopped and self.allowed(a)]
        front = [c for c in measured
                 if not any(o.mean >= c.mean and o.cost <= c.cost and
                            (o.mean > c.mean or o.cost < c.cost) for o in measured)]
        return sorted(front, key=lambda c: c.cost)

    def summary(self, c: Candidate) -> dict[str, Any]:
        v = self.verdicts[c.arch]
        return {"layers": list(c.arch), "cost": c.cost, "state": v.state, "runs": c.n,
                "confirmation_runs": v.n_confirm, "accuracy": v.mean,
                "confirmed_accuracy": v.confirmed_mean, "lower": v.lower, "upper": v.upper,
                "p_meets_target": v.p_meets, "accuracies": c.accuracies}
