"""Which torch device a command times or trains on: ``cpu``, ``cuda`` or ``cuda:<index>`` —
one check for every consumer (``attncost profile``/``validate-latency``, measured latency,
the search's training), and what the machine's GPU is (for the files that record it).

torch is imported only to check that a CUDA device is there.
"""

from __future__ import annotations

from typing import Any

from .errors import AttncostError

DEVICES = ("cpu", "cuda", "cuda:<index>")


class DeviceError(AttncostError):
    """A torch device name is invalid, or the device is not available here."""


def check_device_name(device: Any) -> str:
    """``device`` if it is ``cpu``, ``cuda`` or ``cuda:<index>`` (availability not checked)."""
    ok = isinstance(device, str) and (device in ("cpu", "cuda") or (
        device.startswith("cuda:") and device[5:].isascii() and device[5:].isdigit()))
    if not ok:
        raise DeviceError(f"device {device!r} is invalid: allowed: {', '.join(DEVICES)}")
    return device


def resolve_device_name(device: Any) -> str:
    """``cpu``, or the CUDA device ``device`` names as ``cuda:<index>`` (``cuda`` is
    ``cuda:0``); a one-line :class:`DeviceError` when torch sees no CUDA GPU, or not that
    one."""
    check_device_name(device)
    if device == "cpu":
        return device
    import torch

    if not torch.cuda.is_available():
        raise DeviceError(f"device {device!r} is not available: torch {torch.__version__} "
                          f"sees no CUDA GPU here; use \"cpu\"")
    index = int(device[5:]) if ":" in device else 0
    if index >= torch.cuda.device_count():
        raise DeviceError(f"device {device!r} is not available: "
                          f"{torch.cuda.device_count()} CUDA GPU(s) here")
    return f"cuda:{index}"


def gpu_info(device: str) -> dict[str, Any]:
    """The GPU behind a resolved CUDA ``device`` (name, memory, multiprocessors, CUDA
    version, whether float32 matmuls may use TF32); empty for ``cpu``."""
    if not device.startswith("cuda"):
        return {}
    import torch

    p = torch.cuda.get_device_properties(device)
    try:
        tf32 = bool(torch.backends.cuda.matmul.allow_tf32)
    except (AttributeError, RuntimeError):  # a torch that only has fp32_precision
        tf32 = getattr(torch.backends.cuda.matmul, "fp32_precision", "ieee") == "tf32"
    return {"gpu": p.name, "gpu_memory_bytes": int(p.total_memory),
            "multiprocessors": int(p.multi_processor_count),
            "compute_capability": f"{p.major}.{p.minor}", "cuda": torch.version.cuda,
            "tf32_matmul": tf32}


def warm_up(device: str, seconds: float = 1.0) -> None:
    """Keep a GPU busy for ``seconds`` (matrix products) so that its clocks leave their idle
    level before anything is timed (an H200 idles at 345 MHz, runs at 1980); nothing on the
    CPU."""
    if not device.startswith("cuda"):
        return
    import time

    import torch

    a = torch.randn(2048, 2048, device=device)
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        for _ in range(20):
            a @ a
        torch.cuda.synchronize(device)

