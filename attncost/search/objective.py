"""What one evaluation of a real search is: exact costs first, then one training run.

The search loop (:mod:`attncost.search.loop`) decides which architecture and which seed;
:class:`Trainer` evaluates it — the candidate's model (the task's input and head around the
spec's skeleton) trained on the task with that seed, scored on the held-out split. The first
run of an architecture reports its score to Optuna as it goes, so a hopeless candidate is
pruned (single-objective studies; re-tests are never pruned). A run that diverges ends as
failed with its reason; the study goes on.

The run trains where ``[training] device`` says, at ``[training] precision``
(:mod:`attncost.search.tasks.device`). Its ``accuracy`` is the task's score: its metric
mapped into [0, 1], higher better (accuracy itself, macro F1, or exp(−loss)).

Trial attributes (``optuna-dashboard`` shows them): ``layers``, ``seed``, ``status`` (trained |
pruned | diverged | over-budget | cached), ``accuracy`` (this run's score), the costs,
``reason``, ``train_seconds``, ``train_device`` (off the CPU default), ``worker``,
``retest``.
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
    """Exact costs and budget check of a candidate (cached per architecture); latency from
    ``[budget] latency_source`` (:func:`latency_function`)."""
    attn = spec.attention()
    latency_of = latency_function(spec)

    def cost_of(arch: tuple[str, ...]) -> CandidateCost:
        return candidate_cost(spec.model(arch, attn), device=spec.device, mode=spec.mode,
                              headroom=spec.headroom, memory_budget=spec.memory_bytes,
                              latency_budget_s=(spec.latency_ms / 1e3 if spec.latency_ms
                                                else None), latency_of=latency_of)
    return functools.cache(cost_of)


def latency_function(spec: SearchSpec) -> Callable[[Any], float] | None:
    """A candidate model's latency by ``[budget] latency_source``: ``profile`` — the
    kernel-level predictor of the profile (:func:`attncost.latency.measure.predicted_latency`),
    ``measured`` — the model timed here in torch eager at the spec's batch
    (:func:`attncost.latency.measure.measure_latency`; each architecture once per process,
    through :func:`cost_function`'s cache); ``roofline`` — None (the device's roofline)."""
    mode = "train" if spec.mode == "train" else "infer"
    if spec.latency_source == "profile":
        from ..latency.measure import predicted_latency
        from ..latency.predictor import predictor_for

        pred = predictor_for(spec.latency_profile)
        return lambda m: predicted_latency(m, pred, mode, threads=spec.latency_threads)
    if spec.latency_source == "measured":
        from ..latency.measure import measure_latency

        return lambda m: measure_latency(m, threads=spec.latency_threads or 1, mode=mode,
                                         runtime=spec.latency_runtime)
    return None


def latency_source(spec: SearchSpec) -> str:
    """What a search's latency is, in words (for its summary)."""
    if spec.latency_source == "profile":
        return (f"predicted: the kernel-level predictor of profile {spec.latency_profile} "
                f"({spec.latency_threads or 'its first'} thread count)")
    if spec.latency_source == "measured":
        where = "torch eager"
        if spec.latency_runtime == "onnxruntime":
            from ..latency.onnx import runtime_version

            where = f"{runtime_version()} (exported with torch.onnx)"
        return (f"measured: each candidate timed in {where} on this machine "
                f"({spec.latency_threads or 1} thread(s), {spec.mode}, batch {spec.batch})")
    return f"roofline of {spec.device}" if spec.device else "roofline (no device)"


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

        moved = s.train_device != "cpu" or s.precision != "auto"  # passed only then: a
        where = {"device": s.train_device, "precision": s.precision} if moved else {}  # user's
        r = self.task.train(s.model(arch), s.task_options, steps=s.steps,  # own train() may
                            batch=s.train_batch, lr=s.lr, seed=seed,  # predate them
                            eval_every=s.eval_every, data=self.data(seed), on_eval=on_eval,
                            **where)
        trial.set_user_attr("train_seconds", r.seconds)
        if moved:
            trial.set_user_attr("train_device", f"{getattr(r, 'device', s.train_device)} "
                                                f"{getattr(r, 'precision', s.precision)}")
        return r.accuracy
