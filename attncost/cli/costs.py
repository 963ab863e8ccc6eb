"""Cost commands: estimate, compare, formula, devices, sweep, fit, crossover, presets, bench.

Each parses its flags, makes one call to :mod:`attncost.api` and renders the result.
"""

from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from ..errors import AttncostError
from . import render
from .latency import decode_notes, decode_row, decode_table
from .base import (AllVariants, Bandwidth, Blocks, Budget, DecodeTok, DevFile, DeviceOpt,
                   FormatOpt, Fmt, Headroom, Layers, Mode, ModeOpt, PeakT, VarFile, VariantOpt,
                   app, attention_flags,
                   console, device_of, echo_json, friendly, load_extras, model_flags,
                   refuse_inert_device_flags, parse_int, preset_help, writable, write_csv)

Preset = Annotated[Optional[str], typer.Option(help=preset_help())]
ConfigFile = Annotated[Optional[Path], typer.Option(
    "--config", help="A Hugging Face config.json (read offline, no transformers needed): the "
                     "whole model, as --preset hf:PATH.")]
AttentionSwap = Annotated[Optional[str], typer.Option(
    "--attention", help="With --config or --preset: swap the attention of blocks for any "
                        "variant: 'efficient' (every block) or '0-11:efficient,12-31:gqa' "
                        "(0-based, inclusive).")]


def model_source(preset: str | None, config: Path | None) -> str | None:
    """The model a command estimates: --preset NAME or --config PATH (as 'hf:PATH')."""
    if preset is not None and config is not None:
        raise AttncostError("give --preset or --config, not both")
    return f"hf:{config}" if config is not None else preset


def _model(preset: str, variant: list[str] | None, layers: int | None, fields: dict[str, Any],
           attention: str | None) -> Any:
    """The whole model of --preset/--config with -v, --layers, flags and --attention."""
    from .. import api
    from ..config import swap_attention

    if attention is not None and variant:
        raise AttncostError("give -v (every block) or --attention (chosen blocks), not both")
    m = api.preset_model(preset, variant, layers, fields)
    return swap_attention(m, attention) if attention is not None else m


def _estimates(variant: list[str] | None, preset: str | None, fields: dict[str, Any],
               model_fields: dict[str, Any], layers: int | None, dev: Any, mode: Mode,
               headroom: float, decode_tokens: int, attention: str | None = None,
               profile: Path | None = None, threads: int | None = None) -> list[Any]:
    from .. import api

    kw: dict[str, Any] = dict(device=dev, mode=mode.value, headroom=headroom,
                              decode_tokens=decode_tokens)
    if profile is not None or threads is not None:
        kw.update(profile=profile, threads=threads)
    if attention is not None and preset is None:
        raise AttncostError("--attention swaps blocks of a whole model: add --config PATH or "
                            "--preset NAME")
    if preset is not None:
        def of_model(f: dict[str, Any]) -> Any:
            return api.estimate_model(_model(preset, variant, layers, {**f, **model_fields},
                                             attention), **kw)

        e = of_model(fields)
        e.notes += [f"{flag} has no effect on this model" for flag in inert_fields(
            of_model, fields)]
        return [e]
    if model_fields:
        flags = ", ".join("--" + k.replace("_", "-") for k in model_fields)
        raise AttncostError(f"{flags} describe a whole model: add --preset NAME or "
                            f"--config PATH")
    result = api.compare_variants(variant or ["standard"], layers=1 if layers is None else layers, **kw, **fields)
    ests = result.estimates
    n = 1 if layers is None else layers
    for e in ests:
        e.notes += [f"left out: {name} — {reason}" for name, reason in result.left_out.items()]
        e.notes += [f"{flag} has no effect" for flag in inert_fields(
            lambda f, v=e.variant: api.estimate(v, layers=n, **f), fields)]
    return ests


def inert_fields(estimate_with: Any, fields: dict[str, Any]) -> list[str]:
    """The attention flags given (``--k 64``) that change no metric: each is put back to
    its default, ``estimate_with(fields)`` recomputed and compared (a variant's builder
    reads what it reads; no hand-kept list of which flag matters to whom)."""
    import dataclasses

    from ..config import AttentionConfig

    defaults = {f.name: f.default for f in dataclasses.fields(AttentionConfig)}
    given = estimate_with(fields).metrics
    inert = []
    for name, value in fields.items():
        if name not in defaults or value == defaults[name]:
            continue
        try:
            without = estimate_with({**fields, name: defaults[name]})
        except AttncostError:
            continue  # the default is not valid with the other flags: the flag matters
        if without.metrics == given:
            inert.append("--" + name.replace("_", "-") + f" {value}")
    return inert


@app.command()
@friendly
@model_flags()
@attention_flags()
def estimate(
    variant: VariantOpt = None, layers: Blocks = None, mode: ModeOpt = Mode.train,
    device: DeviceOpt = None, memory_budget: Budget = None, peak_tflops: PeakT = None,
    bandwidth: Bandwidth = None, headroom: Headroom = 0.1, decode_tokens: DecodeTok = 0,
    preset: Preset = None, config: ConfigFile = None, attention: AttentionSwap = None,
    fmt: FormatOpt = Fmt.table,
    formula: Annotated[bool, typer.Option("--formula", help="Also print the formulas.")] = False,
    calibration: Annotated[Optional[Path], typer.Option(
        help="A validation summary JSON (attncost validate --format json): adds the latency "
             "calibrated on that machine's real runs.")] = None,
    breakdown: Annotated[bool, typer.Option("--breakdown", help="Per-operation table.")] = False,
    profile: Annotated[Optional[Path], typer.Option(
        help="A device profile (attncost profile -o FILE, from any machine): adds the "
             "latency the kernel-level predictor gives for that machine, next to the "
             "roofline (of --device, else of the profiled machine).")] = None,
    threads: Annotated[Optional[int], typer.Option(
        help="With --profile: the profiled thread count to predict for (default: the "
             "profile's first).", parser=parse_int, metavar="INT")] = None,
    decode: Annotated[Optional[int], typer.Option(
        "--decode", help="Also decode this many tokens after a prompt of --seq-len tokens: "
                         "prefill and per-token FLOPs, bytes read (weights, KV cache), KV "
                         "cache and roofline time per token side by side.", parser=parse_int,
        metavar="INT")] = None,
    variant_file: VarFile = None, devices_file: DevFile = None,
    fields: Any = None, model_fields: Any = None,
) -> None:
    """Every metric of one or more variants (or a whole --preset model).

    Example: attncost estimate --d-model 512 --variant super --device jetson-orin-nano-8gb
    """
    load_extras(variant_file, devices_file)
    preset = model_source(preset, config)
    if formula and preset is not None:
        raise AttncostError("--formula prints a layer's formulas; drop --preset/--config")
    dev = device_of(device, memory_budget, peak_tflops, bandwidth)
    refuse_inert_device_flags(dev, mode)
    ests = _estimates(variant, preset, fields, model_fields, layers, dev, mode, headroom,
                      decode_tokens, attention, profile, threads)
    for e in ests:
        if e.predicted_latency_source:
            e.notes.append(f"predicted latency: {e.predicted_latency_source} (attncost's "
                           f"kernel-level predictor; roofline: ideal)")
    decodes = [] if decode is None else _decodes(
        ests, decode, variant, preset, fields, model_fields, layers, dev, attention)
    if calibration is not None:
        from ..budget import calibrated_latency, load_calibration

        model = load_calibration(calibration)
        for e in ests:
            e.calibrated_latency_s = calibrated_latency(e.ops, model, mode.value)
    if fmt is Fmt.json:
        dicts = [e.to_dict(breakdown=breakdown) for e in ests]
        for item, (d, why) in zip(dicts, decodes):
            item["decode"] = None if d is None else d.to_dict()
            item["decode_note"] = why
        return echo_json(dicts)
    if fmt is Fmt.csv:
        rows = [e.to_row() for e in ests]
        for row, (d, _) in zip(rows, decodes):
            row.update(decode_row(d))
        return write_csv(rows, list(dict.fromkeys(k for r in rows for k in r)))
    out = console()
    tables, exact = render.estimates_tables(out, ests)
    for t in tables:
        out.print(t)
    notes = render.estimate_notes(ests)
    if not exact:
        notes.append(f"sizes rounded to fit {out.width} columns: exact integers with a wider "
                     f"terminal, --format json or --format csv")
    render.print_notes(out, notes)
    if breakdown:
        for e in ests:
            out.print(render.breakdown_table(e))
    for d, why in decodes:
        if d is None:
            render.print_notes(out, [why])
        else:
            out.print(decode_table(d))
            render.print_notes(out, decode_notes(d))
    if formula:
        _print_formulas([e.variant for e in ests], fields, layers, None, False)


def _decodes(ests: list[Any], n_tokens: int, variant: list[str] | None, preset: str | None,
             fields: dict[str, Any], model_fields: dict[str, Any], layers: int | None,
             dev: Any, attention: str | None) -> list[tuple[Any, str | None]]:
    """(DecodeCosts or None, why not) for each estimate of ``attncost estimate --decode``."""
    from .. import api
    from ..errors import UnsupportedError

    def one(target: Any, **kw: Any) -> tuple[Any, str | None]:
        try:
            return api.decode_costs(target, n_tokens, device=dev, **kw), None
        except UnsupportedError as err:
            return None, f"--decode: {err}"

    if preset is not None:
        return [one(_model(preset, variant, layers, {**fields, **model_fields}, attention))]
    return [one(e.variant, layers=1 if layers is None else layers, **fields) for e in ests]


@app.command()
@friendly
@attention_flags()
def compare(
    variant: AllVariants = None, layers: Layers = None, mode: ModeOpt = Mode.train,
    device: DeviceOpt = None, memory_budget: Budget = None, headroom: Headroom = 0.1,
    decode_tokens: DecodeTok = 0, preset: Preset = None, config: ConfigFile = None,
    fmt: FormatOpt = Fmt.table,
    baseline: Annotated[Optional[str], typer.Option(
        help="Variant the ratios divide by.",
        show_default="standard; with --config/--preset, the original model")] = None,
    absolute: Annotated[bool, typer.Option(
        "--absolute", help="Absolute values in every row instead of ratios.")] = False,
    variant_file: VarFile = None, devices_file: DevFile = None, fields: Any = None,
) -> None:
    """All variants side by side: the baseline's values, the others as ratios to it.

    With --config (a Hugging Face config.json) or --preset: the whole model as it is
    ('original') and with each variant swapped into every block.
    Variants that cannot run the configuration (e.g. Linformer with --causal) are left out
    and listed with the reason.
    """
    from .. import api, variants

    load_extras(variant_file, devices_file)
    source = model_source(preset, config)
    dev = device_of(device, memory_budget)
    refuse_inert_device_flags(dev, mode)
    kw = dict(device=dev, mode=mode.value, headroom=headroom, decode_tokens=decode_tokens)
    if source is not None:
        model = _model(source, None, layers, fields, None)
        result = api.compare_model(model, variant or ["all"], **kw)
        base_name = api.ORIGINAL if baseline is None else variants.get(baseline).name
        title = f"{model.name}: the model as it is (original) and with each variant in every block"
        inert: dict[str, list[str]] = {}
    else:
        names = variants.resolve(variant or ["all"])
        base_name = variants.get("standard" if baseline is None else baseline).name
        if base_name not in names:
            names = [base_name] + names
        n_layers = 1 if layers is None else layers
        result = api.compare_variants(names, layers=n_layers, **kw, **fields)
        cfg = result.estimates[0].attention_inputs
        title = (f"d_model {cfg['d_model']}, heads {cfg['heads']}, seq_len {cfg['seq_len']}, "
                 f"batch {cfg['batch']}, {cfg['dtype']}, "
                 f"{'causal' if cfg['causal'] else 'non-causal'}, {cfg['impl']}")
        inert = {e.variant: inert_fields(lambda f, v=e.variant: api.estimate(
            v, layers=n_layers, **f), fields) for e in result.estimates}
    if fmt is Fmt.json:
        return echo_json([e.to_dict() for e in result.estimates])
    if fmt is Fmt.csv:
        return write_csv([e.to_row() for e in result.estimates])
    ratios = None if absolute or base_name not in {e.variant for e in result.estimates} \
        else result.ratios(base_name)
    if ratios is not None:
        title += f"; rows other than {base_name} are ratios to it (×)"
    notes = [f"left out: {n} — {reason}" for n, reason in result.left_out.items()]
    notes += [f"{e.variant}: {n}" for e in result.estimates for n in e.notes]
    for flag in dict.fromkeys(f for fs in inert.values() for f in fs):
        who = [v for v, fs in inert.items() if flag in fs]
        notes.append(f"{flag} has no effect" + (f" on {', '.join(who)}"
                                                if len(who) < len(inert) else ""))
    _print_comparison(result, base_name, title, ratios, dev, notes)


def _print_comparison(result: Any, base_name: str, title: str, ratios: Any, dev: Any,
                      notes: list[str]) -> None:
    """The comparison table: headline metrics (and active parameters when they differ, and
    the fit on a device), the baseline's values, the others as ratios."""
    from ..metrics import METRICS, headline

    wanted = list(headline())
    if any(e.metrics.get("params_active") not in (None, e.metrics.get("params"))
           for e in result.estimates):
        wanted.insert(1, "params_active")
    cols = [METRICS[m] for m in wanted]
    rows = []
    for e in result.estimates:
        cells = [e.variant]
        for m in cols:
            r = None if ratios is None or e.variant == base_name else \
                ratios[e.variant].get(m.name)
            if r is None and ratios is not None and e.variant != base_name:
                r = _ratio(e.metrics.get(m.name), next(
                    x for x in result.estimates if x.variant == base_name).metrics.get(m.name))
            cells.append(f"×{r:.3f}" if r is not None else
                         render.short_cell(e.metrics.get(m.name), m.unit))
        if dev:
            cells.append("yes" if e.fit.fits else "NO")
        rows.append(cells)
    out = console()
    render.print_fitted(out, title, ["variant", *(m.short for m in cols)] +
                        ([f"fits {dev.name}"] if dev else []), rows)
    render.print_notes(out, dict.fromkeys(notes))


def _ratio(value: Any, base: Any) -> float | None:
    return None if value is None or not base else value / base


def _print_formulas(names: list[str], fields: dict[str, Any], layers: int | None,
                    metric: str | None, latex: bool) -> None:
    import sympy

    from .. import api
    from ..metrics import METRICS
    from ..metrics import get as get_metric

    metrics = [get_metric(metric).name] if metric is not None else list(METRICS)
    n = 1 if layers is None else layers
    exprs = {name: {m: api.formula(name, m, layers=n, **fields) for m in metrics}
             for name in names}  # every error before any output
    out = console()
    out.print("Formulas (b batch, ℓ seq_len, d_m d_model, h heads, d_h d_head, g kv_heads, k "
              "Linformer k, L max_seq_len, d_c/d_cq MLA latents, d_hR RoPE dim; d_h = d_m/h "
              "and L = ℓ unless set)", style="bold", markup=False, highlight=False)
    for name, by_metric in exprs.items():
        out.print(name, style="bold", markup=False, highlight=False)
        for m, expr in by_metric.items():
            text = "not defined" if expr is None else (
                sympy.latex(expr) if latex else sympy.sstr(expr).replace("ell", "ℓ"))
            out.print(f"  {m} = {text}", soft_wrap=True, markup=False, highlight=False)


@app.command()
@friendly
@attention_flags(only=("bias", "causal", "impl", "sharing", "dropout", "dtype", "optimizer",
                       "master_weights", "d_head", "max_seq_len"))
def formula(
    variant: VariantOpt = None,
    metric: Annotated[Optional[str], typer.Option(help="One metric (default: all).")] = None,
    latex: Annotated[bool, typer.Option("--latex", help="LaTeX instead of text.")] = False,
    layers: Layers = None, variant_file: VarFile = None, fields: Any = None,
) -> None:
    """Closed-form expressions (sympy) of every metric, as text or LaTeX.

    Sizes stay symbols: --d-head or --max-seq-len (any value) keeps d_h or L a symbol of its
    own instead of d_m/h or ℓ.
    """
    from .. import variants

    load_extras(variant_file, None)
    _print_formulas(variants.resolve(variant or ["standard"]), fields, layers, metric, latex)


@app.command()
@friendly
def devices(
    fmt: FormatOpt = Fmt.table,
    sources: Annotated[bool, typer.Option("--sources", help="Show each figure's source.")] = False,
    devices_file: DevFile = None,
) -> None:
    """The device catalogue: memory, bandwidth and dense peak FLOP/s per dtype, with sources."""
    from ..devices import catalogue
    from ..units import human_bytes

    load_extras(None, devices_file)
    devs = list(catalogue().values())
    if fmt is Fmt.json:
        return echo_json([d.as_dict() for d in devs])
    dtypes = ("fp32", "fp16", "bf16", "fp8")
    if fmt is Fmt.csv:
        return write_csv([{"name": d.name, "title": d.title, "kind": d.kind,
                           "memory_bytes": d.memory_bytes, "bandwidth_gb_s": d.bandwidth / 1e9,
                           **{f"{t}_tflops": d.peak_flops.get(t, 0) / 1e12 or "" for t in dtypes},
                           "source": d.source} for d in devs])
    t = render.table("Devices (dense peak TFLOP/s; never the sparsity figure)",
                     ["name", "memory", "GB/s", *dtypes])
    for col in t.columns[1:]:
        col.no_wrap = True  # a figure is never cut (the table fits 80 columns)
    for d in devs:
        p = d.peak_flops
        t.add_row(d.name, human_bytes(d.memory_bytes), f"{d.bandwidth / 1e9:,.0f}",
                  *(f"{p[k] / 1e12:.4g}" if k in p else "—" for k in dtypes))
    out = console()
    out.print(t)
    if sources:
        for d in devs:
            out.print(f"{d.name} ({d.title}, {d.kind}): {d.source}" +
                      (f" — {d.derived}" if d.derived else ""), highlight=False, markup=False)
    else:
        out.print("Full names, kinds and each figure's source: --sources", highlight=False)


def parse_values(name: str, text: str | None, flag: str | None = None) -> list[int] | None:
    """'128,256,512', '128:4096:x2' (geometric) or '64:512:64' (arithmetic) -> ints; errors
    name ``flag`` (default: the dimension's own flag)."""
    if text is None:
        return None
    out: list[int] = []
    flag = flag or "--" + name.replace("_", "-")
    bad = AttncostError(f"{flag} {text!r} is not understood; use "
                        f"'128,256', '128:4096:x2' (geometric) or '64:512:64' (arithmetic)")
    for part in (p.strip() for p in text.split(",")):
        pieces = part.split(":")
        if len(pieces) not in (1, 2, 3):
            raise bad
        try:
            if len(pieces) == 1:
                out.append(int(part))
                continue
            lo, hi = int(pieces[0]), int(pieces[1])
            step = pieces[2] if len(pieces) == 3 else "1"
            geometric = step.startswith("x")
            inc = int(step[1:] if geometric else step)
        except ValueError:
            raise bad from None
        if inc < (2 if geometric else 1) or lo <= 0 or hi < lo:
            raise bad
        count = (hi.bit_length() if geometric else (hi - lo) // inc + 1)
        if count > 10_000_000:
            raise AttncostError(f"{flag} {text!r} gives more than 10,000,000 values; narrow it")
        if geometric:
            v = lo
            while v <= hi:
                out.append(v)
                v *= inc
        else:
            out.extend(range(lo, hi + 1, inc))
    if not out or any(v <= 0 for v in out):
        raise AttncostError(f"{flag} {text!r} must give positive integers")
    return out


def _grid_flags() -> Any:
    """One values flag per dimension (DIM_FIELDS): '256,512' or '64:1024:x2'."""
    from ..config import DIM_FIELDS
    from .base import with_flags

    return with_flags([(n, Annotated[Optional[str], typer.Option(
        "--" + n.replace("_", "-"), help="Values, e.g. 256,512 or 64:1024:x2 (geometric) or "
                                         "64:512:64 (arithmetic).", metavar="VALUES")])
        for n in DIM_FIELDS], into="grid_text")


@app.command()
@friendly
@_grid_flags()
@attention_flags(only=("bias", "causal", "impl", "sharing", "dropout", "dtype", "optimizer",
                       "master_weights"))
def sweep(
    variant: AllVariants = None, layers: Layers = None,
    metric: Annotated[Optional[list[str]], typer.Option(help="Metrics to keep (default: all).")] = None,
    out: Annotated[Optional[Path], typer.Option(
        "--out", "-o", help="Write .csv or .parquet (default: CSV on stdout).")] = None,
    variant_file: VarFile = None, fields: Any = None, grid_text: Any = None,
) -> None:
    """A grid over any dimensions, evaluated with the vectorised formulas (exact integers)."""
    import sys

    from .. import api
    from ..files import write_frame

    writable(out)
    load_extras(variant_file, None)
    grid = {n: parse_values(n, t) for n, t in grid_text.items()}
    df = api.sweep(variant or ["all"], grid, layers=1 if layers is None else layers, metrics=metric, **fields)
    if out is None:
        df.to_csv(sys.stdout, index=False)
        return
    write_frame(df, out)
    typer.echo(f"wrote {len(df):,} rows × {len(df.columns)} columns to {out}", err=True)


@app.command()
@friendly
@model_flags()
@attention_flags()
def fit(
    variant: VariantOpt = None, layers: Blocks = None, mode: ModeOpt = Mode.train,
    device: DeviceOpt = None, memory_budget: Budget = None, peak_tflops: PeakT = None,
    bandwidth: Bandwidth = None, headroom: Headroom = 0.1, decode_tokens: DecodeTok = 0,
    preset: Preset = None, config: ConfigFile = None, fmt: FormatOpt = Fmt.table,
    require_fit: Annotated[bool, typer.Option(
        "--require-fit", help="Exit 1 if any variant does not fit.")] = False,
    variant_file: VarFile = None, devices_file: DevFile = None,
    fields: Any = None, model_fields: Any = None,
) -> None:
    """Does it fit a device, and what is the largest batch and sequence length that fits?

    Solved exactly from the closed forms (doubling + bisection on exact integers).
    """
    from dataclasses import asdict

    from .. import api
    from ..units import human_bytes, human_seconds

    load_extras(variant_file, devices_file)
    preset = model_source(preset, config)
    dev = device_of(device, memory_budget, peak_tflops, bandwidth)
    if dev is None:
        raise AttncostError("fit needs --device NAME or --memory-budget SIZE")
    refuse_inert_device_flags(dev, mode)
    if model_fields and preset is None:
        flags = ", ".join("--" + k.replace("_", "-") for k in model_fields)
        raise AttncostError(f"{flags} describe a whole model: add --preset NAME or "
                            f"--config PATH")
    rows = api.fit_table(variant, dev, preset_name=preset, model_overrides=model_fields,
                         layers=layers, mode=mode.value, headroom=headroom,
                         decode_tokens=decode_tokens, **fields)
    if fmt is Fmt.json:
        echo_json({"device": dev.as_dict(), "mode": mode.value, "headroom": headroom,
                   "rows": [asdict(r) for r in rows]})
    elif fmt is Fmt.csv:
        write_csv([asdict(r) for r in rows],
                  [k for k in asdict(rows[0]) if k != "notes"])
    else:
        t = render.table(f"{dev.title}: {human_bytes(dev.memory_bytes)}, {headroom:.0%} "
                         f"headroom → budget {human_bytes(rows[0].budget_bytes)} ({mode.value})",
                         ["variant", "fits", "needs", "max batch", "max seq_len",
                          "latency (roofline)"])
        for r in rows:
            t.add_row(r.variant, "yes" if r.fits else "NO", human_bytes(r.required_bytes),
                      "none" if r.max_batch is None else f"{r.max_batch:,}",
                      "none" if r.max_seq_len is None else f"{r.max_seq_len:,}",
                      "n/a" if r.latency_s is None else
                      f"{human_seconds(r.latency_s)} ({r.bound}-bound)")
        out = console()
        out.print(t)
        render.print_notes(out, dict.fromkeys(
            ["max seq_len rebuilds Super's W_A and Linformer's E,F for each length unless "
             "--max-seq-len is set; max batch keeps seq_len fixed"] +
            [f"{r.variant}: {n}" for r in rows for n in r.notes]))
    if require_fit and not all(r.fits for r in rows):
        raise typer.Exit(1)


@app.command()
@friendly
@attention_flags(exclude=("seq_len",))
def crossover(
    a: Annotated[str, typer.Option("--a", help="First variant.")],
    b: Annotated[str, typer.Option("--b", help="Second variant.")] = "standard",
    metric: Annotated[str, typer.Option(help="Metric to compare.")] = "flops_fwd",
    lo: Annotated[int, typer.Option(help="Shortest sequence length.", parser=parse_int,
                                    metavar="INT")] = 1,
    hi: Annotated[int, typer.Option(help="Longest sequence length.", parser=parse_int,
                                    metavar="INT")] = 65536,
    layers: Layers = None, fmt: FormatOpt = Fmt.table, variant_file: VarFile = None,
    fields: Any = None,
) -> None:
    """At which sequence length does variant A become cheaper (or dearer) than B?"""
    from .. import api

    load_extras(variant_file, None)
    rows = api.crossover(a, b, metric, lo=lo, hi=hi, layers=1 if layers is None else layers, **fields)
    if fmt is Fmt.json:
        return echo_json({"a": a, "b": b, "metric": metric, "lo": lo, "hi": hi,
                          "crossovers": rows})
    if fmt is Fmt.csv:
        return write_csv(rows, ["at", "before", "after", "a", "b"])
    if not rows:
        typer.echo(f"{metric}: no crossover between {a} and {b} for seq_len in [{lo}, {hi}]")
    for r in rows:
        cheaper = a if r["after"] == "a < b" else b
        typer.echo(f"{metric}: from seq_len {r['at']:,}, {cheaper} is lower "
                   f"({a} {r['a']:,} vs {b} {r['b']:,})")


@app.command()
@friendly
def presets(fmt: FormatOpt = Fmt.table) -> None:
    """The shipped whole-model presets, their parameter counts and sources."""
    from .. import api
    from ..config import preset, preset_names

    rows = [{"name": n, "params": api.estimate_model(n).metrics["params"],
             "source": preset(n).source} for n in preset_names()]
    if fmt is Fmt.json:
        return echo_json(rows)
    if fmt is Fmt.csv:
        return write_csv(rows)
    for r in rows:
        typer.echo(f"{r['name']}: {r['params']:,} parameters — {r['source']}")


@app.command()
@friendly
def bench(
    runs: Annotated[int, typer.Option(help="Cold processes to time.", parser=parse_int,
                                      metavar="INT")] = 11,
    configs: Annotated[int, typer.Option(help="Configurations in the sweep benchmark.",
                                         parser=parse_int, metavar="INT")] = 4_000_000,
) -> None:
    """Speed figures measured in one run (cold estimate, sweep rate, depth scaling, vs
    FlopCounterMode). The FlopCounterMode comparison needs torch:
    pip install -c constraints.txt -e '.[torch]'."""
    from ..bench import run

    if runs < 1 or configs < 1:
        raise AttncostError(f"--runs {runs} and --configs {configs} must be positive")
    run(runs=runs, configs=configs)
