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

import io
from typing import Any

from ..errors import ConfigError

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


def export(module: Any, x: Any) -> bytes:
    """The ONNX model of ``module`` (put in eval mode) at input ``x``'s shape."""
    import warnings

    import torch

    module.eval()
    buf = io.BytesIO()
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notes
        torch.onnx.export(module, (x,), buf, dynamo=False, input_names=["x"],
                          output_names=["y"], opset_version=OPSET)
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
