"""Memory peaks by a liveness walk over the graph, linear in the number of operations.

The walk follows eager PyTorch executing the modules of :mod:`attncost.nn`:

* Forward (inference, and the forward half of training): a tensor lives from the op that
  makes it to its last reader, or longer where Python code holds a reference
  (``Graph.holds``); the caller holds the input and receives the output. In training,
  tensors autograd saved stay until their backward.
* Backward, walking the ops in reverse: the saved tensors still needed, the activation
  gradients alive (a tensor's gradient appears at the backward of its last reader whose
  backward makes a real buffer — a sum's only expands a view — and is freed once its
  producer's backward has run), the parameter gradients made so far (at the backward of a
  parameter's last reader; ``zero_grad(set_to_none=True)``), and the transient buffers of
  the op itself: one gradient per input position before autograd sums them, and the
  temporaries of its backward formula (``bwd_workspace``).

Every candidate is a running sum updated only by the events at each op (a tensor starts,
ends, is released): the walk is O(ops + tensors), which keeps a 128-block model fast.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..ops import consumers, producers
from ..sizes import Size

if TYPE_CHECKING:
    from .walk import GraphFacts


@dataclass(frozen=True)
class PeakCandidates:
    """Live bytes at each step, less the weights and optimizer state (added by the metric)."""

    inference: list[Size]
    training: list[Size]


def _events(index: dict[str, int]) -> dict[int, list[str]]:
    by_step: dict[int, list[str]] = defaultdict(list)
    for name, i in index.items():
        by_step[i].append(name)
    return by_step


def _bytes_by_step(f: "GraphFacts", events: dict[int, list[str]]) -> dict[int, Size]:
    """The bytes of each step's tensors, summed once."""
    return {i: f.add_all(f.nbytes(r) for r in names) for i, names in events.items()}


def _lifetimes(f: "GraphFacts", roots: list[str], prod: dict[str, int],
               cons: dict[str, list[int]]) -> dict[str, int]:
    """The last step at which each root storage is referenced (``n_ops``: to the end)."""
    g, n_ops = f.graph, len(f.graph.ops)
    last_use = {r: max(cons[r], default=prod[r]) for r in roots}  # by the ops themselves
    op_index = {op.name: i for i, op in enumerate(g.ops)}
    for t, op_name in g.holds:  # ... or by references the code holds
        r = g.root(t)
        if r in last_use:
            last_use[r] = max(last_use[r], op_index[op_name])
    if g.output in last_use:
        last_use[g.output] = n_ops
    for r in roots:
        if g.tensors[r].role == "input":  # the caller holds its input for the whole step
            last_use[r] = n_ops
    return last_use


def forward_candidates(f: "GraphFacts", roots: list[str], prod: dict[str, int],
                       last_use: dict[str, int]) -> tuple[list[Size], list[Size]]:
    """Live bytes at every op of a forward pass: without autograd (inference) and with the
    saved tensors kept (training)."""
    saved = set(f.all_saved)
    starts = _events({r: max(prod[r], 0) for r in roots})
    ends = _events(last_use)
    live: Size = 0
    live_train: Size = 0
    inference, training = [], []
    for i in range(len(f.graph.ops)):
        for r in starts.get(i, ()):
            live = live + f.nbytes(r)
            live_train = live_train + f.nbytes(r)
        inference.append(live)
        training.append(live_train)
        for r in ends.get(i, ()):
            live = live - f.nbytes(r)
            if r not in saved:
                live_train = live_train - f.nbytes(r)
    return inference, training


def _param_grad_starts(f: "GraphFacts") -> dict[int, list[Size]]:
    """Bytes of each parameter gradient, by the step whose backward makes it (its last
    reader's); parameters with one ``share_key`` have one gradient (the latest start)."""
    g, n_ops = f.graph, len(f.graph.ops)
    last_reader: dict[str, int] = {}
    for i, op in enumerate(g.ops):
        for x in op.inputs:
            r = f.root[x]
            if g.tensors[r].role == "param":
                last_reader[r] = i
    by_key: dict[str, tuple[int, Size]] = {}
    for n, t in g.tensors.items():
        if t.role != "param":
            continue
        key = t.share_key or n
        start = last_reader.get(n, n_ops)
        if key not in by_key or start > by_key[key][0]:
            by_key[key] = (start, t.numel * f.act_bytes)
    out: dict[int, list[Size]] = defaultdict(list)
    for start, nb in by_key.values():
        out[min(start, n_ops)].append(nb)
    return out


def _transient(f: "GraphFacts", i: int, grad_start: dict[str, int]) -> Size:
    """Buffers op ``i``'s backward makes on top of what lives: a second gradient for a
    second position of one storage, or for a storage whose gradient already exists (read by
    a later op too), before autograd adds them up; plus its formula's temporaries."""
    g, need = f.graph, f.need
    op = g.ops[i]
    extra: list[Size] = []
    seen: set[str] = set()
    for t in op.inputs:
        r = f.root[t]
        if not need.get(t) or g.tensors[r].role == "param" or g.tensors[r].storage != "act":
            continue
        if r in seen or grad_start.get(r, -1) > i:
            extra.append(f.nbytes(t))
        seen.add(r)
    workspace = getattr(op, "bwd_workspace", 0)
    if workspace and any(need.get(t) for t in op.inputs):
        extra.append(workspace * op.numel * f.act_bytes)
    return f.add_all(extra)


def backward_candidates(f: "GraphFacts", roots: list[str], prod: dict[str, int],
                        cons: dict[str, list[int]], last_read: dict[str, int]) -> list[Size]:
    """Live bytes at the backward of every op, walking the ops in reverse."""
    g, need, n_ops = f.graph, f.need, len(f.graph.ops)
    grad_roots = [r for r in roots if need.get(r) and g.tensors[r].storage == "act"
                  and (cons[r] or r == g.output)]
    grad_start = {r: n_ops if r == g.output else max(
        (i for i in cons[r] if not getattr(g.ops[i], "grad_is_view", False)),
        default=last_read[r]) for r in grad_roots}
    made = _bytes_by_step(f, _events(grad_start))
    for i, sizes in _param_grad_starts(f).items():
        made[i] = made.get(i, 0) + f.add_all(sizes)
    freed = _bytes_by_step(f, _events({r: prod[r] for r in grad_roots if prod[r] >= 0}))
    first_saver: dict[str, int] = {}
    for i, saved in enumerate(f.saved_by):
        for s in saved:
            first_saver.setdefault(s, i)
    # a saved tensor is freed after the backward of the first op that saved it
    for i, size in _bytes_by_step(f, _events(first_saver)).items():
        freed[i] = freed.get(i, 0) + size
    saved = set(f.all_saved)
    held = f.add_all(f.nbytes(r) for r in roots
                     if g.tensors[r].role == "input" and r not in saved)
    live = held + f.add_all(f.nbytes(s) for s in f.all_saved) + made.get(n_ops, 0)
    out = []
    for i in reversed(range(n_ops)):
        live = live + made.get(i, 0)
        out.append(live + _transient(f, i, grad_start))
        live = live - freed.get(i, 0)
    return out


def peak_candidates(f: "GraphFacts") -> PeakCandidates:
    """The inference and training candidates of :class:`PeakCandidates` (distinct values,
    in order: ints and sympy expressions both hash by value)."""
    g = f.graph
    prod, cons = producers(g), consumers(g)
    roots = [n for n, t in g.tensors.items() if t.alias_of is None and t.role != "param"]
    last_read = {r: max(cons[r], default=prod[r]) for r in roots}
    last_use = _lifetimes(f, roots, prod, cons)
    inference, fwd = forward_candidates(f, roots, prod, last_use)
    bwd = backward_candidates(f, roots, prod, cons, last_read)
    return PeakCandidates(_distinct(inference), _distinct(fwd + bwd))


def _distinct(items: list[Any]) -> list[Any]:
    return list(dict.fromkeys(items))
