"""Figures (matplotlib, headless): cost curves with budget lines and crossovers, a memory
breakdown, a device roofline, validation scatter, and a search's Pareto front and history.

One style for all: every variant has the same colour-blind-safe colour in every figure (its
registry record, :mod:`attncost.variants`); every axis names its quantity and unit (the metric
table, :mod:`attncost.metrics`). Each function returns a ``matplotlib.figure.Figure`` made
without pyplot — no backend is chosen and no global setting is changed, so a notebook's own
state is left alone; :func:`save` writes PNG or SVG by suffix. Numbers come from the cost
model (:mod:`attncost.api`), never from the figures.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any, Callable, Sequence

from .config import AttentionConfig
from .errors import AttncostError, ConfigError, unknown
from .metrics import METRICS

AXES = {"seq_len": "sequence length ℓ (tokens)", "d_model": "model width d_model"}
FORMATS = (".png", ".svg")
#: The figures' style, applied while a figure is built (never left behind).
STYLE = {"font.size": 9, "axes.titlesize": 10, "axes.grid": True, "grid.alpha": 0.3,
         "legend.fontsize": 8, "figure.dpi": 110}


def styled(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Build the figure under :data:`STYLE` (matplotlib's settings are restored after)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        import matplotlib

        with matplotlib.rc_context(STYLE):
            return fn(*args, **kwargs)

    return wrapper


def new_figure(nrows: int = 1, ncols: int = 1, **kw: Any) -> tuple[Any, Any]:
    """A Figure and its axes, without pyplot (nothing registered globally)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=kw.pop("figsize", None))
    return fig, fig.subplots(nrows, ncols, **kw)


def colour(variant: str) -> str:
    """The variant's colour (its registry record); grey for anything else."""
    from . import variants

    try:
        return variants.get(variant).colour
    except AttncostError:
        return "#555555"


def _line_style(variant: str) -> dict[str, Any]:
    # light colours (yellow, light grey) need an outline to be seen on white
    from . import variants

    try:
        outlined = variants.get(variant).outline
    except AttncostError:
        outlined = False
    return {"path_effects": _outline()} if outlined else {}


def _outline():
    from matplotlib import patheffects

    return [patheffects.Stroke(linewidth=3.2, foreground="0.35"), patheffects.Normal()]


def check_figure_path(path: str | Path) -> Path:
    """A figure file name: ending in .png or .svg (checked before any work)."""
    p = Path(path)
    if p.suffix.lower() not in FORMATS:
        raise ConfigError(f"figure file {str(path)!r} must end in .png or .svg")
    return p


def save(fig, path: str | Path) -> Path:
    """Write ``fig`` as PNG or SVG (by ``path``'s suffix) and close it."""
    p = check_figure_path(path)
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(p, dpi=150 if p.suffix.lower() == ".png" else None, bbox_inches="tight")
    except OSError as e:
        raise ConfigError(f"cannot write figure {str(path)!r}: {e.strerror or e}") from None
    return p


def default_values(axis: str, config: AttentionConfig) -> list[int]:
    if axis == "seq_len":
        return [2 ** i for i in range(6, 15)]
    return [64 * i for i in range(1, 17) if (64 * i) % config.heads == 0]


@styled
def curves(variants: Sequence[str], metrics: Sequence[str] = ("params", "flops_fwd",
                                                               "train_peak_bytes"),
           axis: str = "seq_len", values: Sequence[int] | None = None,
           config: AttentionConfig | None = None, *, layers: int = 1,
           device: str | None = None, headroom: float = 0.1, baseline: str = "standard"):
    """One panel per metric, the metric against ``axis`` for each variant (log-log), the
    device's memory budget (capacity less headroom) as a line on memory panels, and every
    exact crossover with ``baseline`` along ``seq_len`` marked and labelled."""
    from . import api
    from .devices import get_device

    cfg = config or AttentionConfig()
    if axis not in AXES:
        raise unknown("plot axis", axis, AXES)
    for m in metrics:
        if m not in METRICS:
            raise unknown("plot metric", m, METRICS)
    vals = sorted(set(values or default_values(axis, cfg)))
    frame = api.sweep(list(variants), {axis: vals}, cfg, layers=layers, metrics=list(metrics))
    dev = get_device(device) if device is not None else None
    fig, axes = new_figure(1, len(metrics), figsize=(4.3 * len(metrics), 3.9),
                           squeeze=False)
    undefined = {m: [v for v, rows in frame.groupby("variant", sort=False)
                     if any(x is None for x in rows[m])] for m in metrics}
    nothing = [m for m in metrics if len(undefined[m]) == frame["variant"].nunique()]
    if nothing:
        raise ConfigError(f"{nothing[0]} is not defined for {', '.join(undefined[nothing[0]])}: "
                          f"nothing to draw; choose other variants or metrics")
    for ax, metric in zip(axes[0], metrics):
        for variant, rows in frame.groupby("variant", sort=False):
            if variant in undefined[metric]:
                continue
            ax.plot(rows[axis], rows[metric].to_numpy().astype(float), marker="o", ms=3,
                    lw=1.6, color=colour(variant), label=variant, **_line_style(variant))
        if undefined[metric]:
            ax.annotate(f"not defined: {', '.join(undefined[metric])}", (0.02, 0.98),
                        xycoords="axes fraction", va="top", fontsize=7, color="#555555")
        if dev is not None and metric.endswith("peak_bytes"):
            budget = dev.budget(headroom)
            ax.axhline(budget, color="#D55E00", ls="--", lw=1)
            ax.annotate(f"{dev.name}: {dev.memory_bytes / 2**30:.0f} GiB − {headroom:.0%}",
                        (0.98, budget), xycoords=("axes fraction", "data"), ha="right",
                        va="top", textcoords="offset points", xytext=(0, -3), fontsize=7,
                        color="#D55E00")
        if axis == "seq_len" and baseline in set(frame["variant"]):
            _mark_crossovers(ax, frame, metric, variants, baseline, cfg, vals, layers)
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel(AXES[axis])
        ax.set_ylabel(METRICS[metric].axis_label())
        ax.set_title(METRICS[metric].quantity)
    legend = {label: h for ax in axes[0] for h, label in zip(*ax.get_legend_handles_labels())}
    fig.legend(list(legend.values()), list(legend), loc="lower center", ncol=len(legend), frameon=False,
               bbox_to_anchor=(0.5, -0.02))
    fixed = (f"d_model {cfg.d_model}, {cfg.heads} heads, batch {cfg.batch}" if axis == "seq_len"
             else f"ℓ {cfg.seq_len}, {cfg.heads} heads, batch {cfg.batch}")
    fig.suptitle(f"attncost: cost against {AXES[axis].split(' (')[0]} ({fixed}, {layers} layer"
                 f"{'s' if layers > 1 else ''}, {cfg.dtype})")
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    return fig


def _mark_crossovers(ax, frame, metric, variants, baseline, cfg, vals, layers) -> None:
    from . import api
    from .errors import AttncostError

    lo, hi = min(vals), max(vals)
    notes = []
    for variant in variants:
        if variant == baseline:
            continue
        try:
            found = api.crossover(variant, baseline, metric, cfg, lo=lo, hi=hi, layers=layers)
        except AttncostError:
            continue
        for c in found[:1]:
            ax.plot([c["at"]], [float(c["a"])], marker="X", ms=8, color=colour(variant),
                    mec="black", zorder=5)
            notes.append(f"✕ {variant} {'cheaper' if c['after'] == 'a < b' else 'dearer'} "
                         f"than {baseline} from ℓ = {c['at']:,}")
    if notes:
        ax.text(0.02, 0.98, "\n".join(notes), transform=ax.transAxes, va="top", fontsize=6.5,
                bbox={"boxstyle": "round", "fc": "white", "ec": "0.7", "alpha": 0.9}, zorder=6)


@styled
def memory_breakdown(variants: Sequence[str], config: AttentionConfig | None = None, *,
                     layers: int = 1, device: str | None = None, headroom: float = 0.1):
    """Stacked bars per variant: weights, gradients, optimizer state and activations saved
    for backward (what a training step holds), and beside them the KV cache of one full
    context (batch × ℓ tokens) for inference."""
    from . import api
    from .devices import get_device

    cfg = config or AttentionConfig()
    parts = [("weight_bytes", "weights", "#0072B2"), ("grad_bytes", "gradients", "#56B4E9"),
             ("optimizer_bytes", f"optimizer ({cfg.optimizer})", "#009E73"),
             ("activation_bytes", "saved activations", "#E69F00")]
    fig, ax = new_figure(figsize=(1.1 * len(variants) + 3.2, 4.2))
    xs = range(len(variants))
    bottoms = [0.0] * len(variants)
    ests = [api.estimate(v, cfg, layers=layers) for v in variants]
    for key, label, col in parts:
        heights = [float(e.metrics[key] or 0) / 2**20 for e in ests]
        ax.bar([x - 0.18 for x in xs], heights, 0.36, bottom=bottoms, label=label, color=col)
        bottoms = [b + h for b, h in zip(bottoms, heights)]
    kv = [float(e.metrics["kv_cache_bytes_per_token"] or 0) * cfg.seq_len * cfg.batch / 2**20
          for e in ests]
    ax.bar([x + 0.18 for x in xs], kv, 0.36, color="#CC79A7", hatch="//",
           label=f"KV cache, {cfg.batch}×{cfg.seq_len} tokens (inference)")
    for x, e in zip(xs, ests):
        if e.metrics["kv_cache_bytes_per_token"] is None:
            ax.annotate("no KV\ncache", (x + 0.18, 0), textcoords="offset points",
                        xytext=(0, 3), ha="center", fontsize=6.5)
    if device is not None:
        dev = get_device(device)
        ax.axhline(dev.budget(headroom) / 2**20, color="#D55E00", ls="--", lw=1,
                   label=f"{dev.name} budget")
    ax.set_xticks(list(xs), list(variants), rotation=20)
    ax.set_ylabel("memory (MiB)")
    ax.set_title(f"Memory of one training step and of the KV cache — d_model {cfg.d_model}, "
                 f"ℓ {cfg.seq_len}, batch {cfg.batch}, {layers} layer"
                 f"{'s' if layers > 1 else ''}, {cfg.dtype}")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    return fig


@styled
def roofline(device: str, variants: Sequence[str], config: AttentionConfig | None = None, *,
             layers: int = 1, mode: str = "infer"):
    """The device's roofline (attainable FLOP/s against arithmetic intensity) with each
    variant placed at its intensity and its roofline-bound throughput."""
    import numpy as np

    from . import api
    from .devices import get_device

    cfg = config or AttentionConfig()
    dev = get_device(device)
    peak, _ = dev.peak(cfg.dtype)
    if not peak or not dev.bandwidth:
        raise ConfigError(f"device {device!r} has no peak FLOP/s or bandwidth for {cfg.dtype}")
    ridge = peak / dev.bandwidth
    points = []
    for v in variants:
        r = api.estimate(v, cfg, layers=layers, device=dev, mode=mode).roofline
        if r is not None:
            points.append((v, r))
    lo = min([ridge] + [r.intensity for _, r in points]) / 8
    hi = max([ridge] + [r.intensity for _, r in points]) * 8
    xs = np.geomspace(lo, hi, 200)
    fig, ax = new_figure(figsize=(6.6, 4.4))
    ax.plot(xs, np.minimum(peak, dev.bandwidth * xs), color="0.2", lw=1.8,
            label=f"roof: {peak / 1e12:.3g} TFLOP/s, {dev.bandwidth / 1e9:.0f} GB/s")
    ax.axvline(ridge, color="0.6", ls=":", lw=1)
    ax.annotate(f"ridge: {ridge:.1f} FLOP/B", (ridge, 0.03), xycoords=("data", "axes fraction"),
                textcoords="offset points", xytext=(4, 0), fontsize=7, color="0.35")
    markers = "osD^vPX<>h"
    for j, (v, r) in enumerate(points):  # distinct markers: close points stay visible
        ax.plot([r.intensity], [r.flops / r.latency_s], marker=markers[j % len(markers)],
                ms=8, ls="none", color=colour(v), mec="black", alpha=0.85,
                label=f"{v} ({r.bound}-bound)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("arithmetic intensity (FLOP per byte moved)")
    ax.set_ylabel("attainable throughput (FLOP/s)")
    ax.set_title(f"Roofline of {dev.name}, {mode}: d_model {cfg.d_model}, ℓ {cfg.seq_len}, "
                 f"batch {cfg.batch}, {cfg.dtype}")
    ax.legend(loc="upper left")
    fig.tight_layout()
    return fig


@styled
def validation(rows: Sequence[dict[str, Any]], families: Sequence[tuple[str, Sequence[str], str]],
               label: str = "this run"):
    """Predicted against measured: one panel per ``(title, metrics, unit)`` family, from
    validation rows (dicts with the columns of ``attncost validate``'s CSV; rows fitted on,
    marked ``(fit)`` in their tolerance, are left out). :func:`attncost.validate.figure`
    draws it from a CSV."""
    rows = [dict(r) for r in rows]
    if not rows:
        raise ConfigError(f"{label}: no validation rows")
    fig, axes = new_figure(1, len(families), figsize=(13, 4.2), squeeze=False)
    for ax, (title, metrics, unit) in zip(axes[0], families):
        for variant in dict.fromkeys(r["variant"] for r in rows):
            pts = [(float(r["measured"]), float(r["predicted"])) for r in rows
                   if r["variant"] == variant and r["metric"] in metrics
                   and "(fit)" not in str(r["tolerance"]) and float(r["measured"]) > 0
                   and float(r["predicted"]) > 0]
            if pts:
                x, y = zip(*pts)
                ax.scatter(x, y, s=12, alpha=0.75, color=colour(variant), label=variant,
                           edgecolors="0.3", linewidths=0.3)
        lo = min(ax.get_xlim()[0], ax.get_ylim()[0])
        hi = max(ax.get_xlim()[1], ax.get_ylim()[1])
        ax.plot([lo, hi], [lo, hi], color="0.4", lw=1, ls="--")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel(f"measured ({unit})")
        ax.set_ylabel(f"predicted ({unit})")
        ax.set_title(title)
    axes[0][0].legend(loc="upper left", fontsize=7, ncol=2)
    fig.suptitle(f"attncost against PyTorch runs ({label}); dashed: predicted = measured")
    fig.tight_layout()
    return fig


COST_UNITS = {"params": "parameters", "flops": "FLOPs per step",
              "memory_bytes": "peak memory (bytes)", "latency_s": "roofline latency (ms)"}
STATE_STYLE = {"certified": ("#009E73", "o"), "confirming": ("#56B4E9", "o"),
               "open": ("#E69F00", "s"), "failed": ("#CC79A7", "v"),
               "ruled-out": ("#999999", "x")}


@styled
def search(summary: Any):
    """A search (a :class:`~attncost.search.summary.SearchSummary` or its JSON file): every
    architecture's mean accuracy against its cost with its confidence bounds, coloured by
    its standing (certified, confirming, open, failed confirmation, ruled out), the answer or
    Pareto front, the
    baseline and the target; and the answer's cost after each evaluation."""
    from .search.summary import SearchSummary

    if not isinstance(summary, SearchSummary):
        summary = SearchSummary.read(summary)
    key = summary.cost_key
    fig, (ax, hx) = new_figure(1, 2, figsize=(11.5, 4.3))
    _search_scatter(ax, summary, key)
    _search_history(hx, summary, key)
    fig.tight_layout()
    return fig


def _search_scatter(ax: Any, s: Any, key: str) -> None:
    scale = 1e3 if key == "latency_s" else 1.0
    for state, (colour_, marker) in STATE_STYLE.items():
        rows = [r for r in s.architectures if r.state == state and r.accuracy is not None
                and r.cost(key) is not None]
        if not rows:
            continue
        x = [r.cost(key) * scale for r in rows]
        y = [r.accuracy for r in rows]
        lo = [r.accuracy - (r.lower if r.lower is not None else r.accuracy) for r in rows]
        hi = [(r.upper if r.upper is not None else r.accuracy) - r.accuracy for r in rows]
        ax.errorbar(x, y, yerr=[[max(v, 0) for v in lo], [max(v, 0) for v in hi]], fmt=marker,
                    ms=5, color=colour_, ecolor=colour_, elinewidth=0.8, alpha=0.85,
                    label=f"{state} ({len(rows)})", zorder=3)
    target = s.target_accuracy
    if target is not None:
        ax.axhline(target, color="#D55E00", ls="--", lw=1, label=f"target {target:.0%}")
    if s.pareto:
        front = sorted(s.pareto, key=lambda r: r.cost(key))
        ax.plot([r.cost(key) * scale for r in front], [r.accuracy for r in front],
                color="black", lw=1.4, marker="D", ms=5, label="Pareto front", zorder=4)
    if s.best:
        ax.scatter([s.best.cost(key) * scale], [s.best.accuracy], marker="*", s=240,
                   color="#E69F00", edgecolors="black", zorder=5, label="answer")
    if s.baseline and s.baseline.accuracy is not None:
        ax.scatter([s.baseline.cost(key) * scale], [s.baseline.accuracy], marker="s", s=60,
                   color="black", zorder=5, label="standard baseline")
    ax.set_xlabel(COST_UNITS[key])
    ax.set_ylabel(f"accuracy (mean of runs; bounds at {s.confidence:.0%})")
    ax.set_title(f"{s.name}: accuracy against {COST_UNITS[key].split(' (')[0]}")
    ax.margins(x=0.08, y=0.08)
    ax.legend(loc="best", framealpha=0.9, fontsize=7)


def _search_history(hx: Any, s: Any, key: str) -> None:
    """The cost of the answer (the cheapest certified architecture) after each trial,
    judged as the search judged it then; ticks: each trial's status."""
    from .search.evidence import EVALUATED, Evidence, Run

    scale = 1e3 if key == "latency_s" else 1.0
    cost = {tuple(r.layers): r.cost(key) for r in s.architectures if r.cost(key) is not None}
    budget = {tuple(r.layers): r.within_budget for r in s.architectures}
    runs, xs, ys = [], [], []
    for t in sorted(s.trials, key=lambda t: t.trial):
        if t.status in EVALUATED and t.layers and tuple(t.layers) in cost:
            runs.append(Run(tuple(t.layers), t.seed or 0, t.accuracy, t.status, t.trial,
                            t.batch))
            if s.target_accuracy is not None and not s.pareto:
                ev = Evidence(runs, cost.__getitem__, s.target_accuracy, s.confidence,
                              allowed=lambda a: budget.get(a, False),
                              budget=s.spec.get("trials"))
                answer = ev.answer()
                if answer is not None:
                    xs.append(t.trial)
                    ys.append(answer.cost * scale)
    if xs:
        hx.step(xs, ys, where="post", color="black", lw=1.6, marker=".", ms=6,
                label="answer's cost")
    statuses: dict[str, list[int]] = {}
    for t in s.trials:
        statuses.setdefault(t.status, []).append(t.trial)
    base = min(ys) * 0.995 if ys else 0
    for status, numbers in statuses.items():
        hx.scatter(numbers, [base] * len(numbers), marker="|", s=120,
                   color=STATUS_COLOURS.get(status, "0.5"), label=status)
    hx.set_xlabel("trial")
    hx.set_ylabel(COST_UNITS[key])
    hx.set_title("the answer after each trial (ticks: each trial's status)")
    hx.legend(loc="upper right", fontsize=7)


STATUS_COLOURS = {"trained": "#009E73", "cached": "#56B4E9", "over-budget": "#D55E00",
                  "pruned": "#E69F00", "diverged": "#CC79A7", "interrupted": "0.6"}
