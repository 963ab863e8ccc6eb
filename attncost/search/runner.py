"""Running a search: open (or resume) the study, share it between worker processes, recover
trials a killed worker left behind, train the baseline, summarise."""

from __future__ import annotations

import os
import socket
import time
from typing import Any, Callable

from .objective import Searcher, alive
from .pruners import make_pruner
from .spec import SearchSpec
from .storage import SearchError, is_database_url, make_storage, storage_for, study_name
from .summary import COST_KEYS, COUNTED, SearchSummary, TrialRow
from .tasks import TrainingDiverged


def open_study(spec: SearchSpec, searcher: Searcher | None = None) -> tuple[Any, Any]:
    """The spec's study (created or loaded) and its storage."""
    import optuna

    searcher = searcher or Searcher(spec)
    storage = make_storage(storage_for(spec))
    directions = ["maximize", "minimize"] if spec.multi else ["minimize"]
    pruner = (optuna.pruners.NopPruner() if spec.multi else
              make_pruner(spec.target_accuracy, warmup_steps=spec.steps // 2))
    study = optuna.create_study(storage=storage, study_name=study_name(spec),
                                directions=directions, sampler=searcher.sampler(),
                                pruner=pruner, load_if_exists=True)
    if not study.user_attrs:
        study.set_user_attr("spec", spec.as_dict())
        study.set_user_attr("cost_metric", spec.cost_metric)
    return study, storage


def counted_trials(study: Any) -> int:
    """Trials that finished with a result (interrupted ones are not counted: they rerun)."""
    from optuna.trial import TrialState

    return sum(1 for t in study.get_trials(deepcopy=False)
               if t.state not in (TrialState.RUNNING, TrialState.WAITING)
               and t.user_attrs.get("status") in COUNTED)


def recover_interrupted(study: Any, storage: Any) -> int:
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
            stale = not alive(int(worker.split(":")[1]))
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


def _worker(spec: SearchSpec, n_trials: int, threads: int) -> None:
    """One process's share of the trials (``--workers``)."""
    import torch

    from ..plugins import import_file

    for path in spec.plugins:  # the user's variants and tasks, as in the parent
        import_file(path)
    torch.set_num_threads(threads)
    searcher = Searcher(spec)
    study, _ = open_study(spec, searcher)
    _optimize(study, searcher, n_trials)


def _optimize(study: Any, searcher: Searcher, n_trials: int) -> None:
    study.optimize(searcher.objective, n_trials=n_trials, catch=(TrainingDiverged,),
                   callbacks=[searcher.log_trial], gc_after_trial=False)


def _run_workers(spec: SearchSpec, remaining: int) -> None:
    import multiprocessing

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


def run_search(spec: SearchSpec, *, log: Callable[[str], None] | None = None) -> SearchSummary:
    """Run (or resume) the study until it holds ``spec.trials`` finished trials, then train
    the standard baseline if the search did not, and return the :class:`SearchSummary`."""
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
    baseline = {f"layer_{i}": "standard" for i in range(spec.layers)}
    has_baseline = all("standard" in c for c in spec.choices)
    if done == 0 and not any(t.state.name == "WAITING" for t in study.trials) and has_baseline:
        study.enqueue_trial(baseline, user_attrs={"baseline": True})
    remaining = spec.trials - done
    searcher.log(f"study {study.study_name} in {storage_for(spec)}: {done} finished trial(s), "
                 f"{max(remaining, 0)} to run, {spec.workers} worker(s)")
    start = time.perf_counter()
    if remaining > 0:
        if spec.workers == 1:
            _optimize(study, searcher, remaining)
        else:
            _run_workers(spec, remaining)
    if has_baseline and not any(t.user_attrs.get("layers") == ["standard"] * spec.layers
                                and "accuracy" in t.user_attrs for t in study.trials):
        searcher.log("training the standard-attention baseline")
        study.enqueue_trial(baseline, user_attrs={"baseline": True})
        _optimize(study, searcher, 1)
    return summarise(spec, study, elapsed_s=time.perf_counter() - start)


# -- results -------------------------------------------------------------------------------


def _feasible(spec: SearchSpec, t: Any) -> bool:
    """Single-objective: every constraint (budget, accuracy) met. Multi-objective: trained,
    i.e. within the budget (over-budget candidates are pruned untrained)."""
    if spec.multi:
        return t.user_attrs.get("status") in ("trained", "cached")
    return bool(t.constraints) and all(v <= 0 for v in t.constraints.values())


def trial_row(spec: SearchSpec, t: Any) -> TrialRow:
    a = t.user_attrs
    return TrialRow(
        trial=t.number, layers=a.get("layers"), state=t.state.name.lower(),
        status=a.get("status", "interrupted"), accuracy=a.get("accuracy"),
        accuracy_spread=a.get("accuracy_spread"), accuracies=a.get("accuracies"),
        params=a.get("params"), flops=a.get("flops"), memory_bytes=a.get("memory_bytes"),
        latency_s=a.get("latency_s"), feasible=_feasible(spec, t),
        meets_target=(a.get("accuracy") is not None and spec.target_accuracy is not None
                      and a["accuracy"] >= spec.target_accuracy),
        reason=a.get("reason"), cached_from=a.get("cached_from"),
        train_seconds=a.get("train_seconds"))


def summarise(spec: SearchSpec, study: Any, elapsed_s: float | None = None) -> SearchSummary:
    """Best feasible architecture (single) or the Pareto front (multi), the standard
    baseline, and every trial."""
    rows = [trial_row(spec, t) for t in study.trials]
    key = COST_KEYS[spec.cost_metric]
    baseline = next((r for r in rows if r.layers == ["standard"] * spec.layers
                     and r.accuracy is not None), None)
    out = SearchSummary(
        spec=spec.as_dict(), study=study.study_name, storage=storage_for(spec),
        objective=spec.objective, cost_metric=spec.cost_metric, cost_key=key,
        target_accuracy=spec.target_accuracy, finished_trials=counted_trials(study),
        accuracy_source=f"measured: {spec.seeds} seed(s) × {spec.steps} steps of "
                        f"{spec.task} per architecture, validation split",
        trials=rows, baseline=baseline, converged=study.user_attrs.get("converged"),
        elapsed_s=elapsed_s)
    if spec.multi:
        out.pareto = sorted((trial_row(spec, t) for t in study.best_trials),
                            key=lambda r: r.cost(key))
    else:
        feasible = [r for r in rows if r.feasible and r.state == "complete"]
        out.best = min(feasible, key=lambda r: r.cost(key)) if feasible else None
    return out
