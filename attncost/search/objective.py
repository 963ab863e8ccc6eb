"""The objective of one trial: exact costs first, then real training (or a cached result).

One trial = one per-layer choice of attention variants. Its costs come first, exactly, from
the cost model; a candidate over the budget is recorded as infeasible and never trained. A
candidate whose architecture was already trained in this study reuses that result (the
``cached_from`` attribute says which trial). Otherwise it is trained on the task for every
seed; the first seed reports its held-out score to Optuna as it goes, so a hopeless
candidate is pruned (single-objective studies only). A run that diverges is recorded as failed
with its reason; the study goes on.

Trial attributes (``optuna-dashboard`` shows them): ``status`` (trained | cached |
over-budget | diverged | pruned), ``accuracy`` (mean over seeds), ``accuracy_spread``
(max − min), ``accuracies``, ``layers``, the costs, ``reason``, ``train_seconds``, ``worker``.
"""

from __future__ import annotations

import functools
import os
import socket
import sys
import time
from dataclasses import dataclass
from typing import Any, Callable

from .samplers import NEEDS_SPACE, SamplerContext, make_sampler
from .space import CandidateCost, candidate_cost, layer_space
from .spec import SearchSpec
from .tasks import TrainingDiverged, get_task


def cost_function(spec: SearchSpec) -> Callable[[tuple[str, ...]], CandidateCost]:
    """Exact costs and budget check of a candidate (cached per architecture)."""
    attn = spec.attention()

    def cost_of(arch: tuple[str, ...]) -> CandidateCost:
        return candidate_cost(spec.model(arch, attn), device=spec.device, mode=spec.mode,
                              headroom=spec.headroom, memory_budget=spec.memory_bytes,
                              latency_budget_s=(spec.latency_ms / 1e3 if spec.latency_ms
                                                else None))
    return functools.cache(cost_of)


def chance(spec: SearchSpec) -> float:
    return get_task(spec.task).chance(spec.task_options)


def alive_worker(worker: str) -> bool:
    """Whether a ``host:pid`` worker is alive (a worker on another host is assumed alive;
    the database's heartbeat fails it if not)."""
    host, _, pid = worker.partition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return True
    return alive(int(pid))


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@dataclass
class Searcher:
    """The objective and what it shares across trials (costs, the task's data)."""

    spec: SearchSpec
    log: Callable[[str], None] = lambda line: print(line, file=sys.stderr, flush=True)

    def __post_init__(self) -> None:
        self.cost_of = cost_function(self.spec)
        self.task = get_task(self.spec.task)
        self._data: dict[int, Any] = {}

    def data(self, seed: int) -> Any:
        if seed not in self._data:
            self._data[seed] = self.task.data(self.spec.task_options, seed)
        return self._data[seed]

    def space(self) -> Any:
        return layer_space(self.spec.choices, self.spec.cost_metric, self.cost_of)

    def sampler(self) -> Any:
        s = self.spec
        space = self.space() if s.sampler in NEEDS_SPACE and not s.multi else None
        return make_sampler(s.sampler, SamplerContext(s.seed, space, s.target_accuracy,
                                                      chance(s), s.multi, self.log))

    def objective(self, trial: Any) -> Any:
        import optuna

        s = self.spec
        arch = tuple(trial.suggest_categorical(f"layer_{i}", list(c))
                     for i, c in enumerate(s.choices))
        trial.set_user_attr("layers", list(arch))
        trial.set_user_attr("worker", f"{socket.gethostname()}:{os.getpid()}")
        cost = self.cost_of(arch)
        for key, value in cost.as_dict().items():
            if key not in ("violations", "fits"):
                trial.set_user_attr(key, value)
        value = cost.value(s.cost_metric)
        for key, v in cost.violations.items():
            trial.set_constraint(key, v)
        if not cost.fits and not trial.user_attrs.get("baseline"):
            trial.set_user_attr("status", "over-budget")
            if s.multi:
                raise optuna.TrialPruned(f"over budget, not trained: {cost.reason}")
            trial.set_constraint("accuracy", s.target_accuracy)  # not trained: unmet
            return value
        accs, seconds, source = self._accuracy(trial, arch)
        acc = sum(accs) / len(accs)
        trial.set_user_attr("accuracies", accs)
        trial.set_user_attr("accuracy", acc)
        trial.set_user_attr("accuracy_spread", max(accs) - min(accs))
        trial.set_user_attr("train_seconds", seconds)
        if source is not None:
            trial.set_user_attr("status", "cached")
            trial.set_user_attr("cached_from", source)
        else:
            trial.set_user_attr("status", "trained")
        if s.multi:
            return acc, value
        trial.set_constraint("accuracy", s.target_accuracy - acc)
        return value  # the baseline is trained even over budget, and stays infeasible

    def _cached(self, trial: Any, arch: tuple[str, ...]) -> Any:
        """A finished trial of the same architecture: trained (complete) or diverged (the
        seeds are fixed, so it would diverge again)."""
        from optuna.trial import TrialState

        for t in trial.study.get_trials(deepcopy=False,
                                        states=(TrialState.COMPLETE, TrialState.FAIL)):
            if t.user_attrs.get("layers") != list(arch):
                continue
            if "accuracies" in t.user_attrs or t.user_attrs.get("status") == "diverged":
                return t
        return None

    def _wait_for_twin(self, trial: Any, arch: tuple[str, ...], poll_s: float = 1.0) -> None:
        """Another worker is training the same architecture right now: wait for it, then
        reuse its result, instead of training it twice."""
        from optuna.trial import TrialState

        while True:
            twins = [t for t in trial.study.get_trials(deepcopy=False,
                                                       states=(TrialState.RUNNING,))
                     if t.number < trial.number and t.user_attrs.get("layers") == list(arch)
                     and alive_worker(t.user_attrs.get("worker", ""))]
            if not twins:
                return
            time.sleep(poll_s)

    def _accuracy(self, trial: Any, arch: tuple[str, ...]) -> tuple[list[float], float, int | None]:
        self._wait_for_twin(trial, arch)
        hit = self._cached(trial, arch)
        if hit is not None and hit.user_attrs.get("status") == "diverged":
            trial.set_user_attr("status", "diverged")
            trial.set_user_attr("cached_from", hit.number)
            trial.set_user_attr("reason", hit.user_attrs.get("reason", ""))
            raise TrainingDiverged(f"{hit.user_attrs.get('reason')} (trial {hit.number})")
        if hit is not None:
            for step, v in hit.intermediate_values.items():
                trial.report(v, step)
            return list(hit.user_attrs["accuracies"]), 0.0, hit.number
        model = self.spec.model(arch)
        accs: list[float] = []
        seconds = 0.0
        for seed in range(self.spec.seeds):
            r = self.train_one(trial, model, seed)
            accs.append(r.accuracy)
            seconds += r.seconds
        return accs, seconds, None

    def train_one(self, trial: Any, model: Any, seed: int) -> Any:
        """One training run of ``model`` on ``seed``; the first seed reports to the pruner."""
        import optuna

        s = self.spec

        def on_eval(step: int, acc: float) -> None:
            if seed != 0 or s.multi:
                return
            trial.report(acc, step)
            if trial.should_prune():
                trial.set_user_attr("status", "pruned")
                trial.set_user_attr("reason", f"accuracy {acc:.3f} at step {step} is "
                                              f"behind every successful trial")
                raise optuna.TrialPruned(f"accuracy {acc:.3f} at step {step}")

        try:
            return self.task.train(model, s.task_options, steps=s.steps, batch=s.train_batch,
                                   lr=s.lr, seed=seed, eval_every=s.eval_every,
                                   data=self.data(seed), on_eval=on_eval)
        except TrainingDiverged as e:
            trial.set_user_attr("status", "diverged")
            trial.set_user_attr("reason", str(e))
            raise

    def log_trial(self, study: Any, frozen: Any) -> None:
        a = frozen.user_attrs
        layers = ",".join(a.get("layers", []))
        acc = a.get("accuracy")
        if acc is not None:
            acc_s = f"acc {acc:.3f}±{a.get('accuracy_spread', 0) / 2:.3f}"
        elif frozen.intermediate_values:
            acc_s = "stopped early"
        else:
            acc_s = "not trained"
        self.log(f"trial {frozen.number:>3} [{layers}] {frozen.state.name.lower()} "
                 f"({a.get('status', 'interrupted')}) {acc_s} "
                 f"{self.spec.cost_metric} {_fmt_cost(self.spec.cost_metric, a)} "
                 f"{a.get('reason', '')}".rstrip())


def _fmt_cost(metric: str, attrs: dict[str, Any]) -> str:
    key = {"memory": "memory_bytes", "latency": "latency_s"}.get(metric, metric)
    v = attrs.get(key)
    if v is None:
        return "?"
    if metric == "latency":
        return f"{v * 1e3:.4g} ms"
    return f"{v:,}"
