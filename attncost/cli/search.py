"""Search commands: ``attncost search SPEC`` (real training, Optuna) and
``attncost search-bench`` (regret against exact optima). They need the search extra
(``pip install -c constraints.txt -e '.[search]'``)."""

from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from ..errors import AttncostError
from . import render
from .base import (Fmt, VarFile, app, console, echo_json, friendly, load_extras, needs,
                   parse_float, parse_int)

IntOpt = dict(parser=parse_int, metavar="INT")
FloatOpt = dict(parser=parse_float, metavar="NUMBER")


def _sampler_help() -> str:
    from ..search.samplers import SAMPLERS

    return ", ".join(SAMPLERS)


@app.command()
@friendly
def search(
    spec: Annotated[Path, typer.Argument(help="A search specification (TOML), e.g. "
                                              "search/edge-digits.toml.")],
    trials: Annotated[Optional[int], typer.Option(help="Finished trials the study should "
                                                       "hold (a resumed study runs the rest).",
                                                  **IntOpt)] = None,
    workers: Annotated[Optional[int], typer.Option(help="Local worker processes on one "
                                                        "study (journal file or database).",
                                                   **IntOpt)] = None,
    storage: Annotated[Optional[str], typer.Option(
        help="Journal file path or database URL (postgresql://user@host/db).",
        show_default="search/studies/<name>.journal")] = None,
    sampler: Annotated[Optional[str], typer.Option(help=f"One of: {_sampler_help()}.")] = None,
    seed: Annotated[Optional[int], typer.Option(help="Sampler seed.", **IntOpt)] = None,
    objective: Annotated[Optional[str], typer.Option(
        help="params, flops, memory, latency, or multi (Pareto: accuracy vs the spec's "
             "cost).")] = None,
    target: Annotated[Optional[float], typer.Option(help="Accuracy target, 0–1.",
                                                    **FloatOpt)] = None,
    steps: Annotated[Optional[int], typer.Option(help="Training steps per run.",
                                                 **IntOpt)] = None,
    seeds: Annotated[Optional[int], typer.Option(help="Training seeds per architecture.",
                                                 **IntOpt)] = None,
    device: Annotated[Optional[str], typer.Option(help="Device whose memory and roofline "
                                                       "are the budget.")] = None,
    memory: Annotated[Optional[str], typer.Option(help="Memory budget, e.g. 64MB.")] = None,
    latency_ms: Annotated[Optional[float], typer.Option(help="Roofline latency budget (ms).",
                                                        **FloatOpt)] = None,
    output: Annotated[Optional[Path], typer.Option(
        "--output", "-o", help="Summary JSON.",
        show_default="reports/search/<name>.json")] = None,
    surrogate: Annotated[bool, typer.Option(
        "--surrogate", help="No training: fit a SURROGATE to the study's measured runs, "
                            "print its held-out error and its predicted best.")] = False,
    fmt: Annotated[Fmt, typer.Option("--format", "-f", help="table or json.")] = Fmt.table,
    variant_file: VarFile = None,
    task_file: Annotated[Optional[list[Path]], typer.Option(
        help="Python file(s) that register tasks (@attncost.search.tasks.register_task).")] = None,
) -> None:
    """Which attention variant should each layer use? Trains real models (Optuna).

    Costs are exact (cost model) and checked against the budget before any training; each
    candidate is trained on the spec's task for every seed, accuracy on its validation split.
    Ctrl-C stops; running it again resumes the same study (finished trials are kept).
    Open a study with: optuna-dashboard <storage> (see README).
    """
    needs("optuna", "torch", extra="search")
    import optuna

    from ..search.runner import run_search
    from ..search.spec import load_spec
    from ..search.storage import DEFAULT_RESULTS_DIR

    load_extras(variant_file, None)
    for f in task_file or []:
        from ..search.tasks import load_task_file

        load_task_file(f)
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # attncost logs each trial itself
    if fmt is Fmt.csv:
        raise AttncostError("--format csv is not available for search; use table or json")
    s = load_spec(spec, plugins=(*(variant_file or ()), *(task_file or ())), trials=trials,
                  workers=workers,
                  storage=storage, sampler=sampler,
                  seed=seed, objective=objective, target_accuracy=target, steps=steps,
                  seeds=seeds, device=device, memory_bytes=memory, latency_ms=latency_ms)
    if surrogate:
        return _search_surrogate(s, fmt)
    summary = run_search(s)
    path = summary.write(output or DEFAULT_RESULTS_DIR / f"{s.name}.json")
    if fmt is Fmt.json:
        echo_json(summary.to_dict())
    else:
        _print_search(summary)
    typer.echo(f"wrote {path}", err=True)


def _cost_cells(r: Any) -> list[str]:
    return [f"{r.params:,}" if r.params is not None else "?",
            f"{r.flops:,}" if r.flops is not None else "?",
            f"{r.memory_bytes / 2**20:,.2f} MiB" if r.memory_bytes else "?",
            f"{r.latency_s * 1e3:.4g} ms" if r.latency_s is not None else "n/a"]


def _print_search(summary: Any) -> None:
    t = render.table(f"attncost search {summary.name} — objective {summary.objective} "
                     f"({summary.cost_metric}), target accuracy {summary.target_accuracy}",
                     ["", "layers", "accuracy ± ½spread", "params", "FLOPs", "peak memory",
                      "latency", "trial"], names=2)
    picks = ([("best", summary.best)] if summary.best else []) + \
        [("pareto", r) for r in (summary.pareto or [])] + \
        ([("baseline", summary.baseline)] if summary.baseline else [])
    for label, r in picks:
        acc = (f"{r.accuracy:.4f} ± {r.accuracy_spread / 2:.4f}" if r.accuracy is not None
               else "—")
        t.add_row(label, ",".join(r.layers), acc, *_cost_cells(r), str(r.trial))
    out = console()
    out.print(t)
    lines = []
    if summary.best is None and not summary.pareto:
        lines.append("no feasible architecture found: every trained candidate missed the "
                     "target or the budget (see the trials in the JSON)")
    if summary.converged:
        lines.append(f"converged {summary.converged}")
    lines.append("trials: " + ", ".join(f"{k} {v}" for k, v in summary.statuses().items())
                 + f"; {summary.accuracy_source}")
    for line in lines:
        out.print(line, markup=False, highlight=False)


def _search_surrogate(s: Any, fmt: Fmt) -> None:
    from ..search import surrogate as sg

    out = sg.what_if(s)
    if fmt is Fmt.json:
        return echo_json(out)
    cv = out["cross_validation"]
    typer.echo(f"SURROGATE fitted to {cv['runs']} measured runs of {out['study']}: "
               f"held-out ({cv['folds']}-fold) absolute error mean "
               f"{cv['mean_abs_error']:.4f}, median {cv['median_abs_error']:.4f}, max "
               f"{cv['max_abs_error']:.4f} (accuracy)")
    for r in out["predicted_best"]:
        typer.echo(f"  predicted {r['surrogate_accuracy']:.4f}  {out['cost_metric']} "
                   f"{r['cost']:.6g}  {','.join(r['layers'])}")
    if not out["predicted_best"]:
        typer.echo("  no candidate is predicted to meet the target")


@app.command("search-bench")
@friendly
def search_bench(
    layers: Annotated[int, typer.Option(help="Layers of the benchmark stack.", **IntOpt)] = 12,
    runs: Annotated[int, typer.Option(help="Black boxes (each a different random "
                                           "instance), one run of each searcher on each.",
                                      **IntOpt)] = 3,
    samplers: Annotated[Optional[str], typer.Option(
        help="Comma-separated searchers.", show_default="every sampler")] = None,
    misspecified: Annotated[bool, typer.Option(
        help="Add a non-adjacent interaction the attncost sampler cannot model.")] = False,
    fmt: Annotated[Fmt, typer.Option("--format", "-f", help="table or json.")] = Fmt.table,
) -> None:
    """Regret of each searcher against the exact optimum of a black-box accuracy problem
    (12 layers × 6 variants, costs from the cost model) after 50, 100, 300 evaluations."""
    needs("optuna", extra="search")
    from ..search import benchmark as bm
    from ..search.samplers import SAMPLERS, check_sampler

    if layers < 2:
        raise AttncostError(f"--layers must be at least 2, got {layers}")
    if runs < 1:
        raise AttncostError(f"--runs must be at least 1, got {runs}")
    names = [check_sampler(n.strip()) for n in (samplers or ",".join(SAMPLERS)).split(",")
             if n.strip()]
    # black box 0 was used to choose the sampler's settings: report on others
    problems = [bm.make_problem(layers, seed=1 + run, misspecified=misspecified)
                for run in range(runs)]
    for run, problem in enumerate(problems):
        typer.echo(f"problem {run + 1}: {layers} layers × {len(bm.VARIANTS)} variants, parameter "
                   f"budget {problem.param_budget:,}, target {problem.target}; exact optimum "
                   f"{problem.optimum_cost * 1e3:.4f} ms (standard everywhere: "
                   f"{problem.space.cost(('standard',) * layers) * 1e3:.4f} ms): "
                   f"{','.join(problem.optimum)}", err=True)
    results = []
    for name in names:
        for run, problem in enumerate(problems):
            r = bm.run_sampler(problem, name, run)
            typer.echo(f"  {name} seed {run}: regret {r.regret} ({r.trials} trials, "
                       f"{r.seconds:.1f} s)", err=True)
            results.append(r)
    rows = bm.summarise(results)
    if fmt is Fmt.json:
        return echo_json({"optima": [list(p.optimum) for p in problems],
                          "optimum_latency_s": [p.optimum_cost for p in problems],
                          "rows": rows})
    typer.echo("regret = cost of the answer / exact optimum − 1 (mean over black boxes, worst); "
               "n✗ = answers whose true accuracy misses the target (noise fooled the search)")
    typer.echo(f"{'sampler':<10}" + "".join(f"{'regret@' + str(k):>28}" for k in bm.CHECKPOINTS)
               + f"{'trials/s':>10}")
    for row in rows:
        cells = []
        for k in bm.CHECKPOINTS:
            mean, worst = row[f"regret@{k}_mean"], row[f"regret@{k}_worst"]
            txt = "no answer" if mean is None else f"{mean:.2%} (worst {worst:.2%})" \
                if worst is not None else f"{mean:.2%} ({row[f'no_answer@{k}']} none)"
            if row[f"infeasible_answer@{k}"]:
                txt += f" {row[f'infeasible_answer@{k}']}✗"
            cells.append(f"{txt:>28}")
        typer.echo(f"{row['sampler']:<10}" + "".join(cells) + f"{row['trials_per_s']:>10.1f}")
