"""The operation vocabulary: the one description every metric is derived from.

A variant (or a whole model) is a :class:`Graph`: named tensors plus the ordered operations
that produce them. Each operation knows, for its own shapes,

* its forward FLOPs, split into matrix-multiply FLOPs and the rest;
* its backward FLOPs for the inputs that need a gradient (derived per operation, not ×2);
* which tensors autograd saves for its backward;
* how many bytes it reads and writes.

Conventions (stated once, used everywhere):

* **FLOPs = 2 × multiply-accumulates (MACs)** for matrix multiplies, exactly as
  ``torch.utils.flop_counter.FlopCounterMode`` counts ``mm``/``bmm``/``addmm``.
* Non-matmul FLOPs ("other") are per-element counts given by each op's docstring
  (softmax: 5 forward, 4 backward; scaling, masking, bias add: 1; ...). No counter agrees on
  these, so they are reported separately and never mixed into the matmul figure.
* **Causal masking**: ``flops_fwd`` counts the full rectangle, as PyTorch executes and counts it;
  the ``useful`` figures count only the unmasked (lower-triangular) pairs, ℓ(ℓ+1)/2 per head
  (with a sliding window of w keys, :func:`band`: Σ min(i, w) over the ℓ queries), forward
  and backward alike.

Every size is an expression in the dimensions: a Python ``int`` when the graph is built from
numbers (exact, however large), a sympy expression when it is built from symbols. The same
builder code serves both, so the math is written once.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Iterable, Sequence

Size = Any  # int or sympy.Expr

#: Byte sizes of the storage classes a tensor can have; "act" and "param" are resolved from
#: the configuration's dtype when the metrics are computed.
FIXED_BYTES = {"bool": 1, "fp32": 4, "int64": 8}


def triangle(n: Size) -> Size:
    """n(n+1)/2: the number of (query, key) pairs a causal mask keeps for n positions."""
    if isinstance(n, int):
        return n * (n + 1) // 2
    return n * (n + 1) / 2


def band(n: int, window: int | None) -> int:
    """(query, key) pairs a causal sliding window of ``window`` keys keeps for n positions:
    query i (1-based) sees min(i, window) keys (Beltagy et al. 2020, arXiv 2004.05150; the
    Mistral 7B paper, arXiv 2310.06825, §2). ``window`` None: :func:`triangle`. Exact ints
    only: the count is piecewise in n, so it has no polynomial formula."""
    if window is None or window >= n:
        return triangle(n)
    return triangle(window) + (n - window) * window


@dataclass(frozen=True)
class Tensor:
    """A named tensor of the graph.

    role: ``input`` (the layer's input), ``act`` (an activation), ``param`` (a learnable weight
    or bias), ``const`` (a constant made on the fly, e.g. a causal mask).
    storage: ``act``/``param`` (sized by the configured dtype) or one of :data:`FIXED_BYTES`.
    alias_of: this tensor is a view of another one and shares its storage (no bytes of its own).
    share_key: parameters with the same key are one parameter (e.g. Linformer's layerwise E):
    counted once in a whole model.
    kv_cache: per-token state a causal decoder must keep for this tensor (keys, values, latents).
    kv_tokens: how many tokens of that state a decoder keeps after the whole batch of sequences
    (a sliding window: batch·min(seq_len, window)); None: every token.
    kv_window: the sliding window itself (tokens per sequence a decoder keeps at any length);
    None: every token.
    active: for routed experts' parameters (MoE), the elements one token uses (top-k of the
    experts); None: all of them.
    """

    name: str
    numel: Size
    role: str = "act"
    storage: str = "act"
    alias_of: str | None = None
    param_kind: str = "weight"  # "weight" or "bias" for role == "param"
    share_key: str | None = None
    kv_cache: bool = False
    grad: bool = True  # for inputs: may it carry a gradient (token ids and images do not)
    kv_tokens: Size | None = None
    kv_window: int | None = None
    active: Size | None = None


@dataclass(frozen=True)
class Op:
    """Base class: one operation reading ``inputs`` and writing ``outputs``."""

    name: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]

    is_matmul = False

    def macs(self) -> Size:
        return 0

    def flops_fwd_other(self) -> Size:
        return 0

    def flops_fwd_useful_matmul(self) -> Size:
        return 2 * self.macs()

    def flops_fwd_useful_other(self) -> Size:
        return self.flops_fwd_other()

    def flops_bwd_matmul(self, needs_grad: dict[str, bool]) -> Size:
        return 0

    def flops_bwd_other(self, needs_grad: dict[str, bool]) -> Size:
        return 0

    def flops_bwd_recompute(self) -> Size:
        return 0

    def flops_bwd_useful(self, needs_grad: dict[str, bool]) -> Size:
        """Backward FLOPs (matmul, other and recomputation) on unmasked pairs only."""
        return (self.flops_bwd_matmul(needs_grad) + self.flops_bwd_other(needs_grad)
                + self.flops_bwd_recompute())

    def saved(self, needs_grad: dict[str, bool]) -> tuple[str, ...]:
        return ()


@dataclass(frozen=True)
class MatMul(Op):
    """``out[batch] = a[batch] (m×k) @ b[batch] (k×n)`` (+ bias over n), batched.

    Forward: batch·m·k·n MACs (+ batch·m·n bias adds, "other").
    Backward: grad_a = grad_out @ bᵀ and grad_b = aᵀ @ grad_out, batch·m·n·k MACs each, only for
    operands that need a gradient; the bias gradient is a sum over rows (batch·m·n adds).
    Saved: ``a`` when ``b`` needs a gradient, ``b`` when ``a`` does (as ``mm``/``bmm`` do).
    ``useful_macs``: MACs on unmasked pairs when a causal mask makes part of the work wasted.
    """

    batch: Size = 1
    m: Size = 1
    k: Size = 1
    n: Size = 1
    bias: str | None = None
    useful_macs: Size | None = None

    is_matmul = True

    def macs(self) -> Size:
        return self.batch * self.m * self.k * self.n

    def flops_fwd_other(self) -> Size:
        return self.batch * self.m * self.n if self.bias else 0

    def flops_fwd_useful_matmul(self) -> Size:
        return 2 * (self.macs() if self.useful_macs is None else self.useful_macs)

    def flops_bwd_matmul(self, needs_grad: dict[str, bool]) -> Size:
        a, b = self.inputs[0], self.inputs[1]
        return 2 * self.macs() * (int(needs_grad[a]) + int(needs_grad[b]))

    def flops_bwd_other(self, needs_grad: dict[str, bool]) -> Size:
        return self.batch * self.m * self.n if self.bias else 0

    def flops_bwd_useful(self, needs_grad: dict[str, bool]) -> Size:
        """Each gradient matmul on the unmasked pairs only (``useful_macs``)."""
        if self.useful_macs is None:
            return super().flops_bwd_useful(needs_grad)
        a, b = self.inputs[0], self.inputs[1]
        grads = int(needs_grad[a]) + int(needs_grad[b])
        return 2 * self.useful_macs * grads + self.flops_bwd_other(needs_grad)

    def saved(self, needs_grad: dict[str, bool]) -> tuple[str, ...]:
        a, b = self.inputs[0], self.inputs[1]
        out = []
        if needs_grad[b]:
            out.append(a)
        if needs_grad[a]:
            out.append(b)
        return tuple(out)


@dataclass(frozen=True)
class Elementwise(Op):
    """A per-element operation over ``numel`` elements (optionally with extra outputs).

    ``fwd_per_elem`` / ``bwd_per_elem``: FLOPs per element (the op's docstring at its call site
    says which convention). ``save``: tensors autograd keeps for backward. ``useful_numel``:
    elements that are not masked out by a causal mask. ``bwd_workspace``: how many temporaries
    of ``numel`` elements its backward formula allocates at once (peak memory only).
    ``row_len``: for a row-wise op (a softmax), the length of the rows it normalises when the
    graph cannot tell it from the producing matmul (a softmax over each head's features);
    None: read off the graph (latency features only; no count depends on it).
    """

    numel: Size = 0
    fwd_per_elem: int = 0
    bwd_per_elem: int = 0
    save: tuple[str, ...] = ()
    useful_numel: Size | None = None
    bwd_workspace: int = 0  # temporaries of ``numel`` elements its backward formula makes
    grad_is_view: bool = False  # a sum: its input's gradient is an expanded view (no bytes)
    row_len: Size | None = None

    def flops_fwd_other(self) -> Size:
        return self.fwd_per_elem * self.numel

    def flops_fwd_useful_other(self) -> Size:
        n = self.numel if self.useful_numel is None else self.useful_numel
        return self.fwd_per_elem * n

    def flops_bwd_other(self, needs_grad: dict[str, bool]) -> Size:
        if not any(needs_grad.get(t, False) for t in self.inputs):
            return 0
        return self.bwd_per_elem * self.numel

    def flops_bwd_useful(self, needs_grad: dict[str, bool]) -> Size:
        if self.useful_numel is None or not any(needs_grad.get(t, False) for t in self.inputs):
            return self.flops_bwd_other(needs_grad)
        return self.bwd_per_elem * self.useful_numel

    def saved(self, needs_grad: dict[str, bool]) -> tuple[str, ...]:
        if not any(needs_grad.get(t, False) for t in self.inputs):
            return ()
        return self.save


@dataclass(frozen=True)
class FusedAttention(Op):
    """``softmax(q kᵀ · scale [+ causal mask]) v`` in one flash-style kernel (SDPA).

    inputs (q, k, v); outputs (out, lse). Same FLOPs as the materialised computation (two
    matmuls of batch_heads·q_len·kv_len·d MACs; scale 1 + softmax 5 FLOPs per score), but the
    scores never reach memory. Backward: dV, dP, dQ, dK (4 matmuls' worth) plus the
    recomputation of q kᵀ (its matmul FLOPs in ``flops_bwd_recompute``; PyTorch's
    ``sdpa_backward_flop_count`` counts all five) and of the softmax (in the "other" FLOPs).
    Saved: q, k, v (and a mask, when given one as a fourth input), out and the fp32
    log-sum-exp (batch_heads·q_len). ``window``: a causal sliding window (the kernel still
    computes the whole rectangle; the useful figures count the band, :func:`band`).
    """

    batch_heads: Size = 1
    q_len: Size = 1
    kv_len: Size = 1
    d_qk: Size = 1
    d_v: Size = 1
    causal: bool = False
    window: Size | None = None

    is_matmul = True

    def macs(self) -> Size:
        return self.batch_heads * self.q_len * self.kv_len * (self.d_qk + self.d_v)

    def _scores(self) -> Size:
        return self.batch_heads * self.q_len * self.kv_len

    def _useful_scores(self) -> Size:
        if self.window is not None:
            return self.batch_heads * band(self.q_len, self.window)
        if self.causal:
            return self.batch_heads * triangle(self.q_len)
        return self._scores()

    def flops_fwd_other(self) -> Size:
        return 6 * self._scores()  # scale 1 + softmax 5 per score

    def flops_fwd_useful_matmul(self) -> Size:
        return 2 * self._useful_scores() * (self.d_qk + self.d_v)

    def flops_fwd_useful_other(self) -> Size:
        return 6 * self._useful_scores()

    def flops_bwd_matmul(self, needs_grad: dict[str, bool]) -> Size:
        return 2 * self._scores() * (2 * self.d_v + 2 * self.d_qk)

    def flops_bwd_other(self, needs_grad: dict[str, bool]) -> Size:
        # softmax backward 4 + scale 1 per score, plus the recomputed scale and softmax (6)
        return 11 * self._scores()

    def flops_bwd_recompute(self) -> Size:
        return 2 * self._scores() * self.d_qk

    def flops_bwd_useful(self, needs_grad: dict[str, bool]) -> Size:
        """The backward's matmuls, recomputation and per-score work on unmasked pairs."""
        useful = self._useful_scores()
        return 2 * useful * (2 * self.d_v + 3 * self.d_qk) + 11 * useful

    def saved(self, needs_grad: dict[str, bool]) -> tuple[str, ...]:
        return tuple(self.inputs) + tuple(self.outputs)


@dataclass
class Graph:
    """Tensors and the ordered operations of one attention layer or one whole model.

    ``notes``: facts the output must state (e.g. "Super's W_A fixes seq_len at 512").
    ``kv_cache_note``: why a KV cache is not defined, when it is not.
    ``decode_state``: elements of constant decoding state (kernel-linear), when that is the form.
    ``softmax_core``: a softmax-attention core (``variants.core.attention``) was built, where a
    sliding window and logit soft-capping apply.
    """

    tensors: dict[str, Tensor] = field(default_factory=dict)
    ops: list[Op] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    kv_cache_note: str | None = None
    decode_state: Size | None = None
    tokens: Size = 1  # batch · seq_len: what "per token" divides by
    softmax_core: bool = False
    output: str = "out"  # the tensor the caller receives (live to the end; its gradient starts)
    #: (tensor, op name): the tensor stays referenced until that op has run (Python code holds
    #: it, e.g. a projection's output while its head-split copy is used)
    holds: list[tuple[str, str]] = field(default_factory=list)
    #: (operation-name prefix, :func:`attncost.graphs.attention_key`) of each attention layer,
    #: in order: which operations make up each layer (the latency predictor scales them by
    #: their variant's correction, :func:`attncost.latency.reference.fit_corrections`). Set
    #: by the graph builders.
    attention_layers: list[tuple[str, str]] = field(default_factory=list)

    def tensor(self, name: str, numel: Size, **kw: Any) -> str:
        if name in self.tensors:
            raise ValueError(f"tensor {name!r} declared twice")
        self.tensors[name] = Tensor(name, numel, **kw)
        return name

    def param(self, name: str, numel: Size, kind: str = "weight", share_key: str | None = None) -> str:
        return self.tensor(name, numel, role="param", storage="param", param_kind=kind,
                           share_key=share_key)

    def add(self, op: Op) -> Op:
        for t in (*op.inputs, *op.outputs):
            if t not in self.tensors:
                raise ValueError(f"op {op.name!r} uses undeclared tensor {t!r}")
        self.ops.append(op)
        return op

    def view(self, name: str, of: str, numel: Size | None = None, **kw: Any) -> str:
        """A view (reshape, transpose or slice without copy) of ``of``: shares its storage."""
        base = self.root(of)
        size = self.tensors[of].numel if numel is None else numel
        return self.tensor(name, size, alias_of=base, **kw)

    def root(self, name: str) -> str:
        t = self.tensors[name]
        return t.alias_of if t.alias_of else name

    def hold(self, tensor: str, until_op: str) -> None:
        """Keep ``tensor`` live until the op named ``until_op`` has run."""
        self.holds.append((tensor, until_op))

    def extend(self, other: "Graph", prefix: str, rename: dict[str, str]) -> None:
        """Append another graph's tensors and ops, prefixing names (``rename`` maps its
        input/output tensor names onto tensors of this graph)."""

        def nm(n: str) -> str:
            return rename.get(n, prefix + n)

        for t in other.tensors.values():
            if t.name in rename:
                target = rename[t.name]
                if t.kv_cache and not self.tensors[target].kv_cache:
                    # the variant caches its input itself (keys/values are slices of it)
                    self.tensors[target] = replace(self.tensors[target], kv_cache=True,
                                                   kv_tokens=t.kv_tokens,
                                                   kv_window=t.kv_window)
                continue
            share = t.share_key
            self.tensors[nm(t.name)] = Tensor(
                nm(t.name), t.numel, role=t.role, storage=t.storage,
                alias_of=nm(t.alias_of) if t.alias_of else None, param_kind=t.param_kind,
                share_key=share, kv_cache=t.kv_cache, grad=t.grad, kv_tokens=t.kv_tokens,
                kv_window=t.kv_window, active=t.active)
        for op in other.ops:
            fields = {f: getattr(op, f) for f in op.__dataclass_fields__}
            fields["name"] = prefix + op.name
            fields["inputs"] = tuple(nm(t) for t in op.inputs)
            fields["outputs"] = tuple(nm(t) for t in op.outputs)
            if isinstance(op, MatMul) and op.bias:
                fields["bias"] = nm(op.bias)
            if isinstance(op, Elementwise):
                fields["save"] = tuple(nm(t) for t in op.save)
            self.ops.append(type(op)(**fields))
        self.holds.extend((nm(t), prefix + op_name) for t, op_name in other.holds)

    # -- helpers used by the variant builders -------------------------------------------

    def linear(self, name: str, x: str, out: str, tokens: Size, d_in: Size, d_out: Size,
               bias: bool, share_key: str | None = None) -> str:
        """``out = x @ W (+ b)``, W ∈ R^{d_in×d_out}: an ``nn.Linear`` over ``tokens`` rows."""
        w = self.param(f"{name}.weight", d_in * d_out, share_key=share_key)
        b = self.param(f"{name}.bias", d_out, kind="bias") if bias else None
        if out not in self.tensors:
            self.tensor(out, tokens * d_out)
        self.add(MatMul(name, (x, w), (out,), batch=1, m=tokens, k=d_in, n=d_out, bias=b))
        return out

    def copy(self, name: str, x: str, out: str) -> str:
        """A contiguous copy (head split or merge, expand): 0 FLOPs, no saved tensors."""
        self.tensor(out, self.tensors[x].numel)
        self.add(Elementwise(name, (x,), (out,), numel=self.tensors[x].numel))
        return out

    def inputs_needing_grad(self) -> Iterable[str]:
        return (n for n, t in self.tensors.items() if t.role in ("input", "param"))


def producers(graph: Graph) -> dict[str, int]:
    """Index of the op that produces each tensor (-1 for inputs, params and constants made
    outside the op list)."""
    prod: dict[str, int] = {n: -1 for n in graph.tensors}
    for i, op in enumerate(graph.ops):
        for t in op.outputs:
            prod[t] = i
    for n, t in graph.tensors.items():
        if t.alias_of is not None:
            prod[n] = prod[t.alias_of] if prod[n] == -1 else prod[n]
    return prod


def needs_grad_map(graph: Graph, input_requires_grad: bool) -> dict[str, bool]:
    """Which tensors carry a gradient: params, the input if asked, and anything computed from
    one of those (constants and masks never do). One pass over the ops."""
    need: dict[str, bool] = {}
    views_of: dict[str, list[str]] = {}
    for n, t in graph.tensors.items():
        if t.role == "param":
            need[n] = True
        elif t.role == "input":
            need[n] = input_requires_grad and t.grad
        else:
            need[n] = False
        if t.alias_of is not None:
            views_of.setdefault(t.alias_of, []).append(n)
    for n, t in graph.tensors.items():
        if t.alias_of is not None and t.role != "param":
            need[n] = need[t.alias_of] or need[n]
    for op in graph.ops:
        g = any(need[t] for t in op.inputs)
        for t in op.outputs:
            if graph.tensors[t].storage == "act":
                need[t] = need[t] or g
            for n in views_of.get(t, ()):  # views declared after their base was computed
                need[n] = need[n] or need[t]
    return need


def consumers(graph: Graph) -> dict[str, list[int]]:
    """Ops reading each tensor; a view's reads count as reads of its base storage too."""
    cons: dict[str, list[int]] = {n: [] for n in graph.tensors}
    for i, op in enumerate(graph.ops):
        for t in op.inputs:
            cons[t].append(i)
            root = graph.root(t)
            if root != t:
                cons[root].append(i)
    return cons


def unique(seq: Sequence[str]) -> list[str]:
    seen: dict[str, None] = {}
    for s in seq:
        seen.setdefault(s, None)
    return list(seen)
