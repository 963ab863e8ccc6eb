"""Budgets: does it fit, the largest batch and sequence that fit, roofline latency, crossovers.

Everything here reads the exact closed forms (:mod:`attncost.costs`); nothing runs torch.

* :func:`fit` compares the required bytes (training or inference peak, plus the KV cache for
  ``decode_tokens`` when asked) with the device memory less a headroom fraction.
* :func:`max_fitting` finds the largest integer ``n`` with ``required(n) <= budget`` for a
  monotone closed form by doubling then bisection: O(log n) exact evaluations, and the answer
  is checked at the boundary (``required(n) <= budget < required(n + 1)``).
* :func:`roofline` sums, per operation, max(FLOPs / peak, bytes / bandwidth): matmuls at the
  dtype's dense tensor peak, other ops at the fp32 vector peak (Williams et al. 2009, "Roofline").
* :func:`crossovers` evaluates two variants' metric over every sequence length in a range with
  the lambdified formulas (vectorised, exact int64) and reports where the sign of the
  difference changes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable

from .checks import number
from .units import human_bytes, human_count
from .costs import OpCost
from .devices import Device
from .errors import ConfigError, UnsupportedError

MODES = ("train", "infer")


@dataclass(frozen=True)
class FitResult:
    """Memory needed against a budget."""

    device: str
    mode: str
    required_bytes: int
    capacity_bytes: int
    headroom: float
    budget_bytes: int
    fits: bool

    @property
    def utilisation(self) -> float:
        return _seconds(self.required_bytes, self.budget_bytes)  # a ratio of exact ints

    def as_dict(self) -> dict[str, Any]:
        return {"device": self.device, "mode": self.mode, "required_bytes": self.required_bytes,
                "capacity_bytes": self.capacity_bytes, "headroom": self.headroom,
                "budget_bytes": self.budget_bytes, "fits": self.fits,
                "utilisation": round(self.utilisation, 6)}


def check_mode(mode: str) -> str:
    if mode not in MODES:
        raise ConfigError(f"unknown mode {mode!r}; allowed: {', '.join(MODES)}")
    return mode


def required_bytes(metrics: dict[str, Any], mode: str, decode_tokens: int = 0,
                   cache_bytes: Callable[[int], int] | None = None) -> int:
    """Bytes a run needs: the training peak, or the inference peak plus the KV cache of
    ``decode_tokens`` tokens (per sequence × batch is already in the token count):
    ``cache_bytes(tokens)`` where given (a graph's, which bounds sliding windows:
    :func:`attncost.decode.cache_bytes_of_tokens`), else the bytes per token × tokens."""
    check_mode(mode)
    if isinstance(decode_tokens, bool) or not isinstance(decode_tokens, int) or decode_tokens < 0:
        raise ConfigError(f"decode_tokens must be a non-negative integer, got {decode_tokens!r}")
    if mode == "train":
        return int(metrics["train_peak_bytes"])
    need = int(metrics["inference_peak_bytes"])
    if decode_tokens:
        per_token = metrics.get("kv_cache_bytes_per_token")
        if per_token is None:
            raise UnsupportedError("this variant has no KV cache (it cannot decode causally); "
                                   "drop the decode-token count")
        need += (cache_bytes(decode_tokens) if cache_bytes is not None
                 else per_token * decode_tokens)
    return need


def fit(metrics: dict[str, Any], device: Device, mode: str = "train", headroom: float = 0.1,
        decode_tokens: int = 0, cache_bytes: Callable[[int], int] | None = None) -> FitResult:
    """Does it fit on ``device`` with ``headroom`` (a fraction of memory kept free)?
    ``cache_bytes``: as :func:`required_bytes` takes it."""
    budget = device.budget(headroom)
    need = required_bytes(metrics, mode, decode_tokens, cache_bytes)
    return FitResult(device.name, mode, need, device.memory_bytes, headroom, budget,
                     need <= budget)


def max_fitting(required: Callable[[int], int], budget: int, lo: int = 1,
                hi_limit: int = 1 << 40) -> int | None:
    """The largest integer n ≥ lo with ``required(n) <= budget`` for a non-decreasing
    ``required``; None when even ``lo`` does not fit."""
    if required(lo) > budget:
        return None
    good, step = lo, 1
    bad = None
    while bad is None:
        probe = good + step
        if probe > hi_limit:
            bad = hi_limit + 1
            break
        if required(probe) <= budget:
            good, step = probe, step * 2
        else:
            bad = probe
    while bad - good > 1:
        mid = (good + bad) // 2
        if required(mid) <= budget:
            good = mid
        else:
            bad = mid
    return good


@dataclass
class Roofline:
    """A roofline latency estimate (ideal: efficiency 1 unless calibrated)."""

    device: str
    mode: str
    latency_s: float
    compute_s: float
    memory_s: float
    flops: int
    bytes: int
    efficiency: float
    ops: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def intensity(self) -> float:
        """Arithmetic intensity, FLOP per byte moved."""
        return self.flops / self.bytes if self.bytes else float("inf")

    @property
    def bound(self) -> str:
        return "compute" if self.compute_s >= self.memory_s else "memory"

    def as_dict(self) -> dict[str, Any]:
        return {"device": self.device, "mode": self.mode, "latency_s": self.latency_s,
                "compute_s": self.compute_s, "memory_s": self.memory_s, "flops": self.flops,
                "bytes": self.bytes, "intensity_flop_per_byte": self.intensity,
                "bound": self.bound, "efficiency": self.efficiency, "notes": self.notes}


def roofline(ops: list[OpCost], device: Device, dtype: str, mode: str = "infer",
             efficiency: float = 1.0) -> Roofline:
    """Per-operation roofline: time_op = max(FLOPs / (peak·eff), bytes / (bandwidth·eff)).

    ``mode='train'`` adds each op's backward (and flash recomputation) to its forward."""
    check_mode(mode)
    if not device.peak_flops or device.bandwidth <= 0:
        raise ConfigError(f"device {device.name!r} needs a peak FLOP/s and a bandwidth for a "
                          f"latency estimate (--peak-tflops and --bandwidth)")
    efficiency = number(efficiency, "efficiency", positive=True, maximum=1.0)
    notes: list[str] = []
    rows, t_all, t_c, t_m, f_all, b_all = [], 0.0, 0.0, 0.0, 0, 0
    for op in ops:
        mm = op.flops_fwd_matmul + (op.flops_bwd_matmul + op.flops_bwd_recompute
                                    if mode == "train" else 0)
        other = op.flops_fwd_other + (op.flops_bwd_other if mode == "train" else 0)
        nbytes = op.bytes_fwd + (op.bytes_bwd if mode == "train" else 0)
        peak_mm, note = device.peak(dtype, matmul=True)
        if note and mm and note not in notes:
            notes.append(note)
        peak_v, _ = device.peak(dtype, matmul=False)
        compute = (_seconds(mm, peak_mm) + _seconds(other, peak_v)) / efficiency
        memory = _seconds(nbytes, device.bandwidth) / efficiency
        t = max(compute, memory)
        rows.append({"op": op.name, "kind": op.kind, "flops": mm + other, "bytes": nbytes,
                     "time_s": t, "bound": "compute" if compute >= memory else "memory"})
        t_all += t
        t_c += compute
        t_m += memory
        f_all += mm + other
        b_all += nbytes
    if not math.isfinite(t_all):
        raise ConfigError(f"the roofline latency on {device.name!r} (FLOPs {human_count(f_all)},"
                          f" bytes moved {human_bytes(b_all)}) is beyond floating point; check "
                          f"the sizes and the device's peak and bandwidth")
    return Roofline(device.name, mode, t_all, t_c, t_m, int(f_all), int(b_all), efficiency, rows,
                    notes)


def _seconds(work: int, rate: float) -> float:
    """``work`` / ``rate`` for exact integers of any size (inf when beyond a float)."""
    try:
        return work / rate
    except OverflowError:
        return math.inf


def crossovers(values_a: Any, values_b: Any, axis_values: Any) -> list[dict[str, Any]]:
    """Where ``a - b`` changes sign along ``axis_values`` (numpy arrays of the same length):
    each crossing is the first axis value at which the order has flipped."""
    import numpy as np

    diff = np.sign(np.asarray(values_a, dtype=object) - np.asarray(values_b, dtype=object))
    diff = diff.astype(np.int64)
    out = []
    for i in range(1, len(diff)):
        if diff[i] != diff[i - 1] and diff[i] != 0:
            before = "a < b" if diff[i - 1] < 0 else ("a = b" if diff[i - 1] == 0 else "a > b")
            after = "a < b" if diff[i] < 0 else "a > b"
            out.append({"at": int(axis_values[i]), "before": before, "after": after,
                        "a": int(values_a[i]), "b": int(values_b[i])})
    return out


# -- latency calibrated on measured runs (``attncost validate``) ---------------------------

LATENCY_TERMS = ("s_per_matmul_flop", "s_per_other_flop", "s_per_byte", "s_per_matmul_kernel",
                 "s_per_elementwise_kernel", "s_per_copy_kernel")


def latency_features(ops) -> dict[str, tuple[float, ...]]:
    """Per op class, what the latency model charges for: matmul FLOPs, other FLOPs, bytes
    moved, and the number of matmul, elementwise and copy kernels (a fixed cost each: eager
    PyTorch on small sizes is dominated by it). Backward: 2 matmuls and 1 other kernel per
    forward one, roughly."""
    def kind_count(kinds: tuple[str, ...]) -> int:
        return sum(o.kind in kinds for o in ops)

    n_mm, n_el, n_cp = (kind_count(("matmul", "fused-attention")), kind_count(("elementwise",)),
                        kind_count(("copy",)))
    fwd = (sum(o.flops_fwd_matmul for o in ops), sum(o.flops_fwd_other for o in ops),
           sum(o.bytes_fwd for o in ops), n_mm, n_el, n_cp)
    bwd = (sum(o.flops_bwd_matmul + o.flops_bwd_recompute for o in ops),
           sum(o.flops_bwd_other for o in ops), sum(o.bytes_bwd for o in ops),
           2 * n_mm, n_el, n_cp)
    return {"latency_fwd_s": fwd,
            "latency_fwdbwd_s": tuple(a + b for a, b in zip(fwd, bwd))}


def load_calibration(path: str | Any) -> dict[str, dict[str, float]]:
    """The ``latency_model`` of a validation summary (``reports/validation-cpu-summary.json``,
    written by ``attncost validate --format json``); every constant a finite number ≥ 0 (a
    time per unit of work cannot be negative)."""
    import json

    from .checks import number
    from .files import read_user_text

    text = read_user_text(path, "calibration file")
    try:
        model = json.loads(text)
        model = model.get("summary", model)["latency_model"]
        model = {key: {t: model[key][t] for t in LATENCY_TERMS}
                 for key in ("latency_fwd_s", "latency_fwdbwd_s")}
    except (ValueError, KeyError, TypeError, AttributeError):
        raise ConfigError(f"calibration file {str(path)!r} holds no latency_model with "
                          f"{', '.join(LATENCY_TERMS)}; write one with `attncost validate "
                          f"--format json`") from None
    for key, terms in model.items():
        for t, v in terms.items():
            terms[t] = number(v, f"calibration file {str(path)!r}: {key}.{t}", minimum=0.0)
    return model


def calibrated_latency(ops: list[OpCost], calibration: dict[str, dict[str, float]],
                       mode: str) -> float:
    """Seconds for a forward (``infer``) or forward + backward (``train``) on the machine the
    calibration was measured on."""
    key = "latency_fwd_s" if check_mode(mode) == "infer" else "latency_fwdbwd_s"
    features = latency_features(ops)[key]
    return sum(calibration[key][t] * f for t, f in zip(LATENCY_TERMS, features))
