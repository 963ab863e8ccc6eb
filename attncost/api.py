"""The Python API: estimates, comparisons, formulas, sweeps and budget questions.

>>> from attncost import estimate
>>> e = estimate("super", d_model=512, heads=8, seq_len=512)
>>> e.metrics["params"]          # 2·512² + 512² (W_A is seq_len × seq_len)
786432

Every rule lives here or below (defaults, clamps, ratios, budgets); the command line only
parses, calls one of these functions and renders the result. Functions return dataclasses
(:class:`Estimate`, :class:`FitRow`) or pandas DataFrames (``to_frame``, ``sweep``); pandas,
numpy and sympy are imported only by the functions that need them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

from . import variants as _variants
from .budget import FitResult, Roofline, check_mode, fit, max_fitting, required_bytes, roofline
from .config import (DIM_FIELDS, SYMBOL_NAMES, AttentionConfig, ModelConfig, preset,
                     resolve_dims)
from .costs import OpCost, Precision, derive, formulas, numeric_function, prepare, resolve_peak
from .decode import DecodeCosts, TokenCost, decode_costs  # noqa: F401  (the public API)
from .devices import Device, get_device
from .errors import AttncostError, ConfigError, UnsupportedError, unknown
from .units import human_bytes
from .graphs import check_layers, layer_graph, model_graph
from .metrics import METRICS, headline
from .metrics import get as get_metric

FLOPS_CONVENTION = (
    "FLOPs = 2 x multiply-accumulates for matmuls (as torch's FlopCounterMode); other ops by the "
    "per-element counts in attncost.ops; causal: flops_fwd counts the full rectangle as PyTorch "
    "executes it, flops_fwd_useful only the unmasked pairs")

#: The most sequence lengths :func:`crossover` evaluates at once (≈ 100 MB per metric array).
MAX_CROSSOVER_LENGTHS = 10_000_000


@dataclass
class Estimate:
    """Every metric of one variant (or whole model) under one configuration."""

    variant: str
    title: str
    source: str
    inputs: dict[str, Any]
    metrics: dict[str, int | None]
    ops: list[OpCost] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    kv_cache_note: str | None = None
    fit: FitResult | None = None
    roofline: Roofline | None = None
    calibrated_latency_s: float | None = None
    #: latency predicted from a device profile (``profile=``; :mod:`attncost.latency`) and
    #: where it comes from (machine, torch, threads)
    predicted_latency_s: float | None = None
    predicted_latency_source: str | None = None
    #: what the profile timed (a GPU's name, else the processor's)
    predicted_latency_device: str | None = None

    @property
    def attention_inputs(self) -> dict[str, Any]:
        """The attention configuration echoed in ``inputs`` (of a layer or of a model)."""
        return self.inputs.get("attention", self.inputs)

    def to_dict(self, breakdown: bool = False) -> dict[str, Any]:
        """The stable JSON contract (see README, "JSON output"): every metric of
        :data:`~attncost.metrics.METRICS` is a top-level field."""
        out: dict[str, Any] = {"variant": self.variant, "title": self.title,
                               "source": self.source, "inputs": self.inputs}
        out.update({k: self.metrics.get(k) for k in METRICS})
        out["flops_convention"] = FLOPS_CONVENTION
        out["kv_cache_note"] = self.kv_cache_note
        out["notes"] = list(self.notes)
        out["fit"] = self.fit.as_dict() if self.fit else None
        out["roofline"] = self.roofline.as_dict() if self.roofline else None
        out["calibrated_latency_s"] = self.calibrated_latency_s
        out["predicted_latency_s"] = self.predicted_latency_s
        out["predicted_latency_source"] = self.predicted_latency_source
        out["predicted_latency_device"] = self.predicted_latency_device
        if breakdown:
            out["ops"] = [vars(op) for op in self.ops]
        return out

    def to_row(self) -> dict[str, Any]:
        """One flat CSV row: the variant, its sizes, every metric, fit and latency."""
        row: dict[str, Any] = {"variant": self.variant}
        attn = self.attention_inputs
        for k in ("d_model", "heads", "d_head", "seq_len", "batch", "kv_heads", "k",
                  "max_seq_len", "dtype", "causal", "bias", "impl"):
            row[k] = attn.get(k)
        layers = self.inputs.get("layers", 1)
        row["layers"] = len(layers) if isinstance(layers, list) else layers
        row.update({k: self.metrics.get(k) for k in METRICS})
        if self.fit:
            row["fits"] = self.fit.fits
            row["required_bytes"] = self.fit.required_bytes
        if self.roofline:
            row["latency_s"] = self.roofline.latency_s
        if self.predicted_latency_s is not None:
            row["predicted_latency_s"] = self.predicted_latency_s
        return row


#: The kernel-level predictor's held-out judgements on GPUs (GPU, share within ±15 %, median
#: |error|): ``reports/latency-cuda-<gpu>-summary.json``, which a test holds these to.
GPU_JUDGEMENTS: tuple[tuple[str, float, float], ...] = (
    ("NVIDIA H100 80GB HBM3", 0.390, 0.197), ("NVIDIA H200", 0.142, 0.401))


def _config(config: AttentionConfig | None, fields_: dict[str, Any]) -> AttentionConfig:
    base = config or AttentionConfig()
    return base.with_(**fields_) if fields_ else base


def resolve_device(device: Device | str | None) -> Device | None:
    """A :class:`Device`, from itself or its catalogue name (None stays None)."""
    if device is None or isinstance(device, Device):
        return device
    if not isinstance(device, str):
        raise ConfigError(f"device {device!r} must be a Device or a name from `attncost "
                          f"devices`")
    return get_device(device)


def check_positive_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ConfigError(f"{name} must be a positive integer, got {value!r}")
    return value


def _needed_device(device: Device | str) -> Device:
    dev = resolve_device(device)
    if dev is None:
        raise ConfigError("a device is needed: a Device or a name from `attncost devices`")
    return dev


def _cache_bytes(graph: Any, prec: Precision, batch: int, context: int | None = None) -> Any:
    """tokens → bytes of their KV cache in ``graph`` (:func:`decode.cache_bytes_of_tokens`)."""
    from .decode import cache_bytes_of_tokens
    from .units import dtype_bytes

    return lambda tokens: cache_bytes_of_tokens(graph, dtype_bytes(prec.dtype), batch, tokens,
                                                context)


def _finish(variant: str, title: str, source: str, inputs: dict[str, Any], graph: Any,
            prec: Precision, device: Device | None, mode: str, headroom: float,
            decode_tokens: int, efficiency: float, profile: Any = None,
            threads: int | None = None, batch: int = 1, context: int | None = None
            ) -> Estimate:
    check_mode(mode)
    derived = derive(graph, prec)
    metrics = {k: resolve_peak(v) for k, v in derived.metrics.items()}
    est = Estimate(variant, title, source, inputs, metrics, derived.ops, derived.notes,
                   derived.kv_cache_note)
    if device is not None:
        est.fit = fit(metrics, device, mode, headroom, decode_tokens,
                      _cache_bytes(graph, prec, batch, context))
        if device.peak_flops and device.bandwidth > 0:
            est.roofline = roofline(derived.ops, device, prec.dtype, mode, efficiency)
    if profile is not None:
        _predict_latency(est, graph, prec, mode, profile, threads, efficiency)
    elif threads is not None:
        raise ConfigError("threads applies to a latency predicted from a profile: give "
                          "a profile too (profile=FILE; --profile FILE)")
    return est


def _predict_latency(est: Estimate, graph: Any, prec: Precision, mode: str, profile: Any,
                     threads: int | None, efficiency: float) -> None:
    """Set ``est.predicted_latency_s`` from a device profile (the kernel-level predictor of
    :mod:`attncost.latency.predictor`); without a device, the roofline of the profiled
    machine (its fastest timed matmul and element-wise op) stands beside it."""
    from .latency.predictor import predictor_for
    from .latency.profile import device_label

    pred = predictor_for(profile)
    prof = pred.profile
    t = pred.pick_threads(threads)
    est.predicted_latency_s = pred.predict(graph, mode, threads=t)
    est.predicted_latency_device = device_label(prof)
    if est.roofline is not None:
        est.notes.append(f"predicted latency: on the profiled {device_label(prof)}; the "
                         f"roofline: on {est.roofline.device}")
    if prof.device != "cpu":
        judged = "; ".join(f"{gpu}: {share * 100:.0f} % of timings within ±15 %, median "
                           f"error {median * 100:.0f} %" for gpu, share, median in GPU_JUDGEMENTS)
        est.notes.append(f"predicted latency: kernel-level predictions from a GPU profile "
                         f"failed attncost's held-out test ({judged}; README): treat them "
                         f"as rough")
    est.predicted_latency_source = f"profile of {pred.source}, {t} thread(s)"
    cv = pred.reference_cv_error.get((t, mode))
    if cv is not None:
        est.predicted_latency_source += (f"; error on the profile's reference layers, each "
                                         f"left out of the fit: {cv:.0%} RMS")
    est.predicted_latency_source += ("; at the machine's speed when profiled — a shared "
                                     "machine drifts: see attncost profile-check")
    if prec.dtype != prof.dtype:
        est.notes.append(f"predicted latency: the profile timed {prof.dtype} kernels; this "
                         f"estimate is {prec.dtype}")
    if est.roofline is None:
        from .latency.predictor import profiled_device

        est.roofline = roofline(est.ops, profiled_device(prof, t), "fp32", mode, efficiency)


def estimate(variant: str = "standard", config: AttentionConfig | None = None, *,
             layers: int = 1, device: Device | str | None = None, mode: str = "train",
             headroom: float = 0.1, decode_tokens: int = 0, efficiency: float = 1.0,
             profile: Any = None, threads: int | None = None, **fields: Any) -> Estimate:
    """Every metric of ``layers`` layers of ``variant``; ``fields`` override ``config``
    (``d_model=512, heads=8, seq_len=1024, causal=True, dtype='bf16'``...). ``profile``: a
    device profile (``attncost profile``) adds the predicted latency on that machine at
    ``threads`` threads (default: the profile's first)."""
    cfg = _config(config, fields)
    v = _variants.get(variant)
    graph = layer_graph(v.name, cfg, layers)
    inputs = {**cfg.as_dict(), "layers": layers}
    if not v.impl_matters:
        inputs["impl"] = "n/a"
    return _finish(v.name, v.title, v.source, inputs, graph, Precision.of(cfg),
                   resolve_device(device), mode, headroom, decode_tokens, efficiency,
                   profile, threads, cfg.batch, cfg.max_seq_len)


def model_config(model: ModelConfig | str, **overrides: Any) -> ModelConfig:
    """A :class:`ModelConfig` from itself, a preset name or ``"hf:PATH"`` (a Hugging Face
    ``config.json``, read by :func:`~attncost.config.from_hf_config`), with field overrides
    (model or attention fields; ``layers`` a number of blocks or a list of variants;
    ``variant`` every block's)."""
    if isinstance(model, str):
        return preset(model, **overrides)
    if not isinstance(model, ModelConfig):
        raise ConfigError(f"model must be a ModelConfig, a preset name or 'hf:PATH', got "
                          f"{model!r}")
    return model.with_(**overrides) if overrides else model


def estimate_model(model: ModelConfig | str, *, device: Device | str | None = None,
                   mode: str = "train", headroom: float = 0.1, decode_tokens: int = 0,
                   efficiency: float = 1.0, profile: Any = None, threads: int | None = None,
                   **overrides: Any) -> Estimate:
    """Every metric of a whole model (a :class:`ModelConfig`, a preset name or ``"hf:PATH"``
    to a Hugging Face ``config.json``); ``overrides`` as :func:`model_config` takes them
    (``layers=24``, ``seq_len=256``...). A Hugging Face model defaults to its own dtype and
    context length; ``inputs["attention"]["dtype"]`` says which dtype was used. ``profile``
    and ``threads``: the predicted latency, as :func:`estimate`."""
    m = model_config(model, **overrides)
    for name in dict.fromkeys(m.layers):
        _variants.get(name)
    graph = model_graph(m)
    variant = "+".join(dict.fromkeys(m.layers))
    return _finish(variant, f"model {m.name} ({len(m.layers)} layers: {variant})",
                   m.source or "user model", m.as_dict(), graph, Precision.of(m.attention),
                   resolve_device(device), mode, headroom, decode_tokens, efficiency,
                   profile, threads, m.attention.batch, m.max_positions or None)


@dataclass
class Comparison:
    """Estimates of several variants under one configuration, and those left out (with the
    reason each could not run it)."""

    estimates: list[Estimate]
    left_out: dict[str, str] = field(default_factory=dict)

    def ratios(self, baseline: str = "standard", metrics: Sequence[str] | None = None,
               ) -> dict[str, dict[str, float | None]]:
        """Per variant, ``metric / baseline's metric`` for ``metrics`` (the headline ones by
        default); None where either is undefined or the baseline's is 0."""
        base = next((e for e in self.estimates if e.variant == baseline), None)
        if base is None:
            raise UnknownBaseline(baseline, [e.variant for e in self.estimates])
        out: dict[str, dict[str, float | None]] = {}
        for e in self.estimates:
            row = {}
            for m in metrics or headline():
                v, b = e.metrics.get(m), base.metrics.get(m)
                row[m] = None if v is None or not b else v / b
            out[e.variant] = row
        return out


class UnknownBaseline(AttncostError):
    def __init__(self, baseline: str, present: list[str]) -> None:
        super().__init__(f"baseline {baseline!r} is not among the compared variants; "
                         f"allowed: {', '.join(present)}")


def compare_variants(variants: str | Sequence[str] = "all",
                     config: AttentionConfig | None = None, *, layers: int = 1,
                     device: Device | str | None = None, mode: str = "train",
                     headroom: float = 0.1, decode_tokens: int = 0, profile: Any = None,
                     threads: int | None = None, **fields: Any) -> Comparison:
    """:class:`Comparison` of ``variants``: those that cannot run the configuration (e.g.
    Linformer with ``causal``) are left out with their reason; if none can, the error names
    each variant's reason. ``profile``, ``threads``: predicted latency, as :func:`estimate`."""
    names = _variants.resolve(variants)
    cfg = _config(config, fields)
    out = Comparison([])
    if profile is not None:  # a bad profile is the caller's error, not a variant's
        from .latency.predictor import predictor_for

        profile = predictor_for(profile)
        profile.pick_threads(threads)
    elif threads is not None:
        raise ConfigError("threads applies to a latency predicted from a profile: give "
                          "a profile too (profile=FILE; --profile FILE)")
    for name in names:
        try:
            out.estimates.append(estimate(name, cfg, layers=layers, device=device, mode=mode,
                                          headroom=headroom, decode_tokens=decode_tokens,
                                          profile=profile, threads=threads))
        except (UnsupportedError, ConfigError) as exc:
            if len(names) == 1:
                raise
            out.left_out[name] = str(exc)
    if not out.estimates:
        reasons = "; ".join(f"{n}: {r}" for n, r in out.left_out.items())
        raise UnsupportedError(f"no variant supports this configuration ({reasons})")
    return out


#: The row name of the model as it is, in :func:`compare_model`.
ORIGINAL = "original"


def compare_model(model: ModelConfig | str, variants: str | Sequence[str] = "all", *,
                  device: Device | str | None = None, mode: str = "train",
                  headroom: float = 0.1, decode_tokens: int = 0) -> Comparison:
    """The whole ``model`` (a :class:`ModelConfig`, preset name or ``"hf:PATH"``) as it is
    (row ``"original"``) and with each of ``variants`` swapped into every block
    (:func:`~attncost.config.swap_attention`): the seed paper's question on a real model.
    Variants that cannot take the model's shape (Optimised, Efficient and Super need
    heads·d_head = d_model) are left out with the reason; ratios are to ``"original"``."""
    from .config import swap_attention

    m = model_config(model)
    kw = dict(device=device, mode=mode, headroom=headroom, decode_tokens=decode_tokens)
    original = estimate_model(m, **kw)
    original.variant = ORIGINAL
    out = Comparison([original])
    for name in _variants.resolve(variants):
        try:
            e = estimate_model(swap_attention(m, name), **kw)
        except (UnsupportedError, ConfigError) as exc:
            out.left_out[name] = str(exc)
            continue
        e.variant = name
        out.estimates.append(e)
    return out


def compare(variants: str | Sequence[str] = "all", config: AttentionConfig | None = None, *,
            layers: int = 1, device: Device | str | None = None, mode: str = "train",
            headroom: float = 0.1, decode_tokens: int = 0, skip_unsupported: bool = True,
            **fields: Any) -> list[Estimate]:
    """Estimates of several variants under one configuration. With ``skip_unsupported``
    variants that cannot run it (e.g. Linformer with ``causal``) are left out
    (:func:`compare_variants` also says which and why)."""
    result = compare_variants(variants, config, layers=layers, device=device, mode=mode,
                              headroom=headroom, decode_tokens=decode_tokens, **fields)
    if result.left_out and not skip_unsupported:
        name, reason = next(iter(result.left_out.items()))
        raise UnsupportedError(f"{name}: {reason}")
    return result.estimates


def to_frame(estimates: Iterable[Estimate], baseline: str | None = "standard"):
    """A pandas DataFrame, one row per estimate; ``<metric>_ratio`` columns of the headline
    metrics against ``baseline`` when it is among them."""
    import pandas as pd

    estimates = list(estimates)
    df = pd.DataFrame([{"variant": e.variant, **{k: e.metrics.get(k) for k in METRICS}}
                       for e in estimates]).set_index("variant")
    if baseline and baseline in df.index:
        ratios = Comparison(estimates).ratios(baseline)
        for m in headline():
            if any(r[m] is not None for r in ratios.values()):
                df[f"{m}_ratio"] = [ratios[v][m] for v in df.index]
    return df


def formula(variant: str, metric: str, config: AttentionConfig | None = None, *,
            layers: int = 1, substitute_defaults: bool = True, **fields: Any) -> Any:
    """The sympy expression of ``metric`` for ``variant`` (options from ``config``).

    Formulas are in symbols: the sizes given only say which dimensions stay free. With
    ``substitute_defaults``, dimensions left at their defaults are written in terms of the
    others (d_h = d_m/h, L = ℓ) so formulas read as in the papers; giving ``d_head`` or
    ``max_seq_len`` (any value) keeps d_h or L a symbol of its own.
    """
    import sympy

    get_metric(metric)
    if "max_seq_len" in fields and "seq_len" not in fields and config is None:
        check_positive_int("max_seq_len", fields["max_seq_len"])
        fields["seq_len"] = min(AttentionConfig().seq_len, fields["max_seq_len"])
    cfg = _config(config, fields)
    check_layers(layers)
    exprs = formulas(_variants.get(variant).name, cfg.options(), Precision.of(cfg), layers)
    expr = exprs[metric]
    if expr is None:
        return None
    expr = sympy.sympify(resolve_peak(expr))
    if substitute_defaults:
        s = {n: sympy.Symbol(SYMBOL_NAMES[n], positive=True, integer=True) for n in DIM_FIELDS}
        subs = {}
        if cfg.d_head is None:
            subs[s["d_head"]] = s["d_model"] / s["heads"]
        if cfg.max_seq_len is None:
            subs[s["max_seq_len"]] = s["seq_len"]
        expr = sympy.expand(expr.subs(subs)) if not expr.has(sympy.Max) else expr.subs(subs)
    return expr


# -- vectorised sweeps ----------------------------------------------------------------------

#: Above this, default sizes (up to 12 × d_head) could overflow int64: resolve exactly.
_EXACT_ABOVE = 2**58


def dims_arrays(config: AttentionConfig, grid: dict[str, Sequence[int]]) -> dict[str, Any]:
    """The cartesian product of ``grid`` (dimension -> values) as flat arrays of every
    dimension, defaults resolved by the same rules as :meth:`AttentionConfig.dims`
    (:func:`~attncost.config.resolve_dims`): int64, or exact Python ints (object arrays) for
    sizes where int64 could overflow."""
    import numpy as np

    for name in grid:
        if name not in DIM_FIELDS:
            raise unknown("sweep dimension", name, DIM_FIELDS)
    axes = [_sweep_axis(n, grid[n]) for n in grid]
    exact = any(int(a.max()) >= _EXACT_ABOVE for a in axes) or any(
        getattr(config, n) is not None and getattr(config, n) >= _EXACT_ABOVE
        for n in DIM_FIELDS)
    dtype = object if exact else np.int64
    mesh = np.meshgrid(*(a.astype(dtype) for a in axes), indexing="ij") if axes else []
    size = mesh[0].size if mesh else 1
    given: dict[str, Any] = {n: m.ravel() for n, m in zip(grid, mesh)}
    for n in DIM_FIELDS:
        if n not in given and getattr(config, n) is not None:
            given[n] = np.full(size, getattr(config, n), dtype=dtype)
    if "d_head" not in given and (given["d_model"] % given["heads"] != 0).any():
        i = int(np.argmax(given["d_model"] % given["heads"] != 0))
        raise ConfigError(f"heads={given['heads'][i]} does not divide "
                          f"d_model={given['d_model'][i]} in the sweep; set d_head or "
                          f"choose dividing values")
    out = resolve_dims(given)
    if (out["seq_len"] > out["max_seq_len"]).any():
        raise ConfigError("seq_len exceeds max_seq_len somewhere in the sweep")
    if (out["k"] > out["max_seq_len"]).any():
        raise ConfigError("Linformer's k exceeds the sequence length somewhere in the sweep")
    if (out["heads"] % out["kv_heads"] != 0).any():
        raise ConfigError("kv_heads must divide heads everywhere in the sweep")
    return {n: np.broadcast_to(np.asarray(out[n], dtype=dtype), (size,)) for n in DIM_FIELDS}


#: Bytes a sweep holds per row and column (int64 arrays, the DataFrame and its copies).
_BYTES_PER_CELL = 32


def check_grid_fits(grid: Any, variants: int, metrics: int) -> None:
    """Refuse, before any work, a grid that is not a dimension → values mapping, or whose
    rows would need more memory than this machine has free."""
    import math

    if not isinstance(grid, dict):
        raise ConfigError(f"sweep grid {grid!r} must map dimension names to lists of values")
    rows = variants * math.prod(len(v) if hasattr(v, "__len__") else 1 for v in grid.values())
    need = rows * (len(DIM_FIELDS) + metrics + 1) * _BYTES_PER_CELL
    free = available_memory()
    if need > free:
        raise ConfigError(f"a sweep of {rows:,} rows needs about {human_bytes(need)}; "
                          f"{human_bytes(free)} is free: sweep fewer values")


def available_memory() -> int:
    """Bytes of memory free now (Linux: MemAvailable; elsewhere a 4 GiB guess)."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 4 * 2**30


def _sweep_axis(name: str, values: Sequence[int]) -> Any:
    """One dimension's sweep values: a list of positive integers (never silently
    truncated)."""
    import numpy as np

    if not isinstance(values, (list, tuple, range, np.ndarray)):
        raise ConfigError(f"sweep values for {name} must be a list of positive integers, got "
                          f"{values!r}")
    vals = list(values)
    if not vals or any(isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v <= 0
                       for v in vals):
        raise ConfigError(f"sweep values for {name} must be positive integers, got {values!r}")
    return np.asarray([int(v) for v in vals], dtype=object if max(vals) >= 2**62 else np.int64)


def evaluate(variant: str, dims: dict[str, Any], config: AttentionConfig | None = None, *,
             layers: int = 1, metrics: Sequence[str] | None = None) -> dict[str, Any]:
    """Metrics of ``variant`` over arrays of dimensions (from :func:`dims_arrays`): the
    lambdified formulas, exact int64 (object arrays if int64 would overflow)."""
    cfg = config or AttentionConfig()
    v = _variants.get(variant)
    opts = cfg.options()
    if opts.causal and not v.supports_causal:
        v.build(cfg.dims(), opts)  # raises the standard UnsupportedError
    wanted = tuple(get_metric(m).name for m in (metrics or METRICS))
    check_layers(layers)
    fn = numeric_function(v.name, opts, Precision.of(cfg), layers, wanted)
    return dict(zip(wanted, fn.evaluate(prepare(dims))))


def sweep(variants: str | Sequence[str], grid: dict[str, Sequence[int]],
          config: AttentionConfig | None = None, *, layers: int = 1,
          metrics: Sequence[str] | None = None, **fields: Any):
    """A pandas DataFrame over the cartesian product of ``grid`` for each variant."""
    import numpy as np
    import pandas as pd

    cfg = _config(config, fields)
    names = _variants.resolve(variants)
    check_grid_fits(grid, len(names), len(metrics) if metrics else len(METRICS))
    dims = dims_arrays(cfg, grid)
    frames = []
    reasons = []
    for name in names:
        try:
            values = evaluate(name, dims, cfg, layers=layers, metrics=metrics)
        except UnsupportedError as exc:
            if len(names) == 1:
                raise
            reasons.append(f"{name}: {exc}")
            continue
        data = {"variant": np.full(len(dims["batch"]), name, dtype=object)}
        data.update({n: np.asarray(dims[n]) for n in DIM_FIELDS})
        for m, vals in values.items():
            data[m] = vals if vals is not None else np.full(len(dims["batch"]), None)
        frames.append(pd.DataFrame(data))
    if not frames:
        raise UnsupportedError(f"no variant supports this configuration ({'; '.join(reasons)})")
    return pd.concat(frames, ignore_index=True)


# -- budget questions -----------------------------------------------------------------------


def _required_for(target: str | ModelConfig, cfg: AttentionConfig, layers: int, mode: str,
                  decode_tokens: int):
    def required(**change: Any) -> int:
        if isinstance(target, ModelConfig):
            m = target.with_(**change)
            graph, prec, batch = model_graph(m), Precision.of(m.attention), m.attention.batch
            context = m.max_positions or None
        else:
            c = cfg.with_(**change)
            graph, prec, batch = layer_graph(target, c, layers), Precision.of(c), c.batch
            context = c.max_seq_len
        metrics = {k: resolve_peak(v) for k, v in derive(graph, prec).metrics.items()}
        return required_bytes(metrics, mode, decode_tokens,
                              _cache_bytes(graph, prec, batch, context))

    return required


def max_batch(variant: str | ModelConfig, device: Device | str, config: AttentionConfig | None = None,
              *, layers: int = 1, mode: str = "train", headroom: float = 0.1,
              decode_tokens: int = 0, **fields: Any) -> int | None:
    """The largest batch that fits (None if batch 1 does not)."""
    dev = _needed_device(device)
    cfg = variant.attention if isinstance(variant, ModelConfig) else _config(config, fields)
    req = _required_for(variant, cfg, layers, mode, decode_tokens)
    return max_fitting(lambda n: req(batch=n), dev.budget(headroom))


def max_seq_len(variant: str | ModelConfig, device: Device | str,
                config: AttentionConfig | None = None, *, layers: int = 1, mode: str = "train",
                headroom: float = 0.1, decode_tokens: int = 0, **fields: Any) -> int | None:
    """The largest sequence length that fits (None if length 1 does not). Variants built
    for a length (Super, Linformer) are rebuilt for each length unless ``max_seq_len`` is
    set; Linformer's k must then be given (it cannot exceed the length)."""
    dev = _needed_device(device)
    if isinstance(variant, ModelConfig):
        if variant.is_vision:
            raise ConfigError("a vision model's sequence length is set by its image and patch "
                              "size; change those instead")
        cfg = variant.attention
        hi = variant.max_positions or (1 << 40)
    else:
        cfg = _config(config, fields)
        hi = cfg.max_seq_len or (1 << 40)
    lo = max(1, cfg.k or 1)
    req = _required_for(variant, cfg, layers, mode, decode_tokens)
    return max_fitting(lambda n: req(seq_len=n), dev.budget(headroom), lo=lo, hi_limit=hi)


@dataclass
class FitRow:
    """Whether one variant (or model) fits a device, and the largest batch and length."""

    variant: str
    fits: bool
    required_bytes: int
    budget_bytes: int
    max_batch: int | None
    max_seq_len: int | None
    latency_s: float | None
    bound: str | None
    notes: list[str] = field(default_factory=list)


def fit_table(variants: str | Sequence[str] | None, device: Device | str,
              config: AttentionConfig | None = None, *, preset_name: str | None = None,
              model_overrides: dict[str, Any] | None = None, layers: int | None = None,
              mode: str = "train", headroom: float = 0.1, decode_tokens: int = 0,
              **fields: Any) -> list[FitRow]:
    """:class:`FitRow` of each variant (``layers`` of it), or of a preset model
    (``preset_name`` with attention ``fields`` and ``model_overrides``; one variant for every
    block)."""
    dev = _needed_device(device)
    kw = dict(mode=mode, headroom=headroom, decode_tokens=decode_tokens)
    stacked = 1 if layers is None else layers
    if preset_name is not None:
        m = preset_model(preset_name, variants, layers, {**fields, **(model_overrides or {})})
        targets: list[tuple[Any, Estimate]] = [(m, estimate_model(m, device=dev, **kw))]
        cfg = m.attention
    else:
        cfg = _config(config, fields)
        targets = [(e.variant, e) for e in compare("standard" if variants is None else variants, cfg,
                                                   layers=stacked, device=dev, **kw)]
    rows = []
    for target, est in targets:
        size_kw = dict(layers=stacked, **kw)
        notes = list(est.notes)
        try:
            longest = max_seq_len(target, dev, cfg, **size_kw)
        except AttncostError as exc:
            longest = None
            notes.append(f"max seq_len: {exc}")
        rows.append(FitRow(est.variant, est.fit.fits, est.fit.required_bytes,
                           est.fit.budget_bytes, max_batch(target, dev, cfg, **size_kw),
                           longest, est.roofline.latency_s if est.roofline else None,
                           est.roofline.bound if est.roofline else None, notes))
    return rows


def preset_model(name: str, variants: str | Sequence[str] | None, layers: int | None,
                 overrides: dict[str, Any]) -> ModelConfig:
    """A preset with one ``variants`` name for every block, ``layers`` blocks and field
    ``overrides`` (the command line's ``--preset`` with ``-v``, ``--layers`` and flags)."""
    over = dict(overrides)
    if layers is not None:
        over["layers"] = layers
    if variants:
        names = _variants.resolve(variants)
        if len(names) != 1:
            raise AttncostError("with a preset, give one variant for every layer")
        over["variant"] = names[0]
    return preset(name, **over)


def crossover(variant_a: str, variant_b: str, metric: str = "flops_fwd",
              config: AttentionConfig | None = None, *, lo: int = 1, hi: int = 65536,
              layers: int = 1, **fields: Any) -> list[dict[str, Any]]:
    """Sequence lengths in [lo, hi] where ``metric`` of a and b swap order (exact). The
    range starts no lower than Linformer's k (the length cannot be shorter)."""
    import numpy as np

    from .budget import crossovers

    get_metric(metric)
    for name, v in (("lo", lo), ("hi", hi)):
        if isinstance(v, bool) or not isinstance(v, int):
            raise ConfigError(f"{name}={v!r} must be an integer")
    if not 1 <= lo < hi:
        raise ConfigError(f"range lo={lo}, hi={hi} must satisfy 1 <= lo < hi")
    if hi - lo + 1 > MAX_CROSSOVER_LENGTHS:
        raise ConfigError(f"range lo={lo:,}, hi={hi:,} spans {hi - lo + 1:,} lengths; at most "
                          f"{MAX_CROSSOVER_LENGTHS:,} are evaluated at once: narrow it")
    k = fields.get("k") or (config.k if config else None)
    lo = max(lo, k or 1)
    if "seq_len" not in fields:
        fields["seq_len"] = lo
    cfg = _config(config, fields)
    if lo > hi:
        raise ConfigError(f"k={k} exceeds hi={hi}: no sequence length in range")
    dims = dims_arrays(cfg, {"seq_len": np.arange(lo, hi + 1)})
    a = evaluate(variant_a, dims, cfg, layers=layers, metrics=[metric])[metric]
    b = evaluate(variant_b, dims, cfg, layers=layers, metrics=[metric])[metric]
    if a is None or b is None:
        raise UnsupportedError(f"{metric} is not defined for one of {variant_a}, {variant_b}")
    return crossovers(a, b, dims["seq_len"])
