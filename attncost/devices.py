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
from .units import parse_bytes


def check_headroom(headroom: float) -> float:
    """A fraction of memory kept free: a number in [0, 1)."""
    if isinstance(headroom, bool) or not isinstance(headroom, (int, float)) or \
            not 0.0 <= headroom < 1.0:
        raise ConfigError(f"headroom {headroom!r} must be a fraction in [0, 1)")
    return float(headroom)


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
        """Bytes a run may use: the capacity less ``headroom`` (a fraction kept free)."""
        return int(self.memory_bytes * (1.0 - check_headroom(headroom)))

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


def _from_table(name: str, spec: dict[str, Any], origin: str) -> Device:
    try:
        peaks = {k: float(v) * 1e12 for k, v in spec["peak_tflops"].items()}
        if "fp32" not in peaks:
            raise ConfigError(f"device {name!r} in {origin} needs peak_tflops.fp32")
        return Device(
            name=name, title=spec.get("title", name), memory_bytes=parse_bytes(spec["memory"]),
            bandwidth=float(spec["bandwidth"]) * 1e9, peak_flops=peaks,
            kind=spec.get("kind", "custom"), source=spec.get("source", origin),
            derived=spec.get("derived", ""))
    except KeyError as exc:
        raise ConfigError(f"device {name!r} in {origin} lacks field {exc.args[0]!r}; needs "
                          f"memory, bandwidth (GB/s), peak_tflops.fp32") from None


@lru_cache(maxsize=1)
def _builtin() -> dict[str, Device]:
    text = resources.files("attncost.data").joinpath("devices.toml").read_text()
    return {n: _from_table(n, s, "devices.toml") for n, s in tomllib.loads(text).items()}


_user: dict[str, Device] = {}


def load_devices_file(path: str | Path) -> list[str]:
    """Add the devices of a TOML file (same format as ``data/devices.toml``); returns names."""
    table = read_toml(path, "devices file")
    for name, spec in table.items():
        _user[name] = _from_table(name, spec, str(path))
    return list(table)


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
    if peak_tflops is not None and peak_tflops <= 0:
        raise ConfigError(f"peak TFLOP/s must be positive, got {peak_tflops}")
    if bandwidth_gbs is not None and bandwidth_gbs <= 0:
        raise ConfigError(f"bandwidth must be positive GB/s, got {bandwidth_gbs}")
    from .units import DTYPE_BYTES

    peaks = {} if peak_tflops is None else {dt: peak_tflops * 1e12 for dt in DTYPE_BYTES}
    return Device(name=name, title=f"memory budget {memory}", memory_bytes=parse_bytes(memory),
                  bandwidth=(bandwidth_gbs or 0.0) * 1e9, peak_flops=peaks)
