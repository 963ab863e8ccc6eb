"""Measuring real PyTorch runs: parameters, FLOPs, saved activations (imports torch).

* :func:`count_params` — weights and biases of a module.
* :func:`count_flops` — torch's ``FlopCounterMode`` with the formulas it lacks on CPU (the
  fused SDPA kernel ``_scaled_dot_product_flash_attention_for_cpu`` and its backward, which it
  counts as 0) supplied through ``custom_mapping``; per-op counts, forward and backward.
* :func:`saved_activation_bytes` — the distinct storages autograd saves for backward
  (``saved_tensors_hooks``), parameters excluded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from torch.utils.flop_counter import FlopCounterMode, sdpa_backward_flop_count, sdpa_flop_count

aten = torch.ops.aten


def _sdpa_cpu_flop(query_shape, key_shape, value_shape, *args, out_shape=None, **kw) -> int:
    """FLOPs of the CPU flash kernel: the same two matmuls as any SDPA (2 × MACs)."""
    return sdpa_flop_count(query_shape, key_shape, value_shape)


def _sdpa_cpu_backward_flop(grad_out_shape, query_shape, key_shape, value_shape, *args,
                            out_shape=None, **kw) -> int:
    """FLOPs of the CPU flash backward: recompute q·kᵀ, then dV, dP, dQ, dK (5 matmuls)."""
    return sdpa_backward_flop_count(grad_out_shape, query_shape, key_shape, value_shape)


#: The formulas torch's FlopCounterMode lacks on CPU (it counts these ops as 0 FLOPs).
CPU_SDPA_FORMULAS = {
    aten._scaled_dot_product_flash_attention_for_cpu: _sdpa_cpu_flop,
    aten._scaled_dot_product_flash_attention_for_cpu_backward: _sdpa_cpu_backward_flop,
}


def flop_counter(display: bool = False) -> FlopCounterMode:
    """A FlopCounterMode that also counts the CPU fused-attention kernels."""
    return FlopCounterMode(display=display, custom_mapping=CPU_SDPA_FORMULAS)


@dataclass
class FlopCounts:
    forward: int
    backward: int
    forward_ops: dict[str, int] = field(default_factory=dict)
    backward_ops: dict[str, int] = field(default_factory=dict)


def _per_op(counter: FlopCounterMode) -> dict[str, int]:
    counts = counter.get_flop_counts().get("Global", {})
    return {str(op).replace("aten.", ""): int(n) for op, n in counts.items() if n}


def count_flops(module: torch.nn.Module, x: torch.Tensor, backward: bool = True) -> FlopCounts:
    """Matmul FLOPs (2 × MACs) of one forward and, if asked, one backward of ``module(x)``."""
    with flop_counter() as fwd:
        out = module(x)
    bwd_total, bwd_ops = 0, {}
    if backward:
        with flop_counter() as bwd:
            out.backward(torch.ones_like(out))
        bwd_total, bwd_ops = bwd.get_total_flops(), _per_op(bwd)
    return FlopCounts(fwd.get_total_flops(), bwd_total, _per_op(fwd), bwd_ops)


def count_params(module: torch.nn.Module) -> tuple[int, int]:
    """(weights, biases): parameters named ``bias`` count as biases."""
    weights = biases = 0
    for name, p in module.named_parameters():
        if name.rsplit(".", 1)[-1] == "bias":
            biases += p.numel()
        else:
            weights += p.numel()
    return weights, biases


def saved_activation_bytes(module: torch.nn.Module, x: torch.Tensor) -> int:
    """Bytes of the distinct non-parameter storages autograd saves during ``module(x)``."""
    params = {p.untyped_storage().data_ptr() for p in module.parameters()}
    seen: dict[int, int] = {}

    def pack(t: torch.Tensor) -> Any:
        storage = t.untyped_storage()
        ptr = storage.data_ptr()
        if ptr not in params:
            seen[ptr] = storage.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = module(x)
    del out
    return sum(seen.values())
