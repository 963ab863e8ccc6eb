"""How fast this machine runs now, against the profile it is judged by (imports torch).

A profile is a snapshot: on a shared machine the same code runs at different speeds an hour
apart (this project's 2-core VM: the same 964 timings taken twice, an hour apart, agreed
within ±15 % only 26 % of the time, the later run 22 % slower at the median). A prediction
from the profile is then off by the machine's drift whatever its model of kernels.

The **anchors** are measurements the profile already holds — the standard layer, fused and
materialised, without a mask, at the largest reference size it timed
(:data:`attncost.latency.reference.REFERENCE_SIZES`) — re-timed now the way the profile timed
them. The **speed factor** is the median of their ratios now / profiled (forward and training
step): above 1, the machine is slower than when profiled. It measures the machine only: both
sides of the ratio are timings of the same modules, no prediction enters it.
"""

from __future__ import annotations

import math
import os
import statistics
from typing import Any

from ..errors import ConfigError

#: The reference layers re-timed (see the module docstring).
ANCHOR_KINDS = ("layer:standard:fused:0", "layer:standard:materialised:0")
#: Within this of 1 (as printed, two decimals), a speed factor is the machine's timing noise,
#: not drift (the judge's passes agree within 5 %).
STEADY = 0.05
#: Speed factors outside these bounds are not drift but a damaged record.
PLAUSIBLE = (1e-3, 1e4)


def anchors(prof: Any, threads: int) -> list[Any]:
    """The profile's anchor measurements on ``threads`` threads: each of
    :data:`ANCHOR_KINDS` at the largest size it was timed at (empty when the profile has
    none, e.g. one without reference layers)."""
    out = []
    for kind in ANCHOR_KINDS:
        timed = [m for m in prof.measurements if m.kind == kind and m.threads == threads]
        if timed:
            out.append(max(timed, key=lambda m: (m.features.get("d_model", 0),
                                                 m.features.get("seq_len", 0))))
    return out


def timing_of(prof: Any) -> tuple[float, int]:
    """(min_run_time seconds, repeats) the profile was timed with (its ``timing``; the
    profiler's defaults where absent); a one-line error when they are damaged."""
    from .profile import check_timing

    return check_timing(prof.timing.get("min_run_time_s", 0.02), prof.timing.get("repeats", 3),
                        ("the profile's timing min_run_time_s", "the profile's timing repeats"))


def speed_factor(prof: Any, threads: int, device: str = "cpu", passes: int = 1) -> float:
    """The median of now / profiled over the anchors' forward and training times, timed
    now on ``device`` as the profile timed them (:func:`timing_of`), each the lowest of
    ``passes``; a one-line error when the profile holds no anchor at ``threads`` or one
    with a time that is not a positive number."""
    from .profile import measure

    found = anchors(prof, threads)
    if not found:
        raise ConfigError(f"the profile holds no anchor layer ({', '.join(ANCHOR_KINDS)}) at "
                          f"threads={threads}: profile it with reference layers first")
    for m in found:
        if not all(math.isfinite(v) and v > 0 for v in (m.fwd_s, m.train_s)):
            raise ConfigError(f"the profile's anchor {m.kind} ×{threads} has times "
                              f"{m.fwd_s!r} s and {m.train_s!r} s: expected positive seconds")
    min_run_time, repeats = timing_of(prof)
    ratios = []
    for m in found:
        runs = [measure(m.kind, m.features, threads, min_run_time, repeats, device)
                for _ in range(passes)]
        ratios += [min(r.fwd_s for r in runs) / m.fwd_s,
                   min(r.train_s for r in runs) / m.train_s]
    factor = float(statistics.median(ratios))
    if not PLAUSIBLE[0] <= factor <= PLAUSIBLE[1]:
        raise ConfigError(f"the profile's anchors at threads={threads} run ×{factor:.3g} their "
                          f"profiled time here: no machine drifts that far; their recorded "
                          f"times look damaged (re-profile)")
    return factor


def prediction_error(factor: float) -> float:
    """The relative error of the profile's predictions here now: 1 / factor − 1 (predicted
    = the profiled speed), on the factor as printed (two decimals)."""
    return 1 / round(factor, 2) - 1


def steady(factor: float) -> bool:
    """Whether ``factor`` (as printed, two decimals) is within :data:`STEADY` of 1."""
    return abs(round(factor, 2) - 1) <= STEADY + 1e-9


def others_running(samples: int = 25, interval_s: float = 0.01) -> float | None:
    """How many other processes are ready to run, the median of ``samples`` readings of
    the kernel's count of runnable tasks (``/proc/loadavg``'s fourth field, less this one);
    None where the OS does not say. Unlike the load average, it holds no memory of this
    process's own work a moment ago."""
    import time

    counts = []
    for _ in range(samples):
        try:
            with open("/proc/loadavg", encoding="ascii") as fh:
                counts.append(int(fh.read().split()[3].split("/")[0]) - 1)
        except (OSError, ValueError, IndexError):
            return None
        time.sleep(interval_s)
    return float(statistics.median(counts))


def busy(threads: int) -> float | None:
    """The number of other runnable processes when they need cores that ``threads`` threads
    would use (more than cores − threads; :func:`others_running`); None otherwise."""
    others = others_running()
    if others is None or others <= (os.cpu_count() or 1) - threads:
        return None
    return others


def verdict(factor: float) -> str:
    """What a speed factor means for predictions from the profile (:func:`prediction_error`)."""
    if steady(factor):
        return "the profile still holds (within the timing noise of ±5 %)"
    error = prediction_error(factor)
    return (f"this machine runs {'slower' if factor > 1 else 'faster'} than when profiled: "
            f"predictions from the profile are about {abs(error):.0%} "
            f"{'low' if error < 0 else 'high'} here now; re-profile (attncost profile -o "
            f"NEW.json) to predict its speed today")
