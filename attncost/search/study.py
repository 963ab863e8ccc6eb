"""The Optuna study behind ``attncost search``: storage, sampler, pruner, objective, workers.

One trial = one per-layer choice of attention variants. Its costs come first, exactly, from
the cost model; a candidate over the budget is recorded as infeasible and never trained. A
candidate whose architecture was already trained in this study reuses that result (the
``cached_from`` attribute says which trial). Otherwise it is trained on the task for every
seed; the first seed reports its validation accuracy to Optuna as it goes, so a hopeless
candidate is pruned (single-objective studies only). A run that diverges is recorded as failed
with its reason; the study goes on.

Trial attributes (``optuna-dashboard`` shows them): ``status`` (trained | cached |
over-budget | diverged | pruned), ``accuracy`` (mean over seeds), ``accuracy_spread``
(max − min), ``accuracies``, ``layers``, the costs, ``reason``, ``train_seconds``, ``worker``.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import socket
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from ..errors import AttncostError
from ..tasks import TASKS, TrainingDiverged, load_data, task_model, train
from .space import CandidateCost, candidate_cost, layer_space
from .spec import SearchSpec

#: Where a study lives when the spec names no storage.
DEFAULT_STUDY_DIR = Path("search") / "studies"
DEFAULT_RESULTS_DIR = Path("reports") / "search"
COUNTED = ("trained", "cached", "over-budget", "diverged", "pruned")


class SearchError(AttncostError):
    """The search cannot run as asked (storage, sampler, workers)."""


# -- storage -------------------------------------------------------------------------------


def is_database_url(storage: str) -> bool:
    return "://" in storage and not storage.startswith("file://")


def make_storage(storage: str):
    """A database URL (``postgresql://…``, ``sqlite:///…``) → RDBStorage with heartbeats;
    anything else is a journal file path (optionally ``journal:`` prefixed)."""
    import optuna
    from optuna.storages import JournalStorage, RDBStorage
    from optuna.storages.journal import JournalFileBackend

    # attncost logs every trial itself (with the reason of a failure): Optuna's own
    # warnings would repeat them with a traceback
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    if is_database_url(storage):
        import warnings

        try:
            with warnings.catch_warnings():  # heartbeats are "experimental" in Optuna 5.0
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                return RDBStorage(storage, heartbeat_interval=10, grace_period=30)
        except Exception as e:  # driver missing, server down, bad URL
            raise SearchError(f"cannot open storage {storage!r}: "
                              f"{str(e).splitlines()[0]}") from None
    path = Path(storage.removeprefix("journal:"))
    path.parent.mkdir(parents=True, exist_ok=True)
    return JournalStorage(JournalFileBackend(str(path)))


def storage_for(spec: SearchSpec) -> str:
    return spec.storage or str(DEFAULT_STUDY_DIR / f"{spec.name}.journal")


def study_name(spec: SearchSpec) -> str:
    """The spec's name plus a hash of everything that changes a trial's result, so editing
    the spec starts a new study instead of mixing incomparable trials."""
    d = spec.as_dict()
    for key in ("trials", "workers", "storage", "sampler", "seed", "description", "source",
                "name"):
        d.pop(key, None)
    digest = hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:8]
    return f"{spec.name}-{digest}"


# -- costs ---------------------------------------------------------------------------------


def cost_function(spec: SearchSpec) -> Callable[[tuple[str, ...]], CandidateCost]:
    attn = spec.attention()

    def cost_of(arch: tuple[str, ...]) -> CandidateCost:
        model = task_model(spec.task, arch, attn, spec.task_options, d_ff=spec.d_ff,
                           ffn_mult=spec.ffn_mult)
        return candidate_cost(model, device=spec.device, mode=spec.mode,
                              headroom=spec.headroom, memory_budget=spec.memory_bytes,
                              latency_budget_s=(spec.latency_ms / 1e3 if spec.latency_ms
                                                else None))
    return functools.cache(cost_of)


def chance(spec: SearchSpec) -> float:
    return TASKS[spec.task].chance(spec.task_options)


# -- sampler and pruner --------------------------------------------------------------------


def make_sampler(name: str, seed: int, *, space=None, target: float | None = None,
                 chance: float = 0.0, multi: bool = False, note: Callable[[str], None] = print):
    """``attncost`` (cost-aware Thompson sampling, single-objective), ``tpe`` (multivariate,
    constant liar for parallel workers), ``nsga2`` or ``random``. Constraints are read from
    each trial's ``set_constraint`` values by all of them (Optuna ≥ 5)."""
    import optuna

    if name == "attncost" and not multi:
        from .sampler import make_optuna_sampler
        return make_optuna_sampler(space, target, chance, seed)
    if name == "attncost":
        note("note: the attncost sampler is single-objective; multi-objective uses NSGA-II")
        name = "nsga2"
    if name == "tpe":
        return optuna.samplers.TPESampler(seed=seed, multivariate=True, constant_liar=True)
    if name == "nsga2":
        return optuna.samplers.NSGAIISampler(seed=seed, population_size=20)
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    raise SearchError(f"unknown sampler {name!r}; allowed: attncost, tpe, nsga2, random")


def make_pruner(target: float, margin: float = 0.02, min_successes: int = 2,
                warmup_steps: int = 0):
    """Prune a trial whose accuracy at step s is below that of every trial that went on to
    meet the target at the same step (less ``margin``), once ``min_successes`` exist: it is
    behind everything that has worked so far. Never before ``warmup_steps`` (early
    accuracy says little: on digits a candidate at 87 % after a third of its steps can still
    end above 95 %). Reads the accuracy each trial reports."""
    import optuna
    from optuna.trial import TrialState

    class TargetPruner(optuna.pruners.BasePruner):
        def prune(self, study, trial) -> bool:
            step = trial.last_step
            if step is None or step < warmup_steps:
                return False
            now = trial.intermediate_values[step]
            successes = [t for t in study.get_trials(deepcopy=False,
                                                     states=(TrialState.COMPLETE,))
                         if (t.user_attrs.get("accuracy") or 0) >= target
                         and step in t.intermediate_values]
            if len(successes) < min_successes:
                return False
            floor = min(t.intermediate_values[step] for t in successes)
            return now < floor - margin

    return TargetPruner()


# -- the objective -------------------------------------------------------------------------


@dataclass
class Searcher:
    spec: SearchSpec
    log: Callable[[str], None] = lambda line: print(line, file=sys.stderr, flush=True)

    def __post_init__(self) -> None:
        self.cost_of = cost_function(self.spec)
        self._data: dict[int, Any] = {}

    def data(self, seed: int):
        if seed not in self._data:
            self._data[seed] = load_data(self.spec.task, self.spec.task_options, seed)
        return self._data[seed]

    def space(self):
        return layer_space(self.spec.choices, self.spec.cost_metric, self.cost_of)

    def sampler(self):
        s = self.spec
        space = self.space() if s.sampler == "attncost" and not s.multi else None
        return make_sampler(s.sampler, s.seed, space=space, target=s.target_accuracy,
                            chance=chance(s), multi=s.multi, note=self.log)

    def objective(self, trial) -> Any:
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

    def _cached(self, trial, arch: tuple[str, ...]):
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

    def _wait_for_twin(self, trial, arch: tuple[str, ...], poll_s: float = 1.0) -> None:
        """Another worker is training the same architecture right now: wait for it, then
        reuse its result, instead of training it twice."""
        from optuna.trial import TrialState

        while True:
            twins = [t for t in trial.study.get_trials(deepcopy=False,
                                                       states=(TrialState.RUNNING,))
                     if t.number < trial.number and t.user_attrs.get("layers") == list(arch)
                     and _alive_worker(t.user_attrs.get("worker", ""))]
            if not twins:
                return
            time.sleep(poll_s)

    def _accuracy(self, trial, arch: tuple[str, ...]) -> tuple[list[float], float, int | None]:
        import optuna

        s = self.spec
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
        model = task_model(s.task, arch, s.attention(), s.task_options, d_ff=s.d_ff,
                           ffn_mult=s.ffn_mult)
        accs: list[float] = []
        seconds = 0.0
        for seed in range(s.seeds):
            def on_eval(step: int, acc: float, first: bool = seed == 0) -> None:
                if not first or s.multi:
                    return
                trial.report(acc, step)
                if trial.should_prune():
                    trial.set_user_attr("status", "pruned")
                    trial.set_user_attr("reason", f"accuracy {acc:.3f} at step {step} is "
                                                  f"behind every successful trial")
                    raise optuna.TrialPruned(f"accuracy {acc:.3f} at step {step}")
            try:
                r = train(model, s.task, steps=s.steps, batch=s.train_batch, lr=s.lr, seed=seed,
                          eval_every=s.eval_every, data=self.data(seed), on_eval=on_eval)
            except TrainingDiverged as e:
                trial.set_user_attr("status", "diverged")
                trial.set_user_attr("reason", str(e))
                raise
            accs.append(r.accuracy)
            seconds += r.seconds
        return accs, seconds, None

    def log_trial(self, study, frozen) -> None:
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


# -- running -------------------------------------------------------------------------------


def counted_trials(study) -> int:
    """Trials that finished with a result (interrupted ones are not counted: they rerun)."""
    from optuna.trial import TrialState

    return sum(1 for t in study.get_trials(deepcopy=False)
               if t.state != TrialState.RUNNING and t.state != TrialState.WAITING
               and t.user_attrs.get("status") in COUNTED)


def recover_interrupted(study, storage) -> int:
    """Trials left RUNNING by a killed worker on this host (its pid is gone) are marked
    failed and their architecture is queued again; interrupted (Ctrl-C) failures are queued
    again too. Returns how many were queued."""
    from optuna.trial import TrialState

    host = socket.gethostname()
    done = set(study.user_attrs.get("requeued", []))
    queued = []
    for t in study.get_trials(deepcopy=False):
        worker = t.user_attrs.get("worker", "")
        stale = False
        if t.state == TrialState.RUNNING and worker.startswith(host + ":"):
            stale = not _alive(int(worker.split(":")[1]))
            if stale:
                storage.set_trial_user_attr(t._trial_id, "status", "interrupted")
                storage.set_trial_state_values(t._trial_id, TrialState.FAIL)
        interrupted = t.state == TrialState.FAIL and t.user_attrs.get("status") not in COUNTED
        if (stale or interrupted) and t.number not in done and t.params and \
                len(t.params) == len(t.distributions):
            study.enqueue_trial(t.params, user_attrs={k: v for k, v in t.user_attrs.items()
                                                      if k == "baseline"})
            queued.append(t.number)
    if queued:
        study.set_user_attr("requeued", sorted(done | set(queued)))
    return len(queued)


def _alive_worker(worker: str) -> bool:
    """Whether a ``host:pid`` worker is alive (a worker on another host is assumed alive;
    the database's heartbeat fails it if not)."""
    host, _, pid = worker.partition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return True
    return _alive(int(pid))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def open_study(spec: SearchSpec, searcher: Searcher | None = None):
    import optuna

    searcher = searcher or Searcher(spec)
    storage = make_storage(storage_for(spec))
    directions = ["maximize", "minimize"] if spec.multi else ["minimize"]
    study = optuna.create_study(storage=storage, study_name=study_name(spec),
                                directions=directions, sampler=searcher.sampler(),
                                pruner=(optuna.pruners.NopPruner() if spec.multi else
                                        make_pruner(spec.target_accuracy,
                                            warmup_steps=spec.steps // 2)),
                                load_if_exists=True)
    if not study.user_attrs:
        study.set_user_attr("spec", spec.as_dict())
        study.set_user_attr("cost_metric", spec.cost_metric)
    return study, storage


def _worker(spec: SearchSpec, n_trials: int, threads: int) -> None:
    """One process's share of the trials (``--workers``)."""
    import torch

    torch.set_num_threads(threads)
    searcher = Searcher(spec)
    study, _ = open_study(spec, searcher)
    _optimize(study, searcher, n_trials)


def _optimize(study, searcher: Searcher, n_trials: int) -> None:
    study.optimize(searcher.objective, n_trials=n_trials, catch=(TrainingDiverged,),
                   callbacks=[searcher.log_trial], gc_after_trial=False)


def run_search(spec: SearchSpec, *, log: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Run (or resume) the study until it holds ``spec.trials`` finished trials, then train
    the standard baseline if the search did not, and return the summary
    (:func:`summarise`)."""
    import multiprocessing

    searcher = Searcher(spec, **({"log": log} if log else {}))
    if spec.workers > 1 and not is_database_url(storage_for(spec)) and \
            storage_for(spec).endswith((".db", ".sqlite", ".sqlite3")):
        raise SearchError("SQLite cannot take concurrent workers; use a journal file or "
                          "postgresql://")
    study, storage = open_study(spec, searcher)
    queued = recover_interrupted(study, storage)
    if queued:
        searcher.log(f"resuming: {queued} interrupted trial(s) queued again")
    done = counted_trials(study)
    baseline = ("standard",) * spec.layers
    if done == 0 and not any(t.state.name == "WAITING" for t in study.trials) and \
            all("standard" in c for c in spec.choices):
        study.enqueue_trial({f"layer_{i}": "standard" for i in range(spec.layers)},
                            user_attrs={"baseline": True})
    remaining = spec.trials - done
    searcher.log(f"study {study.study_name} in {storage_for(spec)}: {done} finished trial(s), "
                 f"{max(remaining, 0)} to run, {spec.workers} worker(s)")
    start = time.perf_counter()
    if remaining > 0:
        if spec.workers == 1:
            _optimize(study, searcher, remaining)
        else:
            ctx = multiprocessing.get_context("spawn")
            threads = max(1, (os.cpu_count() or 1) // spec.workers)
            shares = [remaining // spec.workers + (i < remaining % spec.workers)
                      for i in range(spec.workers)]
            procs = [ctx.Process(target=_worker, args=(spec, n, threads), daemon=False)
                     for n in shares if n]
            for p in procs:
                p.start()
            try:
                for p in procs:
                    p.join()
            except KeyboardInterrupt:
                for p in procs:
                    p.join(timeout=30)
                raise
            bad = [p.exitcode for p in procs if p.exitcode]
            if bad:
                raise SearchError(f"{len(bad)} worker(s) failed (exit codes {bad}); finished "
                                  f"trials are kept in {storage_for(spec)}: rerun to resume")
    if not any(t.user_attrs.get("layers") == list(baseline) and "accuracy" in t.user_attrs
               for t in study.trials) and all("standard" in c for c in spec.choices):
        searcher.log("training the standard-attention baseline")
        study.enqueue_trial({f"layer_{i}": "standard" for i in range(spec.layers)},
                            user_attrs={"baseline": True})
        _optimize(study, searcher, 1)
    return summarise(spec, study, elapsed_s=time.perf_counter() - start)


# -- results -------------------------------------------------------------------------------


def _feasible(spec: SearchSpec, t) -> bool:
    """Single-objective: every constraint (budget, accuracy) met. Multi-objective: trained,
    i.e. within the budget (over-budget candidates are pruned untrained)."""
    if spec.multi:
        return t.user_attrs.get("status") in ("trained", "cached")
    return bool(t.constraints) and all(v <= 0 for v in t.constraints.values())


def _row(spec: SearchSpec, t) -> dict[str, Any]:
    a = t.user_attrs
    return {"trial": t.number, "layers": a.get("layers"), "state": t.state.name.lower(),
            "status": a.get("status", "interrupted"), "accuracy": a.get("accuracy"),
            "accuracy_spread": a.get("accuracy_spread"), "accuracies": a.get("accuracies"),
            "params": a.get("params"), "flops": a.get("flops"),
            "memory_bytes": a.get("memory_bytes"), "latency_s": a.get("latency_s"),
            "feasible": _feasible(spec, t),
            "meets_target": (a.get("accuracy") is not None and spec.target_accuracy is not None
                             and a["accuracy"] >= spec.target_accuracy),
            "reason": a.get("reason"), "cached_from": a.get("cached_from"),
            "train_seconds": a.get("train_seconds")}


def summarise(spec: SearchSpec, study, elapsed_s: float | None = None) -> dict[str, Any]:
    """Best feasible architecture (single) or the Pareto front (multi), the standard
    baseline, and every trial, as a JSON-ready dict."""
    rows = [_row(spec, t) for t in study.trials]
    metric = spec.cost_metric
    key = {"memory": "memory_bytes", "latency": "latency_s"}.get(metric, metric)
    baseline = next((r for r in rows if r["layers"] == ["standard"] * spec.layers
                     and r["accuracy"] is not None), None)
    out: dict[str, Any] = {
        "spec": spec.as_dict(), "study": study.study_name, "storage": storage_for(spec),
        "objective": spec.objective, "cost_metric": metric, "cost_key": key,
        "target_accuracy": spec.target_accuracy, "finished_trials": counted_trials(study),
        "elapsed_s": elapsed_s, "baseline": baseline, "trials": rows,
        "converged": study.user_attrs.get("converged"),
        "accuracy_source": f"measured: {spec.seeds} seed(s) × {spec.steps} steps of "
                           f"{spec.task} per architecture, validation split"}
    if spec.multi:
        front = [_row(spec, t) for t in study.best_trials]
        out["pareto"] = sorted(front, key=lambda r: r[key])
        out["best"] = None
    else:
        feasible = [r for r in rows if r["feasible"] and r["state"] == "complete"]
        out["best"] = min(feasible, key=lambda r: r[key]) if feasible else None
        out["pareto"] = None
    return out


def write_summary(summary: dict[str, Any], path: str | Path) -> Path:
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(json.dumps(summary, indent=2) + "\n")
    return p
