"""Kernel kinds: what each operation of a cost-model graph becomes in eager PyTorch, and the
shape features its time depends on (torch-free).

A :class:`KernelKind` is one entry of :data:`KINDS` (the one registry of kernel kinds): its
name, a test that says whether a graph operation runs as this kernel, and the features of
that operation (sizes read off the graph). :func:`kernel_calls` maps every operation of a
graph to a :class:`KernelCall` — kind, features, and whether a backward runs for it — so a
predictor fitted per kind (:mod:`attncost.latency.predictor`) can sum a graph's time. The
profiler (:mod:`attncost.latency.profile`) times the same kinds on the current machine, the
kernels built by :mod:`attncost.latency.bench` as the modules of :mod:`attncost.nn` run them.

The kinds follow nn-Meter's idea (Zhang et al., MobiSys 2021, "nn-Meter: towards accurate
latency prediction of deep-learning model inference on diverse edge devices"): one regressor
per kernel kind over its shape, rather than one formula for every operation.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable

from ..errors import AttncostError, unknown
from ..ops import Elementwise, FusedAttention, Graph, MatMul, Op, needs_grad_map

#: Features of one kernel call: sizes (ints) by name.
Features = dict[str, int]


@dataclass(frozen=True)
class KernelKind:
    """One kind of kernel: ``matches(op, graph)`` says whether a graph operation runs as it;
    ``features(op, graph)`` gives the sizes its time depends on; ``work`` names the feature
    whose time is (roughly) proportional to it (FLOPs for matmuls, elements otherwise);
    ``included``: the operation's time is measured with another kind's (0 of its own);
    ``timed_as``: the kind whose forward timing this one's time is read from (None: its own);
    ``train_only``: work that only a training step's backward does (no forward, no glue)."""

    name: str
    doc: str
    matches: Callable[[Op, Graph], bool]
    features: Callable[[Op, Graph], Features]
    work: str = "numel"
    included: bool = False
    timed_as: str | None = None
    train_only: bool = False

    @property
    def timed_alone(self) -> bool:
        """Whether the profile times this kind's own kernels (not those timed with another
        kind's, nor backward-only work)."""
        return not (self.included or self.train_only)


KINDS: dict[str, KernelKind] = {}


def kind(name: str, doc: str, matches: Callable[[Op, Graph], bool],
         features: Callable[[Op, Graph], Features] | None = None, *, work: str = "numel",
         included: bool = False, timed_as: str | None = None,
         train_only: bool = False) -> KernelKind:
    """Register kernel kind ``name`` (matched in registration order; a name once)."""
    if name in KINDS:
        raise AttncostError(f"kernel kind {name!r} is already registered")
    KINDS[name] = KernelKind(name, doc, matches, features or _numel, work, included, timed_as,
                             train_only)
    return KINDS[name]


def get_kind(name: str) -> KernelKind:
    """The kernel kind called ``name``; an unknown name lists the allowed ones."""
    if name not in KINDS:
        raise unknown("kernel kind", name, KINDS)
    return KINDS[name]


# -- reading an operation -------------------------------------------------------------------


def base(op: Op) -> str:
    """The operation's own name without its block prefix (``blocks.3.ffn.gelu`` → ``gelu``,
    ``k_norm.rms`` → ``rms``)."""
    return op.name.rsplit(".", 1)[-1]


def _ew(op: Op, fwd: int | None = None, bwd: int | None = None) -> bool:
    """An element-wise op with these per-element FLOP counts (None: any)."""
    return (isinstance(op, Elementwise) and (fwd is None or op.fwd_per_elem == fwd)
            and (bwd is None or op.bwd_per_elem == bwd))


def _is_param(graph: Graph, name: str) -> bool:
    return graph.tensors[graph.root(name)].role == "param"


def _numel(op: Op, graph: Graph) -> Features:
    return {"numel": int(op.numel)}  # type: ignore[attr-defined]


def _linear_features(op: Op, graph: Graph) -> Features:
    mm: MatMul = op  # type: ignore[assignment]
    return {"m": int(mm.m), "k": int(mm.k), "n": int(mm.n), "bias": int(bool(mm.bias)),
            "flops": 2 * int(mm.m * mm.k * mm.n)}


def _bmm_features(op: Op, graph: Graph) -> Features:
    mm: MatMul = op  # type: ignore[assignment]
    return {"batch": int(mm.batch), "m": int(mm.m), "k": int(mm.k), "n": int(mm.n),
            "flops": 2 * int(mm.batch * mm.m * mm.k * mm.n)}


def _sdpa_features(op: Op, graph: Graph) -> Features:
    a: FusedAttention = op  # type: ignore[assignment]
    return {"bh": int(a.batch_heads), "q": int(a.q_len), "kv": int(a.kv_len),
            "d": int(a.d_qk), "causal": int(a.causal),
            "flops": 2 * int(a.batch_heads * a.q_len * a.kv_len * (a.d_qk + a.d_v))}


def _row_len(op: Op, graph: Graph) -> int:
    """The length of the rows a softmax normalises: the op's own ``row_len`` when its graph
    gives one (a softmax over each head's features), else the ``n`` of the matmul its input
    comes from (through single-input element-wise ops: scale, mask, soft-cap)."""
    if getattr(op, "row_len", None) is not None:
        rows = int(op.row_len)  # type: ignore[attr-defined]
        if rows < 1:
            raise AttncostError(f"operation {op.name!r} gives row_len={rows}: a row-wise op's "
                                f"rows hold at least 1 element (or leave row_len None to "
                                f"read it off the graph)")
        return rows
    producer = {t: o for o in graph.ops for t in o.outputs}
    src = graph.root(op.inputs[0])
    for _ in range(8):
        p = producer.get(src)
        if isinstance(p, MatMul):
            return int(p.n)
        if p is None or not p.inputs:
            break
        src = graph.root(p.inputs[0])
    return int(op.numel)  # type: ignore[attr-defined]


def _softmax_features(op: Op, graph: Graph) -> Features:
    return {"numel": int(op.numel), "cols": _row_len(op, graph)}  # type: ignore[attr-defined]


def _norm_features(op: Op, graph: Graph) -> Features:
    """Rows from the fp32 statistics the norm saves (LayerNorm: mean and rstd, 2 per row;
    RMSNorm: rstd, 1 per row); width = elements / rows."""
    stats = next(t for t in op.outputs if t.endswith(".stats"))
    per_row = 2 if op.fwd_per_elem == 7 else 1  # type: ignore[attr-defined]
    rows = int(graph.tensors[stats].numel) // per_row
    return {"numel": int(op.numel), "width": int(op.numel) // max(rows, 1)}  # type: ignore


def _embedding_features(op: Op, graph: Graph) -> Features:
    """Gathered elements, rows gathered (the ids) and the table's elements."""
    table = next(t for t in op.inputs if _is_param(graph, t))
    rows = int(graph.tensors[op.inputs[0]].numel)
    return {"numel": int(op.numel), "rows": rows,  # type: ignore[attr-defined]
            "table": int(graph.tensors[table].numel)}


# -- the kinds, in matching order -----------------------------------------------------------

kind("sdpa", "F.scaled_dot_product_attention (the CPU flash kernel)",
     lambda op, g: isinstance(op, FusedAttention), _sdpa_features, work="flops")
kind("linear", "nn.Linear / F.linear: x (m×k) @ Wᵀ (+ bias), addmm or mm",
     lambda op, g: isinstance(op, MatMul) and op.batch == 1 and _is_param(g, op.inputs[1]),
     _linear_features, work="flops")
kind("bmm", "torch.matmul of batched operands (bmm): scores, p·v, W_A·X, E·K, contexts",
     lambda op, g: isinstance(op, MatMul), _bmm_features, work="flops")
kind("embedding", "F.embedding: rows gathered from a table (backward: a dense table gradient)",
     lambda op, g: _ew(op, 0, 1) and len(op.inputs) == 2 and _is_param(g, op.inputs[1]),
     _embedding_features)
kind("layernorm", "F.layer_norm over the last dimension (fused, saves mean and rstd)",
     lambda op, g: _ew(op, 7, 10), _norm_features)
kind("rmsnorm", "nn.RMSNorm (rsqrt of the mean square, times the weight)",
     lambda op, g: _ew(op, 3, 5) and base(op) == "rms", _norm_features)
kind("rmsnorm-scale", "the weight multiply of an RMSNorm: timed with rmsnorm",
     lambda op, g: _ew(op, 1, 2) and base(op) == "scale" and len(op.inputs) == 2
     and _is_param(g, op.inputs[1]), included=True)
kind("softmax-strided", "torch.softmax over a non-last dimension (linear's keys over positions)",
     lambda op, g: _ew(op, 5, 4) and base(op) == "softmax_k")
kind("softmax", "torch.softmax over the last dimension", lambda op, g: _ew(op, 5, 4),
     _softmax_features)
kind("gelu", "F.gelu", lambda op, g: _ew(op, 8, 12))
kind("silu", "F.silu", lambda op, g: _ew(op, 4, 6))
kind("tanh", "torch.tanh", lambda op, g: _ew(op, 4, 2))
kind("elu", "F.elu", lambda op, g: _ew(op, 2, 2))
kind("relu", "F.relu", lambda op, g: _ew(op, 1, 1) and "relu" in base(op))
kind("rope", "rotary embedding: position tables, rotate, x·cos + rot(x)·sin",
     lambda op, g: _ew(op, 3, 3) and base(op).startswith("rope_"))
kind("rope-tables", "the cos/sin tables of a rotary embedding: timed with rope",
     lambda op, g: _ew(op) and base(op) == "tables", included=True)
kind("make-mask", "a causal (or banded) boolean mask made on the fly: ones(n, m).triu(1)",
     lambda op, g: _ew(op) and not op.inputs and "mask" in base(op))
kind("mask", "masked_fill of the scores with a broadcast boolean mask",
     lambda op, g: _ew(op, 1, 1) and len(op.inputs) == 2
     and g.tensors[op.inputs[1]].storage == "bool")
kind("dropout", "F.dropout in training (a boolean keep-mask, scaled)",
     lambda op, g: _ew(op, 1, 1) and any(g.tensors[t].storage == "bool" for t in op.outputs))
kind("reduce", "a sum over one dimension (row sums, key sums, mean pooling)",
     lambda op, g: _ew(op) and bool(getattr(op, "grad_is_view", False)) or base(op) == "mean_pool")
kind("binary", "an element-wise op of two tensors: add (residuals), mul (gates), div",
     lambda op, g: _ew(op) and op.fwd_per_elem >= 1 and len(op.inputs) >= 2)
kind("scalar", "an element-wise op with a Python scalar: x·c, x + 1, x / c",
     lambda op, g: _ew(op) and op.fwd_per_elem == 1 and len(op.inputs) == 1)
kind("copy", "a contiguous copy: head split and merge, expand, concatenation, padding; "
     "anything else element-wise (the fallback)", lambda op, g: True)
kind("grad-accumulate", "the sum of a shared parameter's gradients in the backward (tied "
     "embeddings and heads): an out-of-place add, timed as binary's forward; no graph "
     "operation matches it (see shared_parameter_sums)", lambda op, g: False,
     timed_as="binary", train_only=True)


def classify(op: Op, graph: Graph) -> KernelKind:
    """The first kernel kind of :data:`KINDS` that matches ``op``."""
    for k in KINDS.values():
        if k.matches(op, graph):
            return k
    raise AttncostError(f"no kernel kind matches operation {op.name!r}")  # pragma: no cover


# -- a graph as kernel calls ----------------------------------------------------------------


@dataclass(frozen=True)
class KernelCall:
    """One operation as a kernel: its kind, features, and the share of its backward that
    runs (0: no input needs a gradient; a matmul with one of two operands needing one: ½)."""

    op: str
    kind: str
    features: Features = field(default_factory=dict)
    backward: float = 1.0


def _backward_share(op: Op, need: dict[str, bool]) -> float:
    grads = [need.get(t, False) for t in op.inputs]
    if not any(grads):
        return 0.0
    if isinstance(op, MatMul):
        return sum(grads[:2]) / 2
    return 1.0


def kernel_calls(graph: Graph, input_requires_grad: bool = True) -> list[KernelCall]:
    """Every operation of ``graph`` as a :class:`KernelCall` (exact ints only: a graph built
    from symbols has no sizes to time)."""
    need = needs_grad_map(graph, input_requires_grad)
    out = []
    for op in graph.ops:
        k = classify(op, graph)
        feats = {} if k.included else k.features(op, graph)
        for name, v in feats.items():
            if not isinstance(v, int):
                raise AttncostError(f"operation {op.name!r}: {name}={v!r} is not an exact "
                                    f"integer; latency needs a graph built from numbers")
        out.append(KernelCall(op.name, k.name, feats, _backward_share(op, need)))
    return out + shared_parameter_sums(graph)


def shared_parameter_sums(graph: Graph) -> list[KernelCall]:
    """A ``grad-accumulate`` call for each use of a parameter beyond its first (tensors with
    one ``share_key`` or one root are one parameter): autograd adds the gradients of every
    use, out of place — for GPT-2's tied 50,257 × 768 table, 154 MB a step."""
    uses: dict[str, list[int]] = {}
    for op in graph.ops:
        for t in dict.fromkeys(graph.root(n) for n in op.inputs):
            tensor = graph.tensors[t]
            if tensor.role == "param":
                uses.setdefault(tensor.share_key or t, []).append(int(tensor.numel))
    return [KernelCall(f"{key}.grad_sum{i}", "grad-accumulate", {"numel": sizes[0]}, 1.0)
            for key, sizes in uses.items() for i in range(1, len(sizes))
            if isinstance(sizes[0], int)]


def block_prefix(name: str) -> str:
    """``blocks.3.`` of ``blocks.3.attn.q_proj`` (layer prefixes of stacks and models)."""
    m = re.match(r"^((?:blocks\.\d+\.)?(?:attn\.)?(?:l\d+\.)?)", name)
    return m.group(1) if m else ""
