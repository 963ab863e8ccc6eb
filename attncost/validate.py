"""``attncost validate``: the cost model against real PyTorch runs.

For each (variant, configuration) of a grid, the PyTorch module of :mod:`attncost.nn` is run
and measured (:mod:`attncost.measure`), and every figure is compared with the model:

=======================  ==========================================  ==================
metric                   measured with                               tolerance
=======================  ==========================================  ==================
params                   ``module.parameters()``                     exact
flops_fwd_matmul         FlopCounterMode (+ CPU SDPA formulas)       exact
flops_bwd_matmul         FlopCounterMode, backward (incl. recompute) exact
activation_bytes         ``saved_tensors_hooks``, distinct storages  exact
inference_peak_bytes     live-storage tracker (CUDA: the allocator)  5 %
train_peak_bytes         live-storage tracker, one Adam step          5 %
latency_fwd_s            ``torch.utils.benchmark`` median            ±15 % (calibrated)
latency_fwdbwd_s         ``torch.utils.benchmark`` median            ±15 % (calibrated)
=======================  ==========================================  ==================

Latency is predicted by a roofline-style model calibrated on the measurements of the same
run: t = matmul FLOPs / P_mm + other FLOPs / P_vec + bytes / BW + a fixed cost per matmul,
elementwise and copy kernel, the six constants fitted (non-negative least squares on relative
error) on half the configurations and judged on the other half. The latency goal is that at least 90 % of the held-out
configurations fall within ±15 %.

Results are appended to a CSV as each configuration finishes, so an interrupted run resumes
where it stopped.
"""

from __future__ import annotations

import csv
import itertools
import json
import math
import io
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from .budget import LATENCY_TERMS, latency_features
from .config import AttentionConfig
from .errors import AttncostError
from .files import write_atomic

EXACT = ("params", "flops_fwd_matmul", "flops_bwd_matmul", "activation_bytes")
MEMORY = ("inference_peak_bytes", "train_peak_bytes")
LATENCY = ("latency_fwd_s", "latency_fwdbwd_s")
MEMORY_TOLERANCE = 0.05
LATENCY_TOLERANCE = 0.15
LATENCY_SHARE_GOAL = 0.90
TIMING_THREADS = 1
KEY_FIELDS = ("variant", "d_model", "heads", "seq_len", "batch", "bias", "causal", "impl",
              "dtype", "kv_heads", "k")
CSV_FIELDS = (*KEY_FIELDS, "device", "threads", "metric", "predicted", "measured",
              "rel_error", "iqr_s", "tolerance", "ok", "detail")


@dataclass
class Row:
    """One metric of one configuration: predicted, measured, relative error."""

    variant: str
    d_model: int
    heads: int
    seq_len: int
    batch: int
    bias: bool
    causal: bool
    impl: str
    dtype: str
    kv_heads: int
    k: int
    device: str
    threads: int
    metric: str
    predicted: float
    measured: float
    rel_error: float
    iqr_s: float | None = None
    tolerance: str = "exact"
    ok: bool = True
    detail: str = ""  # FLOP rows: the measured count per aten op ("mm=…; bmm=…")


# -- grids ----------------------------------------------------------------------------------


def validatable(names: list[str]) -> tuple[list[str], list[str]]:
    """``names`` split into those with a PyTorch module to validate against and those
    without one (imports torch)."""
    from .nn import module_names

    have = set(module_names())
    return [n for n in names if n in have], [n for n in names if n not in have]


def grid(name: str, variants: list[str], base: AttentionConfig | None = None
         ) -> list[tuple[str, AttentionConfig]]:
    """Configurations to validate. ``default``: two odd sizes (d_model 96 with 3 heads and
    seq_len 77; d_model 64, 4 heads, seq_len 128) × batch 1 and 3 × bias on/off × causal or
    not × materialised/fused. ``small`` (for CI): the first size, batch 3, the same options.
    ``one``: exactly ``base``."""
    from . import variants as registry

    if name == "one":
        if base is None:
            raise AttncostError("grid 'one' needs a configuration")
        return [(v, base) for v in variants
                if not (base.causal and not registry.get(v).supports_causal)]
    if name not in ("default", "small"):
        raise AttncostError(f"unknown grid {name!r}; allowed: default, small, or give sizes")
    sizes = [dict(d_model=96, heads=3, seq_len=77)]
    batches = [3]
    if name == "default":
        sizes.append(dict(d_model=64, heads=4, seq_len=128))
        batches = [1, 3]
    out = []
    for size, batch, bias, causal, impl in itertools.product(
            sizes, batches, (False, True), (False, True), ("materialised", "fused")):
        cfg = AttentionConfig(batch=batch, bias=bias, causal=causal, impl=impl, **size)
        for v in variants:
            spec = registry.get(v)
            if causal and not spec.supports_causal:
                continue
            if impl == "fused" and not spec.impl_matters:
                continue  # the same module either way: validated once
            out.append((v, cfg))
    return out


def key_of(variant: str, cfg: AttentionConfig) -> tuple:
    d = cfg.dims()
    values = dict(variant=variant, d_model=d.d_model, heads=d.heads, seq_len=d.seq_len,
                  batch=d.batch, bias=cfg.bias, causal=cfg.causal, impl=cfg.impl,
                  dtype=cfg.dtype, kv_heads=d.kv_heads, k=d.k)
    return tuple(str(values[f]) for f in KEY_FIELDS)


# -- measuring one configuration ---------------------------------------------------------------


def _rel(pred: float, meas: float) -> float:
    if pred == meas:
        return 0.0
    return (pred - meas) / meas if meas else math.inf


def measure_one(variant: str, cfg: AttentionConfig, device: str = "cpu", timing: bool = True
                ) -> tuple[list[Row], dict[str, Any]]:
    """Rows for the exact and memory metrics, and the raw timings (predicted later, once
    the latency model is calibrated)."""
    import torch

    from .api import estimate
    from .measure import count_flops, count_params, saved_activation_bytes
    from .measure.memory import peak_forward, peak_step
    from .nn import build_attention

    torch.manual_seed(0)
    dtype = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[cfg.dtype]
    est = estimate(variant, cfg)
    pred = est.metrics
    module = build_attention(variant, cfg).to(device=device, dtype=dtype)
    x = torch.randn(cfg.batch, cfg.seq_len, cfg.d_model, device=device, dtype=dtype,
                    requires_grad=True)
    weights, biases = count_params(module)
    flops = count_flops(module, x)
    measured = {
        "params": weights + biases,
        "flops_fwd_matmul": flops.forward,
        "flops_bwd_matmul": flops.backward,
        "activation_bytes": saved_activation_bytes(module, x),
        "inference_peak_bytes": peak_forward(module, x.detach()),
        "train_peak_bytes": peak_step(module, x, torch.optim.Adam(module.parameters())),
    }
    predicted = {k: pred[k] for k in measured}
    predicted["flops_bwd_matmul"] = pred["flops_bwd_matmul"] + pred["flops_bwd_recompute"]
    d = cfg.dims()
    common = dict(variant=variant, d_model=d.d_model, heads=d.heads, seq_len=d.seq_len,
                  batch=d.batch, bias=cfg.bias, causal=cfg.causal, impl=cfg.impl,
                  dtype=cfg.dtype, kv_heads=d.kv_heads, k=d.k, device=device,
                  threads=torch.get_num_threads())
    per_op = {"flops_fwd_matmul": flops.forward_ops, "flops_bwd_matmul": flops.backward_ops}
    rows = []
    for metric, value in measured.items():
        err = _rel(predicted[metric], value)
        tol = "exact" if metric in EXACT else f"{MEMORY_TOLERANCE:.0%}"
        ok = predicted[metric] == value if metric in EXACT else abs(err) <= MEMORY_TOLERANCE
        detail = "; ".join(f"{op}={n}" for op, n in sorted(per_op.get(metric, {}).items()))
        rows.append(Row(**common, metric=metric, predicted=predicted[metric], measured=value,
                        rel_error=err, tolerance=tol, ok=ok, detail=detail))
    timings: dict[str, Any] = {}
    if timing:
        timings = time_module(module, x)
        common["threads"] = TIMING_THREADS
        timings["common"] = common
    return rows, timings


def time_module(module: Any, x: Any) -> dict[str, tuple[float, float]]:
    """(median, IQR) seconds of a forward (no grad) and of a forward + backward, on
    :data:`TIMING_THREADS` threads; the best of three medians resists interference from other
    processes on a shared machine."""
    import torch
    import torch.utils.benchmark as benchmark

    module.eval()
    xs = x.detach()
    weight = torch.randn_like(xs)

    def fwd() -> None:
        with torch.no_grad():
            module(xs)

    def fwdbwd() -> None:
        module.zero_grad(set_to_none=True)
        (module(x) * weight).sum().backward()

    out = {}
    for name, fn in (("latency_fwd_s", fwd), ("latency_fwdbwd_s", fwdbwd)):
        best = None
        for _ in range(3):
            m = benchmark.Timer(stmt="fn()", globals={"fn": fn}, num_threads=TIMING_THREADS
                                ).blocked_autorange(min_run_time=0.2 / 3)
            if best is None or m.median < best.median:
                best = m
        out[name] = (best.median, best.iqr)
    return out


# -- calibration -----------------------------------------------------------------------------


def fit_latency(features: list[tuple[float, ...]], times: list[float]) -> list[float]:
    """Non-negative coefficients c minimising Σ ((features·c − t) / t)², by trying every
    subset of active coefficients (six of them: exhaustive is exact and instant)."""
    import numpy as np

    a = np.asarray(features, dtype=float) / np.asarray(times)[:, None]
    b = np.ones(len(times))
    best, best_err = [0.0] * a.shape[1], math.inf
    for mask in range(1, 2 ** a.shape[1]):
        cols = [j for j in range(a.shape[1]) if mask >> j & 1]
        coef, *_ = np.linalg.lstsq(a[:, cols], b, rcond=None)
        if (coef < 0).any():
            continue
        full = [0.0] * a.shape[1]
        for j, c in zip(cols, coef):
            full[j] = float(c)
        err = float(((a @ np.asarray(full)) - b) @ ((a @ np.asarray(full)) - b))
        if err < best_err:
            best, best_err = full, err
    return best


def calibrate(timings: list[dict[str, Any]]) -> tuple[dict[str, list[float]], list[Row]]:
    """Fit the latency model on every other configuration, predict all; rows for latency."""
    rows: list[Row] = []
    coefs: dict[str, list[float]] = {}
    for metric in LATENCY:
        data = [(t["features"][metric], t[metric][0], t[metric][1], t["common"])
                for t in timings if metric in t]
        if len(data) < 4:
            continue
        train = data[::2]
        coef = fit_latency([f for f, *_ in train], [m for _, m, _, _ in train])
        coefs[metric] = coef
        for i, (feat, med, iqr, common) in enumerate(data):
            pred = sum(c * f for c, f in zip(coef, feat))
            err = _rel(pred, med)
            held_out = i % 2 == 1
            rows.append(Row(**common, metric=metric, predicted=pred, measured=med,
                            rel_error=err, iqr_s=iqr,
                            tolerance=f"±{LATENCY_TOLERANCE:.0%}" + ("" if held_out else " (fit)"),
                            ok=abs(err) <= LATENCY_TOLERANCE))
    return coefs, rows


# -- the run ---------------------------------------------------------------------------------


def load_done(path: Path | None) -> dict[tuple, list[Row]]:
    """Rows already in ``path`` by configuration key (for resuming)."""
    done: dict[tuple, list[Row]] = {}
    if path is None or not path.exists() or path.stat().st_size == 0:
        return done
    not_ours = AttncostError(f"{str(path)!r} is not a validation CSV of this version (attncost "
                             f"validate -o writes one): give a new file name")
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            if set(CSV_FIELDS) - set(reader.fieldnames or ()):
                raise not_ours
            for rec in reader:
                key = tuple(rec[f] for f in KEY_FIELDS)
                row = Row(**{f: _parse(f, rec.get(f) or "") for f in CSV_FIELDS})
                if row.metric not in LATENCY:  # latency rows are recomputed from the timings
                    done.setdefault(key, []).append(row)
    except (UnicodeDecodeError, csv.Error, ValueError, TypeError):
        raise not_ours from None
    return done


def _parse(field: str, text: str) -> Any:
    if field in ("d_model", "heads", "seq_len", "batch", "kv_heads", "k", "threads"):
        return int(text)
    if field in ("bias", "causal", "ok"):
        return text == "True"
    if field in ("predicted", "measured", "rel_error"):
        value = float(text)
        return int(value) if field != "rel_error" and value.is_integer() and value < 2**53 else value
    if field == "iqr_s":
        return float(text) if text else None
    return text


def rows_csv(rows: Iterable[Row]) -> str:
    """``rows`` as CSV text with its header."""
    buf = io.StringIO(newline="")
    w = csv.DictWriter(buf, fieldnames=CSV_FIELDS)
    w.writeheader()
    w.writerows(asdict(r) for r in rows)
    return buf.getvalue()


def append_rows(path: Path | None, rows: Iterable[Row]) -> None:
    if path is None:
        return
    new = not path.exists() or path.stat().st_size == 0
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=CSV_FIELDS)
        if new:
            w.writeheader()
        for r in rows:
            w.writerow(asdict(r))


def run(configs: list[tuple[str, AttentionConfig]], *, device: str = "cpu",
        timing: bool = True, out: Path | None = None, timings_path: Path | None = None,
        progress: Callable[[str], None] | None = None) -> tuple[list[Row], dict[str, Any]]:
    """Validate ``configs``; rows of finished configurations in ``out`` are reused."""
    done = load_done(out)
    cached_timings = _load_timings(timings_path)
    rows: list[Row] = []
    timings: list[dict[str, Any]] = []
    from .api import estimate

    for variant, cfg in configs:
        key = key_of(variant, cfg)
        features = latency_features(estimate(variant, cfg).ops)
        if progress:
            progress(f"{variant} {cfg.impl} {'causal' if cfg.causal else 'full'} "
                     f"b{cfg.batch} {'bias' if cfg.bias else ''}")
        if key in done:
            rows.extend(r for r in done[key] if r.metric not in LATENCY)
            if timing and "|".join(key) in cached_timings:
                timings.append({**cached_timings["|".join(key)], "features": features})
                continue
            if not timing:
                continue
        cached = cached_timings.get("|".join(key)) if timing else None
        new_rows, t = measure_one(variant, cfg, device, timing and cached is None)
        if key not in done:
            append_rows(out, new_rows)
            rows.extend(new_rows)
        if cached is not None:
            timings.append({**cached, "features": features})
        elif t:
            timings.append({**t, "features": features})
            cached_timings["|".join(key)] = t
            _save_timings(timings_path, cached_timings)
    summary: dict[str, Any] = {"configs": len(configs)}
    if timing:
        coefs, lat_rows = calibrate(timings)
        rows.extend(lat_rows)
        if not coefs:
            summary["latency_note"] = (f"latency not calibrated: {len(timings)} timed "
                                       f"configurations, at least 4 are needed")
        summary["latency_model"] = {m: dict(zip(LATENCY_TERMS, c)) for m, c in coefs.items()}
    summary.update(summarise(rows))
    if out is not None:  # the finished CSV holds every row, latency included
        write_atomic(out, rows_csv(rows))
    return rows, summary


def _load_timings(path: Path | None) -> dict[str, Any]:
    if path is None or not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        for t in data.values():
            for k in LATENCY:
                t[k] = tuple(t[k])
            t.pop("features", None)
    except (ValueError, TypeError, KeyError, AttributeError):
        return {}  # a damaged cache of timings: measure again
    return data


def _save_timings(path: Path | None, data: dict[str, Any]) -> None:
    if path is not None:
        write_atomic(path, json.dumps(data))


def summarise(rows: list[Row]) -> dict[str, Any]:
    """The figures the closing note asks for."""
    exact = [r for r in rows if r.metric in EXACT]
    mem = [r for r in rows if r.metric in MEMORY]
    held = [r for r in rows if r.metric in LATENCY and "(fit)" not in r.tolerance]
    configs = {tuple(getattr(r, f) for f in KEY_FIELDS) for r in rows}
    out = {
        "configs_validated": len(configs),
        "exact_mismatches": sum(not r.ok for r in exact),
        "exact_checks": len(exact),
        "memory_worst_error": max((abs(r.rel_error) for r in mem), default=None),
        "memory_beyond_tolerance": sum(not r.ok for r in mem),
    }
    if held:
        share = sum(r.ok for r in held) / len(held)
        out["latency_held_out"] = len(held)
        out["latency_share_within_15pct"] = share
        out["latency_goal_met"] = share >= LATENCY_SHARE_GOAL
    out["passed"] = (out["exact_mismatches"] == 0 and out["memory_beyond_tolerance"] == 0
                     and out.get("latency_goal_met", True))
    return out


#: The panels of the validation figure: (title, metrics, unit).
FAMILIES = (("parameters and FLOPs (exact)", ("params", "flops_fwd_matmul", "flops_bwd_matmul"),
             "count"),
            ("memory", ("activation_bytes",) + MEMORY, "bytes"),
            ("latency (held-out half)", LATENCY, "seconds"))


def read_csv(path: str | Path) -> list[dict[str, Any]]:
    """The rows of a validation CSV (``attncost validate -o``); one-line errors."""
    p = Path(path)
    if not p.is_file():
        raise AttncostError(f"validation CSV {str(path)!r} not found (run attncost validate)")
    try:
        with p.open(newline="") as fh:
            rows = list(csv.DictReader(fh))
    except (UnicodeDecodeError, csv.Error) as e:
        raise AttncostError(f"validation CSV {str(path)!r} cannot be read: {e}") from None
    missing = {"variant", "metric", "predicted", "measured", "tolerance"} - set(
        rows[0] if rows else {})
    if rows and missing:
        raise AttncostError(f"{str(path)!r} is not a validation CSV: it lacks the columns "
                            f"{', '.join(sorted(missing))}")
    for n, row in enumerate(rows, start=2):
        for col in ("predicted", "measured"):
            try:
                ok = math.isfinite(float(row[col]))
            except (TypeError, ValueError):
                ok = False
            if not ok:
                raise AttncostError(f"{str(path)!r} line {n}: {col} {row[col]!r} is not a "
                                    f"finite number")
    return rows


def figure(source: str | Path | list[Row]) -> Any:
    """Predicted against measured, one panel per metric family, log axes
    (:func:`attncost.plots.validation`; the same figure as ``attncost plot validation``)."""
    from . import plots

    if isinstance(source, (str, Path)):
        return plots.validation(read_csv(source), FAMILIES, Path(source).name)
    return plots.validation([asdict(r) for r in source], FAMILIES)


def plot(rows: list[Row], path: Path) -> None:
    """Write :func:`figure` of ``rows`` to ``path`` (PNG or SVG)."""
    from . import plots

    plots.save(figure(rows), path)


def iter_rows(rows: list[Row]) -> Iterator[dict[str, Any]]:
    for r in rows:
        yield asdict(r)
