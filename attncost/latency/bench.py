"""The kernels of each kind, built in PyTorch as the modules of :mod:`attncost.nn` run them,
and the grid of shapes the profiler times (imports torch).

For a kind and its features, :func:`build` returns two callables: ``fwd`` runs the kernel
without autograd (inference), ``train`` runs it with autograd and then its backward
(``torch.autograd.grad`` for the inputs a layer would need gradients of), so a training step
is the sum of the ``train`` times (less the backward's one-off launch, timed as ``launch``).
:func:`grid` draws the shapes: log-uniform sizes (odd ones included) from a fixed seed, so
two profiles of a machine time the same shapes.
"""

from __future__ import annotations

import math
import random
from typing import Any, Callable

from ..errors import unknown
from .kernels import Features

Fn = Callable[[], Any]

#: Sizes are drawn below these (elements of one tensor; FLOPs of one matmul), so no single
#: measurement of the grid takes more than tens of milliseconds on a small CPU.
MAX_NUMEL = 1 << 23
MAX_FLOPS = 1 << 30
#: Kinds timed up to :data:`BIG_NUMEL` elements (an embedding: its table), past the 32 MiB
#: where every allocation is fresh pages: the sums of tied gradients, copies and scalings of
#: large tensors, an LM's embedding backward (a dense gradient of the whole table).
BIG_NUMEL_KINDS = ("binary", "copy", "scalar", "embedding")
BIG_NUMEL = 1 << 26


def _t(*shape: int, grad: bool = False) -> Any:
    import torch

    return torch.randn(*shape, requires_grad=grad)


def _pair(fwd: Callable[..., Any], inputs: list[Any], needs: list[Any]) -> tuple[Fn, Fn]:
    """(no-grad forward, forward + backward into ``needs``) of ``fwd(*inputs)``."""
    import torch

    def run_fwd() -> None:
        with torch.no_grad():
            fwd(*inputs)

    def run_train() -> None:
        y = fwd(*inputs)
        torch.autograd.grad(y, needs, torch.ones_like(y))

    return run_fwd, run_train


def _linear(f: Features) -> tuple[Fn, Fn]:
    import torch.nn.functional as F

    x, w = _t(1, f["m"], f["k"], grad=True), _t(f["n"], f["k"], grad=True)
    b = _t(f["n"], grad=True) if f.get("bias") else None
    return _pair(lambda x, w, b: F.linear(x, w, b), [x, w, b], [t for t in (x, w, b) if t is not None])


def _bmm(f: Features) -> tuple[Fn, Fn]:
    import torch

    a, b = _t(f["batch"], f["m"], f["k"], grad=True), _t(f["batch"], f["k"], f["n"], grad=True)
    return _pair(torch.matmul, [a, b], [a, b])


def _sdpa(f: Features) -> tuple[Fn, Fn]:
    import torch.nn.functional as F

    q = _t(1, f["q"], f["bh"], f["d"], grad=True)
    k, v = _t(1, f["kv"], f["bh"], f["d"], grad=True), _t(1, f["kv"], f["bh"], f["d"], grad=True)
    causal = bool(f.get("causal"))

    def attend(q: Any, k: Any, v: Any) -> Any:  # head views, as the modules pass them
        return F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2),
                                              v.transpose(1, 2), is_causal=causal)

    return _pair(attend, [q, k, v], [q, k, v])


def _embedding(f: Features) -> tuple[Fn, Fn]:
    import torch
    import torch.nn.functional as F

    width = max(1, f["numel"] // max(f["rows"], 1))
    table = _t(max(1, f["table"] // width), width, grad=True)
    ids = torch.randint(0, table.shape[0], (1, f["rows"]))
    return _pair(lambda i, w: F.embedding(i, w), [ids, table], [table])


def _norm(f: Features, rms: bool) -> tuple[Fn, Fn]:
    import torch.nn.functional as F

    width = max(1, f["width"])
    x = _t(max(1, f["numel"] // width), width, grad=True)
    w, b = _t(width, grad=True), _t(width, grad=True)
    if rms:
        return _pair(lambda x, w: F.rms_norm(x, (width,), w, 1e-6), [x, w], [x, w])
    return _pair(lambda x, w, b: F.layer_norm(x, (width,), w, b), [x, w, b], [x, w, b])


def _softmax(f: Features) -> tuple[Fn, Fn]:
    import torch

    cols = max(1, f["cols"])
    x = _t(max(1, f["numel"] // cols), cols, grad=True)
    return _pair(lambda x: torch.softmax(x, -1), [x], [x])


def _unary(fn_name: str) -> Callable[[Features], tuple[Fn, Fn]]:
    def build(f: Features) -> tuple[Fn, Fn]:
        import torch
        import torch.nn.functional as F

        fn = {"gelu": F.gelu, "silu": F.silu, "tanh": torch.tanh, "elu": F.elu,
              "relu": F.relu, "scalar": lambda x: x * 0.125,
              "dropout": lambda x: F.dropout(x, 0.1, True),
              "softmax-strided": lambda x: torch.softmax(x, -2),
              "reduce": lambda x: x.sum(-1)}[fn_name]
        x = _t(max(1, f["numel"] // 32), 32, grad=True)
        return _pair(fn, [x], [x])

    return build


def _binary(f: Features) -> tuple[Fn, Fn]:
    a, b = _t(f["numel"], grad=True), _t(f["numel"], grad=True)
    return _pair(lambda a, b: a * b, [a, b], [a, b])


def _square(numel: int) -> tuple[int, int]:
    """(batch, n) with batch·n² ≈ numel, n at most 512: scores of batch heads."""
    n = max(1, min(512, int(math.isqrt(max(numel, 1)))))
    return max(1, numel // (n * n)), n


def _mask(f: Features) -> tuple[Fn, Fn]:
    import torch

    batch, n = _square(f["numel"])
    x = _t(batch, n, n, grad=True)
    hidden = torch.ones(n, n, dtype=torch.bool).triu(1)
    return _pair(lambda x: x.masked_fill(hidden, float("-inf")), [x], [x])


def _make_mask(f: Features) -> tuple[Fn, Fn]:
    import torch

    n = max(1, int(math.isqrt(f["numel"])))
    device = torch.empty(0).device  # the device being built on (run is called outside it)

    def run() -> None:
        torch.ones(n, n, dtype=torch.bool, device=device).triu(1)

    return run, run


def _rope(f: Features) -> tuple[Fn, Fn]:
    from ..nn.attention import LatentAttention

    x = _t(1, max(1, f["numel"] // 16), 16, grad=True)
    return _pair(LatentAttention.rope, [x], [x])


def _copy(f: Features) -> tuple[Fn, Fn]:
    """A head split: (m, h·32) viewed as heads and made contiguous; its backward reshapes
    the transposed gradient (a copy), as a layer's does."""
    m = max(1, f["numel"] // 128)
    x = _t(m, 128, grad=True)
    return _pair(lambda x: x.view(1, m, 4, 32).transpose(1, 2).contiguous(), [x], [x])


def _launch(f: Features) -> tuple[Fn, Fn]:
    """The fixed cost of starting a backward pass (timed on a one-element op)."""
    x = _t(1, grad=True)
    return _pair(lambda x: x * 1.0, [x], [x])


BUILDERS: dict[str, Callable[[Features], tuple[Fn, Fn]]] = {
    "sdpa": _sdpa, "linear": _linear, "bmm": _bmm, "embedding": _embedding,
    "layernorm": lambda f: _norm(f, rms=False), "rmsnorm": lambda f: _norm(f, rms=True),
    "softmax": _softmax, "mask": _mask, "make-mask": _make_mask, "rope": _rope,
    "binary": _binary, "copy": _copy, "launch": _launch,
    **{k: _unary(k) for k in ("gelu", "silu", "tanh", "elu", "relu", "scalar", "dropout",
                              "softmax-strided", "reduce")},
}


def build(kind: str, features: Features, device: str = "cpu") -> tuple[Fn, Fn]:
    """(forward, forward + backward) callables of kernel ``kind`` at ``features`` on
    ``device`` (a reference layer for ``layer:…`` kinds, :mod:`attncost.latency.reference`).
    The operands are made on ``device`` (torch's device context, around the building only:
    under it every torch call would pass through a Python mode, timed with the kernel)."""
    import torch

    from . import reference

    if reference.is_reference(kind):
        return reference.build(kind, features, device)
    if kind not in BUILDERS:
        raise unknown("kernel kind to profile", kind, BUILDERS)
    with torch.device(device):
        return BUILDERS[kind](features)


# -- the grid ------------------------------------------------------------------------------


def _log_int(rng: random.Random, lo: int, hi: int) -> int:
    return int(round(math.exp(rng.uniform(math.log(lo), math.log(hi)))))


#: (batch, m, k, n) ranges of the matmul grids: wide, then the sizes models use.
WIDE_LINEAR = {"m": (1, 8192), "k": (4, 4096), "n": (1, 65536)}
WIDE_BMM = {"batch": (1, 512), "m": (1, 2048), "k": (1, 512), "n": (1, 2048)}
MODEL_LINEAR = {"m": (1, 2048), "k": (16, 4096), "n": (16, 4096)}
MODEL_BMM = {"batch": (1, 96), "m": (4, 512), "k": (4, 512), "n": (4, 512)}
#: (m, k, n) of vocabulary heads (and embeddings' tied projections): a few to hundreds of
#: tokens, model widths, 8k–160k-token vocabularies — the largest matmul of a language model,
#: 15× past :data:`MAX_FLOPS` for GPT-2-medium at 128 tokens; drawn up to
#: :data:`MAX_HEAD_FLOPS` with at most :data:`MAX_HEAD_WEIGHTS` weights (1 GiB in fp32).
HEAD_LINEAR = {"m": (1, 512), "k": (256, 4096), "n": (8192, 160000)}
MAX_HEAD_FLOPS = 1 << 34
MAX_HEAD_WEIGHTS = 1 << 28


def _matmul_shapes(rng: random.Random, count: int, batched: bool,
                   ranges: dict[str, tuple[int, int]] | None = None,
                   max_flops: int = MAX_FLOPS, max_weights: int | None = None
                   ) -> list[Features]:
    """Log-uniform matmul shapes in ``ranges`` (default: the wide ones) of at most
    ``max_flops`` (and ``max_weights`` elements k·n, when given); a model-sized draw rounds k
    and n to a multiple of 16 half the time, as model widths are."""
    wide = ranges is None
    ranges = ranges or (WIDE_BMM if batched else WIDE_LINEAR)
    out: list[Features] = []
    while len(out) < count:
        f = {name: _log_int(rng, *ranges[name]) for name in ranges}
        if not wide and rng.random() < 0.5:
            f.update(k=_round_up(f["k"]), n=_round_up(f["n"]))
        if not batched:
            f["bias"] = rng.randint(0, 1)
        f["flops"] = 2 * f.get("batch", 1) * f["m"] * f["k"] * f["n"]
        if f["flops"] <= max_flops and (max_weights is None or f["k"] * f["n"] <= max_weights):
            out.append(f)
    return out


def _round_up(n: int, quantum: int = 16) -> int:
    return -(-n // quantum) * quantum


def _sdpa_shapes(rng: random.Random, count: int, bh: tuple[int, int] = (1, 64),
                 length: tuple[int, int] = (4, 2048), head: tuple[int, int] = (4, 128),
                 independent: bool = False) -> list[Features]:
    """Equal lengths (``independent``: query and key lengths drawn apart, as Linformer's
    projected keys or cross-attention have them), each rounded up to a multiple of 16 half
    the time (on its own), so the fit sees aligned and tail-path lengths of queries and keys;
    batch·heads, lengths and head widths log-uniform in the given ranges."""
    out: list[Features] = []
    while len(out) < count:
        ell = _log_int(rng, *length)
        kv_ell = _log_int(rng, *length) if independent else ell
        q, kv = (_round_up(x) if rng.random() < 0.5 else x for x in (ell, kv_ell))
        f = {"bh": _log_int(rng, *bh), "q": q, "kv": kv, "d": _log_int(rng, *head),
             "causal": rng.randint(0, 1)}
        f["flops"] = 4 * f["bh"] * q * kv * f["d"]
        if f["flops"] <= MAX_FLOPS:
            out.append(f)
    return out


def _short_row_softmax_shapes(rng: random.Random, count: int) -> list[Features]:
    """Softmaxes over short rows (2–64 columns: a head's features, few keys), where the
    time per element depends most on the row length; 256 to 4 M elements."""
    out: list[Features] = []
    for _ in range(count):
        cols = _log_int(rng, 2, 64)
        rows = max(1, _log_int(rng, 256, 1 << 22) // cols)
        out.append({"numel": rows * cols, "cols": cols})
    return out


def _numel_shapes(rng: random.Random, kind: str, count: int) -> list[Features]:
    top = BIG_NUMEL if kind in BIG_NUMEL_KINDS and kind != "embedding" else MAX_NUMEL
    out: list[Features] = []
    for i in range(count):  # evenly spread over log sizes, jittered
        lo = math.log(16) + (math.log(top) - math.log(16)) * i / max(count - 1, 1)
        numel = max(1, int(math.exp(lo + rng.uniform(-0.3, 0.3))))
        f: Features = {"numel": numel}
        if kind in ("layernorm", "rmsnorm"):
            f["width"] = min(numel, _log_int(rng, 8, 4096))
        elif kind == "softmax":
            f["cols"] = min(numel, _log_int(rng, 2, 4096))
        elif kind == "embedding":
            width = min(numel, _log_int(rng, 8, 1024))
            table = math.exp(lo * math.log(BIG_NUMEL) / math.log(MAX_NUMEL))  # to BIG_NUMEL
            f.update(rows=max(1, numel // width), numel=max(1, numel // width) * width,
                     table=max(2, int(table) // width) * width)
        out.append(f)
    return out


#: Element-wise kinds every attention layer runs, and the element counts its tensors have
#: (1k–1M): the evenly spread sizes above put only a few points there.
LAYER_ELEMENTWISE = ("scalar", "binary", "copy", "elu", "reduce", "mask")
LAYER_NUMEL = (1 << 10, 1 << 20)


def grid(quick: bool = False, seed: int = 0) -> list[tuple[str, Features]]:
    """(kind, features) of every measurement of a profile: matmuls, batched matmuls and
    fused attention over drawn shapes; every other kind over element counts from 16 to
    :data:`MAX_NUMEL` (:data:`BIG_NUMEL` for :data:`BIG_NUMEL_KINDS`); the backward launch
    once; the reference layers and models
    (:func:`attncost.latency.reference.reference_layers`); then more fused attention, matmuls
    and batched matmuls in the sizes models use (batch·heads ≤ 64, 8–512 tokens, heads 8–128
    wide; :data:`MODEL_LINEAR`, :data:`MODEL_BMM`), drawn from a second stream so that the
    shapes before them do not move; then, from a third stream, vocabulary heads
    (:data:`HEAD_LINEAR`) and fused attention over the short, mostly unaligned lengths and
    narrow heads of small models (16–256 tokens, heads 4–64 wide: the tail paths whose cost
    per score varies most); then, from a fourth, softmaxes over short rows and fused
    attention with query and key lengths drawn apart; then, from a fifth, the element-wise
    kinds of :data:`LAYER_ELEMENTWISE` at the sizes layers give them (:data:`LAYER_NUMEL`);
    then the reference layers' and models' own kernels
    (:func:`attncost.latency.reference.reference_kernels`: no draw, every one, also in a
    quick grid). ``quick``: about a fifth as many kernel shapes."""
    from .reference import reference_kernels, reference_layers

    rng = random.Random(seed)
    scale = 0.2 if quick else 1.0

    def n(count: int) -> int:
        return max(3, int(count * scale))

    out: list[tuple[str, Features]] = [("launch", {"numel": 1})]
    out += [("linear", f) for f in _matmul_shapes(rng, n(110), batched=False)]
    out += [("bmm", f) for f in _matmul_shapes(rng, n(110), batched=True)]
    out += [("sdpa", f) for f in _sdpa_shapes(rng, n(64))]
    for k in ("embedding", "layernorm", "rmsnorm", "softmax", "softmax-strided", "gelu",
              "silu", "tanh", "elu", "relu", "rope", "make-mask", "mask", "dropout", "reduce",
              "binary", "scalar", "copy"):
        out += [(k, f) for f in _numel_shapes(rng, k, n(18 if k in BIG_NUMEL_KINDS else 14))]
    model_sized = random.Random(seed + 1)  # its own stream: the shapes above stay as they were
    out += [("sdpa", f) for f in _sdpa_shapes(model_sized, n(48), (1, 64), (8, 512), (8, 128))]
    out += [("linear", f) for f in _matmul_shapes(model_sized, n(64), False, MODEL_LINEAR)]
    out += [("bmm", f) for f in _matmul_shapes(model_sized, n(48), True, MODEL_BMM)]
    third = random.Random(seed + 2)  # a third stream, for the same reason
    out += [("linear", f) for f in _matmul_shapes(third, n(16), False, HEAD_LINEAR,
                                                   MAX_HEAD_FLOPS, MAX_HEAD_WEIGHTS)]
    out += [("sdpa", f) for f in _sdpa_shapes(third, n(64), (1, 64), (16, 256), (4, 64))]
    fourth = random.Random(seed + 3)  # a fourth stream, for the same reason
    out += [("softmax", f) for f in _short_row_softmax_shapes(fourth, n(32))]
    out += [("sdpa", f) for f in _sdpa_shapes(fourth, n(48), (1, 64), (8, 512), (4, 128),
                                               independent=True)]
    fifth = random.Random(seed + 4)  # a fifth stream, for the same reason
    for k in LAYER_ELEMENTWISE:
        out += [(k, {"numel": _log_int(fifth, *LAYER_NUMEL)}) for _ in range(n(12))]
    return out + reference_kernels() + reference_layers()
