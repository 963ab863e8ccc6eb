"""Peak memory of real runs on any device: a dispatch-mode tracker of live storages.

:class:`LiveMemory` sees every tensor an operator returns, counts each new storage once, and
drops it when the storage is freed (a weak reference's finalizer), so ``peak`` is the largest
total of live storages created inside the ``with`` block, measured after each operator. On
CUDA, ``torch.cuda.max_memory_allocated`` gives the allocator's own figure (see
:func:`peak_step`).
"""

from __future__ import annotations

import weakref
from typing import Any

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten


class LiveMemory(TorchDispatchMode):
    """Track the bytes of storages allocated inside the block; ``peak`` is their maximum."""

    def __init__(self) -> None:
        super().__init__()
        self.live = 0
        self.peak = 0
        self._seen: dict[int, Any] = {}

    def _free(self, key: int, nbytes: int) -> None:
        self.live -= nbytes
        self._seen.pop(key, None)

    def _track(self, t: torch.Tensor) -> None:
        storage = t.untyped_storage()
        key = id(storage)
        ref = self._seen.get(key)
        if ref is not None and ref() is storage:
            return
        nbytes = storage.nbytes()
        self._seen[key] = weakref.ref(storage)
        weakref.finalize(storage, self._free, key, nbytes)
        self.live += nbytes

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        inputs = {id(t.untyped_storage()) for t in tree_flatten((args, kwargs))[0]
                  if isinstance(t, torch.Tensor)}
        for t in tree_flatten(out)[0]:
            # views and in-place results share an input's storage: not a new allocation
            if (isinstance(t, torch.Tensor) and t.device.type != "meta"
                    and id(t.untyped_storage()) not in inputs):
                self._track(t)
        self.peak = max(self.peak, self.live)
        return out


def tensor_bytes(tensors) -> int:
    """Bytes of distinct storages among ``tensors``."""
    seen = {}
    for t in tensors:
        s = t.untyped_storage()
        seen[s.data_ptr()] = s.nbytes()
    return sum(seen.values())


def peak_forward(module: torch.nn.Module, x: torch.Tensor) -> int:
    """Inference peak: parameters + input + the largest live set during a no-grad forward."""
    base = tensor_bytes(list(module.parameters()) + [x])
    with torch.no_grad(), LiveMemory() as mem:
        out = module(x)
    del out
    return base + mem.peak


def peak_step(module: torch.nn.Module, x: torch.Tensor, optimizer: torch.optim.Optimizer) -> int:
    """Training-step peak: parameters + optimizer state + input + the largest live set during
    forward and backward (gradients set to None before, as ``zero_grad`` does). The loss is
    the dot product ⟨output, g⟩ with a fixed random g: it allocates nothing output-sized in
    the forward, and the output's gradient is a full tensor, as under a real loss."""
    weight = torch.randn_like(module(x).detach()).reshape(-1)

    def step() -> None:
        torch.dot(module(x).reshape(-1), weight).backward()

    step()  # a first step creates the optimizer state
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    state = [v for s in optimizer.state.values() for v in s.values()
             if isinstance(v, torch.Tensor) and v.numel() > 1]
    base = tensor_bytes(list(module.parameters()) + [x] + state)
    if x.device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        start = torch.cuda.memory_allocated()
        step()
        torch.cuda.synchronize()
        return base + torch.cuda.max_memory_allocated() - start
    with LiveMemory() as mem:
        step()
    optimizer.zero_grad(set_to_none=True)
    return base + mem.peak
