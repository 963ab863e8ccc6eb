"""Reference layers: the framework's cost per operation beyond its kernel.

Eager PyTorch spends time around each kernel that no kernel timing contains: module calls,
views and reshapes, Python. The profile times every registered variant's layer at two sizes
(:data:`REFERENCE_SIZES`): a tiny one (d_model 16, 2 heads, 8 tokens, batch 1 — where kernels
take almost nothing, so what is left is the framework's work per operation) and a small one
(d_model 64, 4 heads, 64 tokens, batch 2 — where kernels matter, and run on operands that the
previous operation just wrote rather than on the warm, repeated inputs of a kernel timing).
:func:`fit_dispatch` sets, per thread count and mode, the predictor's ``dispatch_s`` (seconds
per graph operation) and ``in_situ`` (the factor by which kernels inside a layer take longer
than timed alone): the non-negative pair that best explains the layers' times from their
predicted kernels (least squares on relative error). A profile with the tiny size only fits
``dispatch_s`` with ``in_situ`` = 1. No judged configuration is among them.
"""

from __future__ import annotations

from typing import Any

from .kernels import Features

PREFIX = "layer:"
REFERENCE_SIZE: Features = {"d_model": 16, "heads": 2, "seq_len": 8, "batch": 1}
#: The sizes reference layers are timed at (see the module's docstring).
REFERENCE_SIZES: tuple[Features, ...] = (
    REFERENCE_SIZE, {"d_model": 64, "heads": 4, "seq_len": 64, "batch": 2})


def reference_layers() -> list[tuple[str, Features]]:
    """(kind, features) of the reference layers: ``layer:<variant>:<impl>:<causal>`` for
    every built-in variant with a PyTorch module, each implementation that differs and each
    masking it supports."""
    from .. import variants
    from ..nn import has_module

    out = []
    for name in variants.builtin_names():
        v = variants.get(name)
        if not has_module(name):
            continue
        for impl in ("materialised", "fused") if v.impl_matters else ("materialised",):
            for causal in (0, 1) if v.supports_causal else (0,):
                for size in REFERENCE_SIZES:
                    out.append((f"{PREFIX}{name}:{impl}:{causal}", dict(size)))
    return out


def parse(kind: str) -> tuple[str, str, bool]:
    """(variant, impl, causal) of a reference-layer kind."""
    _, name, impl, causal = kind.split(":")
    return name, impl, causal == "1"


def config(kind: str, f: Features) -> Any:
    from ..config import AttentionConfig

    name, impl, causal = parse(kind)
    return name, AttentionConfig(d_model=f["d_model"], heads=f["heads"], seq_len=f["seq_len"],
                                 batch=f["batch"], impl=impl, causal=causal)


def build(kind: str, f: Features) -> tuple[Any, Any]:
    """(infer, train) callables of a reference layer, timed as :mod:`.measure` times layers."""
    import torch

    from ..nn import build_attention
    from .measure import layer_input

    name, cfg = config(kind, f)
    torch.manual_seed(0)
    module = build_attention(name, cfg).eval()
    x = layer_input(cfg)
    grad = torch.randn(cfg.batch, cfg.seq_len, cfg.d_model)

    def infer() -> None:
        with torch.no_grad():
            module(x)

    def train() -> None:
        module.zero_grad(set_to_none=True)
        module(x).backward(grad)

    return infer, train


def fit_dispatch(pred: Any, prof: Any) -> None:
    """Set ``pred.dispatch_s[(threads, mode)]`` and ``pred.in_situ[(threads, mode)]`` from the
    profile's reference layers: the k, c ≥ 0 minimising Σ ((k·K_i + n_i·c − r_i) / m_i)², K_i
    the layer's predicted kernel time, n_i its operations, m_i its measured time and r_i = m_i
    less the backward's launch (train). With one size only (or a singular system): k = 1."""
    from ..graphs import layer_graph
    from .kernels import kernel_calls

    for t in prof.threads:
        refs = [m for m in prof.for_threads(t) if m.kind.startswith(PREFIX)]
        calls = [kernel_calls(layer_graph(*config(m.kind, m.features))) for m in refs]
        sizes = {tuple(sorted(m.features.items())) for m in refs}
        for mode, attr in (("infer", "fwd_s"), ("train", "train_s")):
            launch = pred.launch_s.get(t, 0.0) if mode == "train" else 0.0
            rows = [(sum(pred.call_times(c, mode, t)), float(len(c)),
                     getattr(m, attr) - launch, getattr(m, attr)) for m, c in zip(refs, calls)]
            k, c = _fit_scale_and_dispatch(rows) if len(sizes) > 1 else (1.0, None)
            if c is None:
                k, c = 1.0, _fit_dispatch_only(rows)
            pred.in_situ[(t, mode)], pred.dispatch_s[(t, mode)] = k, c


def _fit_dispatch_only(rows: list[tuple[float, float, float, float]]) -> float:
    """The c ≥ 0 minimising Σ ((K + n·c − r) / m)² (rows: K, n, r, m)."""
    num = sum(n * (r - kt) / m ** 2 for kt, n, r, m in rows)
    den = sum(n * n / m ** 2 for kt, n, r, m in rows)
    return max(num / den, 0.0) if den else 0.0


def _fit_scale_and_dispatch(rows: list[tuple[float, float, float, float]]
                            ) -> tuple[float, float | None]:
    """The (k, c), both ≥ 0, minimising Σ ((k·K + n·c − r) / m)²; (1, None) when the
    system is singular or k would be 0 (then only c is fitted)."""
    a11 = sum((kt / m) ** 2 for kt, n, r, m in rows)
    a12 = sum(kt * n / m ** 2 for kt, n, r, m in rows)
    a22 = sum((n / m) ** 2 for kt, n, r, m in rows)
    b1 = sum(kt * r / m ** 2 for kt, n, r, m in rows)
    b2 = sum(n * r / m ** 2 for kt, n, r, m in rows)
    det = a11 * a22 - a12 * a12
    if not rows or det <= 1e-12 * a11 * a22:
        return 1.0, None
    k = (b1 * a22 - b2 * a12) / det
    c = (a11 * b2 - a12 * b1) / det
    if c < 0:  # the best with no dispatch cost
        return max(b1 / a11, 0.0) or 1.0, 0.0
    if k <= 0:
        return 1.0, None
    return k, c
