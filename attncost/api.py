"""The Python API: estimates, comparisons, formulas, sweeps and budget questions.

>>> from attncost import estimate
>>> e = estimate("super", d_model=512, heads=8, seq_len=512)
>>> e.metrics["params"]          # 2·512² + 512² (W_A is seq_len × seq_len)
786432

Functions return dataclasses (:class:`Estimate`) or pandas DataFrames (``compare``, ``sweep``);
pandas, numpy and sympy are imported only by the functions that need them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

from . import variants as _variants
from .budget import FitResult, Roofline, check_mode, fit, max_fitting, required_bytes, roofline
from .config import DIM_FIELDS, SYMBOL_NAMES, AttentionConfig, _default_kv_heads
from .costs import (METRICS, OpCost, Precision, derive, formulas, layer_graph,
                    numeric_function, prepare, resolve_peak)
from .devices import Device, get_device
from .errors import ConfigError, UnsupportedError, unknown
from .model import ModelConfig, model_graph, preset


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

    def to_dict(self, breakdown: bool = False) -> dict[str, Any]:
        """The stable JSON contract (see README, "JSON output")."""
        out: dict[str, Any] = {"variant": self.variant, "title": self.title,
                               "source": self.source, "inputs": self.inputs}
        out.update({k: self.metrics.get(k) for k in METRICS})
        out["flops_convention"] = FLOPS_CONVENTION
        out["kv_cache_note"] = self.kv_cache_note
        out["notes"] = list(self.notes)
        out["fit"] = self.fit.as_dict() if self.fit else None
        out["roofline"] = self.roofline.as_dict() if self.roofline else None
        out["calibrated_latency_s"] = self.calibrated_latency_s
        if breakdown:
            out["ops"] = [vars(op) for op in self.ops]
        return out


FLOPS_CONVENTION = (
    "FLOPs = 2 x multiply-accumulates for matmuls (as torch's FlopCounterMode); other ops by the "
    "per-element counts in attncost.ops; causal: flops_fwd counts the full rectangle as PyTorch "
    "executes it, flops_fwd_useful only the unmasked pairs")


def _config(config: AttentionConfig | None, fields_: dict[str, Any]) -> AttentionConfig:
    base = config or AttentionConfig()
    return base.with_(**fields_) if fields_ else base


def _resolve_device(device: Device | str | None) -> Device | None:
    if device is None or isinstance(device, Device):
        return device
    return get_device(device)


def _finish(variant: str, title: str, source: str, inputs: dict[str, Any], graph: Any,
            prec: Precision, device: Device | None, mode: str, headroom: float,
            decode_tokens: int, efficiency: float) -> Estimate:
    check_mode(mode)
    derived = derive(graph, prec)
    metrics = {k: resolve_peak(v) for k, v in derived.metrics.items()}
    est = Estimate(variant, title, source, inputs, metrics, derived.ops, derived.notes,
                   derived.kv_cache_note)
    if device is not None:
        est.fit = fit(metrics, device, mode, headroom, decode_tokens)
        if device.peak_flops and device.bandwidth > 0:
            est.roofline = roofline(derived.ops, device, prec.dtype, mode, efficiency)
    return est


def estimate(variant: str = "standard", config: AttentionConfig | None = None, *,
             layers: int = 1, device: Device | str | None = None, mode: str = "train",
             headroom: float = 0.1, decode_tokens: int = 0, efficiency: float = 1.0,
             **fields: Any) -> Estimate:
    """Every metric of ``layers`` layers of ``variant``; ``fields`` override ``config``
    (``d_model=512, heads=8, seq_len=1024, causal=True, dtype='bf16'``...)."""
    cfg = _config(config, fields)
    v = _variants.get(variant)
    graph = layer_graph(variant, cfg, layers)
    inputs = {**cfg.as_dict(), "layers": layers}
    if not v.impl_matters:
        inputs["impl"] = "n/a"
    return _finish(variant, v.title, v.source, inputs, graph, Precision.of(cfg),
                   _resolve_device(device), mode, headroom, decode_tokens, efficiency)


def estimate_model(model: ModelConfig | str, *, device: Device | str | None = None,
                   mode: str = "train", headroom: float = 0.1, decode_tokens: int = 0,
                   efficiency: float = 1.0, **overrides: Any) -> Estimate:
    """Every metric of a whole model (a :class:`ModelConfig` or a preset name)."""
    m = preset(model, **overrides) if isinstance(model, str) else (
        model.with_(**overrides) if overrides else model)
    graph = model_graph(m)
    variant = "+".join(dict.fromkeys(m.layers))
    inputs = m.as_dict()
    return _finish(variant, f"model {m.name} ({len(m.layers)} layers: {variant})",
                   m.source or "user model", inputs, graph, Precision.of(m.attention),
                   _resolve_device(device), mode, headroom, decode_tokens, efficiency)


def compare(variants: str | Sequence[str] = "all", config: AttentionConfig | None = None, *,
            layers: int = 1, device: Device | str | None = None, mode: str = "train",
            headroom: float = 0.1, decode_tokens: int = 0, skip_unsupported: bool = True,
            **fields: Any) -> list[Estimate]:
    """Estimates of several variants under one configuration. With ``skip_unsupported``
    variants that cannot run it (e.g. Linformer with ``causal``) are left out."""
    names = _variants.resolve(variants)
    out = []
    for name in names:
        try:
            out.append(estimate(name, config, layers=layers, device=device, mode=mode,
                                headroom=headroom, decode_tokens=decode_tokens, **fields))
        except (UnsupportedError, ConfigError):
            if not skip_unsupported or len(names) == 1:
                raise
    if not out:
        raise UnsupportedError("no variant supports this configuration")
    return out


def to_frame(estimates: Iterable[Estimate], baseline: str | None = "standard"):
    """A pandas DataFrame, one row per estimate; ``<metric>_ratio`` columns against
    ``baseline`` when it is among them."""
    import pandas as pd

    rows = []
    for e in estimates:
        row = {"variant": e.variant}
        row.update({k: e.metrics.get(k) for k in METRICS})
        rows.append(row)
    df = pd.DataFrame(rows).set_index("variant")
    if baseline and baseline in df.index:
        for k in ("params", "flops_fwd", "flops_bwd", "activation_bytes",
                  "inference_peak_bytes", "train_peak_bytes", "kv_cache_bytes_per_token"):
            base = df.at[baseline, k]
            if base is not None and base == base and base != 0:
                df[f"{k}_ratio"] = [None if v is None or v != v else v / base for v in df[k]]
    return df


def formula(variant: str, metric: str, config: AttentionConfig | None = None, *,
            layers: int = 1, substitute_defaults: bool = True, **fields: Any) -> Any:
    """The sympy expression of ``metric`` for ``variant`` (options from ``config``).

    With ``substitute_defaults``, dimensions the configuration leaves at their defaults are
    written in terms of the others (d_h = d_m/h, L = ℓ) so formulas read as in the papers.
    """
    import sympy

    cfg = _config(config, fields)
    if metric not in METRICS:
        raise unknown("metric", metric, METRICS)
    _variants.get(variant)
    exprs = formulas(variant, cfg.options(), Precision.of(cfg), layers)
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


def dims_arrays(config: AttentionConfig, grid: dict[str, Sequence[int]]) -> dict[str, Any]:
    """The cartesian product of ``grid`` (dimension -> values) as flat int64 arrays of every
    dimension, defaults resolved as :meth:`AttentionConfig.dims` resolves them."""
    import numpy as np

    for name in grid:
        if name not in DIM_FIELDS:
            raise unknown("sweep dimension", name, DIM_FIELDS)
    names = list(grid)
    axes = []
    for n in names:
        a = np.asarray(list(grid[n]), dtype=np.int64)
        if a.ndim != 1 or a.size == 0 or (a <= 0).any():
            raise ConfigError(f"sweep values for {n} must be positive integers, got {grid[n]!r}")
        axes.append(a)
    mesh = np.meshgrid(*axes, indexing="ij") if axes else []
    cols = {n: m.ravel() for n, m in zip(names, mesh)}
    size = mesh[0].size if mesh else 1

    def col(name: str, default: Any = None) -> Any:
        """The swept values, else the configuration's value, else ``default()``."""
        if name in cols:
            return cols[name]
        value = getattr(config, name)
        if value is not None:
            return np.full(size, value, dtype=np.int64)
        return default()

    out: dict[str, Any] = {}
    for n in ("batch", "seq_len", "d_model", "heads"):
        out[n] = col(n)
    if "d_head" in cols or config.d_head is not None:
        out["d_head"] = col("d_head")
    else:
        bad = out["d_model"] % out["heads"] != 0
        if bad.any():
            i = int(np.argmax(bad))
            raise ConfigError(f"heads={out['heads'][i]} does not divide "
                              f"d_model={out['d_model'][i]} in the sweep; set d_head or "
                              f"choose dividing values")
        out["d_head"] = out["d_model"] // out["heads"]
    out["max_seq_len"] = col("max_seq_len", lambda: out["seq_len"].copy())
    if (out["seq_len"] > out["max_seq_len"]).any():
        raise ConfigError("seq_len exceeds max_seq_len somewhere in the sweep")
    out["k"] = col("k", lambda: np.maximum(1, out["max_seq_len"] // 4))
    if (out["k"] > out["max_seq_len"]).any():
        raise ConfigError("Linformer's k exceeds the sequence length somewhere in the sweep")
    default_g = np.vectorize(_default_kv_heads, otypes=[np.int64])
    out["kv_heads"] = col("kv_heads", lambda: default_g(out["heads"]))
    if (out["heads"] % out["kv_heads"] != 0).any():
        raise ConfigError("kv_heads must divide heads everywhere in the sweep")
    out["kv_latent"] = col("kv_latent", lambda: 4 * out["d_head"])
    out["q_latent"] = col("q_latent", lambda: 12 * out["d_head"])
    out["rope_dim"] = col("rope_dim", lambda: np.maximum(1, out["d_head"] // 2))
    return {n: np.broadcast_to(out[n], (size,)) for n in DIM_FIELDS}


def evaluate(variant: str, dims: dict[str, Any], config: AttentionConfig | None = None, *,
             layers: int = 1, metrics: Sequence[str] | None = None) -> dict[str, Any]:
    """Metrics of ``variant`` over arrays of dimensions (from :func:`dims_arrays`): the
    lambdified formulas, exact int64 (object arrays if int64 would overflow)."""
    cfg = config or AttentionConfig()
    v = _variants.get(variant)
    opts = cfg.options()
    if opts.causal and not v.supports_causal:
        v.build(cfg.dims(), opts)  # raises the standard UnsupportedError
    wanted = tuple(metrics or METRICS)
    for m in wanted:
        if m not in METRICS:
            raise unknown("metric", m, METRICS)
    fn = numeric_function(variant, opts, Precision.of(cfg), layers, wanted)
    return dict(zip(wanted, fn.evaluate(prepare(dims))))


def sweep(variants: str | Sequence[str], grid: dict[str, Sequence[int]],
          config: AttentionConfig | None = None, *, layers: int = 1,
          metrics: Sequence[str] | None = None, **fields: Any):
    """A pandas DataFrame over the cartesian product of ``grid`` for each variant."""
    import numpy as np
    import pandas as pd

    cfg = _config(config, fields)
    dims = dims_arrays(cfg, grid)
    frames = []
    for name in _variants.resolve(variants):
        try:
            values = evaluate(name, dims, cfg, layers=layers, metrics=metrics)
        except UnsupportedError:
            if isinstance(variants, str) and variants != "all" and "," not in variants:
                raise
            continue
        data = {"variant": np.full(len(dims["batch"]), name, dtype=object)}
        data.update({n: np.asarray(dims[n]) for n in DIM_FIELDS})
        for m, vals in values.items():
            data[m] = vals if vals is not None else np.full(len(dims["batch"]), None)
        frames.append(pd.DataFrame(data))
    if not frames:
        raise UnsupportedError("no variant supports this configuration")
    return pd.concat(frames, ignore_index=True)


# -- budget questions -----------------------------------------------------------------------


def _required_for(variant_or_model: str | ModelConfig, cfg: AttentionConfig, layers: int,
                  mode: str, decode_tokens: int):
    def required(**change: Any) -> int:
        if isinstance(variant_or_model, ModelConfig):
            m = variant_or_model.with_(**change)
            metrics = derive(model_graph(m), Precision.of(m.attention)).metrics
        else:
            c = cfg.with_(**change)
            metrics = derive(layer_graph(variant_or_model, c, layers), Precision.of(c)).metrics
        metrics = {k: resolve_peak(v) for k, v in metrics.items()}
        return required_bytes(metrics, mode, decode_tokens)

    return required


def max_batch(variant: str | ModelConfig, device: Device | str, config: AttentionConfig | None = None,
              *, layers: int = 1, mode: str = "train", headroom: float = 0.1,
              decode_tokens: int = 0, **fields: Any) -> int | None:
    """The largest batch that fits (None if batch 1 does not)."""
    dev = _resolve_device(device)
    cfg = variant.attention if isinstance(variant, ModelConfig) else _config(config, fields)
    req = _required_for(variant, cfg, layers, mode, decode_tokens)
    budget = int(dev.memory_bytes * (1 - headroom))
    return max_fitting(lambda n: req(batch=n), budget)


def max_seq_len(variant: str | ModelConfig, device: Device | str,
                config: AttentionConfig | None = None, *, layers: int = 1, mode: str = "train",
                headroom: float = 0.1, decode_tokens: int = 0, **fields: Any) -> int | None:
    """The largest sequence length that fits (None if length 1 does not). Variants built
    for a length (Super, Linformer) are rebuilt for each length unless ``max_seq_len`` is
    set; Linformer's k must then be given (it cannot exceed the length)."""
    dev = _resolve_device(device)
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
    budget = int(dev.memory_bytes * (1 - headroom))
    return max_fitting(lambda n: req(seq_len=n), budget, lo=lo, hi_limit=hi)


def crossover(variant_a: str, variant_b: str, metric: str = "flops_fwd",
              config: AttentionConfig | None = None, *, lo: int = 1, hi: int = 65536,
              layers: int = 1, **fields: Any) -> list[dict[str, Any]]:
    """Sequence lengths in [lo, hi] where ``metric`` of a and b swap order (exact)."""
    import numpy as np

    from .budget import crossovers

    cfg = _config(config, fields)
    if metric not in METRICS:
        raise unknown("metric", metric, METRICS)
    if not 1 <= lo < hi:
        raise ConfigError(f"range lo={lo}, hi={hi} must satisfy 1 <= lo < hi")
    lo = max(lo, cfg.k or 1)
    grid_cfg = cfg.with_(seq_len=max(lo, cfg.k or 1))
    dims = dims_arrays(grid_cfg, {"seq_len": np.arange(lo, hi + 1)})
    a = evaluate(variant_a, dims, grid_cfg, layers=layers, metrics=[metric])[metric]
    b = evaluate(variant_b, dims, grid_cfg, layers=layers, metrics=[metric])[metric]
    if a is None or b is None:
        raise UnsupportedError(f"{metric} is not defined for one of {variant_a}, {variant_b}")
    return crossovers(a, b, dims["seq_len"])
