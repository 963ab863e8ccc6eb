"""Where a search trains: the device and the precision, one abstraction for CPU and GPU.

``[training] device`` is ``cpu`` (the default), ``cuda`` or ``cuda:<index>``;
``[training] precision`` is ``auto`` (fp32 on the CPU; on CUDA bf16 where the GPU supports it,
else fp16), ``fp32``, ``bf16`` or ``fp16``. Mixed precision follows PyTorch's recipe
(https://pytorch.org/docs/stable/amp.html): the forward pass and the loss run under
``torch.autocast`` (parameters and optimizer state stay fp32); fp16 also scales the loss with
a ``GradScaler`` so small gradients do not underflow (bf16 has fp32's exponent range and needs
none). A CUDA device that is not there is one line, naming the field.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

from ...torch_device import DEVICES, DeviceError, check_device_name, resolve_device_name

PRECISIONS = ("auto", "fp32", "bf16", "fp16")
_DTYPES = {"bf16": "bfloat16", "fp16": "float16"}


@dataclass(frozen=True)
class TrainDevice:
    """A resolved device (``cpu``, ``cuda:0``…) and precision (``fp32``, ``bf16``, ``fp16``)."""

    name: str
    precision: str

    @property
    def kind(self) -> str:
        return self.name.split(":")[0]

    def autocast(self) -> Any:
        """The context the forward pass runs in: autocast at the precision, or nothing."""
        if self.precision == "fp32":
            return contextlib.nullcontext()
        import torch

        return torch.autocast(self.kind, dtype=getattr(torch, _DTYPES[self.precision]))

    def scaler(self) -> Any:
        """A GradScaler for fp16 (None otherwise)."""
        if self.precision != "fp16":
            return None
        import torch

        return torch.amp.GradScaler(self.kind)


def resolve_device(device: str = "cpu", precision: str = "auto") -> TrainDevice:
    """The :class:`TrainDevice` for ``device`` and ``precision``; a one-line
    :class:`~attncost.torch_device.DeviceError` when CUDA (or that GPU) is not available, or the precision
    is not supported there."""
    check_device_name(device)
    if precision not in PRECISIONS:
        raise DeviceError(f"precision {precision!r} is invalid: allowed: "
                                  f"{', '.join(PRECISIONS)}")
    device = resolve_device_name(device)
    if device.startswith("cuda"):
        import torch

        index = int(device[5:])
        if precision == "auto":
            precision = "bf16" if torch.cuda.is_bf16_supported() else "fp16"
        elif precision == "bf16" and not torch.cuda.is_bf16_supported():
            raise DeviceError(f"precision 'bf16' is not supported by "
                                      f"{torch.cuda.get_device_name(index)}; use fp16")
    elif precision == "auto":
        precision = "fp32"
    return TrainDevice(device, precision)
