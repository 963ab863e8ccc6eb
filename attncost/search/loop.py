"""The search loop every search runs through: propose, screen, confirm, judge.

Each step is one Optuna trial (ask → evaluate → tell) on a study that holds every evaluation;
a trial is one architecture run with one seed. The loop decides what the step does, in this
order (:mod:`attncost.search.evidence` says why certification takes two stages):

1. **Confirm**: the next run of a confirmation under way (a batch planned in advance);
2. **start a confirmation** of the cheapest open architecture cheaper than the answer whose
   screening says a batch of at most :data:`MAX_CONFIRMATION` runs can certify it;
3. **screen**: re-test, with a fresh seed, the cheapest open architecture cheaper than the
   answer that could still meet the target and has fewer than :data:`SCREEN_RUNS` runs (two
   before it may be confirmed: the first run's luck is what made it a candidate);
4. otherwise **propose** a new architecture: attncost's searcher
   (:class:`~attncost.search.samplers.attncost.CostAwareGP`, or any object with
   ``propose(evidence, pending)``) or the study's Optuna sampler (TPE, NSGA-II, GPSampler,
   random);
5. **stop** when the evaluation budget is spent (or too little is left to screen and confirm
   a new candidate), or when no in-budget arrangement cheaper than the answer is left untried
   (``converged`` when every one of them was run).

A candidate over the budget is told as infeasible without an evaluation; a proposal of an
architecture already run (Optuna samplers repeat themselves) reuses its result without one;
an evaluation that raises ``optuna.TrialPruned`` (hopeless) or diverges ends that trial and
counts. The answer is :meth:`Evidence.answer`: the cheapest architecture certified to meet the
target at the stated confidence.

:func:`blackbox_search` runs the loop on an in-memory study with any function as the
evaluator: a remote training job, a table of past runs, a benchmark's black box.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable

from .evidence import EVALUATED, Evidence, Run
from .space import LayerSpace
from .workers import alive_worker, this_worker

#: The most runs one confirmation may plan (a candidate closer to the target than that can
#: resolve is not worth its evaluations).
MAX_CONFIRMATION = 20
#: Screening runs: at least 2 before a confirmation, at most this many.
SCREEN_RUNS = 4
#: The longest a trial waits for an earlier trial (another worker's) to claim its run.
CLAIM_WAIT_S = 60.0
#: Proposals tried per step before falling back to a random untried arrangement (Optuna
#: samplers re-propose what they have seen, or what is over the budget).
MAX_ASKS = 50


@dataclass
class LoopSettings:
    """What the loop judges by: the target, the evaluation budget, the confidence; for a
    multi-objective search (``multi``) the Pareto front's members are re-tested until each
    rests on ``front_runs`` runs."""

    target: float
    evaluations: int
    confidence: float = 0.95
    noise_prior: float = 0.02
    multi: bool = False
    front_runs: int = 2
    min_runs: int = 1  # runs every architecture not ruled out gets (single-objective)


def runs_of(study: Any) -> list[Run]:
    """The evaluations recorded in ``study`` (trials with a ``status`` of a run)."""
    out = []
    for t in study.get_trials(deepcopy=False):
        a = t.user_attrs
        if a.get("status") in EVALUATED and a.get("layers") is not None:
            out.append(Run(tuple(a["layers"]), int(a.get("seed", 0)), a.get("accuracy"),
                           a["status"], t.number, int(a.get("batch", 0))))
    return out


@dataclass
class Step:
    """What one step did."""

    kind: str  # retest | new | stop
    arch: tuple[str, ...] | None = None
    seed: int = 0
    status: str = ""  # trained | pruned | diverged | over-budget | cached
    accuracy: float | None = None
    reason: str = ""


class SearchLoop:
    """Runs steps on ``study`` with ``evaluate(trial, arch, seed) -> accuracy``."""

    def __init__(self, study: Any, space: LayerSpace, settings: LoopSettings,
                 evaluate: Callable[[Any, tuple[str, ...], int], float],
                 proposer: Any = None, cost_attrs: Callable[[tuple[str, ...]], dict] | None = None,
                 ) -> None:
        self.study, self.space, self.settings = study, space, settings
        self.evaluate = evaluate
        self.proposer = proposer  # None: the study's own Optuna sampler proposes
        self.cost_attrs = cost_attrs or (lambda arch: {})
        self.names = [f"layer_{i}" for i in range(space.layers)]
        from optuna.distributions import CategoricalDistribution

        self.dists = {n: CategoricalDistribution(list(c)) for n, c in zip(self.names,
                                                                         space.choices)}
        self.converged: str | None = None

    def evidence(self, runs: list[Run] | None = None) -> Evidence:
        s = self.settings
        return Evidence(runs_of(self.study) if runs is None else runs, self.space.cost,
                        s.target, s.confidence, s.noise_prior, allowed=self.space.budget_ok,
                        budget=s.evaluations)

    def running(self) -> list[Any]:
        from optuna.trial import TrialState

        return self.study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))

    def pending(self) -> set[tuple[str, ...]]:
        """Architectures other workers are evaluating now."""
        return {tuple(t.user_attrs["layers"]) for t in self.running()
                if "layers" in t.user_attrs}

    def _running_runs(self, arch: tuple[str, ...]) -> int:
        return sum(1 for t in self.running() if t.user_attrs.get("layers") == list(arch))

    def next_run(self, ev: Evidence, remaining: int) -> tuple[Any, int, str] | None:
        """(candidate, confirmation batch size or 0, kind) of the next re-test, or None."""
        if self.settings.multi:
            front = [c for c in ev.pareto_front()
                     if c.n + self._running_runs(c.arch) < self.settings.front_runs]
            return (front[0], 0, "retest") if front else None
        for c in ev.confirming():
            if len(c.confirmation) + self._running_runs(c.arch) < c.batch_size:
                return c, c.batch_size, "confirm"
        open_ = ev.open_cheaper()
        cap = min(MAX_CONFIRMATION, remaining)
        if ev.planned is None or ev.confirmations < ev.planned:
            for c in open_:
                screened = len(c.screening) >= max(2, self.settings.min_runs)
                if screened and not self._running_runs(c.arch) and ev.plan(c) <= cap:
                    return c, int(ev.plan(c)), "confirm"
        for c in open_:
            screen, s = c.screening, ev.sigma_of(c)
            if self._running_runs(c.arch) or len(screen) >= SCREEN_RUNS:
                continue
            hopeful = sum(screen) / len(screen) + s / math.sqrt(len(screen)) >= ev.target
            if hopeful or len(screen) < self.settings.min_runs:
                return c, 0, "screen"
        return None

    # -- one step ---------------------------------------------------------------------

    def step(self) -> Step:
        ev = self.evidence()
        running = [t for t in self.running() if t.user_attrs.get("status") is None
                   and "layers" in t.user_attrs]
        remaining = self.settings.evaluations - ev.evaluations - len(running)
        if remaining <= 0:
            return Step("stop", reason="evaluation budget spent")
        nxt = self.next_run(ev, remaining)
        if nxt is not None:
            c, batch, kind = nxt
            attrs = {"retest": True, **({"batch": batch} if batch else {})}
            return self._run(self._ask(c.arch, attrs), c.arch, c.next_seed(), kind, ev)
        needed = self.settings.front_runs if self.settings.multi else 5
        if remaining < needed:
            return Step("stop", reason=f"{remaining} evaluation(s) left: too few to screen "
                                       f"and confirm a new candidate")
        if self._all_cheaper_run(ev):  # nothing new to ask: no cached trials piling up
            self.converged = self._converged_reason(ev)
            return Step("stop", reason=self.converged)
        for _ in range(MAX_ASKS):
            arch = self._new_arch(ev)
            if arch is None:
                self.converged = self._converged_reason(ev)
                return Step("stop", reason=self.converged)
            trial, arch = arch
            if not self.space.budget_ok(arch):
                self._tell_over_budget(trial, arch)
                continue
            if arch in ev.candidates:  # a repeat: reuse, no evaluation
                self._tell_cached(trial, arch, ev)
                continue
            return self._run(trial, arch, 0, "new", ev)
        # the sampler keeps repeating itself: a random untried in-budget arrangement
        arch = self._random_untried(ev)
        if arch is None:
            self.converged = self._converged_reason(ev)
            return Step("stop", reason=self.converged)
        return self._run(self._ask(arch, {"fallback": True}), arch, 0, "new", ev)

    def _new_arch(self, ev: Evidence) -> tuple[Any, tuple[str, ...]] | None:
        if self.proposer is None:
            trial = self.study.ask(self.dists)
            trial.set_user_attr("worker", this_worker())
            return trial, tuple(trial.params[n] for n in self.names)
        arch = self.proposer.propose(ev, self.pending())
        if arch is None:
            return None
        return self._ask(arch, {}), arch

    def _ask(self, arch: tuple[str, ...], attrs: dict[str, Any]) -> Any:
        """A new running trial of ``arch``, its parameters and attributes written with it in
        one storage record: whoever sees the trial sees what it runs (Optuna's enqueue, then
        ask, would let another worker's ask pop the enqueued trial)."""
        import optuna
        from optuna.trial import TrialState

        template = optuna.trial.create_trial(
            state=TrialState.RUNNING, params=dict(zip(self.names, arch)),
            distributions=self.dists,
            user_attrs={**attrs, "layers": list(arch), "worker": this_worker()})
        trial_id = self.study._storage.create_new_trial(self.study._study_id,
                                                        template_trial=template)
        return optuna.Trial(self.study, trial_id)

    def _run(self, trial: Any, arch: tuple[str, ...], seed: int, kind: str,
             ev: Evidence) -> Step:
        import optuna

        trial.set_user_attr("layers", list(arch))
        claimed = self._claim(trial, arch, seed)
        if isinstance(claimed, str):  # an earlier trial holds the budget or the baseline
            trial.set_user_attr("status", "not-run")
            trial.set_user_attr("reason", claimed)
            self.study.tell(trial, state=optuna.trial.TrialState.FAIL)
            return Step("stop", arch, seed, "not-run", None, claimed)
        seed = claimed
        for k, v in self.cost_attrs(arch).items():
            trial.set_user_attr(k, v)
        cost = self.space.cost(arch)
        try:
            acc = self.evaluate(trial, arch, seed)
        except optuna.TrialPruned as e:
            trial.set_user_attr("status", "pruned")
            self.study.tell(trial, state=optuna.trial.TrialState.PRUNED)
            return Step(kind, arch, seed, "pruned", None, str(e))
        except Exception as e:  # a diverged run (TrainingDiverged) ends only this trial
            from .tasks import TrainingDiverged

            if not isinstance(e, TrainingDiverged):
                raise
            trial.set_user_attr("status", "diverged")
            trial.set_user_attr("reason", str(e))
            self.study.tell(trial, state=optuna.trial.TrialState.FAIL)
            return Step(kind, arch, seed, "diverged", None, str(e))
        trial.set_user_attr("status", "trained")
        trial.set_user_attr("accuracy", acc)
        if self.settings.multi:
            self.study.tell(trial, [acc, cost])
        else:
            trial.set_constraint("accuracy", self.settings.target - acc)
            trial.set_constraint("budget", 0.0)
            self.study.tell(trial, cost)
        return Step(kind, arch, seed, "trained", acc)

    def _claim(self, trial: Any, arch: tuple[str, ...], seed: int) -> int | str:
        """Claim (``arch``, ``seed``) for ``trial``, in trial-number order: wait until every
        running trial numbered before it has claimed its run (or ended), then take ``seed``
        unless a finished run or an earlier claim holds it (then the smallest free seed).
        Returns the seed, or why the trial must not run: the study-wide budget is spent by
        earlier claims, or an earlier trial holds the baseline.

        The storage hands out trial numbers one at a time (its one atomic counter), and a
        trial waits for every earlier one, so of two workers that race — processes or
        machines — the later always sees the earlier's claim: no (architecture, seed) is
        trained twice and the evaluation budget is never exceeded."""
        earlier = self._earlier_claims(trial)
        runs = runs_of(self.study)
        if len(runs) + len(earlier) >= self.settings.evaluations:
            return "the evaluation budget is spent (by other workers' runs)"
        if trial.user_attrs.get("baseline") and any(
                t.user_attrs.get("baseline") for t in earlier):
            return "another worker is training the baseline"
        taken = {r.seed for r in runs if r.arch == arch} | {
            int(t.user_attrs["seed"]) for t in earlier if t.user_attrs.get("layers") == list(arch)}
        if seed in taken:
            seed = next(s for s in range(len(taken) + 1) if s not in taken)
        trial.set_user_attr("seed", seed)
        return seed

    def _earlier_claims(self, trial: Any) -> list[Any]:
        """The running trials numbered before ``trial`` that claim a run, once none is left
        mid-claim (a trial of a dead process, or one silent for :data:`CLAIM_WAIT_S`, is not
        waited for: it is not training)."""
        import time

        from optuna.trial import TrialState


        deadline = time.monotonic() + CLAIM_WAIT_S
        while True:
            earlier = [t for t in self.study.get_trials(deepcopy=False,
                                                        states=(TrialState.RUNNING,))
                       if t.number < trial.number and t.user_attrs.get("status") is None]
            mid_claim = [t for t in earlier if "seed" not in t.user_attrs
                         and alive_worker(t.user_attrs.get("worker", ""))]
            if not mid_claim or time.monotonic() > deadline:
                return [t for t in earlier if "seed" in t.user_attrs]
            time.sleep(0.05)

    def _tell_over_budget(self, trial: Any, arch: tuple[str, ...]) -> None:
        import optuna

        trial.set_user_attr("layers", list(arch))
        trial.set_user_attr("status", "over-budget")
        for k, v in self.cost_attrs(arch).items():
            trial.set_user_attr(k, v)
        if self.settings.multi:
            self.study.tell(trial, state=optuna.trial.TrialState.PRUNED)
            return
        trial.set_constraint("budget", 1.0)
        trial.set_constraint("accuracy", self.settings.target)
        self.study.tell(trial, self.space.cost(arch))

    def _tell_cached(self, trial: Any, arch: tuple[str, ...], ev: Evidence) -> None:
        import optuna

        c = ev.candidates[arch]
        trial.set_user_attr("layers", list(arch))
        trial.set_user_attr("status", "cached")
        mean = c.mean if c.mean is not None else 0.0
        if self.settings.multi:
            if c.mean is None:
                self.study.tell(trial, state=optuna.trial.TrialState.PRUNED)
            else:
                self.study.tell(trial, [mean, self.space.cost(arch)])
            return
        trial.set_constraint("accuracy", self.settings.target - mean)
        trial.set_constraint("budget", 0.0)
        self.study.tell(trial, self.space.cost(arch))

    # -- stopping ---------------------------------------------------------------------

    def _random_untried(self, ev: Evidence, tries: int = 2000) -> tuple[str, ...] | None:
        import numpy as np

        rng = np.random.default_rng(len(ev.candidates))
        bound = ev.answer_cost()
        for _ in range(tries):
            arch = tuple(str(rng.choice(c)) for c in self.space.choices)
            if arch not in ev.candidates and self.space.cost(arch) < bound and \
                    self.space.budget_ok(arch):
                return arch
        return None

    def _all_cheaper_run(self, ev: Evidence) -> bool:
        """Whether every in-budget arrangement cheaper than the answer (all of them, with no
        answer) has been run — known only where they can be counted."""
        bound = ev.answer_cost()
        cheaper = _arrangements_cheaper(self.space, bound)
        run_cheaper = sum(1 for a, c in ev.candidates.items()
                          if c.cost < bound and self.space.budget_ok(a))
        return cheaper is not None and run_cheaper >= cheaper

    def _converged_reason(self, ev: Evidence) -> str:
        """Why nothing is left to propose: said as converged only when every in-budget
        arrangement cheaper than the answer has been run (and none is certified)."""
        bound = ev.answer_cost()
        cheaper = _arrangements_cheaper(self.space, bound)
        if self._all_cheaper_run(ev):
            if bound != float("inf"):
                return (f"every one of the {cheaper:,} in-budget arrangements cheaper than the "
                        f"answer was run; none of them is certified to meet the target")
            if self.settings.multi:
                return f"every one of the {cheaper:,} in-budget arrangements was run"
            return (f"every one of the {cheaper:,} in-budget arrangements was run; none is "
                    f"certified to meet the target")
        return "the searcher proposed nothing new"

    def run(self) -> None:
        while self.step().kind != "stop":
            pass


def _arrangements_cheaper(space: LayerSpace, bound: float) -> int | None:
    """How many in-budget-count arrangements cost less than ``bound`` (None: too many to
    have all been run, or layer choices that differ per layer)."""
    if not space.allowed.all():
        return None
    counts = space.counts[space.layers]
    ok = (space.final_costs < bound) & space.final_usage_ok
    total = 0
    for row in counts[ok]:
        total += math.factorial(space.layers) // math.prod(math.factorial(int(c)) for c in row)
        if total > 100_000:
            return None
    return total


# -- the public black-box search ----------------------------------------------------------


@dataclass
class SearchResult:
    """What :func:`blackbox_search` found."""

    architecture: tuple[str, ...] | None  # the cheapest certified architecture, or None
    accuracy: float | None  # its mean over the confirmation that certified it
    interval: tuple[float, float] | None  # (lower, upper) confidence bounds on its accuracy
    p_meets_target: float | None  # probability its true accuracy meets the target
    runs: int  # evaluations it rests on
    cost: float | None
    evaluations: int  # evaluations used in all
    confidence: float
    converged: str | None
    candidates: list[dict[str, Any]] = field(default_factory=list)  # every architecture run

    @property
    def found(self) -> bool:
        return self.architecture is not None


def result_of(ev: Evidence, confidence: float, converged: str | None) -> SearchResult:
    a = ev.answer()
    cands = sorted((ev.summary(c) for c in ev.candidates.values()), key=lambda d: d["cost"])
    if a is None:
        return SearchResult(None, None, None, None, 0, None, ev.evaluations, confidence,
                            converged, cands)
    v = ev.verdicts[a.arch]
    return SearchResult(a.arch, v.confirmed_mean, (v.lower, v.upper), v.p_meets, v.n, a.cost,
                        ev.evaluations, confidence, converged, cands)


def blackbox_search(space: LayerSpace, evaluate: Callable[[tuple[str, ...], int], float], *,
                    target: float, evaluations: int, seed: int = 0, sampler: str = "attncost",
                    confidence: float = 0.95, noise_prior: float = 0.02,
                    on_step: Callable[[Step, Evidence], None] | None = None) -> SearchResult:
    """Search ``space`` for the cheapest architecture whose accuracy meets ``target``, with
    an evaluator you own: ``evaluate(architecture, seed) -> accuracy in [0, 1]`` (train it,
    look it up, call a remote job). Every call is one evaluation — re-tests of an
    architecture with a new seed included — and never more than ``evaluations`` are made.

    The answer is the cheapest architecture whose accuracy is certified at ``confidence``
    (:mod:`attncost.search.evidence`), with its mean, confidence interval, the probability
    it meets the target and how many runs it rests on; ``architecture`` is None if nothing
    is certified. ``sampler`` names the searcher (:data:`attncost.search.samplers.SAMPLERS`).
    """
    import optuna

    from ..errors import AttncostError
    from .samplers import SamplerContext, make_sampler

    if isinstance(evaluations, bool) or not isinstance(evaluations, int) or evaluations < 1:
        raise AttncostError(f"evaluations must be a positive integer, got {evaluations!r}")
    if not (isinstance(target, (int, float)) and 0.0 < target < 1.0):
        raise AttncostError(f"target must be a number in (0, 1), got {target!r}")
    if not (isinstance(confidence, (int, float)) and 0.5 <= confidence < 1.0):
        raise AttncostError(f"confidence must be in [0.5, 1), got {confidence!r}")
    searcher = make_sampler(sampler, SamplerContext(seed, space, target))
    proposer = searcher if hasattr(searcher, "propose") else None
    study = optuna.create_study(direction="minimize", sampler=(
        optuna.samplers.RandomSampler(seed=seed) if proposer else searcher))
    settings = LoopSettings(target, evaluations, confidence, noise_prior)

    def run_one(trial: Any, arch: tuple[str, ...], run_seed: int) -> float:
        acc = float(evaluate(arch, run_seed))
        if not math.isfinite(acc) or not 0.0 <= acc <= 1.0:
            raise AttncostError(f"evaluate{arch, run_seed} returned {acc!r}; an accuracy in "
                                f"[0, 1] is expected")
        return acc

    loop = SearchLoop(study, space, settings, run_one, proposer)
    while True:
        step = loop.step()
        if on_step is not None and step.kind != "stop":
            on_step(step, loop.evidence())
        if step.kind == "stop":
            break
    return result_of(loop.evidence(), confidence, loop.converged)
