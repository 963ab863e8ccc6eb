"""Running a search: open (or resume) the study, train the baseline, run the search loop in
one or several worker processes on the same study, recover what a killed worker left, and
summarise.

The evaluation budget (``trials``) is study-wide: every worker's loop counts the runs the
study holds (and those running), so N workers together run ``trials`` evaluations.
"""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path
from typing import Any, Callable

from .loop import LoopSettings, SearchLoop, Step, runs_of
from .objective import Trainer
from .pruners import make_pruner
from .spec import SearchSpec
from .storage import SearchError, is_database_url, make_storage, storage_for, study_name
from .summary import SearchSummary, summarise
from .workers import alive, die_with_parent


def open_study(spec: SearchSpec, trainer: Trainer | None = None,
               create: bool = True) -> tuple[Any, Any]:
    """The spec's study (created or loaded; with ``create`` False, a :class:`SearchError`
    when it does not exist yet, and nothing is written) and its storage."""
    import optuna

    where = storage_for(spec)
    if not create and not is_database_url(where) and \
            not Path(where.removeprefix("journal:")).is_file():
        raise SearchError(f"no study at {where!r}: run the search first")
    trainer = trainer or Trainer(spec)
    searcher = trainer.searcher()
    sampler = searcher if not hasattr(searcher, "propose") else \
        optuna.samplers.RandomSampler(seed=spec.seed)
    storage = make_storage(where)
    if not create and study_name(spec) not in optuna.get_all_study_names(storage):
        raise SearchError(f"no study {study_name(spec)} in {where!r} (the spec's settings "
                          f"select the study): run the search first")
    directions = ["maximize", "minimize"] if spec.multi else ["minimize"]
    pruner = (optuna.pruners.NopPruner() if spec.multi else
              make_pruner(spec.target_accuracy, warmup_steps=spec.steps // 2))
    study = optuna.create_study(storage=storage, study_name=study_name(spec),
                                directions=directions, sampler=sampler, pruner=pruner,
                                load_if_exists=True)
    if not study.user_attrs:
        study.set_user_attr("spec", spec.as_dict())
        study.set_user_attr("cost_metric", spec.cost_metric)
    return study, storage


def make_loop(spec: SearchSpec, study: Any, trainer: Trainer) -> SearchLoop:
    searcher = trainer.searcher()
    settings = LoopSettings(spec.target_accuracy if spec.target_accuracy is not None else 0.0,
                            spec.trials, spec.confidence, multi=spec.multi,
                            front_runs=max(2, spec.seeds), min_runs=spec.seeds)
    return SearchLoop(study, trainer.space(), settings, trainer.evaluate,
                      searcher if hasattr(searcher, "propose") else None, trainer.cost_attrs)


def counted_trials(study: Any) -> int:
    """Evaluations the study holds (runs that trained, were pruned or diverged)."""
    return len(runs_of(study))


def recover_interrupted(study: Any, storage: Any) -> int:
    """Trials left RUNNING by a killed worker on this host (its pid is gone) are marked
    failed and ``interrupted``: they are not evaluations, and the loop chooses again.
    Returns how many were found."""
    from optuna.trial import TrialState

    host = socket.gethostname()
    found = 0
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        worker = t.user_attrs.get("worker", "")
        if worker.startswith(host + ":") and not alive(int(worker.split(":")[1])):
            storage.set_trial_user_attr(t._trial_id, "status", "interrupted")
            storage.set_trial_state_values(t._trial_id, TrialState.FAIL)
            found += 1
    return found


def log_step(trainer: Trainer, loop: SearchLoop, step: Step) -> None:
    if step.kind == "stop":
        return
    ev = loop.evidence()
    c = ev.candidates.get(step.arch)
    v = ev.verdicts.get(step.arch)
    acc = f"acc {step.accuracy:.3f}" if step.accuracy is not None else step.status
    where = (f"; mean {v.mean:.3f} over {v.n} run(s), {v.state}" if v is not None and
             v.mean is not None else "")
    cost = c.cost if c is not None else loop.space.cost(step.arch)
    trainer.log(f"{step.kind:>6} [{','.join(step.arch)}] seed {step.seed}: {acc}{where} "
                f"({trainer.spec.cost_metric} {cost:.4g}) {step.reason}".rstrip())


def _run_loop(spec: SearchSpec, trainer: Trainer, study: Any) -> str | None:
    loop = make_loop(spec, study, trainer)
    while True:
        step = loop.step()
        log_step(trainer, loop, step)
        if step.kind == "stop":
            if loop.converged:
                study.set_user_attr("converged", loop.converged)
            return loop.converged


def _worker(spec: SearchSpec, threads: int, parent: int) -> None:
    """One worker process on the shared study (``--workers``)."""
    import optuna
    import torch

    from ..plugins import import_file

    die_with_parent()
    if os.getppid() != parent:  # the parent died before the request took effect
        return
    for path in spec.plugins:  # the user's variants and tasks, as in the parent
        import_file(path)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    torch.set_num_threads(threads)
    trainer = Trainer(spec)
    study, _ = open_study(spec, trainer)
    _run_loop(spec, trainer, study)


def _run_workers(spec: SearchSpec) -> None:
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")
    threads = max(1, (os.cpu_count() or 1) // spec.workers)
    procs = [ctx.Process(target=_worker, args=(spec, threads, os.getpid()), daemon=False)
             for _ in range(spec.workers)]
    for p in procs:
        p.start()
    try:
        for p in procs:
            p.join()
    except BaseException:  # Ctrl-C or SIGTERM: the workers stop with us
        for p in procs:
            p.join(timeout=10)
            if p.is_alive():
                p.terminate()
        raise
    bad = [p.exitcode for p in procs if p.exitcode]
    if bad:
        raise SearchError(f"{len(bad)} worker(s) failed (exit codes {bad}); finished "
                          f"trials are kept in {storage_for(spec)}: rerun to resume")


def train_baseline(spec: SearchSpec, trainer: Trainer, study: Any) -> None:
    """Standard attention in every layer, run once (seed 0) before the search — to compare
    with, even when it is over the budget."""
    if not all("standard" in c for c in spec.choices):
        return
    arch = ("standard",) * spec.layers
    if any(r.arch == arch for r in runs_of(study)):
        return
    trainer.log("training the standard-attention baseline")
    loop = make_loop(spec, study, trainer)
    step = loop._run(loop._ask(arch, {"baseline": True}), arch, 0, "new", loop.evidence())
    log_step(trainer, loop, step)


def run_search(spec: SearchSpec, *, log: Callable[[str], None] | None = None) -> SearchSummary:
    """Run (or resume) the study until its loop stops (budget spent or converged) and return
    the :class:`SearchSummary`."""
    trainer = Trainer(spec, **({"log": log} if log else {}))
    if spec.workers > 1 and not is_database_url(storage_for(spec)) and \
            storage_for(spec).endswith((".db", ".sqlite", ".sqlite3")):
        raise SearchError("SQLite cannot take concurrent workers; use a journal file or "
                          "postgresql://")
    study, storage = open_study(spec, trainer)
    found = recover_interrupted(study, storage)
    if found:
        trainer.log(f"resuming: {found} interrupted run(s) marked failed; the loop goes on")
    done = counted_trials(study)
    trainer.log(f"study {study.study_name} in {storage_for(spec)}: {done} evaluation(s) of "
                f"{spec.trials}, {spec.workers} worker(s)")
    start = time.perf_counter()
    train_baseline(spec, trainer, study)
    if spec.workers == 1:
        _run_loop(spec, trainer, study)
    else:
        _run_workers(spec)
    return summarise(spec, study, trainer, elapsed_s=time.perf_counter() - start)
