"""``attncost report``: the Markdown report in ``reports/`` and its figures, regenerated.

:func:`render` builds the Markdown from the cost model (comparison tables, crossovers,
what fits on two edge devices) and from the results already in the folder (the validation
summary, the paper-claims check, every search summary in ``reports/search/``). It contains no
timestamps, so rendering twice gives the same text; ``tests/test_report.py`` checks that the
committed ``reports/report.md`` is what :func:`render` produces now. :func:`write` also
redraws the figures (``reports/figures/``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Sequence

from .config import AttentionConfig
from .metrics import METRICS, headline

REPORT = "report.md"
# Tables cover the shipped variants only (variants.builtin_names()): a variant a user loaded
# is theirs to add.
FIGURES = "figures"
#: The configurations of the comparison tables.
TABLE_CONFIGS = (
    ("d_model 512, 8 heads, ℓ 512, batch 1, one layer, fp32, training with Adam",
     AttentionConfig(d_model=512, heads=8, seq_len=512)),
    ("d_model 512, 8 heads, ℓ 4096, batch 1, one layer, fp32, training with Adam",
     AttentionConfig(d_model=512, heads=8, seq_len=4096)),
)
CROSSOVER_METRICS = ("params", "flops_fwd", "train_peak_bytes")
FIT_DEVICES = ("jetson-orin-nano-8gb", "rpi5-8gb")


def _md_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    def cell(v: Any) -> str:
        if v is None:
            return "—"
        if isinstance(v, bool):
            return "yes" if v else "no"
        if isinstance(v, int):
            return f"{v:,}"
        if isinstance(v, float):
            return f"{v:.4g}"
        return str(v)
    lines = ["| " + " | ".join(header) + " |",
             "|" + "|".join("---" if i == 0 else "---:" for i in range(len(header))) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def _column(metric: str) -> str:
    m = METRICS[metric]
    return f"{m.quantity} (B)" if m.unit == "B" else m.quantity


def comparison_tables() -> str:
    from . import api
    from .errors import AttncostError
    from .variants import builtin_names

    shown = headline()
    out = []
    for label, cfg in TABLE_CONFIGS:
        rows = []
        for v in builtin_names():
            try:
                e = api.estimate(v, cfg)
            except AttncostError as exc:  # a variant that cannot take this configuration
                rows.append([v] + [f"n/a ({type(exc).__name__})"] * len(shown))
                continue
            rows.append([v] + [e.metrics[m] for m in shown])
        out.append(f"**{label}**\n\n" + _md_table(["variant"] + [_column(m) for m in shown],
                                                  rows))
    return "\n\n".join(out)


def crossover_table() -> str:
    from . import api
    from .errors import AttncostError
    from .variants import builtin_names

    cfg = AttentionConfig(d_model=512, heads=8, seq_len=512)
    rows = []
    for v in builtin_names():
        if v == "standard":
            continue
        cells: list[Any] = [v]
        for metric in CROSSOVER_METRICS:
            try:
                found = api.crossover(v, "standard", metric, cfg, lo=2, hi=65536)
            except AttncostError:
                cells.append("n/a")
                continue
            if not found:
                e_v = api.estimate(v, cfg.with_(seq_len=2)).metrics[metric]
                e_s = api.estimate("standard", cfg.with_(seq_len=2)).metrics[metric]
                cells.append("never (always cheaper)" if e_v < e_s else
                             "never (always dearer)" if e_v > e_s else "never (equal)")
            else:
                cells.append("; ".join(f"ℓ ≥ {c['at']:,}: {'cheaper' if c['after'] == 'a < b' else 'dearer'}"
                                       for c in found))
        rows.append(cells)
    return _md_table(["variant vs standard"] + list(CROSSOVER_METRICS), rows)


def fit_table() -> str:
    from . import api
    from .errors import AttncostError
    from .variants import builtin_names

    cfg = AttentionConfig(d_model=512, heads=8, seq_len=512, batch=1)
    rows = []
    for v in builtin_names():
        cells: list[Any] = [v]
        for dev in FIT_DEVICES:
            try:
                cells.append(api.max_seq_len(v, dev, cfg, layers=12, mode="train"))
            except AttncostError as e:
                cells.append(f"n/a ({str(e)[:40]})")
        rows.append(cells)
    return _md_table(["variant"] + [f"longest ℓ, 12 layers, training, {d}" for d in FIT_DEVICES],
                     rows)


def _validation_section(folder: Path) -> str:
    p = folder / "validation-cpu-summary.json"
    if not p.is_file():
        return "_No validation summary in this folder (run `attncost validate`)._"
    d = json.loads(p.read_text())
    return "\n".join([
        f"From `{p.name}` (`attncost validate --grid default`, device {d['device']}, "
        f"{d['threads']} threads):",
        "",
        f"- {d['configs_validated']} configurations, {d['exact_checks']:,} exact checks "
        f"(parameters, matmul FLOPs forward and backward, saved-activation bytes): "
        f"**{d['exact_mismatches']} mismatches**.",
        f"- Peak memory, worst relative error: **{d['memory_worst_error']:.2%}** (goal 5 %).",
        f"- Latency: **{d['latency_share_within_15pct']:.0%}** of {d['latency_held_out']} "
        f"held-out timings within ±15 % of the calibrated model (goal 90 %: "
        f"{'met' if d['latency_goal_met'] else 'not met'}).",
        *_kernel_latency_lines(folder),
        "",
        f"![predicted vs measured]({FIGURES}/validation.png)",
    ])


def _kernel_latency_lines(folder: Path) -> list[str]:
    """The kernel-level predictor's held-out figures from ``latency-cpu-summary.json``
    (``attncost validate-latency``), with the drift-corrected diagnostic when measured."""
    p = folder / "latency-cpu-summary.json"
    if not p.is_file():
        return []
    d = json.loads(p.read_text())
    line = (f"- Latency from the device's own kernels (`{p.name}`, `attncost "
            f"validate-latency`): **{d['share_within_15pct']:.0%}** of "
            f"{d['held_out_timings']} held-out timings within ±15 %, median error "
            f"{d['median_abs_error']:.1%} (goal 90 %: {'met' if d['goal_met'] else 'not met'})")
    drift = d.get("drift")
    if drift:
        line += (f"; × the machine's speed factor at the time (a diagnostic): "
                 f"{drift['kernel_corrected']['share_within_15pct']:.0%}")
    return [line + "."]


def _claims_section(folder: Path) -> str:
    p = folder / "paper-claims.json"
    if not p.is_file():
        return "_No paper-claims check in this folder (run `attncost paper-claims`)._"
    d = json.loads(p.read_text())
    rows = []
    for block in d["params"]:
        std = block["standard"]["model"]
        rows.append([block["label"]] + [f"{block[v]['model']:,} ({block[v]['model'] / std - 1:+.0%})"
                                        for v in ("optimised", "efficient", "super")])
    table = _md_table(["parameters (model = measured)", "optimised", "efficient", "super"], rows)
    return (f"From `{p.name}`; the full check with measured speeds is "
            f"[paper-claims.md](paper-claims.md).\n\n{table}\n\nMatmuls per head: " +
            ", ".join(f"{k} {v}" for k, v in d["matmuls"].items()) + ".")


def _search_sections(folder: Path) -> list[tuple[str, str]]:
    from .search.summary import SearchSummary

    out = []
    for p in sorted((folder / "search").glob("*.json")):
        d = SearchSummary.read(p)
        key = d.cost_key
        scale, unit = (1e3, " ms") if key == "latency_s" else (1, "")

        def row(label: str, r: Any) -> list[Any]:
            if not r:
                return [label, "—", "—", "—", "—", "—"]
            acc = "—" if r.accuracy is None else (
                f"{r.accuracy:.4f} [{r.lower:.4f}, {r.upper:.4f}]" if r.lower is not None
                else f"{r.accuracy:.4f} [–, {r.upper:.4f}]")
            return [label, ",".join(r.layers), acc, r.runs,
                    f"{r.cost(key) * scale:,.6g}{unit}" if r.cost(key) is not None else "—",
                    r.state + ("" if r.within_budget else ", over budget")]
        rows = []
        if d.best:
            rows.append(row("answer", d.best))
        for r in d.pareto or []:
            rows.append(row("Pareto", r))
        rows.append(row("standard baseline", d.baseline))
        spec = d.spec
        text = "\n".join([
            f"`attncost search {spec['source']}` — {spec.get('description') or spec['name']}. "
            f"Objective: {d.objective} ({d.cost_metric}); target accuracy "
            f"{d.target_accuracy} at {d.confidence:.0%} confidence; {d.evaluations} "
            f"evaluations ({', '.join(f'{k} {v}' for k, v in d.statuses().items())}); "
            f"noise sd {d.noise_sd:.4f}; {d.accuracy_source}." +
            (f" Converged: {d.converged}." if d.converged else "") +
            ("" if d.best or d.pareto else " No architecture was certified to meet the "
             "target."),
            "",
            _md_table(["", "layers", "accuracy [lower, upper]", "runs", d.cost_metric,
                       "standing"], rows),
            "",
            f"![{spec['name']}]({FIGURES}/search-{spec['name']}.png)",
        ])
        out.append((spec["name"], text))
    return out


def render(folder: str | Path = "reports") -> str:
    """The report's Markdown (deterministic)."""
    folder = Path(folder)
    parts = [
        "# attncost report",
        "",
        "Generated by `attncost report` from the cost model and the results in this folder; "
        "do not edit by hand (a test checks that it is current).",
        "",
        "## Every variant at two sequence lengths",
        "",
        "Exact integers from the cost model (FLOPs = 2 × multiply-accumulates; bytes at fp32).",
        "",
        comparison_tables(),
        "",
        "![cost against sequence length](figures/cost-vs-seq-len.png)",
        "",
        "![cost against width](figures/cost-vs-d-model.png)",
        "",
        "![memory breakdown](figures/memory-breakdown.png)",
        "",
        "## Crossovers with standard attention",
        "",
        "d_model 512, 8 heads, one layer; the sequence lengths (2 … 65,536) at which each "
        "variant's cost swaps order with standard attention (`attncost crossover`).",
        "",
        crossover_table(),
        "",
        "## What fits on an edge device",
        "",
        "Longest sequence whose training step (batch 1, 12 layers of d_model 512, Adam, fp32) "
        "fits in the device's memory less 10 % headroom (`attncost fit`).",
        "",
        fit_table(),
        "",
        "![roofline](figures/roofline-jetson.png)",
        "",
        "## Validation against PyTorch",
        "",
        _validation_section(folder),
        "",
        "## The seed paper's claims",
        "",
        _claims_section(folder),
        "",
        "## Searches",
        "",
    ]
    searches = _search_sections(folder)
    if not searches:
        parts.append("_No search summaries in `search/` of this folder (run `attncost search`)._")
    for name, text in searches:
        parts += [f"### {name}", "", text, ""]
    return "\n".join(parts).rstrip() + "\n"


def figures(folder: str | Path = "reports") -> list[Path]:
    """Redraw every figure the report links to."""
    from . import plots

    folder = Path(folder)
    fig_dir = folder / FIGURES
    from .variants import builtin_names

    shown = builtin_names()
    cfg = AttentionConfig(d_model=512, heads=8, seq_len=512)
    made = [
        plots.save(plots.curves(shown, ("params", "flops_fwd", "train_peak_bytes"),
                                "seq_len", None, cfg, device="jetson-orin-nano-8gb"),
                   fig_dir / "cost-vs-seq-len.png"),
        plots.save(plots.curves(shown, ("params", "flops_fwd", "train_peak_bytes"),
                                "d_model", None, cfg), fig_dir / "cost-vs-d-model.png"),
        plots.save(plots.memory_breakdown(shown, cfg),
                   fig_dir / "memory-breakdown.png"),
        plots.save(plots.roofline("jetson-orin-nano-8gb", shown, cfg),
                   fig_dir / "roofline-jetson.png"),
    ]
    csv_path = folder / "validation-cpu.csv"
    if csv_path.is_file():
        from .validate import figure

        made.append(plots.save(figure(csv_path), fig_dir / "validation.png"))
    from .search.summary import SearchSummary

    for p in sorted((folder / "search").glob("*.json")):
        summary = SearchSummary.read(p)
        made.append(plots.save(plots.search(summary), fig_dir / f"search-{summary.name}.png"))
    return made


def write(folder: str | Path = "reports") -> Path:
    """Regenerate ``folder/report.md`` and its figures."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    made = set(figures(folder))
    for old in (folder / FIGURES).glob("*"):  # figures of results that are gone
        if old not in made:
            old.unlink()
    path = folder / REPORT
    path.write_text(render(folder))
    return path
