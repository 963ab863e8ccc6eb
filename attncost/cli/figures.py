"""Figures and the report: ``attncost plot curves|breakdown|roofline|validation|search`` and
``attncost report``."""

from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from .base import (AllVariants, DeviceOpt, Headroom, Layers, Mode, VarFile, app,
                   attention_flags, friendly, given, load_extras, writable)

plot_app = typer.Typer(help="Figures (PNG or SVG by the output's suffix; headless). Each "
                            "variant has the same colour-blind-safe colour in every figure.",
                       no_args_is_help=True, rich_markup_mode=None)
app.add_typer(plot_app, name="plot")
OutFig = Annotated[Path, typer.Option("--output", "-o", help="Figure file, .png or .svg.")]
FIGURE_SIZES = ("d_model", "heads", "seq_len", "batch", "dtype", "k", "kv_heads", "d_head",
                "max_seq_len", "bias", "causal", "impl", "optimizer")


def _names(variant: list[str] | None) -> list[str]:
    from ..variants import resolve

    return resolve(",".join(variant) if variant else "all")


def _wrote(path: Path) -> None:
    typer.echo(f"wrote {path}")
    if given("headroom") and not given("device"):
        typer.echo("note: --headroom has no effect without --device", err=True)


@plot_app.command("curves")
@friendly
@attention_flags(only=FIGURE_SIZES)
def plot_curves(
    variant: AllVariants = None,
    metric: Annotated[str, typer.Option(help="Comma-separated metrics (any of `attncost "
                                             "estimate --format json`'s).")] =
        "params,flops_fwd,train_peak_bytes",
    axis: Annotated[str, typer.Option(help="seq_len or d_model.")] = "seq_len",
    values: Annotated[Optional[str], typer.Option(
        help="Axis values: '64:16384:x2' or '128,256,512'.",
        show_default="64…16384 or 64…1024")] = None,
    layers: Layers = None, device: DeviceOpt = None, headroom: Headroom = 0.1,
    output: OutFig = Path("cost-curves.png"), variant_file: VarFile = None, fields: Any = None,
) -> None:
    """Cost against sequence length or width, log axes, a device's memory budget as a line,
    crossovers with standard attention marked (e.g. where Linformer becomes cheaper)."""
    writable(figures=[output])
    from .. import plots
    from ..config import AttentionConfig
    from .costs import parse_values

    load_extras(variant_file, None)
    base = AttentionConfig(**fields)  # a bad value is an error before any note
    if axis in fields:
        typer.echo(f"note: --{axis.replace('_', '-')} has no effect: it is the figure's axis "
                   f"(--values sets its values)", err=True)
    fig = plots.curves(_names(variant),
                       [m.strip() for m in metric.split(",")], axis,
                       parse_values(axis, values, "--values"), base,
                       layers=1 if layers is None else layers, device=device, headroom=headroom)
    _wrote(plots.save(fig, output))


@plot_app.command("breakdown")
@friendly
@attention_flags(only=FIGURE_SIZES)
def plot_breakdown(
    variant: AllVariants = None, layers: Layers = None, device: DeviceOpt = None,
    headroom: Headroom = 0.1, output: OutFig = Path("memory-breakdown.png"),
    variant_file: VarFile = None, fields: Any = None,
) -> None:
    """Stacked memory of one training step (weights, gradients, optimizer, activations) and
    the KV cache of a full context, per variant."""
    writable(figures=[output])
    from .. import plots
    from ..config import AttentionConfig

    load_extras(variant_file, None)
    fig = plots.memory_breakdown(_names(variant), AttentionConfig(**fields),
                                 layers=1 if layers is None else layers, device=device, headroom=headroom)
    _wrote(plots.save(fig, output))


@plot_app.command("roofline")
@friendly
@attention_flags(only=FIGURE_SIZES)
def plot_roofline(
    device: Annotated[str, typer.Option(help="A device from `attncost devices`.")] =
        "jetson-orin-nano-8gb",
    variant: AllVariants = None, layers: Layers = None,
    mode: Annotated[Mode, typer.Option(help="A forward pass (infer) or a training step.")] =
        Mode.infer,
    output: OutFig = Path("roofline.png"), variant_file: VarFile = None, fields: Any = None,
) -> None:
    """A device's roofline with each variant placed on it."""
    writable(figures=[output])
    from .. import plots
    from ..config import AttentionConfig

    load_extras(variant_file, None)
    fig = plots.roofline(device, _names(variant), AttentionConfig(**fields),
                         layers=1 if layers is None else layers, mode=mode.value)
    _wrote(plots.save(fig, output))


@plot_app.command("validation")
@friendly
def plot_validation(
    csv_path: Annotated[Path, typer.Argument(help="A CSV from attncost validate.")] =
        Path("reports/validation-cpu.csv"),
    output: OutFig = Path("validation.png"),
) -> None:
    """Predicted against measured, per metric family, from a validation CSV."""
    writable(figures=[output])
    from .. import plots
    from ..validate import figure

    _wrote(plots.save(figure(csv_path), output))


@plot_app.command("search")
@friendly
def plot_search(
    summary: Annotated[Path, typer.Argument(help="A search summary JSON (reports/search/).")],
    output: OutFig = Path("search.png"),
) -> None:
    """A study's accuracy against cost (Pareto front or best, baseline, target) and its
    optimisation history."""
    writable(figures=[output])
    from .. import plots
    from ..search.summary import SearchSummary

    _wrote(plots.save(plots.search(SearchSummary.read(summary)), output))


@app.command()
@friendly
def report(
    out: Annotated[Path, typer.Option("--out", "-o", help="Report folder.")] = Path("reports"),
) -> None:
    """Regenerate the report: comparison tables from the cost model, the figures, and the
    validation, paper-claims and search results found in the folder."""
    from .. import report as rep

    writable(out, folder=True)
    _wrote(rep.write(out))
