"""Typed checks of user-given values: one line naming the value and what is allowed.

Every number a user can type (a flag, a field of a devices file, a constant of a calibration
file, an argument of the API) passes one of these before it reaches a formula, so a NaN, an
infinity, a negative size or a string never becomes a silently wrong figure.
"""

from __future__ import annotations

import math
from typing import Any

from .errors import ConfigError


def number(value: Any, what: str, *, minimum: float | None = None,
           positive: bool = False, maximum: float | None = None) -> float:
    """``value`` as a finite float (ints and floats only; bools and strings refused), at
    least ``minimum``, above zero when ``positive``, at most ``maximum``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{what} {value!r} must be a number")
    try:
        f = float(value)
    except OverflowError:
        raise ConfigError(f"{what} {value!r} is too large for a floating-point number") \
            from None
    if not math.isfinite(f):
        raise ConfigError(f"{what} {value!r} must be a finite number")
    if positive and f <= 0:
        raise ConfigError(f"{what} {value!r} must be positive")
    if minimum is not None and f < minimum:
        raise ConfigError(f"{what} {value!r} must be at least {minimum:g}")
    if maximum is not None and f > maximum:
        raise ConfigError(f"{what} {value!r} must be at most {maximum:g}")
    return f


def integer(value: Any, what: str, *, minimum: int | None = 1,
            maximum: int | None = None) -> int:
    """``value`` as an int (a float with a fractional part, a bool or a string refused), at
    least ``minimum`` (default 1; None: any), at most ``maximum`` (None: any)."""
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        else:
            raise ConfigError(f"{what} {value!r} must be an integer")
    if minimum is not None and value < minimum:
        raise ConfigError(f"{what} {value!r} must be an integer ≥ {minimum}")
    if maximum is not None and value > maximum:
        raise ConfigError(f"{what} {value!r} must be at most {maximum}")
    return value
