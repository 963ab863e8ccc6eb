"""Search commands: ``attncost search SPEC`` (real training, Optuna) and
``attncost search-bench`` (regret against exact optima). They need the search extra
(``pip install -c constraints.txt -e '.[search]'``)."""

from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from ..errors import AttncostError
from . import render
from .base import (Report, ReportFormat, VarFile, app, console, echo_json, friendly,
                   load_extras, needs, parse_float, parse_int, writable)

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
    trials: Annotated[Optional[int], typer.Option(help="Evaluations (training runs, re-tests "
                                                       "included) the study should hold; a "
                                                       "resumed study runs the rest.",
                                                  **IntOpt)] = None,
    confidence: Annotated[Optional[float], typer.Option(
        help="Confidence that the answer meets the target.", show_default="0.95",
        **FloatOpt)] = None,
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
    target: Annotated[Optional[float], typer.Option(
        help="Target of the task's metric: accuracy or F1 (0–1), or the most loss allowed.",
        **FloatOpt)] = None,
    steps: Annotated[Optional[int], typer.Option(help="Training steps per run.",
                                                 **IntOpt)] = None,
    seeds: Annotated[Optional[int], typer.Option(help="Runs every architecture not ruled "
                                                      "out gets (re-tests add more).",
                                                 **IntOpt)] = None,
    device: Annotated[Optional[str], typer.Option(help="Device whose memory and roofline "
                                                       "are the budget.")] = None,
    memory: Annotated[Optional[str], typer.Option(help="Memory budget, e.g. 64MB.")] = None,
    latency_ms: Annotated[Optional[float], typer.Option(help="Roofline latency budget (ms).",
                                                        **FloatOpt)] = None,
    train_device: Annotated[Optional[str], typer.Option(
        help="Where runs train: cpu, cuda or cuda:<index> ([training] device).")] = None,
    precision: Annotated[Optional[str], typer.Option(
        help="auto (fp32 on the CPU, bf16/fp16 mixed precision on a GPU), fp32, bf16 or "
             "fp16 ([training] precision).")] = None,
    output: Annotated[Optional[Path], typer.Option(
        "--output", "-o", help="Summary JSON.",
        show_default="reports/search/<name>.json")] = None,
    surrogate: Annotated[bool, typer.Option(
        "--surrogate", help="No training: fit a SURROGATE to the study's measured runs, "
                            "print its held-out error and its predicted best.")] = False,
    fmt: ReportFormat = Report.table,
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
    writable(output)
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
    s = load_spec(spec, plugins=(*(variant_file or ()), *(task_file or ())), trials=trials,
                  workers=workers, confidence=confidence,
                  storage=storage, sampler=sampler,
                  seed=seed, objective=objective, target_accuracy=target, steps=steps,
                  seeds=seeds, device=device, memory_bytes=memory, latency_ms=latency_ms,
                  train_device=train_device, precision=precision)
    if surrogate:
        return _search_surrogate(s, fmt)
    summary = run_search(s)
    path = summary.write(output or DEFAULT_RESULTS_DIR / f"{s.name}.json")
    if fmt is Report.json:
        echo_json(summary.to_dict())
    else:
        _print_search(summary)
    typer.echo(f"wrote {path}", err=True)


def _cost_cells(r: Any) -> list[str]:
    return [f"{r.params:,}" if r.params is not None else "?",
            f"{r.flops:,}" if r.flops is not None else "?",
            f"{r.memory_bytes / 2**20:,.2f} MiB" if r.memory_bytes else "?",
            f"{r.latency_s * 1e3:.4g} ms" if r.latency_s is not None else "n/a"]


def _accuracy_cell(r: Any) -> str:
    if r.accuracy is None:
        return "—"
    bounds = (f" [{r.lower:.3f}, {r.upper:.3f}]" if r.lower is not None and r.upper is not None
              else f" [–, {r.upper:.3f}]" if r.upper is not None else "")
    return f"{r.accuracy:.4f}{bounds}"


def _print_search(summary: Any) -> None:
    picks = ([("answer", summary.best)] if summary.best else []) + \
        [("pareto", r) for r in (summary.pareto or [])] + \
        ([("baseline", summary.baseline)] if summary.baseline else [])
    rows = [[label, ",".join(r.layers), _accuracy_cell(r), str(r.runs),
             f"{r.p_meets_target:.3f}" if r.p_meets_target is not None else "—",
             *_cost_cells(r)] for label, r in picks]
    out = console()
    metric = summary.spec.get("metric", "accuracy")
    target = (f"target accuracy {summary.target_accuracy}" if metric == "accuracy" else
              f"target {metric} score {summary.target_accuracy}"
              f"{' = exp(-loss)' if metric == 'loss' else ''}")
    render.print_fitted(
        out, f"attncost search {summary.name} — objective {summary.objective} "
             f"({summary.cost_metric}), {target} at {summary.confidence:.0%} confidence",
        ["", "layers", "accuracy [lower, upper]", "runs", "P(≥ target)", "params", "FLOPs",
         "peak memory", "latency"], rows, names=2)
    lines = []
    if summary.best is None and not summary.pareto:
        lines.append("no architecture is certified to meet the target within the budget at "
                     f"{summary.confidence:.0%} confidence (see every architecture in the JSON)")
    if summary.converged:
        lines.append(f"converged: {summary.converged}")
    lines.append(f"{summary.evaluations} evaluations; noise sd {summary.noise_sd:.4f}; "
                 "trials: " + ", ".join(f"{k} {v}" for k, v in summary.statuses().items())
                 + f"; {summary.accuracy_source}")
    if summary.latency_source:
        lines.append(f"latency: {summary.latency_source}")
    for line in lines:
        out.print(line, markup=False, highlight=False)


def _search_surrogate(s: Any, fmt: Report) -> None:
    from ..search import surrogate as sg

    out = sg.what_if(s)
    if fmt is Report.json:
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
    families: Annotated[Optional[str], typer.Option(
        help="Comma-separated landscape families (and legacy, the first benchmark).",
        show_default="all")] = None,
    instances: Annotated[str, typer.Option(
        help="Instances of each family: 2,3,4,5,6 (the report) or 0,1 (those the searcher "
             "was tuned on).")] = "2,3,4,5,6",
    samplers: Annotated[Optional[str], typer.Option(
        help="Comma-separated searchers.", show_default="attncost,tpe,nsga2,gp,random")] = None,
    evaluations: Annotated[int, typer.Option(help="Evaluations per run.", **IntOpt)] = 300,
    noise: Annotated[float, typer.Option(help="Observation noise sd (accuracy).",
                                         **FloatOpt)] = 0.0125,
    jobs: Annotated[Optional[int], typer.Option(help="Parallel processes.",
                                                show_default="the CPU count", **IntOpt)] = None,
    output: Annotated[Optional[Path], typer.Option(
        "--output", "-o", help="Results JSON; runs already in it are kept (resume).")] = None,
    fmt: ReportFormat = Report.table,
) -> None:
    """Regret and honesty of each searcher against exact optima: black boxes of seven forms
    the searcher does not assume (and the first benchmark), observed with noise; the answer
    after 50, 100 and 300 evaluations is the cheapest architecture certified at 95 %
    confidence, and is judged against the true accuracy."""
    import json
    import os

    writable(output)
    needs("optuna", extra="search")
    from ..search import benchmark as bm
    from ..search.samplers import check_sampler

    fams = _names_list(families, bm.families(), "family")
    names = [check_sampler(n) for n in _names_list(samplers, ["attncost", "tpe", "nsga2",
                                                               "gp", "random"], "sampler")]
    try:
        insts = tuple(int(i) for i in instances.split(","))
    except ValueError:
        raise AttncostError(f"--instances {instances!r}: a comma-separated list of "
                            f"integers") from None
    if evaluations < 1 or not 0 < noise < 0.5 or (jobs is not None and jobs < 1) or \
            any(i < 0 for i in insts):
        raise AttncostError(f"--evaluations {evaluations}, --noise {noise}, --jobs {jobs}, "
                            f"--instances {instances}: positive counts, noise in (0, 0.5)")
    plan = bm.Plan(tuple(fams), insts, tuple(names), evaluations, noise)
    done: dict = {}
    if output is not None and output.is_file():
        try:
            stored = json.loads(output.read_text())
            done = {r.key(): r for r in map(bm.RunResult.from_dict, stored["runs"])
                    if stored.get("evaluations") == evaluations and stored.get("noise") == noise}
        except (ValueError, KeyError, TypeError):
            raise AttncostError(f"{str(output)!r} is not a search-bench results file") from None

    def save(r: Any) -> None:
        done[r.key()] = r
        if output is not None:
            from ..files import write_text

            write_text(output, json.dumps({"evaluations": evaluations, "noise": noise,
                                           "runs": [x.to_dict() for x in done.values()]}))

    results, margins = bm.run_plan(plan, done, jobs or os.cpu_count() or 1,
                                   lambda line: typer.echo(line, err=True), save)
    rows = bm.summarise(results) + bm.summarise(results, "observed")
    if fmt is Report.json:
        return echo_json({"plan": plan.__dict__, "rows": rows,
                          "margin_regret": {f"{f} {i}": m for (f, i), m in margins.items()}})
    typer.echo(bench_table(rows, margins, plan))


def _names_list(text: str | None, default: list[str], what: str) -> list[str]:
    names = [n.strip() for n in (",".join(default) if text is None else text).split(",") if n.strip()]
    if not names:
        raise AttncostError(f"no {what} given: name one or more")
    if what == "family":
        from ..errors import unknown

        for n in names:
            if n not in default:
                raise unknown("landscape family", n, default)
    return names


def bench_table(rows: list[dict], margins: dict, plan: Any) -> str:
    """The benchmark as text: per family and searcher, regret at each checkpoint (mean and
    worst), answers that truly miss the target, runs without an answer."""
    from ..search.benchmark import CHECKPOINTS

    checkpoints = [k for k in CHECKPOINTS if k <= plan.evaluations]
    out = [f"search-bench: {len(plan.instances)} instance(s) ({','.join(map(str, plan.instances))}) "
           f"of each family, {plan.evaluations} evaluations, noise sd {plan.noise}; regret = "
           f"cost of the answer / exact optimum − 1, mean (worst); ✗ = answers whose true "
           f"accuracy misses the target; ∅ = no answer",
           f"{'family':<16}{'searcher':<10}{'rule':<10}" +
           "".join(f"{'@' + str(k):>26}" for k in checkpoints)]
    for r in rows:
        cells = []
        for k in checkpoints:
            mean, worst = r[f"regret@{k}_mean"], r[f"regret@{k}_worst"]
            txt = "—" if mean is None else f"{mean:6.1%} ({worst:6.1%})"
            marks = (f" {r[f'infeasible@{k}']}✗" if r[f"infeasible@{k}"] else "") + \
                (f" {r[f'none@{k}']}∅" if r[f"none@{k}"] else "")
            cells.append(f"{txt + marks:>26}")
        out.append(f"{r['family']:<16}{r['sampler']:<10}{r['rule']:<10}" + "".join(cells))
    by_family: dict[str, list[float]] = {}
    for (family, _), m in margins.items():
        by_family.setdefault(family, []).append(m)
    out.append("what a one-point certification margin costs (regret of the cheapest "
               "arrangement ≥ target + 0.01), mean over instances: " +
               ", ".join(f"{f} {sum(v) / len(v):.1%}" for f, v in by_family.items()))
    return "\n".join(out)
