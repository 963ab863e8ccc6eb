"""Reference layers and models: the framework's cost around the kernels.

Eager PyTorch spends time around each kernel that no kernel timing contains: module calls,
views and reshapes, Python. The profile times

* every registered variant's **layer** at three sizes (:data:`REFERENCE_SIZES`): a tiny one
  (d_model 16, 2 heads, 8 tokens, batch 1 — where kernels take almost nothing, so what is
  left is the framework's work), a small one (d_model 64, 4 heads, 64 tokens, batch 2) and a
  mid-sized one (d_model 128, 4 heads, 128 tokens, batch 2 — as large as the layers users
  time, where kernels dominate and run on operands that the previous operation just wrote
  rather than on the warm, repeated inputs of a kernel timing; without it the in-situ
  factors were fitted where kernels barely show, and a one-thread forward's matmul factors
  came out far from what larger layers need);
* a few tiny **models** (:data:`REFERENCE_MODELS`: a GPT-2-shaped language model, a
  mean-pooled classifier, a LLaMA-shaped model with RMSNorm and a gated MLP, a ViT), each
  with 1 and 2 blocks — the glue of blocks, norms, feed-forwards and heads.

:func:`fit_overheads` sets, per thread count and mode, the predictor's ``in_situ`` factor
(how much longer kernels take inside a layer than timed alone) and its ``overhead_s``: the
seconds of framework work per operation **of each kernel kind** (an ``nn.Linear`` call costs
more glue than an in-place mask), per transformer block and per call of the whole graph —
the non-negative values that best explain the references' times from their predicted
kernels (least squares on relative error, scipy's NNLS). No judged configuration
(:mod:`attncost.latency.judge`) is among them.
"""

from __future__ import annotations

import functools
import math
from collections import Counter
from dataclasses import dataclass
from typing import Any, Callable

from .kernels import KINDS, Features, KernelCall

PREFIX = "layer:"
MODEL_PREFIX = "model:"
REFERENCE_SIZE: Features = {"d_model": 16, "heads": 2, "seq_len": 8, "batch": 1}
#: The sizes reference layers are timed at (see the module's docstring).
REFERENCE_SIZES: tuple[Features, ...] = (
    REFERENCE_SIZE, {"d_model": 64, "heads": 4, "seq_len": 64, "batch": 2},
    {"d_model": 128, "heads": 4, "seq_len": 128, "batch": 2})


def _tiny_vit(layers: int) -> Any:
    from ..config import AttentionConfig, ModelConfig

    return ModelConfig(name="ref-vit", layers=("standard",) * layers, d_ff=32, image_size=8,
                       patch_size=4, channels=1, pooling="mean", class_head=(4,),
                       max_positions=4, pre_norm=True, final_norm=True,
                       attention=AttentionConfig(d_model=16, heads=2, seq_len=4, batch=1))


def _tiny_preset(name: str, **extra: Any) -> Callable[[int], Any]:
    def build(layers: int) -> Any:
        from ..config import preset

        return preset(name, d_model=16, heads=2, seq_len=8, batch=1, layers=layers, d_ff=32,
                      vocab=64, **extra)
    return build


#: Tiny reference models by name: a builder of the ModelConfig with a given number of blocks.
REFERENCE_MODELS: dict[str, Callable[[int], Any]] = {
    "gpt2": _tiny_preset("gpt2", max_positions=8),
    "seed-imdb": _tiny_preset("seed-imdb"),
    "smollm2-135m": _tiny_preset("smollm2-135m", kv_heads=1),
    "vit": _tiny_vit,
}


def reference_layers() -> list[tuple[str, Features]]:
    """(kind, features) of the reference layers and models: ``layer:<variant>:<impl>:<causal>``
    for every built-in variant with a PyTorch module, each implementation that differs and
    each masking it supports, at each of :data:`REFERENCE_SIZES`; ``model:<name>`` for each
    of :data:`REFERENCE_MODELS` with 1 and 2 blocks."""
    from .. import variants
    from ..graphs import attention_key
    from ..nn import has_module

    out = []
    for name in variants.builtin_names():
        v = variants.get(name)
        if not has_module(name):
            continue
        for impl in ("materialised", "fused") if v.impl_matters else ("materialised",):
            for causal in (0, 1) if v.supports_causal else (0,):
                for size in REFERENCE_SIZES:
                    out.append((PREFIX + attention_key(name, impl, bool(causal)), dict(size)))
    for name in REFERENCE_MODELS:
        for layers in (1, 2):
            out.append((f"{MODEL_PREFIX}{name}", {"layers": layers}))
    return out


def reference_kernels() -> list[tuple[str, Features]]:
    """(kind, features) of every distinct kernel the reference layers and models run, in
    order (kinds timed with another's and backward-only work left out). The profile times
    them alone, so each kind's regressor is fitted on the very shapes the references run and
    :func:`fit_overheads` compares each reference with its own kernels as timed (through a
    fit that holds those points), not with the regressors' guess between other shapes:
    without them the in-situ factors also absorbed the regressors' error at the references'
    shapes (batched matmuls ×0.52 and element-wise kernels ×2.03 in a two-thread training
    step) and carried it to every other shape."""
    return [(kind, dict(f)) for kind, f in _reference_kernels()]


@functools.lru_cache(maxsize=1)
def _reference_kernels() -> tuple[tuple[str, tuple[tuple[str, int], ...]], ...]:
    """:func:`reference_kernels`, worked out once per process (about 160 graphs: the grid,
    asked for often, would otherwise rebuild them each time)."""
    from .kernels import kernel_calls

    seen: dict[tuple[str, tuple[tuple[str, int], ...]], None] = {}
    for kind, f in reference_layers():
        for call in kernel_calls(graph(kind, f)):
            if KINDS[call.kind].timed_alone:
                seen.setdefault((call.kind, tuple(call.features.items())), None)
    return tuple(seen)


def is_reference(kind: str) -> bool:
    return kind.startswith((PREFIX, MODEL_PREFIX))


def parse(kind: str) -> tuple[str, str, bool]:
    """(variant, impl, causal) of a reference-layer kind."""
    _, name, impl, causal = kind.split(":")
    return name, impl, causal == "1"


def config(kind: str, f: Features) -> Any:
    """The (variant, AttentionConfig) of a reference layer, or the ModelConfig of a
    reference model."""
    from ..config import AttentionConfig

    if kind.startswith(MODEL_PREFIX):
        return REFERENCE_MODELS[kind[len(MODEL_PREFIX):]](f["layers"])
    name, impl, causal = parse(kind)
    return name, AttentionConfig(d_model=f["d_model"], heads=f["heads"], seq_len=f["seq_len"],
                                 batch=f["batch"], impl=impl, causal=causal)


def graph(kind: str, f: Features) -> Any:
    """The cost-model graph of a reference layer or model."""
    from ..graphs import layer_graph, model_graph

    cfg = config(kind, f)
    return model_graph(cfg) if kind.startswith(MODEL_PREFIX) else layer_graph(*cfg)


def build(kind: str, f: Features, device: str = "cpu") -> tuple[Any, Any]:
    """(infer, train) callables of a reference layer or model on ``device``, timed as
    :mod:`.measure` times them."""
    import torch

    from ..nn import build_attention
    from ..nn.model import TransformerModel
    from .measure import layer_input, model_input

    cfg = config(kind, f)
    torch.manual_seed(0)
    if kind.startswith(MODEL_PREFIX):
        module, x = TransformerModel(cfg, dropout=0.0), model_input(cfg, device)
    else:
        module, x = build_attention(*cfg), layer_input(cfg[1], device=device)
    module = module.to(device).eval()
    with torch.no_grad():
        grad = torch.randn_like(module(x))

    def infer() -> None:
        with torch.no_grad():
            module(x)

    def train() -> None:
        module.zero_grad(set_to_none=True)
        module(x).backward(grad)

    return infer, train


# -- overheads ------------------------------------------------------------------------------

#: Overhead terms that are not kernel kinds: per operation of any kind (also the cost of a
#: kind no reference exercised), once per graph, once per transformer block.
OP, CALL, BLOCK = "op", "call", "block"
#: Kernel kinds with an in-situ factor of their own (the rest share one, ``other``, but for
#: :data:`IN_SITU_FIXED`): inside a layer, matmuls, batched matmuls, fused attention and
#: element-wise kernels meet operands another kernel just wrote differently (cache state,
#: layout) — fitted per group on the references. A factor scales a kernel's time beyond its
#: fixed part (its kind's intercept: the call as timed alone), which the per-kind overheads
#: already stand beside.
IN_SITU_GROUPS = ("linear", "bmm", "sdpa")
#: Kinds kept at their separate timing (factor 1): the references' tables are tiny, so a
#: factor fitted on them says nothing of GPT-2's 154 MB embedding gradient and its sum.
IN_SITU_FIXED = ("embedding", "grad-accumulate")
FIXED, OTHER = "fixed", "other"
#: The range an in-situ factor is fitted in (a kernel in a layer neither half nor thrice its
#: separate timing — a guard against a group the references barely exercise).
IN_SITU_RANGE = (0.5, 3.0)
#: Penalty weights tried for a kind's departure from the shared per-operation cost (relative
#: error per µs; chosen per fit by leaving each reference variant or model out in turn).
SPREAD_PENALTIES = (0.003, 0.01, 0.03, 0.1, 0.3)


def in_situ_group(kind: str) -> str:
    """The in-situ group of a kernel kind: itself for :data:`IN_SITU_GROUPS`,
    :data:`FIXED` for :data:`IN_SITU_FIXED`, else ``other``."""
    if kind in IN_SITU_FIXED:
        return FIXED
    return kind if kind in IN_SITU_GROUPS else OTHER


def overhead_counts(calls: list[KernelCall]) -> Counter[str]:
    """How many times each overhead term occurs in a graph given as kernel calls: one per
    operation of each kind (the backward's own sums, ``train_only`` kinds, run inside the
    autograd engine and have none), one :data:`CALL` and one :data:`BLOCK` per
    ``blocks.N.`` prefix."""
    counts: Counter[str] = Counter(c.kind for c in calls if not KINDS[c.kind].train_only)
    counts[CALL] = 1
    blocks = {c.op.split(".", 2)[1] for c in calls if c.op.startswith("blocks.")}
    if blocks:
        counts[BLOCK] = len(blocks)
    return counts


def overhead_seconds(counts: Counter[str], per_term: dict[str, float]) -> float:
    """Σ count × seconds of each term; a kind never fitted costs :data:`OP`'s seconds."""
    default = per_term.get(OP, 0.0)
    return sum(n * per_term.get(term, default) for term, n in counts.items())


def fit_overheads(pred: Any, prof: Any) -> None:
    """Set ``pred.in_situ[(threads, mode)]`` (a factor per in-situ group) and
    ``pred.overhead_s[(threads, mode)]`` from the profile's reference layers and models
    (:func:`fit_terms` on their predicted kernel times, overhead counts and measured times,
    less the backward's launch in a training step). With one layer size only, the in-situ
    factors are 1."""
    for t in prof.threads:
        refs = [m for m in prof.for_threads(t) if is_reference(m.kind)]
        if not refs:
            continue
        calls = [_calls(m.kind, m.features) for m in refs]
        counts = [overhead_counts(c) for c in calls]
        groups = [_group(m.kind) for m in refs]
        sizes = {tuple(sorted(m.features.items())) for m in refs if m.kind.startswith(PREFIX)}
        for mode, attr in (("infer", "fwd_s"), ("train", "train_s")):
            launch = pred.launch_s.get(t, 0.0) if mode == "train" else 0.0
            flat = [x for c in calls for x in c]
            times, fixed = pred.call_times(flat, mode, t), pred.call_intercepts(flat, mode, t)
            kernels = _sums([max(x - f, 0.0) for x, f in zip(times, fixed)], calls)
            for k, f in zip(kernels, _sums(fixed, calls)):  # the fixed parts: never scaled
                k[FIXED] = k.get(FIXED, 0.0) + sum(f.values())
            measured = [getattr(m, attr) for m in refs]
            fitted = fit_terms(kernels, counts, [v - launch for v in measured], measured,
                               groups, fit_scale=len(sizes) > 1)
            pred.in_situ_cap[(t, mode)] = _longest_kernels(flat, times, fixed)
            pred.in_situ[(t, mode)] = fitted.factors
            pred.overhead_s[(t, mode)] = fitted.overheads
            pred.reference_cv_error[(t, mode)] = fitted.cv_error


def _longest_kernels(calls: list[KernelCall], times: list[float], fixed: list[float]
                     ) -> dict[str, float]:
    """Per in-situ group (:func:`in_situ_group`), the longest of the references' kernel
    times beyond their fixed parts: how far the group's in-situ factor was fitted, and so
    how far it is carried (``Predictor.in_situ_cap``)."""
    out: dict[str, float] = {}
    for c, x, f in zip(calls, times, fixed):
        g = in_situ_group(c.kind)
        out[g] = max(out.get(g, 0.0), x - f)
    return out


def _sums(times: list[float], calls: list[list[KernelCall]]) -> list[dict[str, float]]:
    """Per-reference sums of ``times`` by in-situ group (:func:`in_situ_group`; one list of
    every reference's calls, in order: one prediction per kind for all of them)."""
    out, i = [], 0
    for c in calls:
        sums: dict[str, float] = {}
        for call, t in zip(c, times[i:i + len(c)]):
            g = in_situ_group(call.kind)
            sums[g] = sums.get(g, 0.0) + t
        out.append(sums)
        i += len(c)
    return out


def _group(kind: str) -> str:
    """What a reference is left out with: its variant (layers) or its model."""
    return kind.split(":")[1]


def _calls(kind: str, f: Features) -> list[KernelCall]:
    from .kernels import kernel_calls

    return kernel_calls(graph(kind, f))


@dataclass(frozen=True)
class FittedTerms:
    """What :func:`fit_terms` finds: in-situ factor per group, seconds per overhead term,
    and the references' leave-one-group-out RMS relative error (None: too few groups)."""

    factors: dict[str, float]
    overheads: dict[str, float]
    cv_error: float | None


def fit_terms(kernels: list[dict[str, float]], counts: list[Counter[str]],
              targets: list[float], measured: list[float], groups: list[str],
              fit_scale: bool = True) -> "FittedTerms":
    """In-situ factor per group and seconds per overhead term: Σ_g k_g·K_i,g + Σ_term
    n_i,term·d_term ≈ r_i in relative error (÷ m_i), K_i,g the reference's predicted kernel
    time in in-situ group g, with d_kind = d_op + δ_kind, k_g in :data:`IN_SITU_RANGE`,
    d_op, d_call, d_block ≥ 0, and a ridge penalty on the δ (kinds cost alike unless the
    references say otherwise), its weight the one of :data:`SPREAD_PENALTIES` with the least
    error on references left out a group at a time (that error, RMS relative, is kept as
    ``cv_error``). ``fit_scale`` False: every k_g = 1."""
    import numpy as np

    kinds = sorted({term for c in counts for term in c} - {CALL, BLOCK})
    fixed = [OP, CALL, BLOCK]
    scaled = sorted({g for k in kernels for g, v in k.items() if v > 0} - {FIXED}
                    ) if fit_scale else []
    n = np.array([[sum(c[kd] for kd in kinds), c[CALL], c[BLOCK]] + [c[kd] for kd in kinds]
                  for c in counts], dtype=float)
    kern = np.array([[k.get(g, 0.0) for g in scaled] for k in kernels], dtype=float)
    unscaled = np.array([sum(v for g, v in k.items() if g not in scaled) for k in kernels],
                        dtype=float)
    r, w = (np.asarray(v, dtype=float) for v in (targets, measured))
    a = (np.column_stack([kern, n]) if scaled else n) / w[:, None]
    b = (r - unscaled) / w
    free = len(kinds)

    def solve(rows: np.ndarray, penalty: float) -> np.ndarray:
        return _solve(a[rows], b[rows], free, penalty, len(scaled))

    every = np.ones(len(b), dtype=bool)
    names = sorted(set(groups))
    best, best_err = SPREAD_PENALTIES[0], float("inf")
    for penalty in SPREAD_PENALTIES if len(names) > 2 else ():
        err = 0.0
        for g in names:
            out = np.array([x == g for x in groups])
            coef = solve(every & ~out, penalty)
            err += float(np.sum((a[out] @ coef - b[out]) ** 2))
        if err < best_err:
            best, best_err = penalty, err
    coef = solve(every, best)
    d = coef[len(scaled):]
    per_term = dict(zip(fixed, (float(v) for v in d[:3])))
    per_term.update({kd: max(per_term[OP] + float(v), 0.0) for kd, v in zip(kinds, d[3:])})
    return FittedTerms({g: float(v) for g, v in zip(scaled, coef[:len(scaled)])}, per_term,
                       math.sqrt(best_err / len(b)) if math.isfinite(best_err) else None)


def _solve(a: Any, b: Any, free: int, penalty: float, factors: int) -> Any:
    """Bounded least squares (scipy's ``lsq_linear``) of ``a x ≈ b``: the first ``factors``
    unknowns in :data:`IN_SITU_RANGE`, the last ``free`` unknowns (seconds) unbounded and
    ridge-penalised ``penalty`` per µs, the others ≥ 0."""
    import numpy as np
    from scipy.optimize import lsq_linear

    cols = a.shape[1]
    ridge = np.zeros((free, cols))
    ridge[:, cols - free:] = np.eye(free) * penalty * 1e6
    a2, b2 = np.vstack([a, ridge]), np.concatenate([b, np.zeros(free)])
    scale = np.maximum(np.abs(a2).max(axis=0), 1e-300)
    lower = np.r_[np.full(factors, IN_SITU_RANGE[0]), np.zeros(cols - free - factors),
                  np.full(free, -np.inf)]
    upper = np.r_[np.full(factors, IN_SITU_RANGE[1]), np.full(cols - factors, np.inf)]
    res = lsq_linear(a2 / scale, b2, bounds=(lower * scale, upper * scale), method="bvls")
    return res.x / scale


# -- corrections per variant ------------------------------------------------------------------

#: The range a correction is kept in (a guard against one odd reference).
CORRECTION_RANGE = (0.8, 1.25)


def correction_group(key: str) -> str:
    """The group an attention layer's correction is shared by: its variant (the first field
    of :func:`attncost.graphs.attention_key`)."""
    return key.split(":", 1)[0]


def fit_corrections(pred: Any, prof: Any) -> None:
    """``pred.correction[(threads, mode)]``: per attention variant, exp(median log(measured /
    predicted)) over its reference layers (every size, implementation and masking) — the
    part of the variant's time the in-situ factors and overheads, shared by every variant,
    miss (a seventh-version fit under-predicted MLA's reference forwards by 6–14 %, and
    kernel-linear's training steps at 64 and 128 wide by 6–19 %) — within
    :data:`CORRECTION_RANGE`.
    The prediction is the layer's calls' (:meth:`~attncost.latency.predictor.Predictor.
    call_seconds`), the measurement less the graph's own seconds."""
    import statistics

    lo, hi = CORRECTION_RANGE
    for t in prof.threads:
        refs = [(m, _calls(m.kind, m.features)) for m in prof.for_threads(t)
                if m.kind.startswith(PREFIX)]
        for mode, attr in (("infer", "fwd_s"), ("train", "train_s")):
            logs: dict[str, list[float]] = {}
            for m, calls in refs:
                predicted = sum(pred.call_seconds(calls, mode, t))
                measured = getattr(m, attr) - pred.graph_seconds(calls, mode, t)
                if predicted > 0 and measured > 0:
                    group = correction_group(m.kind[len(PREFIX):])
                    logs.setdefault(group, []).append(math.log(measured / predicted))
            pred.correction[(t, mode)] = {g: min(max(math.exp(statistics.median(v)), lo), hi)
                                          for g, v in logs.items()}
