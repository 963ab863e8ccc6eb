"""Dtypes, byte sizes and human-readable quantities (parsing and printing)."""

from __future__ import annotations

import re

from .errors import ConfigError, unknown

#: Bytes per element of each supported dtype.
DTYPE_BYTES = {"fp32": 4, "tf32": 4, "bf16": 2, "fp16": 2, "fp8": 1, "int8": 1}

_UNITS = {
    "": 1, "b": 1,
    "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
    "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40,
    "k": 10**3, "m": 10**6, "g": 10**9, "t": 10**12,
}
_BYTES_RE = re.compile(r"^\s*([0-9]+(?:\.[0-9]*)?(?:[eE][+-]?[0-9]+)?)\s*([a-zA-Z]*)\s*$")


def dtype_bytes(dtype: str) -> int:
    """Bytes per element of ``dtype``; raises UnknownNameError for anything else."""
    try:
        return DTYPE_BYTES[dtype]
    except KeyError:
        raise unknown("dtype", dtype, DTYPE_BYTES) from None


def parse_bytes(text: str | int) -> int:
    """Parse a memory size: ``6GiB`` (2^30), ``6 GB`` (10^9), ``512MiB``, ``1e9`` bytes as int.

    SI (kB, MB, GB, TB) and binary (KiB, MiB, GiB, TiB) prefixes are both accepted and kept
    apart: ``6GB`` is 6,000,000,000 bytes, ``6GiB`` is 6,442,450,944.
    """
    if isinstance(text, float) and text.is_integer():
        text = int(text)
    if isinstance(text, int) and not isinstance(text, bool):
        value = text
    else:
        m = _BYTES_RE.match(str(text))
        if not m or m.group(2).lower() not in _UNITS:
            raise ConfigError(
                f"memory size {text!r} is not understood; use a number with a unit such as "
                "'6GiB', '6GB', '512MiB' or a plain number of bytes")
        from fractions import Fraction

        mantissa = m.group(1).lower()
        if "e" in mantissa and abs(int(mantissa.split("e")[1])) > 100:
            raise ConfigError(f"memory size {text!r} is out of range (exponent above 100)")
        exact = Fraction(mantissa) * _UNITS[m.group(2).lower()]  # exact: 1e30GB has 40 digits
        if exact.denominator != 1:
            raise ConfigError(f"memory size {text!r} is not a whole number of bytes")
        value = int(exact)
    if value <= 0:
        raise ConfigError(f"memory size {text!r} must be positive")
    return value


def _scientific(n: int | float) -> str:
    """A huge number in scientific notation, its digits exact (no float rounding)."""
    from decimal import Decimal

    return f"{Decimal(int(n)):.3E}" if isinstance(n, int) else f"{n:.3E}"


def human_bytes(n: float | int | None) -> str:
    """``1536`` -> ``'1.50 KiB'`` (binary prefixes, as memory is sold and allocated)."""
    if n is None:
        return "n/a"
    if abs(n) >= 1024 ** 6:
        return f"{_scientific(n)} B"
    n = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(n) < 1024 or unit == "PiB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.2f} {unit}"
        n /= 1024
    return f"{n:.2f} PiB"  # pragma: no cover


def human_count(n: float | int | None, unit: str = "") -> str:
    """``1.2e9`` -> ``'1.20 G'`` (SI prefixes for counts such as FLOPs and parameters)."""
    if n is None:
        return "n/a"
    if abs(n) >= 1000 ** 7:
        return f"{_scientific(n)}{unit}"
    n = float(n)
    for prefix in ("", "K", "M", "G", "T", "P", "E"):
        if abs(n) < 1000 or prefix == "E":
            s = f"{n:,.0f}" if prefix == "" else f"{n:,.2f} {prefix}"
            return f"{s}{unit}" if prefix == "" and not unit else f"{s}{unit}".rstrip()
        n /= 1000
    return f"{n:.2f}"  # pragma: no cover


def human_seconds(s: float | None) -> str:
    if s is None:
        return "n/a"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6), ("ns", 1e-9)):
        if s >= scale or unit == "ns":
            return f"{s / scale:,.3g} {unit}"
    return f"{s} s"  # pragma: no cover
