"""What one evaluation of a real search is: exact costs first, then one training run.

The search loop (:mod:`attncost.search.loop`) decides which architecture and which seed;
:class:`Trainer` evaluates it — the candidate's model (the task's input and head around the
spec's skeleton) trained on the task with that seed, scored on the held-out split. The first
run of an architecture reports its score to Optuna as it goes, so a hopeless candidate is
pruned (single-objective studies; re-tests are never pruned). A run that diverges ends as
failed with its reason; the study goes on.

Trial attributes (``optuna-dashboard`` shows them): ``layers``, ``seed``, ``status`` (trained |
pruned | diverged | over-budget | cached), ``accuracy`` (this run's), the costs, ``reason``,
``train_seconds``, ``worker``, ``retest``.
"""

from __future__ import annotations

import functools
import sys
from dataclasses import dataclass
from typing import Any, Callable

from .samplers import NEEDS_SPACE, SamplerContext, make_sampler
from .space import CandidateCost, LayerSpace, candidate_cost, layer_space
from .spec import SearchSpec
from .workers import this_worker
from .tasks import get_task


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


@dataclass
class Trainer:
    """The evaluator of a real search, and what it shares across runs (costs, data)."""

    spec: SearchSpec
    log: Callable[[str], None] = lambda line: print(line, file=sys.stderr, flush=True)

    def __post_init__(self) -> None:
        self.cost_of = cost_function(self.spec)
        self.task = get_task(self.spec.task)
        self._data: dict[int, Any] = {}
        self._space: LayerSpace | None = None

    def data(self, seed: int) -> Any:
        if seed not in self._data:
            self._data[seed] = self.task.data(self.spec.task_options, seed)
        return self._data[seed]

    def space(self) -> LayerSpace:
        """The exact costs of the candidates (additive over layers where the cost is)."""
        if self._space is None:
            s = self.spec
            needs = s.sampler in NEEDS_SPACE and not s.multi
            space = layer_space(s.choices, s.cost_metric, self.cost_of, need_additive=needs)
            space.budget_ok = lambda arch: self.cost_of(arch).fits
            self._space = space
        return self._space

    def searcher(self) -> Any:
        """The spec's sampler: a proposer (attncost) or an Optuna sampler."""
        s = self.spec
        return make_sampler(s.sampler, SamplerContext(s.seed, self.space(), s.target_accuracy,
                                                      chance(s), s.multi, self.log))

    def cost_attrs(self, arch: tuple[str, ...]) -> dict[str, Any]:
        return {k: v for k, v in self.cost_of(arch).as_dict().items()
                if k not in ("violations", "fits")}

    def evaluate(self, trial: Any, arch: tuple[str, ...], seed: int) -> float:
        """Train ``arch`` once with ``seed``; its held-out accuracy."""
        import optuna

        s = self.spec
        trial.set_user_attr("worker", this_worker())
        screening = not trial.user_attrs.get("retest")

        def on_eval(step: int, acc: float) -> None:
            if s.multi:
                return
            trial.report(acc, step)  # every run: the pruner compares with past successes
            if screening and trial.should_prune():
                trial.set_user_attr("reason", f"accuracy {acc:.3f} at step {step} is "
                                              f"behind every successful run")
                trial.set_user_attr("accuracy", acc)
                raise optuna.TrialPruned(f"accuracy {acc:.3f} at step {step}")

        r = self.task.train(s.model(arch), s.task_options, steps=s.steps, batch=s.train_batch,
                            lr=s.lr, seed=seed, eval_every=s.eval_every, data=self.data(seed),
                            on_eval=on_eval)
        trial.set_user_attr("train_seconds", r.seconds)
        return r.accuracy
