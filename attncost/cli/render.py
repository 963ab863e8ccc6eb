"""Tables and notes for the terminal, from API results and the metric table.

Names a user must type (variants, devices, metrics) are never cut: their column does not
wrap, and the other columns fold at narrow widths.
"""

from typing import Any, Iterable, Sequence

from ..metrics import METRICS, Metric
from ..units import human_bytes, human_count, human_seconds


def table(title: str | None = None, columns: Sequence[str] = (), names: int = 1) -> Any:
    """A rich table whose first ``names`` columns (names) never wrap; numbers right-aligned
    and folded when the terminal is narrow."""
    from rich.table import Table

    t = Table(title=title, title_justify="left")
    for i, c in enumerate(columns):
        if i < names:
            t.add_column(c, no_wrap=True)
        else:
            t.add_column(c, justify="right", overflow="fold")
    return t


def print_fitted(console: Any, title: str, columns: Sequence[str],
                 rows: Sequence[Sequence[str]], names: int = 1) -> None:
    """Print a table that fits ``console``'s width without cutting or folding a cell: the
    whole table when it fits; else the columns in groups, each group repeating the first
    ``names`` columns; else (the names alone too wide) one block per row, a line per cell."""
    def build(cols: Sequence[int], with_title: bool) -> Any:
        t = table(title if with_title else None, [columns[c] for c in cols],
                  names=sum(c < names for c in cols))
        for col in t.columns:
            col.no_wrap = True
        for r in rows:
            t.add_row(*(r[c] for c in cols))
        return t

    every = list(range(len(columns)))
    if width_of(console, build(every, True)) <= console.width:
        console.print(build(every, True))
        return
    groups: list[list[int]] = [list(range(names))]  # later groups repeat the first column
    for c in every[names:]:
        if width_of(console, build(groups[-1] + [c], False)) <= console.width:
            groups[-1].append(c)
        else:
            groups.append([0, c])
    if all(width_of(console, build(g, False)) <= console.width for g in groups):
        for i, g in enumerate(groups):
            console.print(build(g, i == 0))
        return
    console.print(title, markup=False, highlight=False)
    for r in rows:
        console.print(" ".join(r[:names]), style="bold", markup=False, highlight=False)
        for c in every[names:]:
            console.print(f"  {columns[c]}: {r[c]}", markup=False, highlight=False)


def cell(value: Any, unit: str) -> str:
    """An exact value with its human-readable size."""
    if value is None:
        return "not defined"
    if unit == "B":
        return f"{value:,} B ({human_bytes(value)})" if value >= 1024 else f"{value:,} B"
    if unit == "FLOP":
        return f"{value:,} ({human_count(value)}FLOP)" if value >= 1000 else f"{value:,}"
    return f"{value:,} ({human_count(value)})" if value >= 1000 else f"{value:,}"


def short_cell(value: Any, unit: str) -> str:
    if value is None:
        return "n/a"
    return human_bytes(value) if unit == "B" else human_count(value)


def shown_metrics(estimates: Sequence[Any]) -> list[Metric]:
    """The metric rows of a table: all, less those marked ``hide_if_empty`` that no
    estimate has a (non-zero) value for."""
    return [m for m in METRICS.values()
            if not (m.hide_if_empty and not any(e.metrics.get(m.name) for e in estimates))]


def title_of(estimates: Sequence[Any]) -> str:
    first = estimates[0]
    attn, inp = first.attention_inputs, first.inputs
    head = first.title if len(estimates) == 1 else "attention variants"
    layers = inp.get("layers", 1)
    return (f"{head} — d_model {attn['d_model']}, heads {attn['heads']}, d_head "
            f"{attn['d_head']}, seq_len {attn['seq_len']}, batch {attn['batch']}, "
            f"{attn['dtype']}, {'causal' if attn['causal'] else 'non-causal'}, "
            f"{'bias' if attn['bias'] else 'no bias'}, {attn['impl']}, optimizer "
            f"{attn['optimizer']}" + (f", layers {layers}" if layers != 1 and
                                      not isinstance(layers, list) else ""))


def estimates_table(estimates: Sequence[Any], exact: bool = True,
                    title: str | None = "") -> Any:
    """Every metric (rows) of every estimate (columns), then fit and latency rows; ``exact``
    False: human-readable sizes only (narrow terminals)."""
    fmt = cell if exact else short_cell
    t = table(title_of(estimates) if title == "" else title,
              ["metric", *(e.variant for e in estimates)])
    for m in shown_metrics(estimates):
        label = ("  " + m.label) if m.parent else m.label
        t.add_row(label, *(fmt(e.metrics.get(m.name), m.unit) for e in estimates))
    fitted = [e for e in estimates if e.fit]
    if fitted:
        f0 = fitted[0].fit
        t.add_section()
        t.add_row(f"Fits {f0.device} ({f0.mode}, {f0.headroom:.0%} headroom, budget "
                  f"{human_bytes(f0.budget_bytes)})",
                  *(("yes" if e.fit.fits else "NO") + f" ({e.fit.utilisation:.1%})"
                    for e in estimates))
    if any(e.calibrated_latency_s for e in estimates):
        t.add_section()
        t.add_row("Calibrated latency (the validated machine)",
                  *(human_seconds(e.calibrated_latency_s) for e in estimates))
    if any(e.predicted_latency_s is not None for e in estimates):
        t.add_section()
        where = dict.fromkeys(e.predicted_latency_device for e in estimates
                              if e.predicted_latency_device)
        t.add_row(f"Predicted latency (profile: {', '.join(where) or '?'})",
                  *(human_seconds(e.predicted_latency_s) for e in estimates))
    if any(e.roofline for e in estimates):
        t.add_row(f"Roofline latency (ideal, "
                  f"{', '.join(dict.fromkeys(e.roofline.device for e in estimates if e.roofline))})",
                  *(f"{human_seconds(e.roofline.latency_s)}, {e.roofline.bound}-bound"
                    for e in estimates))
        t.add_row("Arithmetic intensity",
                  *(f"{e.roofline.intensity:,.1f} FLOP/B" for e in estimates))
    return t


def width_of(console: Any, renderable: Any) -> int:
    """The width ``renderable`` needs on ``console`` without wrapping anything."""
    from rich.measure import Measurement

    return Measurement.get(console, console.options.update_width(10**5), renderable).maximum


def estimates_tables(console: Any, estimates: Sequence[Any]) -> tuple[list[Any], bool]:
    """The estimate table(s) that fit ``console``'s width: one table of exact values when it
    fits; otherwise human-readable sizes, the variants split over as many tables as needed
    (a name is never cut). Returns the tables and whether the values are exact."""
    whole = estimates_table(estimates)
    if len(estimates) == 1 or width_of(console, whole) <= console.width:
        return [whole], True
    groups: list[list[Any]] = [[]]
    for e in estimates:
        trial = [*groups[-1], e]
        if groups[-1] and width_of(console, estimates_table(trial, False, None)) > console.width:
            groups.append([e])
        else:
            groups[-1] = trial
    return [estimates_table(g, False, title_of(estimates) if i == 0 else None)
            for i, g in enumerate(groups)], False


def estimate_notes(estimates: Sequence[Any]) -> list[str]:
    """What the output must say under the table: each note once, prefixed with the variants
    that carry it (none when every estimate does)."""
    carriers: dict[str, list[str]] = {}
    for e in estimates:
        own = list(e.notes)
        if e.kv_cache_note:
            own.append(f"KV cache not defined — {e.kv_cache_note}")
        if e.roofline:
            own += e.roofline.notes
        for n in dict.fromkeys(own):
            carriers.setdefault(n, []).append(e.variant)
    notes = [n if len(who) == len(estimates) > 1 or (len(estimates) == 1 and n.startswith(
        ("left out", "--"))) else f"{', '.join(who)}: {n}" for n, who in carriers.items()]
    if estimates[0].attention_inputs["causal"]:
        notes.append("causal: 'FLOPs forward' counts the full ℓ×ℓ rectangle as PyTorch "
                     "executes and counts it; 'useful' counts only the ℓ(ℓ+1)/2 unmasked "
                     "pairs per head")
    notes.append("FLOPs = 2 × multiply-accumulates for matmuls; bytes are exact integers; "
                 "human sizes use binary prefixes (KiB, MiB, GiB)")
    return notes


def breakdown_table(e: Any) -> Any:
    t = table(f"{e.variant}: per-operation breakdown",
              ["op", "kind", "fwd matmul", "fwd other", "bwd matmul", "bwd other",
               "bytes fwd", "bytes bwd"], names=2)
    for op in e.ops:
        t.add_row(op.name, op.kind, f"{op.flops_fwd_matmul:,}", f"{op.flops_fwd_other:,}",
                  f"{op.flops_bwd_matmul:,}", f"{op.flops_bwd_other:,}",
                  f"{op.bytes_fwd:,}", f"{op.bytes_bwd:,}")
    return t


def print_notes(console: Any, notes: Iterable[str]) -> None:
    for n in merge_layer_notes(notes):
        console.print(f"• {n}", style="dim", markup=False, highlight=False)


def merge_layer_notes(notes: Iterable[str]) -> list[str]:
    """Notes that differ only in a block number ('super: layer 3: …') said once, with the
    blocks as ranges ('super: layers 0-15: …'); other notes unchanged, in order."""
    import re

    pattern = re.compile(r"^(.*?)layer (\d+): (.*)$")
    blocks: dict[tuple[str, str], list[int]] = {}
    out: list[Any] = []
    for n in dict.fromkeys(notes):
        m = pattern.match(n)
        if m is None:
            out.append(n)
            continue
        key = (m.group(1), m.group(3))
        if key not in blocks:
            blocks[key] = []
            out.append(key)
        blocks[key].append(int(m.group(2)))
    return [n if isinstance(n, str) else
            f"{n[0]}{'layer' if len(blocks[n]) == 1 else 'layers'} {_ranges(blocks[n])}: {n[1]}"
            for n in out]


def _ranges(numbers: list[int]) -> str:
    """[0, 1, 2, 5, 7, 8] → '0-2, 5, 7-8'."""
    numbers = sorted(set(numbers))
    runs: list[list[int]] = []
    for n in numbers:
        if runs and n == runs[-1][-1] + 1:
            runs[-1].append(n)
        else:
            runs.append([n])
    return ", ".join(str(r[0]) if len(r) == 1 else f"{r[0]}-{r[-1]}" for r in runs)
