"""The ``attncost`` command line (typer): parsing and printing only, no formulas.

Exit status: 0 on success, 2 on bad input (one line: ``error: ...``), 1 when a check fails
(``fit`` with ``--require-fit`` and a variant that does not fit).
"""

from __future__ import annotations

import csv
import functools
import json
import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, Callable, Optional

import typer

from .errors import AttncostError

app = typer.Typer(
    name="attncost",
    help="What an attention layer costs, exactly, before you train anything: parameters, "
         "FLOPs, memory, KV cache, device fit and roofline latency for standard, Optimised, "
         "Efficient, Super, Linformer, linear, MQA, GQA, MLA and kernel-linear attention.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)


class Fmt(str, Enum):
    table = "table"
    json = "json"
    csv = "csv"


class Mode(str, Enum):
    train = "train"
    infer = "infer"


def friendly(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn attncost's typed errors into one line on stderr and exit status 2."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except AttncostError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from None
        except KeyboardInterrupt:
            typer.echo("interrupted", err=True)
            raise typer.Exit(130) from None

    return wrapper


# -- shared options ----------------------------------------------------------------------------

VariantOpt = Annotated[Optional[list[str]], typer.Option(
    "--variant", "-v", help="Variant name(s): repeat the flag, separate with commas, or 'all'.")]
DModel = Annotated[Optional[int], typer.Option(help="Model width d_model. [default: 512]")]
Heads = Annotated[Optional[int], typer.Option(help="Attention heads. [default: 8]")]
DHead = Annotated[Optional[int], typer.Option(help="Head width. [default: d_model/heads]")]
SeqLen = Annotated[Optional[int], typer.Option(help="Sequence length ℓ. [default: 512]")]
Batch = Annotated[Optional[int], typer.Option(help="Sequences per batch. [default: 1]")]
KvHeads = Annotated[Optional[int], typer.Option(
    help="GQA key/value heads. [default: largest divisor of heads <= heads/4]")]
KOpt = Annotated[Optional[int], typer.Option(
    "--k", help="Linformer projected length k. [default: seq_len/4]")]
Sharing = Annotated[Optional[str], typer.Option(
    help="Linformer sharing: none, headwise, key-value, layerwise. [default: headwise]")]
MaxSeq = Annotated[Optional[int], typer.Option(
    help="Length Super's W_A and Linformer's E,F are built for. [default: seq_len]")]
KvLatent = Annotated[Optional[int], typer.Option(help="MLA KV latent d_c. [default: 4·d_head]")]
QLatent = Annotated[Optional[int], typer.Option(help="MLA query latent d_c'. [default: 12·d_head]")]
RopeDim = Annotated[Optional[int], typer.Option(help="MLA RoPE dim d_hR. [default: d_head/2]")]
Layers = Annotated[Optional[int], typer.Option(
    help="Attention layers stacked (with --preset: transformer blocks). [default: 1]")]
Bias = Annotated[Optional[bool], typer.Option(
    "--bias/--no-bias", help="Biases on every projection. [default: off, as the papers]")]
Causal = Annotated[Optional[bool], typer.Option("--causal/--no-causal", help="Causal masking.")]
Impl = Annotated[Optional[str], typer.Option(
    help="materialised (explicit ℓ×ℓ scores) or fused (flash-style SDPA). [default: materialised]")]
Dropout = Annotated[Optional[bool], typer.Option(
    "--dropout/--no-dropout", help="Count dropout masks (saved for backward).")]
Dtype = Annotated[Optional[str], typer.Option(
    help="fp32, bf16, fp16, fp8 (weights and activations). [default: fp32]")]
Optim = Annotated[Optional[str], typer.Option(
    help="adam, adamw, sgd, sgd-momentum. [default: adam]")]
Master = Annotated[Optional[bool], typer.Option(
    "--master-weights/--no-master-weights",
    help="fp32 master weights (mixed precision). [default: on for 16-bit dtypes]")]
ModeOpt = Annotated[Mode, typer.Option(help="Which peak to check against the budget.")]
Device = Annotated[Optional[str], typer.Option(help="A device from `attncost devices`.")]
Budget = Annotated[Optional[str], typer.Option(
    help="Memory budget instead of a device: '6GiB' (2^30) or '6GB' (10^9).")]
PeakT = Annotated[Optional[float], typer.Option(help="With --memory-budget: peak TFLOP/s.")]
Bandwidth = Annotated[Optional[float], typer.Option(help="With --memory-budget: bandwidth, GB/s.")]
Headroom = Annotated[float, typer.Option(help="Fraction of memory kept free.")]
DecodeTok = Annotated[int, typer.Option(
    help="Inference: add the KV cache of this many tokens (batch included) to the budget.")]
DevFile = Annotated[Optional[Path], typer.Option(help="TOML file with more devices.")]
VarFile = Annotated[Optional[list[Path]], typer.Option(
    help="Python file(s) that register extra variants.")]
Preset = Annotated[Optional[str], typer.Option(
    help="Estimate a whole preset model (gpt2, bert-base, vit-b16, llama2-7b, seed-imdb); "
         "flags override its fields.")]
FormatOpt = Annotated[Fmt, typer.Option("--format", "-f", help="Output format.")]


def _attention_fields(params: dict[str, Any]) -> dict[str, Any]:
    """The :class:`AttentionConfig` flags among a command's parameters that the user gave
    (None means 'not given')."""
    from dataclasses import fields

    from .config import AttentionConfig

    names = {f.name for f in fields(AttentionConfig)}
    return {k: v for k, v in params.items() if k in names and v is not None}


def _load_extras(variant_file: list[Path] | None, devices_file: Path | None) -> None:
    from . import devices, variants

    for f in variant_file or []:
        variants.load_variant_file(f)
    if devices_file is not None:
        devices.load_devices_file(devices_file)


def _device(device: str | None, memory_budget: str | None, peak_tflops: float | None,
            bandwidth: float | None):
    from .devices import custom_device, get_device

    if device and memory_budget:
        raise AttncostError("give --device or --memory-budget, not both")
    if device:
        return get_device(device)
    if memory_budget:
        return custom_device(memory_budget, peak_tflops, bandwidth)
    if peak_tflops is not None or bandwidth is not None:
        raise AttncostError("--peak-tflops and --bandwidth need --memory-budget")
    return None


def _estimates(variant, preset_name, fields, layers, dev, mode, headroom, decode_tokens):
    from . import api
    from .config import AttentionConfig

    if preset_name:
        over = dict(fields)
        if layers is not None:
            over["n_layers"] = layers
        if variant:
            from .variants import resolve

            names = resolve(variant)
            if len(names) != 1:
                raise AttncostError("with --preset, give one --variant for every layer")
            over["variant"] = names[0]
        return [api.estimate_model(preset_name, device=dev, mode=mode.value,
                                   headroom=headroom, decode_tokens=decode_tokens, **over)]
    cfg = AttentionConfig(**fields)
    names = variant or ["standard"]
    return api.compare(names, cfg, layers=1 if layers is None else layers, device=dev, mode=mode.value,
                       headroom=headroom, decode_tokens=decode_tokens)


# -- printing ------------------------------------------------------------------------------


def _cell(value: Any, unit: str) -> str:
    from .units import human_bytes, human_count

    if value is None:
        return "not defined"
    if unit == "B":
        return f"{value:,} B ({human_bytes(value)})" if value >= 1024 else f"{value:,} B"
    if unit == "FLOP":
        return f"{value:,} ({human_count(value)}FLOP)" if value >= 1000 else f"{value:,}"
    return f"{value:,} ({human_count(value)})" if value >= 1000 else f"{value:,}"


ROWS = [
    ("params", "Parameters", "count"),
    ("params_weights", "  weights", "count"),
    ("params_biases", "  biases", "count"),
    ("flops_fwd", "FLOPs forward", "FLOP"),
    ("flops_fwd_matmul", "  matmul (2×MAC)", "FLOP"),
    ("flops_fwd_other", "  other (softmax, scale, mask…)", "FLOP"),
    ("flops_fwd_useful", "  useful (causal: unmasked only)", "FLOP"),
    ("flops_bwd", "FLOPs backward", "FLOP"),
    ("flops_bwd_matmul", "  matmul (gradients)", "FLOP"),
    ("flops_bwd_other", "  other", "FLOP"),
    ("flops_bwd_recompute", "  flash recompute of q·kᵀ (matmul)", "FLOP"),
    ("weight_bytes", "Weights", "B"),
    ("grad_bytes", "Gradients", "B"),
    ("optimizer_bytes", "Optimizer states (+fp32 master)", "B"),
    ("activation_bytes", "Activations saved for backward", "B"),
    ("inference_peak_bytes", "Inference peak", "B"),
    ("train_peak_bytes", "Training peak", "B"),
    ("kv_cache_bytes_per_token", "KV cache per token", "B"),
    ("decode_state_bytes", "Decode state per sequence", "B"),
    ("bytes_fwd", "Bytes moved forward", "B"),
    ("bytes_bwd", "Bytes moved backward", "B"),
]


def _print_estimates(ests, show_formula: bool, fields: dict[str, Any], layers: int | None,
                     breakdown: bool) -> None:
    from rich.console import Console
    from rich.table import Table

    from .units import human_bytes, human_seconds

    console = Console()
    first = ests[0]
    inp = first.inputs
    attn = inp.get("attention", inp)
    title = (f"{first.title}" if len(ests) == 1 else "attention variants") + (
        f" — d_model {attn['d_model']}, heads {attn['heads']}, d_head {attn['d_head']}, "
        f"seq_len {attn['seq_len']}, batch {attn['batch']}, {attn['dtype']}, "
        f"{'causal' if attn['causal'] else 'non-causal'}, "
        f"{'bias' if attn['bias'] else 'no bias'}, {attn['impl']}, optimizer {attn['optimizer']}"
        + (f", layers {inp.get('layers')}" if inp.get("layers", 1) != 1 else ""))
    table = Table(title=title, title_justify="left", show_lines=False)
    table.add_column("metric")
    for e in ests:
        table.add_column(e.variant, justify="right")
    for key, label, unit in ROWS:
        if key == "decode_state_bytes" and all(e.metrics.get(key) is None for e in ests):
            continue
        if key == "flops_bwd_recompute" and all(not e.metrics.get(key) for e in ests):
            continue
        table.add_row(label, *(_cell(e.metrics.get(key), unit) for e in ests))
    if any(e.fit for e in ests):
        f0 = next(e.fit for e in ests if e.fit)
        table.add_section()
        table.add_row(f"Fits {f0.device} ({f0.mode}, {f0.headroom:.0%} headroom, budget "
                      f"{human_bytes(f0.budget_bytes)})",
                      *(("yes" if e.fit.fits else "NO") + f" ({e.fit.utilisation:.1%})"
                        for e in ests))
    if any(e.calibrated_latency_s for e in ests):
        table.add_section()
        table.add_row("Calibrated latency (the validated machine)",
                      *(human_seconds(e.calibrated_latency_s) for e in ests))
    if any(e.roofline for e in ests):
        table.add_row("Roofline latency (ideal)",
                      *(f"{human_seconds(e.roofline.latency_s)}, {e.roofline.bound}-bound"
                        for e in ests))
        table.add_row("Arithmetic intensity",
                      *(f"{e.roofline.intensity:,.1f} FLOP/B" for e in ests))
    console.print(table)
    notes = []
    for e in ests:
        for n in e.notes:
            notes.append(f"{e.variant}: {n}")
        if e.kv_cache_note:
            notes.append(f"{e.variant}: KV cache not defined — {e.kv_cache_note}")
        if e.roofline:
            notes.extend(f"{e.variant}: {n}" for n in e.roofline.notes)
    if attn["causal"]:
        notes.append("causal: 'FLOPs forward' counts the full ℓ×ℓ rectangle as PyTorch executes "
                     "and counts it; 'useful' counts only the ℓ(ℓ+1)/2 unmasked pairs per head")
    notes.append("FLOPs = 2 × multiply-accumulates for matmuls; bytes are exact integers; "
                 "human sizes use binary prefixes (KiB, MiB, GiB)")
    for n in dict.fromkeys(notes):
        console.print(f"[dim]• {n}[/dim]")
    if breakdown:
        for e in ests:
            t = Table(title=f"{e.variant}: per-operation breakdown", title_justify="left")
            for c in ("op", "kind", "fwd matmul", "fwd other", "bwd matmul", "bwd other",
                      "bytes fwd", "bytes bwd"):
                t.add_column(c, justify="left" if c in ("op", "kind") else "right")
            for op in e.ops:
                t.add_row(op.name, op.kind, f"{op.flops_fwd_matmul:,}", f"{op.flops_fwd_other:,}",
                          f"{op.flops_bwd_matmul:,}", f"{op.flops_bwd_other:,}",
                          f"{op.bytes_fwd:,}", f"{op.bytes_bwd:,}")
            console.print(t)
    if show_formula:
        _print_formulas([e.variant for e in ests], fields, layers, None, False, console)


def _print_formulas(names, fields, layers, metric, latex, console=None) -> None:
    import sympy
    from rich.console import Console

    from . import api
    from .config import AttentionConfig
    from .costs import METRICS

    console = console or Console()
    cfg = AttentionConfig(**fields)
    if metric is not None and metric not in METRICS:
        from .errors import unknown

        raise unknown("metric", metric, METRICS)
    console.print("[bold]Formulas[/bold] (b batch, ℓ seq_len, d_m d_model, h heads, d_h d_head, "
                  "g kv_heads, k Linformer k, L max_seq_len, d_c/d_cq MLA latents, d_hR RoPE dim; "
                  "d_h = d_m/h and L = ℓ unless set)")
    metrics = [metric] if metric else list(METRICS)
    for name in names:
        console.print(f"[bold]{name}[/bold]")
        for m in metrics:
            expr = api.formula(name, m, cfg, layers=1 if layers is None else layers)
            text = "not defined" if expr is None else (
                sympy.latex(expr) if latex else sympy.sstr(expr).replace("ell", "ℓ"))
            console.print(f"  {m} = {text}", soft_wrap=True, markup=False, highlight=False)


def _flat_row(e) -> dict[str, Any]:
    row = {"variant": e.variant}
    inp = e.inputs.get("attention", e.inputs)
    for k in ("d_model", "heads", "d_head", "seq_len", "batch", "kv_heads", "k", "max_seq_len",
              "dtype", "causal", "bias", "impl"):
        row[k] = inp.get(k)
    layers = e.inputs.get("layers", 1)
    row["layers"] = len(layers) if isinstance(layers, list) else layers
    from .costs import METRICS

    row.update({k: e.metrics.get(k) for k in METRICS})
    if e.fit:
        row["fits"] = e.fit.fits
        row["required_bytes"] = e.fit.required_bytes
    if e.roofline:
        row["latency_s"] = e.roofline.latency_s
    return row


def _emit(ests, fmt: Fmt, **kw: Any) -> bool:
    if fmt is Fmt.json:
        typer.echo(json.dumps([e.to_dict(breakdown=kw.get("breakdown", False)) for e in ests],
                              indent=2))
        return True
    if fmt is Fmt.csv:
        rows = [_flat_row(e) for e in ests]
        w = csv.DictWriter(sys.stdout, fieldnames=list(rows[0]), lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
        return True
    return False


# -- commands ---------------------------------------------------------------------------------


@app.command()
@friendly
def estimate(
    variant: VariantOpt = None, d_model: DModel = None, heads: Heads = None,
    d_head: DHead = None, seq_len: SeqLen = None, batch: Batch = None,
    kv_heads: KvHeads = None, k: KOpt = None, sharing: Sharing = None,
    max_seq_len: MaxSeq = None, kv_latent: KvLatent = None, q_latent: QLatent = None,
    rope_dim: RopeDim = None, layers: Layers = None, bias: Bias = None, causal: Causal = None,
    impl: Impl = None, dropout: Dropout = None, dtype: Dtype = None, optimizer: Optim = None,
    master_weights: Master = None, mode: ModeOpt = Mode.train, device: Device = None,
    memory_budget: Budget = None, peak_tflops: PeakT = None, bandwidth: Bandwidth = None,
    headroom: Headroom = 0.1, decode_tokens: DecodeTok = 0, preset: Preset = None,
    fmt: FormatOpt = Fmt.table,
    formula: Annotated[bool, typer.Option("--formula", help="Also print the formulas.")] = False,
    calibration: Annotated[Optional[Path], typer.Option(
        help="A validation summary JSON (attncost validate --format json): adds the latency "
             "calibrated on that machine's real runs.")] = None,
    breakdown: Annotated[bool, typer.Option("--breakdown", help="Per-operation table.")] = False,
    variant_file: VarFile = None, devices_file: DevFile = None,
) -> None:
    """Every metric of one or more variants (or a whole --preset model).

    Example: attncost estimate --d-model 512 --variant super --device jetson-orin-nano-8gb
    """
    _load_extras(variant_file, devices_file)
    fields = _attention_fields(locals())
    dev = _device(device, memory_budget, peak_tflops, bandwidth)
    ests = _estimates(variant, preset, fields, layers, dev, mode, headroom, decode_tokens)
    if calibration is not None:
        from .budget import calibrated_latency, load_calibration

        model = load_calibration(calibration)
        for e in ests:
            e.calibrated_latency_s = calibrated_latency(e.ops, model, mode.value)
    if _emit(ests, fmt, breakdown=breakdown):
        return
    if formula and preset:
        raise AttncostError("--formula prints a layer's formulas; drop --preset")
    _print_estimates(ests, formula, fields, layers, breakdown)


@app.command()
@friendly
def compare(
    variant: VariantOpt = None, d_model: DModel = None, heads: Heads = None,
    d_head: DHead = None, seq_len: SeqLen = None, batch: Batch = None,
    kv_heads: KvHeads = None, k: KOpt = None, sharing: Sharing = None,
    max_seq_len: MaxSeq = None, layers: Layers = None, bias: Bias = None,
    causal: Causal = None, impl: Impl = None, dtype: Dtype = None, optimizer: Optim = None,
    mode: ModeOpt = Mode.train, device: Device = None, memory_budget: Budget = None,
    headroom: Headroom = 0.1, fmt: FormatOpt = Fmt.table,
    baseline: Annotated[str, typer.Option(help="Variant the ratios divide by.")] = "standard",
    absolute: Annotated[bool, typer.Option(
        "--absolute", help="Absolute values in every row instead of ratios.")] = False,
    variant_file: VarFile = None, devices_file: DevFile = None,
) -> None:
    """All variants side by side: the baseline's values, the others as ratios to it.

    Variants that cannot run the configuration (e.g. Linformer with --causal) are left out
    and listed.
    """
    from . import api, variants
    from .config import AttentionConfig
    from .units import human_bytes, human_count

    _load_extras(variant_file, devices_file)
    fields = _attention_fields(locals())
    cfg = AttentionConfig(**fields)
    names = variants.resolve(variant or ["all"])
    if baseline not in names:
        names = [variants.get(baseline).name] + names
    dev = _device(device, memory_budget, None, None)
    ests = api.compare(names, cfg, layers=1 if layers is None else layers, device=dev, mode=mode.value,
                       headroom=headroom)
    left_out = [n for n in names if n not in {e.variant for e in ests}]
    if _emit(ests, fmt):
        return
    from rich.console import Console
    from rich.table import Table

    base = next((e for e in ests if e.variant == baseline), None)
    d = cfg.dims()
    table = Table(title=f"d_model {d.d_model}, heads {d.heads}, seq_len {d.seq_len}, batch "
                        f"{d.batch}, {cfg.dtype}, {'causal' if cfg.causal else 'non-causal'}, "
                        f"{cfg.impl}" + ("" if absolute else f"; rows other than {baseline} are ratios "
                                        f"to it (×)"), title_justify="left")
    cols = [("params", "params", "count"), ("flops_fwd", "FLOPs fwd", "FLOP"),
            ("flops_bwd", "FLOPs bwd", "FLOP"), ("activation_bytes", "saved act.", "B"),
            ("inference_peak_bytes", "infer peak", "B"), ("train_peak_bytes", "train peak", "B"),
            ("kv_cache_bytes_per_token", "KV/token", "B")]
    table.add_column("variant")
    for _, label, _ in cols:
        table.add_column(label, justify="right")
    if dev:
        table.add_column(f"fits {dev.name}", justify="right")
    for e in ests:
        cells = []
        for key, _, unit in cols:
            v = e.metrics.get(key)
            b = base.metrics.get(key) if base else None
            if v is None:
                cells.append("n/a")
            elif absolute or e is base or not b:
                cells.append(human_bytes(v) if unit == "B" else human_count(v))
            else:
                cells.append(f"×{v / b:.3f}")
        if dev:
            cells.append("yes" if e.fit.fits else "NO")
        table.add_row(e.variant, *cells)
    console = Console()
    console.print(table)
    if left_out:
        console.print(f"[dim]• left out (cannot run this configuration): "
                      f"{', '.join(left_out)}[/dim]")
    for e in ests:
        for n in e.notes:
            console.print(f"[dim]• {e.variant}: {n}[/dim]")


@app.command()
@friendly
def formula(
    variant: VariantOpt = None,
    metric: Annotated[Optional[str], typer.Option(help="One metric (default: all).")] = None,
    latex: Annotated[bool, typer.Option("--latex", help="LaTeX instead of text.")] = False,
    layers: Layers = None, bias: Bias = None, causal: Causal = None, impl: Impl = None,
    sharing: Sharing = None, dropout: Dropout = None, dtype: Dtype = None,
    optimizer: Optim = None, d_head: DHead = None, max_seq_len: MaxSeq = None,
    variant_file: VarFile = None,
) -> None:
    """Closed-form expressions (sympy) of every metric, as text or LaTeX."""
    from . import variants

    _load_extras(variant_file, None)
    fields = _attention_fields(locals())
    if "d_head" in fields:
        fields.setdefault("d_model", fields["d_head"] * 8)
    if "max_seq_len" in fields:
        fields["seq_len"] = min(512, fields["max_seq_len"])
    names = variants.resolve(variant or ["standard"])
    _print_formulas(names, fields, layers, metric, latex)


@app.command()
@friendly
def devices(
    fmt: FormatOpt = Fmt.table,
    sources: Annotated[bool, typer.Option("--sources", help="Show each figure's source.")] = False,
    devices_file: DevFile = None,
) -> None:
    """The device catalogue: memory, bandwidth and dense peak FLOP/s per dtype, with sources."""
    from .devices import catalogue

    _load_extras(None, devices_file)
    devs = list(catalogue().values())
    if fmt is Fmt.json:
        typer.echo(json.dumps([d.as_dict() for d in devs], indent=2))
        return
    if fmt is Fmt.csv:
        w = csv.writer(sys.stdout, lineterminator="\n")
        w.writerow(["name", "title", "kind", "memory_bytes", "bandwidth_gb_s", "fp32_tflops",
                    "fp16_tflops", "bf16_tflops", "fp8_tflops", "source"])
        for d in devs:
            p = d.peak_flops
            w.writerow([d.name, d.title, d.kind, d.memory_bytes, d.bandwidth / 1e9,
                        *(p.get(t, 0) / 1e12 or "" for t in ("fp32", "fp16", "bf16", "fp8")),
                        d.source])
        return
    from rich.console import Console
    from rich.table import Table

    from .units import human_bytes

    t = Table(title="Devices (dense peak TFLOP/s; never the sparsity figure)", title_justify="left")
    for c in ("name", "device", "kind", "memory", "GB/s", "fp32", "fp16", "bf16", "fp8"):
        t.add_column(c, justify="left" if c in ("name", "device", "kind") else "right")
    for d in devs:
        p = d.peak_flops
        t.add_row(d.name, d.title, d.kind, human_bytes(d.memory_bytes), f"{d.bandwidth / 1e9:,.1f}",
                  *(f"{p[k] / 1e12:,.4g}" if k in p else "—" for k in ("fp32", "fp16", "bf16", "fp8")))
    console = Console()
    console.print(t)
    if sources:
        for d in devs:
            console.print(f"[bold]{d.name}[/bold]: {d.source}" + (f" — {d.derived}" if d.derived else ""),
                          highlight=False)


def _parse_values(name: str, text: str | None) -> list[int] | None:
    """'128,256,512', '128:4096:x2' (geometric) or '64:512:64' (arithmetic) -> ints."""
    if text is None:
        return None
    out: list[int] = []
    try:
        for part in text.split(","):
            part = part.strip()
            if ":" in part:
                lo_s, hi_s, step_s = (part.split(":") + ["1"])[:3]
                lo, hi = int(lo_s), int(hi_s)
                if step_s.startswith("x"):
                    factor = int(step_s[1:])
                    if factor < 2 or lo <= 0:
                        raise ValueError
                    v = lo
                    while v <= hi:
                        out.append(v)
                        v *= factor
                else:
                    step = int(step_s)
                    if step <= 0:
                        raise ValueError
                    out.extend(range(lo, hi + 1, step))
            else:
                out.append(int(part))
    except ValueError:
        raise AttncostError(
            f"--{name.replace('_', '-')} {text!r} is not understood; use '128,256', "
            f"'128:4096:x2' (geometric) or '64:512:64' (arithmetic)") from None
    if not out or any(v <= 0 for v in out):
        raise AttncostError(f"--{name.replace('_', '-')} {text!r} must give positive integers")
    return out


@app.command()
@friendly
def sweep(
    variant: VariantOpt = None,
    d_model: Annotated[Optional[str], typer.Option(help="Values, e.g. 256,512 or 64:1024:x2.")] = None,
    heads: Annotated[Optional[str], typer.Option(help="Values.")] = None,
    d_head: Annotated[Optional[str], typer.Option(help="Values.")] = None,
    seq_len: Annotated[Optional[str], typer.Option(help="Values, e.g. 128:65536:x2.")] = None,
    batch: Annotated[Optional[str], typer.Option(help="Values.")] = None,
    kv_heads: Annotated[Optional[str], typer.Option(help="Values.")] = None,
    k: Annotated[Optional[str], typer.Option("--k", help="Values (Linformer).")] = None,
    layers: Layers = None, bias: Bias = None, causal: Causal = None, impl: Impl = None,
    dtype: Dtype = None, optimizer: Optim = None,
    metric: Annotated[Optional[list[str]], typer.Option(help="Metrics to keep (default: all).")] = None,
    out: Annotated[Optional[Path], typer.Option(
        "--out", "-o", help="Write .csv or .parquet (default: CSV on stdout).")] = None,
    variant_file: VarFile = None,
) -> None:
    """A grid over any dimensions, evaluated with the vectorised formulas (exact integers)."""
    from . import api
    from .config import AttentionConfig

    _load_extras(variant_file, None)
    grid = {}
    for name, text in (("d_model", d_model), ("heads", heads), ("d_head", d_head),
                       ("seq_len", seq_len), ("batch", batch), ("kv_heads", kv_heads), ("k", k)):
        values = _parse_values(name, text)
        if values is not None:
            grid[name] = values
    fields = _attention_fields(dict(bias=bias, causal=causal, impl=impl, dtype=dtype,
                                    optimizer=optimizer))
    cfg = AttentionConfig(**fields)
    df = api.sweep(variant or ["all"], grid, cfg, layers=1 if layers is None else layers, metrics=metric)
    if out is None:
        df.to_csv(sys.stdout, index=False)
        return
    if out.suffix == ".parquet":
        try:
            df.to_parquet(out, index=False)
        except ImportError:
            raise AttncostError("writing Parquet needs pyarrow: pip install 'attncost[parquet]'") from None
    elif out.suffix == ".csv":
        df.to_csv(out, index=False)
    else:
        raise AttncostError(f"--out {str(out)!r}: use a .csv or .parquet file name")
    typer.echo(f"wrote {len(df):,} rows × {len(df.columns)} columns to {out}", err=True)


@app.command()
@friendly
def fit(
    variant: VariantOpt = None, d_model: DModel = None, heads: Heads = None,
    d_head: DHead = None, seq_len: SeqLen = None, batch: Batch = None,
    kv_heads: KvHeads = None, k: KOpt = None, sharing: Sharing = None,
    max_seq_len: MaxSeq = None, layers: Layers = None, bias: Bias = None,
    causal: Causal = None, impl: Impl = None, dtype: Dtype = None, optimizer: Optim = None,
    mode: ModeOpt = Mode.train, device: Device = None, memory_budget: Budget = None,
    peak_tflops: PeakT = None, bandwidth: Bandwidth = None, headroom: Headroom = 0.1,
    decode_tokens: DecodeTok = 0, preset: Preset = None, fmt: FormatOpt = Fmt.table,
    require_fit: Annotated[bool, typer.Option(
        "--require-fit", help="Exit 1 if any variant does not fit.")] = False,
    variant_file: VarFile = None, devices_file: DevFile = None,
) -> None:
    """Does it fit a device, and what is the largest batch and sequence length that fits?

    Solved exactly from the closed forms (doubling + bisection on exact integers).
    """
    from . import api, variants
    from .config import AttentionConfig

    _load_extras(variant_file, devices_file)
    dev = _device(device, memory_budget, peak_tflops, bandwidth)
    if dev is None:
        raise AttncostError("fit needs --device NAME or --memory-budget SIZE")
    fields = _attention_fields(locals())
    ests = _estimates(variant, preset, fields, layers, dev, mode, headroom, decode_tokens)
    rows = []
    for e in ests:
        if preset:
            from .model import preset as get_preset

            target: Any = get_preset(preset, **{**fields, **(
                {"variant": variants.resolve(variant)[0]} if variant else {}),
                **({"n_layers": layers} if layers else {})})
            cfg = target.attention
        else:
            target, cfg = e.variant, AttentionConfig(**fields)
        kw = dict(layers=1 if layers is None else layers, mode=mode.value, headroom=headroom,
                  decode_tokens=decode_tokens)
        mb = api.max_batch(target, dev, cfg, **kw)
        try:
            ms = api.max_seq_len(target, dev, cfg, **kw)
        except AttncostError as exc:
            ms = None
            e.notes.append(f"max seq_len: {exc}")
        rows.append({"variant": e.variant, "fits": e.fit.fits, "required_bytes": e.fit.required_bytes,
                     "budget_bytes": e.fit.budget_bytes, "max_batch": mb, "max_seq_len": ms,
                     "latency_s": e.roofline.latency_s if e.roofline else None,
                     "bound": e.roofline.bound if e.roofline else None, "notes": e.notes})
    if fmt is Fmt.json:
        typer.echo(json.dumps({"device": dev.as_dict(), "mode": mode.value, "headroom": headroom,
                               "rows": rows}, indent=2))
    elif fmt is Fmt.csv:
        w = csv.DictWriter(sys.stdout, fieldnames=[c for c in rows[0] if c != "notes"],
                           lineterminator="\n", extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)
    else:
        from rich.console import Console
        from rich.table import Table

        from .units import human_bytes, human_seconds

        t = Table(title=f"{dev.title}: {human_bytes(dev.memory_bytes)}, {headroom:.0%} headroom → "
                        f"budget {human_bytes(rows[0]['budget_bytes'])} ({mode.value})",
                  title_justify="left")
        for c in ("variant", "fits", "needs", "max batch", "max seq_len", "latency (roofline)"):
            t.add_column(c, justify="left" if c == "variant" else "right")
        for r in rows:
            t.add_row(r["variant"], "yes" if r["fits"] else "NO", human_bytes(r["required_bytes"]),
                      "none" if r["max_batch"] is None else f"{r['max_batch']:,}",
                      "none" if r["max_seq_len"] is None else f"{r['max_seq_len']:,}",
                      "n/a" if r["latency_s"] is None else
                      f"{human_seconds(r['latency_s'])} ({r['bound']}-bound)")
        console = Console()
        console.print(t)
        console.print("[dim]• max seq_len rebuilds Super's W_A and Linformer's E,F for each length "
                      "unless --max-seq-len is set; max batch keeps seq_len fixed[/dim]")
        for r in rows:
            for n in r["notes"]:
                console.print(f"[dim]• {r['variant']}: {n}[/dim]")
    if require_fit and not all(r["fits"] for r in rows):
        raise typer.Exit(1)


@app.command()
@friendly
def crossover(
    a: Annotated[str, typer.Option("--a", help="First variant.")],
    b: Annotated[str, typer.Option("--b", help="Second variant.")] = "standard",
    metric: Annotated[str, typer.Option(help="Metric to compare.")] = "flops_fwd",
    lo: Annotated[int, typer.Option(help="Shortest sequence length.")] = 1,
    hi: Annotated[int, typer.Option(help="Longest sequence length.")] = 65536,
    d_model: DModel = None, heads: Heads = None, batch: Batch = None, k: KOpt = None,
    kv_heads: KvHeads = None, bias: Bias = None, impl: Impl = None, dtype: Dtype = None,
    layers: Layers = None, fmt: FormatOpt = Fmt.table,
) -> None:
    """At which sequence length does variant A become cheaper (or dearer) than B?"""
    from . import api

    fields = _attention_fields(locals())
    if k is not None:
        fields["seq_len"] = max(k, lo)
    rows = api.crossover(a, b, metric, None, lo=lo, hi=hi, layers=1 if layers is None else layers, **fields)
    if fmt is Fmt.json:
        typer.echo(json.dumps({"a": a, "b": b, "metric": metric, "lo": lo, "hi": hi,
                               "crossovers": rows}, indent=2))
        return
    if not rows:
        typer.echo(f"{metric}: no crossover between {a} and {b} for seq_len in [{lo}, {hi}]")
    for r in rows:
        cheaper = a if r["after"] == "a < b" else b
        typer.echo(f"{metric}: from seq_len {r['at']:,}, {cheaper} is lower "
                   f"({a} {r['a']:,} vs {b} {r['b']:,})")


@app.command()
@friendly
def validate(
    variant: VariantOpt = None,
    grid_name: Annotated[str, typer.Option(
        "--grid", help="default (odd sizes, both implementations, causal, biases, batch 1 "
        "and 3) or small (CI). Giving any size flag validates that one configuration.")] = "default",
    d_model: DModel = None, heads: Heads = None, seq_len: SeqLen = None, batch: Batch = None,
    kv_heads: KvHeads = None, k: KOpt = None, bias: Bias = None, causal: Causal = None,
    impl: Impl = None,
    timing: Annotated[bool, typer.Option(
        "--timing/--no-timing", help="Also time forward and forward+backward.")] = True,
    device: Annotated[str, typer.Option(help="torch device to run on: cpu or cuda.")] = "cpu",
    out: Annotated[Optional[Path], typer.Option(
        "--out", "-o", help="CSV of every row; finished configurations in it are reused "
        "(resume).")] = None,
    plot: Annotated[Optional[Path], typer.Option(help="Predicted-vs-measured plot (PNG/SVG).")] = None,
    fresh: Annotated[bool, typer.Option("--fresh", help="Ignore rows already in --out.")] = False,
    fmt: FormatOpt = Fmt.table,
) -> None:
    """The cost model against real PyTorch runs: exact params, matmul FLOPs and saved bytes;
    peak memory within 5 %; calibrated latency within ±15 % for ≥ 90 % of configurations.

    Exits 1 when an exact metric mismatches or a toleranced one misses its goal.
    """
    try:
        import torch
    except ImportError:
        raise AttncostError("validate needs torch: pip install -c constraints.txt -e '.[torch]'") from None
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from . import validate as val
    from . import variants as registry
    from .config import AttentionConfig

    if device == "cuda" and not torch.cuda.is_available():
        raise AttncostError("--device cuda: no CUDA device is available here")
    if device not in ("cpu", "cuda"):
        raise AttncostError(f"--device {device!r}: allowed: cpu, cuda")
    from .nn import MODULES

    names = registry.resolve(variant or ["all"])
    if variant:
        missing = [n for n in names if n not in MODULES]
        if missing:
            raise AttncostError(f"no PyTorch module to validate {missing[0]!r} against; "
                                f"validate one of: {', '.join(MODULES)}")
    names = [n for n in names if n in MODULES]
    sizes = _attention_fields(locals())
    one = any(f in sizes for f in ("d_model", "heads", "seq_len", "batch", "kv_heads", "k"))
    configs = (val.grid("one", names, AttentionConfig(**sizes)) if one
               else val.grid(grid_name, names))
    if out is not None and fresh and out.exists():
        out.unlink()
    timings_path = out.with_suffix(".timings.json") if out is not None else None
    if timings_path is not None and fresh and timings_path.exists():
        timings_path.unlink()
    console = Console(stderr=True)
    with Progress(TextColumn("[bold]validate[/bold] {task.description}"), BarColumn(),
                  MofNCompleteColumn(), TimeElapsedColumn(), console=console,
                  disable=fmt is not Fmt.table) as bar:
        task = bar.add_task("", total=len(configs))

        def step(desc: str) -> None:
            bar.update(task, description=desc)
            bar.advance(task) if bar.tasks[0].completed < len(configs) else None

        rows, summary = val.run(configs, device=device, timing=timing, out=out,
                                timings_path=timings_path, progress=step)
        bar.update(task, completed=len(configs))
    if plot is not None:
        val.plot(rows, plot)
    summary["device"] = device if device == "cpu" else torch.cuda.get_device_name()
    summary["threads"] = torch.get_num_threads()
    summary["timing_threads"] = val.TIMING_THREADS
    if fmt is Fmt.json:
        typer.echo(json.dumps({"summary": summary, "rows": list(val.iter_rows(rows))},
                              indent=2, default=str))
    elif fmt is Fmt.csv:
        w = csv.DictWriter(sys.stdout, fieldnames=val.CSV_FIELDS, lineterminator="\n")
        w.writeheader()
        w.writerows(val.iter_rows(rows))
    else:
        _print_validation(rows, summary)
    if not summary["passed"]:
        raise typer.Exit(1)


def _print_validation(rows, summary) -> None:
    from rich.console import Console
    from rich.table import Table

    from . import validate as val

    t = Table(title=f"Validation on {summary['device']} ({summary['threads']} threads; timings "
                    f"on {summary['timing_threads']}): {summary['configs_validated']} "
                    f"configurations", title_justify="left")
    for c in ("variant", "configs", "exact mismatches", "worst peak-memory error",
              "latency within ±15 % (held out)"):
        t.add_column(c, justify="left" if c == "variant" else "right")
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
    console = Console()
    console.print(t)
    s = summary
    console.print(f"exact checks: {s['exact_checks']}, mismatches: {s['exact_mismatches']} "
                  f"(goal 0); peak memory worst error {s['memory_worst_error']:.2%} (goal ≤ 5 %)"
                  + (f"; latency: {s['latency_share_within_15pct']:.0%} of "
                     f"{s['latency_held_out']} held-out timings within ±15 % (goal ≥ 90 %)"
                     if "latency_held_out" in s else ""))
    if "latency_note" in s:
        console.print(s["latency_note"])
    console.print("PASSED" if s["passed"] else "[bold red]FAILED[/bold red]")


@app.command()
@friendly
def peers(
    out: Annotated[Optional[Path], typer.Option(
        "--out", "-o", help="Write the table as Markdown here.")] = None,
    d_model: Annotated[int, typer.Option(help="Model width.")] = 512,
    heads: Annotated[int, typer.Option(help="Heads.")] = 8,
    seq_len: Annotated[int, typer.Option(help="Sequence length.")] = 256,
) -> None:
    """What FlopCounterMode, fvcore, ptflops and thop report for standard attention (fused,
    explicit, nn.MultiheadAttention), next to attncost and the truth. Needs torch; the peer
    tools come with pip install -e '.[peers]'."""
    try:
        import torch  # noqa: F401
    except ImportError:
        raise AttncostError("peers needs torch: pip install -c constraints.txt -e '.[torch]'") from None
    from . import peers as p

    rows = p.table(d_model, heads, seq_len)
    text = p.markdown(rows, f"batch 1, seq_len {seq_len}, d_model {d_model}, {heads} heads, "
                            "no biases")
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text)
    typer.echo(text)


@app.command("paper-claims")
@friendly
def paper_claims(
    out: Annotated[Path, typer.Option("--out", "-o", help="Markdown report.")] = Path(
        "reports/paper-claims.md"),
) -> None:
    """Check the seed paper's cost and speed claims with the model and real runs (minutes)."""
    try:
        import torch  # noqa: F401
    except ImportError:
        raise AttncostError("paper-claims needs torch: pip install -c constraints.txt -e '.[torch]'") from None
    from . import claims

    data = claims.collect()
    png = out.with_name("paper-claims-speed.png")
    claims.plot(data, png)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(claims.markdown(data, png.name))
    (out.with_suffix(".json")).write_text(json.dumps(data, indent=2))
    typer.echo(f"wrote {out}, {png} and {out.with_suffix('.json')}")


@app.command()
@friendly
def presets() -> None:
    """The shipped whole-model presets and their sources."""
    from . import api
    from .model import preset as get_preset
    from .model import preset_names

    for name in preset_names():
        m = get_preset(name)
        count = api.estimate_model(m).metrics["params"]
        typer.echo(f"{name}: {count:,} parameters — {m.source}")


@app.command()
@friendly
def bench(
    runs: Annotated[int, typer.Option(help="Cold processes to time.")] = 11,
    configs: Annotated[int, typer.Option(help="Configurations in the sweep benchmark.")] = 4_000_000,
) -> None:
    """Speed figures measured in one run (cold estimate, sweep rate, vs FlopCounterMode).

    The FlopCounterMode comparison needs torch: pip install 'attncost[torch]'.
    """
    from .bench import run

    run(runs=runs, configs=configs)


plot_app = typer.Typer(help="Figures (PNG or SVG by the output's suffix; headless). Each "
                            "variant has the same colour-blind-safe colour in every figure.",
                       no_args_is_help=True)
app.add_typer(plot_app, name="plot")
OutFig = Annotated[Path, typer.Option("--output", "-o", help="Figure file, .png or .svg.")]


def _plot_config(d_model, heads, seq_len, batch, dtype, k) -> Any:
    from .config import AttentionConfig

    return AttentionConfig().with_(**_attention_fields(dict(
        d_model=d_model, heads=heads, seq_len=seq_len, batch=batch, dtype=dtype, k=k)))


def _variant_names(variant: list[str] | None, default: str) -> list[str]:
    from .variants import resolve

    given = ",".join(variant) if variant else default
    return list(resolve(given))


@plot_app.command("curves")
@friendly
def plot_curves(
    variant: VariantOpt = None,
    metric: Annotated[str, typer.Option(help="Comma-separated: params, flops_fwd, flops_bwd, "
                                             "activation_bytes, train_peak_bytes, "
                                             "inference_peak_bytes, kv_cache_bytes_per_token, "
                                             "bytes_fwd.")] = "params,flops_fwd,train_peak_bytes",
    axis: Annotated[str, typer.Option(help="seq_len or d_model.")] = "seq_len",
    values: Annotated[Optional[str], typer.Option(
        help="Axis values: '64:16384:x2' or '128,256,512'. [default: 64…16384 or 64…1024]")] = None,
    d_model: DModel = None, heads: Heads = None, seq_len: SeqLen = None, batch: Batch = None,
    dtype: Dtype = None, k: KOpt = None, layers: Layers = None, device: Device = None,
    headroom: Headroom = 0.1,
    output: OutFig = Path("cost-curves.png"),
) -> None:
    """Cost against sequence length or width, log axes, a device's memory budget as a line,
    crossovers with standard attention marked (e.g. where Linformer becomes cheaper)."""
    from . import plots

    cfg = _plot_config(d_model, heads, seq_len, batch, dtype, k)
    vals = _parse_values(axis, values)
    fig = plots.curves(_variant_names(variant, "standard,efficient,super,linformer,mqa"),
                       [m.strip() for m in metric.split(",")], axis, vals, cfg,
                       layers=layers or 1, device=device, headroom=headroom)
    typer.echo(f"wrote {plots.save(fig, output)}")


@plot_app.command("breakdown")
@friendly
def plot_breakdown(
    variant: VariantOpt = None, d_model: DModel = None, heads: Heads = None,
    seq_len: SeqLen = None, batch: Batch = None, dtype: Dtype = None, k: KOpt = None,
    layers: Layers = None, device: Device = None, headroom: Headroom = 0.1,
    output: OutFig = Path("memory-breakdown.png"),
) -> None:
    """Stacked memory of one training step (weights, gradients, optimizer, activations) and
    the KV cache of a full context, per variant."""
    from . import plots

    cfg = _plot_config(d_model, heads, seq_len, batch, dtype, k)
    fig = plots.memory_breakdown(_variant_names(variant, "all"), cfg, layers=layers or 1,
                                 device=device, headroom=headroom)
    typer.echo(f"wrote {plots.save(fig, output)}")


@plot_app.command("roofline")
@friendly
def plot_roofline(
    device: Annotated[str, typer.Option(help="A device from `attncost devices`.")] =
        "jetson-orin-nano-8gb",
    variant: VariantOpt = None, d_model: DModel = None, heads: Heads = None,
    seq_len: SeqLen = None, batch: Batch = None, dtype: Dtype = None, k: KOpt = None,
    layers: Layers = None, mode: ModeOpt = Mode.infer,
    output: OutFig = Path("roofline.png"),
) -> None:
    """A device's roofline with each variant placed on it."""
    from . import plots

    cfg = _plot_config(d_model, heads, seq_len, batch, dtype, k)
    fig = plots.roofline(device, _variant_names(variant, "all"), cfg, layers=layers or 1,
                         mode=mode.value)
    typer.echo(f"wrote {plots.save(fig, output)}")


@plot_app.command("validation")
@friendly
def plot_validation(
    csv_path: Annotated[Path, typer.Argument(help="A CSV from attncost validate.")] =
        Path("reports/validation-cpu.csv"),
    output: OutFig = Path("validation.png"),
) -> None:
    """Predicted against measured, per metric family, from a validation CSV."""
    from . import plots

    if not csv_path.is_file():
        raise AttncostError(f"validation CSV {str(csv_path)!r} not found (run attncost validate)")
    typer.echo(f"wrote {plots.save(plots.validation(csv_path), output)}")


@plot_app.command("search")
@friendly
def plot_search(
    summary: Annotated[Path, typer.Argument(help="A search summary JSON (reports/search/).")],
    output: OutFig = Path("search.png"),
) -> None:
    """A study's accuracy against cost (Pareto front or best, baseline, target) and its
    optimisation history."""
    from . import plots

    if not summary.is_file():
        raise AttncostError(f"search summary {str(summary)!r} not found (run attncost search)")
    typer.echo(f"wrote {plots.save(plots.search(summary), output)}")


@app.command()
@friendly
def report(
    out: Annotated[Path, typer.Option("--out", "-o", help="Report folder.")] = Path("reports"),
) -> None:
    """Regenerate the report: comparison tables from the cost model, the figures, and the
    validation, paper-claims and search results found in the folder."""
    from . import report as rep

    path = rep.write(out)
    typer.echo(f"wrote {path}")


@app.command()
@friendly
def search(
    spec: Annotated[Path, typer.Argument(help="A search specification (TOML), e.g. "
                                              "search/edge-digits.toml.")],
    trials: Annotated[Optional[int], typer.Option(help="Finished trials the study should "
                                                       "hold (a resumed study runs the rest).")] = None,
    workers: Annotated[Optional[int], typer.Option(help="Local worker processes on one "
                                                        "study (journal file or database).")] = None,
    storage: Annotated[Optional[str], typer.Option(help="Journal file path or database URL "
                                                        "(postgresql://user@host/db). "
                                                        "[default: search/studies/<name>.journal]")] = None,
    sampler: Annotated[Optional[str], typer.Option(help="attncost, tpe, nsga2 or random.")] = None,
    seed: Annotated[Optional[int], typer.Option(help="Sampler seed.")] = None,
    objective: Annotated[Optional[str], typer.Option(
        help="params, flops, memory, latency, or multi (Pareto: accuracy vs --cost).")] = None,
    target: Annotated[Optional[float], typer.Option(help="Accuracy target, 0–1.")] = None,
    steps: Annotated[Optional[int], typer.Option(help="Training steps per run.")] = None,
    seeds: Annotated[Optional[int], typer.Option(help="Training seeds per architecture.")] = None,
    device: Annotated[Optional[str], typer.Option(help="Device whose memory and roofline "
                                                       "are the budget.")] = None,
    memory: Annotated[Optional[str], typer.Option(help="Memory budget, e.g. 64MB.")] = None,
    latency_ms: Annotated[Optional[float], typer.Option(help="Roofline latency budget (ms).")] = None,
    output: Annotated[Optional[Path], typer.Option(
        "--output", "-o", help="Summary JSON. [default: reports/search/<name>.json]")] = None,
    surrogate: Annotated[bool, typer.Option(
        "--surrogate", help="No training: fit a SURROGATE to the study's measured runs, "
                            "print its held-out error and its predicted best.")] = False,
    fmt: Annotated[Fmt, typer.Option("--format", "-f", help="table or json.")] = Fmt.table,
) -> None:
    """Which attention variant should each layer use? Trains real models (Optuna).

    Costs are exact (cost model) and checked against the budget before any training; each
    candidate is trained on the spec's task for every seed, accuracy on its validation split.
    Ctrl-C stops; running it again resumes the same study (finished trials are kept).
    Open a study with: optuna-dashboard <storage> (see README).
    """
    try:
        import optuna  # noqa: F401
        import torch  # noqa: F401
    except ImportError:
        raise AttncostError("search needs optuna and torch: pip install -c constraints.txt "
                            "-e '.[search]'") from None
    from .search.spec import load_spec
    from .search import study as st

    s = load_spec(spec, trials=trials, workers=workers, storage=storage, sampler=sampler,
                  seed=seed, objective=objective, target_accuracy=target, steps=steps,
                  seeds=seeds, device=device, memory_bytes=memory, latency_ms=latency_ms)
    if surrogate:
        _search_surrogate(s, fmt)
        return
    summary = st.run_search(s)
    path = st.write_summary(summary, output or st.DEFAULT_RESULTS_DIR / f"{s.name}.json")
    if fmt is Fmt.json:
        typer.echo(json.dumps(summary, indent=2, default=str))
    else:
        _print_search(summary)
    typer.echo(f"wrote {path}", err=True)


def _fmt_row_cost(r: dict[str, Any]) -> list[str]:
    lat = r.get("latency_s")
    return [f"{r['params']:,}" if r.get("params") is not None else "?",
            f"{r['flops']:,}" if r.get("flops") is not None else "?",
            f"{r['memory_bytes'] / 2**20:,.2f} MiB" if r.get("memory_bytes") else "?",
            f"{lat * 1e3:.4g} ms" if lat is not None else "n/a"]


def _print_search(summary: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(width=max(Console().width, 130))
    t = Table(title=f"attncost search {summary['spec']['name']} — objective "
                    f"{summary['objective']} ({summary['cost_metric']}), target accuracy "
                    f"{summary['target_accuracy']}")
    for col in ("", "layers", "accuracy ± ½spread", "params", "FLOPs", "peak memory",
                "latency", "trial"):
        t.add_column(col, no_wrap=col in ("", "layers"))
    picks = ([("best", summary["best"])] if summary["best"] else []) + \
        [("pareto", r) for r in (summary["pareto"] or [])] + \
        ([("baseline", summary["baseline"])] if summary["baseline"] else [])
    for label, r in picks:
        acc = r.get("accuracy")
        acc_s = f"{acc:.4f} ± {r['accuracy_spread'] / 2:.4f}" if acc is not None else "—"
        t.add_row(label, ",".join(r["layers"]), acc_s, *_fmt_row_cost(r), str(r["trial"]))
    console.print(t)
    if summary["best"] is None and not summary["pareto"]:
        console.print("no feasible architecture found: every trained candidate missed the "
                      "target or the budget (see the trials in the JSON)")
    if summary.get("converged"):
        console.print(f"converged {summary['converged']}")
    states: dict[str, int] = {}
    for r in summary["trials"]:
        states[r["status"]] = states.get(r["status"], 0) + 1
    console.print("trials: " + ", ".join(f"{k} {v}" for k, v in sorted(states.items())) +
                  f"; {summary['accuracy_source']}")


def _search_surrogate(s, fmt: Fmt) -> None:
    from .search import surrogate as sg

    out = sg.what_if(s)
    if fmt is Fmt.json:
        typer.echo(json.dumps(out, indent=2))
        return
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
    layers: Annotated[int, typer.Option(help="Layers of the benchmark stack.")] = 12,
    runs: Annotated[int, typer.Option(help="Black boxes (each a different random "
                                           "instance), one run of each searcher on each.")] = 3,
    samplers: Annotated[str, typer.Option(help="Comma-separated searchers.")] =
        "attncost,tpe,nsga2,random",
    misspecified: Annotated[bool, typer.Option(
        help="Add a non-adjacent interaction the attncost sampler cannot model.")] = False,
    fmt: Annotated[Fmt, typer.Option("--format", "-f", help="table or json.")] = Fmt.table,
) -> None:
    """Regret of each searcher against the exact optimum of a black-box accuracy problem
    (12 layers × 6 variants, costs from the cost model) after 50, 100, 300 evaluations."""
    try:
        import optuna  # noqa: F401
    except ImportError:
        raise AttncostError("search-bench needs optuna: pip install -e '.[search]'") from None
    from .search import benchmark as bm

    if layers < 2:
        raise AttncostError(f"--layers must be at least 2, got {layers}")
    names = [n.strip() for n in samplers.split(",") if n.strip()]
    for n in names:
        if n not in ("attncost", "tpe", "nsga2", "random"):
            raise AttncostError(f"unknown sampler {n!r}; allowed: attncost, tpe, nsga2, random")
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
        typer.echo(json.dumps({"optima": [list(p.optimum) for p in problems],
                               "optimum_latency_s": [p.optimum_cost for p in problems],
                               "rows": rows}, indent=2))
        return
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


def main() -> None:
    """Console-script entry point. Usage errors (an unknown flag, a value of the wrong type)
    are typer's: a short usage message naming the option, exit status 2."""
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
