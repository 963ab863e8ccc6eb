"""Measurement commands: validate (the cost model against real PyTorch runs), peers,
paper-claims. They need torch (``pip install -c constraints.txt -e '.[torch]'``)."""

from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from ..errors import AttncostError
from . import render
from .base import (AllVariants, FormatOpt, Fmt, VarFile, app, attention_flags, console,
                   echo_json, friendly, load_extras, needs, parse_int, writable, write_csv)


@app.command()
@friendly
@attention_flags(only=("d_model", "heads", "seq_len", "batch", "kv_heads", "k", "bias",
                       "causal", "impl"))
def validate(
    variant: AllVariants = None,
    grid_name: Annotated[str, typer.Option(
        "--grid", help="default (odd sizes, both implementations, causal, biases, batch 1 "
        "and 3) or small (CI). Giving any size flag validates that one configuration.")] = "default",
    timing: Annotated[bool, typer.Option(
        "--timing/--no-timing", help="Also time forward and forward+backward.")] = True,
    device: Annotated[str, typer.Option(help="torch device to run on: cpu or cuda.")] = "cpu",
    out: Annotated[Optional[Path], typer.Option(
        "--out", "-o", help="CSV of every row; finished configurations in it are reused "
        "(resume).")] = None,
    plot: Annotated[Optional[Path], typer.Option(help="Predicted-vs-measured plot (PNG/SVG).")] = None,
    fresh: Annotated[bool, typer.Option("--fresh", help="Ignore rows already in --out.")] = False,
    fmt: FormatOpt = Fmt.table, variant_file: VarFile = None, fields: Any = None,
) -> None:
    """The cost model against real PyTorch runs: exact params, matmul FLOPs and saved bytes;
    peak memory within 5 %; calibrated latency within ±15 % for ≥ 90 % of configurations.

    Exits 1 when an exact metric mismatches or a toleranced one misses its goal.
    """
    writable(out, figures=[plot])
    needs("torch", extra="torch")
    import torch

    from .. import validate as val

    if out is not None:
        val.load_done(out)  # an existing -o must be a validation CSV (also before --fresh)
    from .. import variants as registry
    from ..config import AttentionConfig

    load_extras(variant_file, None)
    if device not in ("cpu", "cuda"):
        raise AttncostError(f"--device {device!r}: allowed: cpu, cuda")
    if device == "cuda" and not torch.cuda.is_available():
        raise AttncostError("--device cuda: no CUDA device is available here")
    names, without = val.validatable(registry.resolve(variant or ["all"]))
    if variant and without:
        raise AttncostError(f"no PyTorch module to validate {without[0]!r} against; register "
                            f"one with @attncost.nn.register_module({without[0]!r})")
    one = any(f in fields for f in ("d_model", "heads", "seq_len", "batch", "kv_heads", "k"))
    configs = (val.grid("one", names, AttentionConfig(**fields)) if one
               else val.grid(grid_name, names))
    rows, summary = _run(val, configs, device, timing, out, fresh, fmt)
    if plot is not None:
        val.plot(rows, plot)
    summary["device"] = device if device == "cpu" else torch.cuda.get_device_name()
    summary["threads"] = torch.get_num_threads()
    summary["timing_threads"] = val.TIMING_THREADS
    if without:
        summary["left_out"] = {n: "no PyTorch module registered" for n in without}
    if fmt is Fmt.json:
        echo_json({"summary": summary, "rows": list(val.iter_rows(rows))})
    elif fmt is Fmt.csv:
        write_csv(list(val.iter_rows(rows)), val.CSV_FIELDS)
    else:
        _print_validation(val, rows, summary)
    if not summary["passed"]:
        raise typer.Exit(1)


def _run(val: Any, configs: list, device: str, timing: bool, out: Path | None, fresh: bool,
         fmt: Fmt) -> tuple[list, dict]:
    """Validate ``configs`` with a progress bar (resuming from ``out``)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    timings_path = out.with_suffix(".timings.json") if out is not None else None
    if fresh:
        for p in (out, timings_path):
            if p is not None and p.exists():
                p.unlink()
    with Progress(TextColumn("validate {task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=console(stderr=True),
                  disable=fmt is not Fmt.table) as bar:
        task = bar.add_task("", total=len(configs))

        def step(desc: str) -> None:
            bar.update(task, description=desc)
            bar.advance(task) if bar.tasks[0].completed < len(configs) else None

        rows, summary = val.run(configs, device=device, timing=timing, out=out,
                                timings_path=timings_path, progress=step)
        bar.update(task, completed=len(configs))
    return rows, summary


def _print_validation(val: Any, rows: list, summary: dict) -> None:
    t = render.table(f"Validation on {summary['device']} ({summary['threads']} threads; timings "
                     f"on {summary['timing_threads']}): {summary['configs_validated']} "
                     f"configurations", ["variant", "configs", "exact mismatches",
                                         "worst peak-memory error",
                                         "latency within ±15 % (held out)"])
    by_variant: dict[str, list] = {}
    for r in rows:
        by_variant.setdefault(r.variant, []).append(r)
    for v, rs in by_variant.items():
        configs = {tuple(getattr(r, f) for f in val.KEY_FIELDS) for r in rs}
        mism = sum(not r.ok for r in rs if r.metric in val.EXACT)
        mem = max((abs(r.rel_error) for r in rs if r.metric in val.MEMORY), default=0.0)
        held = [r for r in rs if r.metric in val.LATENCY and "(fit)" not in r.tolerance]
        lat = f"{sum(r.ok for r in held)}/{len(held)}" if held else "—"
        t.add_row(v, str(len(configs)), str(mism), f"{mem:.2%}", lat)
    out = console()
    out.print(t)
    s = summary
    out.print(f"exact checks: {s['exact_checks']}, mismatches: {s['exact_mismatches']} "
              f"(goal 0); peak memory worst error {s['memory_worst_error']:.2%} (goal ≤ 5 %)"
              + (f"; latency: {s['latency_share_within_15pct']:.0%} of "
                 f"{s['latency_held_out']} held-out timings within ±15 % (goal ≥ 90 %)"
                 if "latency_held_out" in s else ""), markup=False, highlight=False)
    notes = [s["latency_note"]] if "latency_note" in s else []
    notes += [f"left out: {n} — {why}" for n, why in s.get("left_out", {}).items()]
    render.print_notes(out, notes)
    out.print("PASSED" if s["passed"] else "FAILED", style=None if s["passed"] else "bold red")


@app.command()
@friendly
def peers(
    out: Annotated[Optional[Path], typer.Option(
        "--out", "-o", help="Write the table as Markdown here.")] = None,
    d_model: Annotated[int, typer.Option(help="Model width.", parser=parse_int,
                                         metavar="INT")] = 512,
    heads: Annotated[int, typer.Option(help="Heads.", parser=parse_int, metavar="INT")] = 8,
    seq_len: Annotated[int, typer.Option(help="Sequence length.", parser=parse_int,
                                         metavar="INT")] = 256,
) -> None:
    """What FlopCounterMode, fvcore, ptflops and thop report for standard attention (fused,
    explicit, nn.MultiheadAttention), next to attncost and the truth. Needs torch; the peer
    tools come with pip install -c constraints.txt -e '.[peers]'."""
    writable(out)
    needs("torch", extra="torch")
    from .. import peers as p
    from ..config import AttentionConfig
    from ..files import write_text

    AttentionConfig(d_model=d_model, heads=heads, seq_len=seq_len)  # one-line errors
    rows = p.table(d_model, heads, seq_len)
    text = p.markdown(rows, f"batch 1, seq_len {seq_len}, d_model {d_model}, {heads} heads, "
                            "no biases")
    if out is not None:
        write_text(out, text)
    typer.echo(text)


@app.command("paper-claims")
@friendly
def paper_claims(
    out: Annotated[Path, typer.Option("--out", "-o", help="Markdown report.")] = Path(
        "reports/paper-claims.md"),
) -> None:
    """Check the seed paper's cost and speed claims with the model and real runs (minutes)."""
    import json

    writable(out)
    needs("torch", extra="torch")
    from .. import claims
    from ..files import write_text

    data = claims.collect()
    png = out.with_name("paper-claims-speed.png")
    claims.plot(data, png)
    write_text(out, claims.markdown(data, png.name))
    write_text(out.with_suffix(".json"), json.dumps(data, indent=2))
    typer.echo(f"wrote {out}, {png} and {out.with_suffix('.json')}")
