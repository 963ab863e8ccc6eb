"""One walk over a graph: the facts every metric is computed from.

:class:`GraphFacts` reads a :class:`~attncost.ops.Graph` once — which tensors carry a
gradient, the parameters (shared ones once), each operation's FLOPs and bytes (its
:class:`OpCost`) and what autograd saves — and computes the memory peaks lazily
(:mod:`attncost.costs.liveness`). Every metric of :data:`attncost.metrics.METRICS` is a small
function of these facts. Everything is linear in the number of operations.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

from ..config import OPTIMIZERS, AttentionConfig
from ..ops import FIXED_BYTES, FusedAttention, Graph, needs_grad_map
from ..sizes import Size, is_symbolic, total
from ..units import dtype_bytes


@dataclass(frozen=True)
class Precision:
    """How many bytes things take: activations/weights dtype, optimizer, master weights."""

    dtype: str = "fp32"
    optimizer: str = "adam"
    master_weights: bool = False
    input_requires_grad: bool = True

    @classmethod
    def of(cls, cfg: AttentionConfig) -> "Precision":
        return cls(cfg.dtype, cfg.optimizer, cfg.resolved_master_weights, cfg.input_requires_grad)


@dataclass
class OpCost:
    """One operation's share of the totals (the per-op breakdown)."""

    name: str
    kind: str
    flops_fwd_matmul: Size
    flops_fwd_other: Size
    flops_bwd_matmul: Size
    flops_bwd_other: Size
    flops_bwd_recompute: Size
    bytes_fwd: Size
    bytes_bwd: Size


def op_kind(op: Any) -> str:
    """``fused-attention``, ``matmul``, ``elementwise`` or ``copy`` (no FLOPs, reads input)."""
    if isinstance(op, FusedAttention):
        return "fused-attention"
    if op.is_matmul:
        return "matmul"
    return "copy" if op.flops_fwd_other() == 0 and op.inputs else "elementwise"


class GraphFacts:
    """The facts of one graph under one precision; metrics read them (and each other through
    :meth:`metric`, computed once)."""

    def __init__(self, graph: Graph, prec: Precision) -> None:
        self.graph = graph
        self.prec = prec
        self.act_bytes = dtype_bytes(prec.dtype)
        self._sizes = {"act": self.act_bytes, "param": self.act_bytes, **FIXED_BYTES}
        self.symbolic = any(is_symbolic(t.numel) for t in graph.tensors.values())
        #: a sum: the plain one for exact ints (much faster), the flat sympy Add otherwise
        self.add_all = total if self.symbolic else sum
        self.need = needs_grad_map(graph, prec.input_requires_grad)
        self.root = {n: graph.root(n) for n in graph.tensors}
        self._metrics: dict[str, Any] = {}

    # -- helpers ----------------------------------------------------------------------

    def nbytes(self, name: str) -> Size:
        t = self.graph.tensors[name]
        return t.numel * self._sizes[t.storage]

    def metric(self, name: str) -> Any:
        """The value of metric ``name`` (:data:`attncost.metrics.METRICS`), computed once."""
        if name not in self._metrics:
            from ..metrics import METRICS

            self._metrics[name] = METRICS[name].compute(self)
        return self._metrics[name]

    # -- parameters ---------------------------------------------------------------------

    @cached_property
    def unique_params(self) -> tuple[Any, ...]:
        """The parameter tensors, those sharing a ``share_key`` (tied weights) once."""
        seen: set[str] = set()
        out = []
        for t in self.graph.tensors.values():
            if t.role != "param":
                continue
            if t.share_key:
                if t.share_key in seen:
                    continue
                seen.add(t.share_key)
            out.append(t)
        return tuple(out)

    @cached_property
    def param_counts(self) -> tuple[Size, Size]:
        """(weights, biases); parameters sharing a ``share_key`` count once."""
        weights = [t.numel for t in self.unique_params if t.param_kind != "bias"]
        biases = [t.numel for t in self.unique_params if t.param_kind == "bias"]
        return self.add_all(weights), self.add_all(biases)

    @property
    def optimizer_bytes_per_param(self) -> int:
        """Optimizer states per parameter (fp32 under mixed precision, else the parameter
        dtype) plus the fp32 master copy under mixed precision."""
        master = self.prec.master_weights and self.act_bytes < 4
        state = 4 if master else self.act_bytes
        return OPTIMIZERS[self.prec.optimizer] * state + (4 if master else 0)

    # -- operations ---------------------------------------------------------------------

    @cached_property
    def saved_by(self) -> list[list[str]]:
        """Per op, the distinct non-parameter storages autograd saves for its backward."""
        tensors, need = self.graph.tensors, self.need
        out = []
        for op in self.graph.ops:
            saved = dict.fromkeys(self.root[s] for s in op.saved(need))
            out.append([s for s in saved if tensors[s].role != "param"])
        return out

    @cached_property
    def all_saved(self) -> list[str]:
        return list(dict.fromkeys(s for saved in self.saved_by for s in saved))

    @cached_property
    def op_costs(self) -> list[OpCost]:
        """Each op's FLOPs (forward, backward per operand that needs a gradient, flash
        recompute) and bytes (forward: inputs + outputs; backward: saved tensors, output
        gradient, input gradients)."""
        need, tensors, nb, add = self.need, self.graph.tensors, self.nbytes, self.add_all
        out = []
        for op in self.graph.ops:
            reads = add(nb(t) for t in op.inputs)
            writes = add(nb(t) for t in op.outputs)
            grad_out = add(nb(t) for t in op.outputs
                           if need.get(t) and tensors[t].storage == "act")
            grad_in = add(nb(t) for t in op.inputs if need.get(t))
            bwd_reads = add(nb(t) for t in op.saved(need)) + grad_out
            has_bwd = any(need.get(t) for t in op.inputs)
            out.append(OpCost(
                op.name, op_kind(op), 2 * op.macs(), op.flops_fwd_other(),
                op.flops_bwd_matmul(need), op.flops_bwd_other(need), op.flops_bwd_recompute(),
                reads + writes, (bwd_reads + grad_in) if has_bwd else 0))
        return out

    def op_total(self, attr: str) -> Size:
        """The sum of one :class:`OpCost` field over every op."""
        return self.add_all(getattr(c, attr) for c in self.op_costs)

    # -- memory peaks ------------------------------------------------------------------

    @cached_property
    def peaks(self) -> "Any":
        from .liveness import peak_candidates

        return peak_candidates(self)
