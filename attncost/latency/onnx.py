"""Measured latency in ONNX Runtime, the runtime edge deployments use (imports torch and
onnxruntime, both lazily).

A module of :mod:`attncost.nn` (a layer or a whole :class:`~attncost.nn.model.TransformerModel`)
is exported with ``torch.onnx.export`` (the TorchScript exporter, ``dynamo=False``: it needs no
``onnxscript`` and traces every variant, masks included, at the input's fixed shape), opened
in an ``onnxruntime.InferenceSession`` on the CPU execution provider with every graph
optimisation and ``threads`` intra-op threads, and timed as :mod:`attncost.latency.measure`
times torch eager (``torch.utils.benchmark`` blocked runs, the lowest of ``repeats``
medians). ONNX Runtime here is an inference runtime: a training step is refused.
"""

from __future__ import annotations

import contextlib
import io
from typing import Any, Iterator

from ..errors import ConfigError, UnsupportedError

#: The runtimes measured latency can be taken in (``[budget] runtime``, ``runtime=``).
RUNTIMES = ("torch", "onnxruntime")
OPSET = 17


def check_runtime(runtime: Any, mode: str = "infer") -> str:
    """``runtime`` if it is one of :data:`RUNTIMES`, installed, and can run ``mode``."""
    if runtime not in RUNTIMES:
        raise ConfigError(f"runtime {runtime!r} is unknown; allowed: {', '.join(RUNTIMES)}")
    if runtime == "onnxruntime":
        import importlib.util

        missing = [m for m in ("onnxruntime", "onnx") if importlib.util.find_spec(m) is None]
        if missing:
            raise ConfigError(f"runtime 'onnxruntime' needs {' and '.join(missing)} (the "
                              f"runtime, and torch.onnx's exporter): pip install -c "
                              f"constraints.txt -e '.[onnx]'")
        if mode != "infer":
            raise ConfigError(f"runtime 'onnxruntime' times inference only; mode {mode!r} "
                              f"needs runtime 'torch'")
    return runtime


def _rms_norm(x: Any, normalized_shape: Any, weight: Any = None, eps: Any = None) -> Any:
    """``F.rms_norm`` written out (x · rsqrt(mean(x²) + eps) · weight): the TorchScript
    exporter has no ONNX translation of ``aten::rms_norm`` (LLaMA-, Mistral-, Gemma-,
    DeepSeek-shaped models)."""
    import torch

    dims = tuple(range(-len(normalized_shape), 0))
    eps = torch.finfo(x.dtype).eps if eps is None else eps
    y = x * torch.rsqrt(x.pow(2).mean(dims, keepdim=True) + eps)
    return y if weight is None else y * weight


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Standard output and error sent to nothing, at the file-descriptor level: when an
    export fails, the exporter's C++ side prints the whole traced graph there."""
    import os
    import sys

    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    null = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(null, 1)
        os.dup2(null, 2)
        yield
    finally:
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in (*saved, null):
            os.close(fd)


def export(module: Any, x: Any) -> bytes:
    """The ONNX model of ``module`` (put in eval mode) at input ``x``'s shape; an operator
    the exporter cannot translate (a mixture of experts' routing: ``Sort`` with an out
    parameter) is a one-line :class:`UnsupportedError` naming it."""
    import warnings
    from unittest import mock

    import torch

    module.eval()
    buf = io.BytesIO()
    with torch.no_grad(), warnings.catch_warnings(), _quiet(), \
            mock.patch("torch.nn.functional.rms_norm", _rms_norm):
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notes
        try:
            torch.onnx.export(module, (x,), buf, dynamo=False, input_names=["x"],
                              output_names=["y"], opset_version=OPSET)
        except Exception as e:  # noqa: BLE001 — the exporter's errors carry the whole graph
            first = (str(e).strip() or type(e).__name__).splitlines()[0].split(". Please")[0]
            raise UnsupportedError(f"{type(module).__name__} cannot be exported to ONNX for "
                                   f"ONNX Runtime: {first}") from None
    return buf.getvalue()


def session(model: bytes, threads: int) -> Any:
    """An ``onnxruntime.InferenceSession`` of ``model`` on ``threads`` intra-op threads."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.log_severity_level = 3
    return ort.InferenceSession(model, opts, providers=["CPUExecutionProvider"])


def run(module: Any, x: Any, threads: int = 1) -> Any:
    """``module(x)`` computed by ONNX Runtime (a numpy array)."""
    return session(export(module, x), threads).run(None, {"x": x.detach().numpy()})[0]


def time_onnxruntime(module: Any, x: Any, threads: int, *, min_run_time: float = 0.05,
                     repeats: int = 3) -> tuple[float, float]:
    """(median, IQR) seconds of one ONNX Runtime inference of ``module`` at ``x``."""
    from .profile import time_fn

    sess = session(export(module, x), threads)
    feed = {"x": x.detach().numpy()}
    return time_fn(lambda: sess.run(None, feed), threads, min_run_time, repeats)


def runtime_version() -> str:
    import onnxruntime as ort

    return f"onnxruntime {ort.__version__}"
