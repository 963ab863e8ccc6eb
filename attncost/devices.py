"""The device catalogue (``data/devices.toml``, every figure with its source) and custom devices."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from .errors import ConfigError, unknown
from .files import read_toml
from .checks import number
from .units import dtype_bytes, parse_bytes


def check_headroom(headroom: float) -> float:
    """A fraction of memory kept free: a number in [0, 1)."""
    if isinstance(headroom, bool) or not isinstance(headroom, (int, float)) or \
            not 0.0 <= headroom < 1.0:  # NaN fails both comparisons
        raise ConfigError(f"headroom {headroom!r} must be a fraction in [0, 1)")
    return float(headroom) + 0.0  # -0.0 → 0.0


@dataclass(frozen=True)
class Device:
    """A device: memory capacity (bytes), bandwidth (bytes/s), dense peak FLOP/s per dtype."""

    name: str
    title: str
    memory_bytes: int
    bandwidth: float
    peak_flops: dict[str, float] = field(default_factory=dict)
    kind: str = "custom"
    source: str = "given on the command line"
    derived: str = ""

    def budget(self, headroom: float = 0.1) -> int:
        """Bytes a run may use: the capacity less ``headroom`` (a fraction kept free), exact:
        ⌊capacity · (1 − headroom)⌋ with the headroom's exact binary value."""
        from fractions import Fraction

        free = Fraction(1) - Fraction(check_headroom(headroom))
        bytes_ = int(self.memory_bytes * free)
        if bytes_ < 1:
            raise ConfigError(f"{self.name}: {self.memory_bytes} byte(s) with headroom "
                              f"{headroom} leave no memory to use")
        return bytes_

    def peak(self, dtype: str, matmul: bool = True) -> tuple[float, str]:
        """Peak FLOP/s for ``dtype`` (matmuls) or the fp32 vector rate (everything else), and
        a note when a dtype falls back to another figure."""
        if not matmul or dtype not in self.peak_flops:
            note = "" if not matmul or dtype == "fp32" else (
                f"{self.name} lists no {dtype} peak; used its fp32 rate")
            return self.peak_flops["fp32"], note
        return self.peak_flops[dtype], ""

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "title": self.title, "kind": self.kind,
                "memory_bytes": self.memory_bytes, "bandwidth_bytes_per_s": self.bandwidth,
                "peak_flops": dict(self.peak_flops), "source": self.source,
                "derived": self.derived}


_DEVICE_FIELDS = ("memory", "bandwidth", "peak_tflops")
_DEVICE_TEXT = ("title", "kind", "source", "derived")


def _from_table(name: str, spec: Any, origin: str) -> Device:
    """A device from one table of a devices file, every field checked: memory a size such as
    '8GiB', bandwidth a positive GB/s, peak_tflops a table of positive TFLOP/s per dtype
    (fp32 required)."""
    where = f"device {name!r} in {origin}"
    if not isinstance(spec, dict):
        raise ConfigError(f"{where} must be a table with memory, bandwidth (GB/s) and "
                          f"peak_tflops.fp32, got {spec!r}")
    missing = [k for k in _DEVICE_FIELDS if k not in spec]
    unknown_keys = sorted(set(spec) - set(_DEVICE_FIELDS) - set(_DEVICE_TEXT))
    if missing or unknown_keys:
        problem = (f"lacks field {missing[0]!r}" if missing else
                   f"has unknown field {unknown_keys[0]!r}")
        raise ConfigError(f"{where} {problem}; fields: memory, bandwidth (GB/s), "
                          f"peak_tflops.fp32 (and optionally {', '.join(_DEVICE_TEXT)})")
    peaks_in = spec["peak_tflops"]
    if not isinstance(peaks_in, dict) or "fp32" not in peaks_in:
        raise ConfigError(f"{where} needs a table peak_tflops with fp32, got {peaks_in!r}")
    peaks = {}
    for dtype, tflops in peaks_in.items():
        dtype_bytes(dtype)
        peaks[dtype] = number(tflops, f"{where}: peak_tflops.{dtype}", positive=True) * 1e12
    text = {k: spec.get(k) for k in _DEVICE_TEXT if k in spec}
    for k, v in text.items():
        if not isinstance(v, str):
            raise ConfigError(f"{where}: {k} {v!r} must be text")
    memory = spec["memory"]
    if isinstance(memory, float) and memory.is_integer():
        memory = int(memory)
    return Device(
        name=name, title=text.get("title", name), memory_bytes=parse_bytes(memory),
        bandwidth=number(spec["bandwidth"], f"{where}: bandwidth (GB/s)", positive=True) * 1e9,
        peak_flops=peaks, kind=text.get("kind", "custom"), source=text.get("source", origin),
        derived=text.get("derived", ""))


@lru_cache(maxsize=1)
def _builtin() -> dict[str, Device]:
    text = resources.files("attncost.data").joinpath("devices.toml").read_text()
    return {n: _from_table(n, s, "devices.toml") for n, s in tomllib.loads(text).items()}


_user: dict[str, Device] = {}


def load_devices_file(path: str | Path) -> list[str]:
    """Add the devices of a TOML file (same format as ``data/devices.toml``); returns names."""
    table = read_toml(path, "devices file")
    if not table:
        raise ConfigError(f"devices file {str(path)!r} defines no device; each is a table "
                          f"[name] with memory, bandwidth (GB/s), peak_tflops.fp32")
    devices = {name: _from_table(name, spec, str(path)) for name, spec in table.items()}
    _user.update(devices)  # all or nothing: one bad device adds none
    return list(devices)


def catalogue() -> dict[str, Device]:
    """Every known device, built-in then user-added."""
    return {**_builtin(), **_user}


def get_device(name: str) -> Device:
    devices = catalogue()
    if name not in devices:
        raise unknown("device", name, devices)
    return devices[name]


def custom_device(memory: str | int, peak_tflops: float | None = None,
                  bandwidth_gbs: float | None = None, name: str = "custom") -> Device:
    """A device from a memory budget (``'6GiB'``) and optionally peak TFLOP/s and GB/s."""
    if peak_tflops is not None:
        peak_tflops = number(peak_tflops, "peak TFLOP/s", positive=True)
    if bandwidth_gbs is not None:
        bandwidth_gbs = number(bandwidth_gbs, "bandwidth (GB/s)", positive=True)
    if not isinstance(name, str) or not name.strip():
        raise ConfigError(f"device name {name!r} must be non-empty text")
    from .units import DTYPE_BYTES

    peaks = {} if peak_tflops is None else {dt: peak_tflops * 1e12 for dt in DTYPE_BYTES}
    return Device(name=name, title=f"memory budget {memory}", memory_bytes=parse_bytes(memory),
                  bandwidth=(bandwidth_gbs or 0.0) * 1e9, peak_flops=peaks)
