"""The metric table: every metric attncost reports, defined once.

A metric is a small function of a graph's facts (:class:`attncost.costs.GraphFacts`),
registered with :func:`metric` together with everything its consumers need: its unit, its row
label in tables, a short label for narrow tables (``compare``), the quantity it measures (plot
axes, report columns), whether it is a headline metric (``compare``'s columns, ratios, the
report's tables, the benchmark's contract) and whether a table omits its row when no estimate
has a value. The JSON, CSV and table outputs, ``compare``, ``sweep``, the plots, the report and
``attncost bench`` all read :data:`METRICS`; adding a metric is one decorated function here.

Each function's docstring gives its formula's convention; the memory model is stated in
:mod:`attncost.costs.derive`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

from .errors import AttncostError, unknown

if TYPE_CHECKING:
    from .costs.walk import GraphFacts

UNITS = ("count", "FLOP", "B")


@dataclass(frozen=True)
class Metric:
    """One metric and how every consumer shows it."""

    name: str
    unit: str  # "count", "FLOP" or "B"
    label: str  # its row in a table
    short: str  # its column in a narrow table
    quantity: str  # what it measures, for plot axes and report columns
    compute: Callable[["GraphFacts"], Any]
    headline: bool = False
    parent: str | None = None  # shown indented under this metric
    hide_if_empty: bool = False  # omit the row when no estimate has a (non-zero) value

    def axis_label(self) -> str:
        """``quantity (bytes)`` for byte metrics, the quantity otherwise."""
        return f"{self.quantity} (bytes)" if self.unit == "B" else self.quantity


#: Every metric, in output order.
METRICS: dict[str, Metric] = {}
_changes = 0  # bumped on every (re)registration: cached formulas are keyed by it


def generation() -> int:
    """A number that changes whenever the metric table does (cache keys use it)."""
    return _changes


def metric(name: str, *, unit: str, label: str, short: str | None = None,
           quantity: str | None = None, headline: bool = False, parent: str | None = None,
           hide_if_empty: bool = False, replace: bool = False
           ) -> Callable[[Callable[["GraphFacts"], Any]], Callable[["GraphFacts"], Any]]:
    """Decorator: register ``compute(facts)`` as metric ``name`` (a duplicate name is refused
    unless ``replace``)."""
    if unit not in UNITS:
        raise AttncostError(f"metric {name!r}: unit {unit!r} is not one of {', '.join(UNITS)}")

    def deco(fn: Callable[["GraphFacts"], Any]) -> Callable[["GraphFacts"], Any]:
        global _changes
        if name in METRICS and not replace:
            raise AttncostError(f"metric {name!r} is already registered; pass replace=True "
                                f"to replace it")
        METRICS[name] = Metric(name, unit, label, short or name, quantity or label, fn,
                               headline, parent, hide_if_empty)
        _changes += 1
        return fn

    return deco


def unregister(name: str) -> None:
    """Remove metric ``name`` (a user's, e.g. at the end of a test)."""
    global _changes
    get(name)
    del METRICS[name]
    _changes += 1


def get(name: str) -> Metric:
    """The metric called ``name``; UnknownNameError lists the allowed names."""
    try:
        return METRICS[name]
    except KeyError:
        raise unknown("metric", name, METRICS) from None


def headline() -> list[str]:
    """The headline metrics, in output order."""
    return [m.name for m in METRICS.values() if m.headline]


# -- parameters ----------------------------------------------------------------------------


@metric("params", unit="count", label="Parameters", short="params", quantity="parameters",
        headline=True)
def _params(f: "GraphFacts") -> Any:
    """Weights + biases; parameters sharing a ``share_key`` once."""
    return f.metric("params_weights") + f.metric("params_biases")


@metric("params_weights", unit="count", label="weights", parent="params",
        quantity="weight parameters")
def _params_weights(f: "GraphFacts") -> Any:
    return f.param_counts[0]


@metric("params_biases", unit="count", label="biases", parent="params",
        quantity="bias parameters")
def _params_biases(f: "GraphFacts") -> Any:
    return f.param_counts[1]


@metric("params_active", unit="count", label="active per token (MoE: top-k experts)",
        short="active params", parent="params", quantity="active parameters per token")
def _params_active(f: "GraphFacts") -> Any:
    """Parameters one token's forward uses: a mixture of experts' routed experts count k of
    their E (``Tensor.active``; Shazeer et al. 2017, arXiv 1701.06538), everything else in
    full (router, shared experts, attention, embeddings and LM head); equal to ``params`` for
    a dense model. Parameters sharing a ``share_key`` count once."""
    return f.add_all([t.numel if t.active is None else t.active for t in f.unique_params])


# -- FLOPs ---------------------------------------------------------------------------------


@metric("flops_fwd", unit="FLOP", label="FLOPs forward", short="FLOPs fwd",
        quantity="forward FLOPs", headline=True)
def _flops_fwd(f: "GraphFacts") -> Any:
    """Matmul FLOPs (2 × multiply-accumulates) + other FLOPs, full rectangle under causal."""
    return f.metric("flops_fwd_matmul") + f.metric("flops_fwd_other")


@metric("flops_fwd_matmul", unit="FLOP", label="matmul (2×MAC)", parent="flops_fwd",
        quantity="forward matmul FLOPs")
def _flops_fwd_matmul(f: "GraphFacts") -> Any:
    return f.op_total("flops_fwd_matmul")


@metric("flops_fwd_other", unit="FLOP", label="other (softmax, scale, mask…)",
        parent="flops_fwd", quantity="forward non-matmul FLOPs")
def _flops_fwd_other(f: "GraphFacts") -> Any:
    return f.op_total("flops_fwd_other")


@metric("flops_fwd_useful", unit="FLOP", label="useful (causal: unmasked only)",
        parent="flops_fwd", quantity="useful forward FLOPs")
def _flops_fwd_useful(f: "GraphFacts") -> Any:
    """Forward FLOPs on unmasked (query, key) pairs only: ℓ(ℓ+1)/2 per head under causal."""
    return f.add_all(op.flops_fwd_useful_matmul() + op.flops_fwd_useful_other()
                     for op in f.graph.ops)


@metric("flops_bwd", unit="FLOP", label="FLOPs backward", short="FLOPs bwd",
        quantity="backward FLOPs", headline=True)
def _flops_bwd(f: "GraphFacts") -> Any:
    """Gradients of every operand that needs one (per op, not 2 × forward) + recomputation."""
    return (f.metric("flops_bwd_matmul") + f.metric("flops_bwd_other")
            + f.metric("flops_bwd_recompute"))


@metric("flops_bwd_matmul", unit="FLOP", label="matmul (gradients)", parent="flops_bwd",
        quantity="backward matmul FLOPs")
def _flops_bwd_matmul(f: "GraphFacts") -> Any:
    return f.op_total("flops_bwd_matmul")


@metric("flops_bwd_other", unit="FLOP", label="other", parent="flops_bwd",
        quantity="backward non-matmul FLOPs")
def _flops_bwd_other(f: "GraphFacts") -> Any:
    return f.op_total("flops_bwd_other")


@metric("flops_bwd_recompute", unit="FLOP", label="flash recompute of q·kᵀ (matmul)",
        parent="flops_bwd", quantity="backward recomputation FLOPs", hide_if_empty=True)
def _flops_bwd_recompute(f: "GraphFacts") -> Any:
    return f.op_total("flops_bwd_recompute")


@metric("flops_bwd_useful", unit="FLOP", label="useful (causal: unmasked only)",
        parent="flops_bwd", quantity="useful backward FLOPs")
def _flops_bwd_useful(f: "GraphFacts") -> Any:
    """Backward FLOPs (gradients, other, recomputation) on unmasked (query, key) pairs only:
    ℓ(ℓ+1)/2 per head under causal, the band under a sliding window; equal to ``flops_bwd``
    without a mask."""
    return f.add_all(op.flops_bwd_useful(f.need) for op in f.graph.ops)


# -- memory --------------------------------------------------------------------------------


@metric("weight_bytes", unit="B", label="Weights", quantity="weights")
def _weight_bytes(f: "GraphFacts") -> Any:
    return f.metric("params") * f.act_bytes


@metric("grad_bytes", unit="B", label="Gradients", quantity="gradients")
def _grad_bytes(f: "GraphFacts") -> Any:
    return f.metric("params") * f.act_bytes


@metric("optimizer_bytes", unit="B", label="Optimizer states (+fp32 master)",
        quantity="optimizer state")
def _optimizer_bytes(f: "GraphFacts") -> Any:
    return f.metric("params") * f.optimizer_bytes_per_param


@metric("activation_bytes", unit="B", label="Activations saved for backward",
        short="saved act.", quantity="activations saved for backward", headline=True)
def _activation_bytes(f: "GraphFacts") -> Any:
    return f.add_all(f.nbytes(s) for s in f.all_saved)


@metric("inference_peak_bytes", unit="B", label="Inference peak", short="infer peak",
        quantity="inference peak memory", headline=True)
def _inference_peak_bytes(f: "GraphFacts") -> Any:
    from .costs.derive import Peak

    return Peak(f.metric("weight_bytes"), tuple(f.peaks.inference))


@metric("train_peak_bytes", unit="B", label="Training peak", short="train peak",
        quantity="training-step peak memory", headline=True)
def _train_peak_bytes(f: "GraphFacts") -> Any:
    from .costs.derive import Peak

    return Peak(f.metric("weight_bytes") + f.metric("optimizer_bytes"),
                tuple(f.peaks.training))


# -- decoding ------------------------------------------------------------------------------


@metric("kv_cache_bytes_per_token", unit="B", label="KV cache per token", short="KV/token",
        quantity="KV cache per token", headline=True)
def _kv_cache_bytes_per_token(f: "GraphFacts") -> Any:
    """Bytes per token of the tensors a causal decoder keeps; None where it cannot decode."""
    from .costs.derive import per_token

    if f.graph.kv_cache_note:
        return None
    kept = f.add_all(t.numel for t in f.graph.tensors.values() if t.kv_cache)
    return per_token(kept, f.graph.tokens) * f.act_bytes


@metric("kv_cache_bytes", unit="B", label="KV cache at seq_len (whole batch)",
        short="KV cache", quantity="KV cache at the sequence length")
def _kv_cache_bytes(f: "GraphFacts") -> Any:
    """Bytes a causal decoder keeps after batch × seq_len tokens: kv_cache_bytes_per_token ×
    batch × seq_len, except that a sliding-window layer keeps at most ``window`` tokens per
    sequence (``Tensor.kv_tokens``); None where the model cannot decode."""
    from .costs.derive import per_token

    if f.graph.kv_cache_note:
        return None
    kept = f.add_all(t.numel if t.kv_tokens is None else
                     per_token(t.numel, f.graph.tokens) * t.kv_tokens
                     for t in f.graph.tensors.values() if t.kv_cache)
    return kept * f.act_bytes


@metric("decode_state_bytes", unit="B", label="Decode state per sequence",
        quantity="decode state per sequence", hide_if_empty=True)
def _decode_state_bytes(f: "GraphFacts") -> Any:
    """Constant decoding state (kernel-linear attention's running sums), where that is the
    form; None otherwise."""
    state = f.graph.decode_state
    return None if state is None else state * f.act_bytes


# -- memory traffic ------------------------------------------------------------------------


@metric("bytes_fwd", unit="B", label="Bytes moved forward", quantity="bytes moved forward")
def _bytes_fwd(f: "GraphFacts") -> Any:
    return f.op_total("bytes_fwd")


@metric("bytes_bwd", unit="B", label="Bytes moved backward", quantity="bytes moved backward")
def _bytes_bwd(f: "GraphFacts") -> Any:
    return f.op_total("bytes_bwd")
