"""How fast this machine runs now, against the profile it is judged by (imports torch).

A profile is a snapshot: on a shared machine the same code runs at different speeds hours
apart (this project's 2-core VM: the same 688 timings taken twice, three hours apart, agreed
within ±15 % only 44 % of the time, the later run 16 % faster at the median). A prediction
from the profile is then off by the machine's drift whatever its model of kernels.

The **anchors** are measurements the profile already holds — the standard layer, fused and
materialised, without a mask, at the largest reference size it timed
(:data:`attncost.latency.reference.REFERENCE_SIZES`) — re-timed now the way the profile timed
them. The **speed factor** is the median of their ratios now / profiled (forward and training
step): above 1, the machine is slower than when profiled. It measures the machine only: both
sides of the ratio are timings of the same modules, no prediction enters it.
"""

from __future__ import annotations

import statistics
from typing import Any

from ..errors import ConfigError

#: The reference layers re-timed (see the module docstring).
ANCHOR_KINDS = ("layer:standard:fused:0", "layer:standard:materialised:0")


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


def speed_factor(prof: Any, threads: int, device: str = "cpu") -> float:
    """The median of now / profiled over the anchors' forward and training times, timed
    now on ``device`` as the profile timed them (``min_run_time_s`` and ``repeats`` of its
    ``timing``); a one-line error when the profile holds no anchor at ``threads``."""
    from .profile import measure

    found = anchors(prof, threads)
    if not found:
        raise ConfigError(f"the profile holds no anchor layer ({', '.join(ANCHOR_KINDS)}) at "
                          f"threads={threads}: profile it with reference layers first")
    min_run_time = float(prof.timing.get("min_run_time_s", 0.02))
    repeats = int(prof.timing.get("repeats", 3))
    ratios = []
    for m in found:
        now = measure(m.kind, m.features, threads, min_run_time, repeats, device)
        ratios += [now.fwd_s / m.fwd_s, now.train_s / m.train_s]
    return float(statistics.median(ratios))


#: Within this of 1, a speed factor is the machine's timing noise, not drift (the judge's
#: passes agree within 5 %).
STEADY = 0.05


def verdict(factor: float) -> str:
    """What a speed factor means for predictions from the profile: predicted = profiled
    speed, so their error here now is 1 / factor − 1."""
    if abs(factor - 1) <= STEADY:
        return "the profile still holds (within the timing noise of ±5 %)"
    error = 1 / factor - 1
    return (f"this machine runs {'slower' if factor > 1 else 'faster'} than when profiled: "
            f"predictions from the profile are about {abs(error):.0%} "
            f"{'low' if error < 0 else 'high'} here now; re-profile (attncost profile -o "
            f"NEW.json) to predict its speed today")
