"""Measured latency: a PyTorch module of :mod:`attncost.nn` timed in eager mode on this
machine (imports torch), and the predicted latency of a model from a profile (for the search).

Timing protocol (the same for the profile's reference layers and the judged configurations):
``torch.utils.benchmark`` blocked runs on ``threads`` threads, the lowest of ``repeats``
medians; ``infer``: a forward under ``torch.no_grad``; ``train``: ``zero_grad`` (gradients
set to None), a forward and a backward seeded with a fixed output gradient (no optimizer
step). Modules are in eval mode (dropout off) in both, as ``attncost validate`` times them.
"""

from __future__ import annotations

from typing import Any

from ..errors import ConfigError
from .predictor import check_mode, predictor_for


def time_module(module: Any, x: Any, mode: str, threads: int, *, min_run_time: float = 0.05,
                repeats: int = 3) -> tuple[float, float]:
    """(median, IQR) seconds of one ``infer`` forward or one ``train`` forward + backward of
    ``module(x)`` (see the module docstring)."""
    import torch

    from .profile import time_fn

    check_mode(mode)
    module.eval()
    if mode == "infer":
        def run() -> None:
            with torch.no_grad():
                module(x)
    else:
        with torch.no_grad():
            grad = torch.randn_like(module(x))

        def run() -> None:
            module.zero_grad(set_to_none=True)
            module(x).backward(grad)
    return time_fn(run, threads, min_run_time, repeats, str(x.device))


def layer_input(cfg: Any, grad: bool = True, device: str = "cpu") -> Any:
    """A (batch, seq_len, d_model) input of an attention layer (a fixed seed, drawn on the
    CPU: the same values on every device)."""
    import torch

    g = torch.Generator().manual_seed(0)
    x = torch.randn(cfg.batch, cfg.seq_len, cfg.d_model, generator=g).to(device)
    return x.requires_grad_(grad)


def model_input(m: Any, device: str = "cpu") -> Any:
    """Token ids (batch, seq_len) or images (batch, channels, H, W) for a ModelConfig (drawn
    on the CPU, then moved to ``device``)."""
    import torch

    g = torch.Generator().manual_seed(0)
    a = m.attention
    if m.is_vision:
        x = torch.randn(a.batch, m.channels, m.image_size, m.image_size, generator=g)
    else:
        x = torch.randint(0, max(m.vocab, 1), (a.batch, a.seq_len), generator=g)
    return x.to(device)


def _sized(model_config: Any, batch: int | None, seq_len: int | None) -> Any:
    from ..api import model_config as resolve

    m = resolve(model_config)
    over = {k: v for k, v in (("batch", batch), ("seq_len", seq_len)) if v is not None}
    return m.with_(**over) if over else m


def measure_latency(model_config: Any, batch: int | None = None, seq_len: int | None = None,
                    threads: int = 1, mode: str = "infer", *, min_run_time: float = 0.05,
                    repeats: int = 3, runtime: str = "torch", device: str = "cpu") -> float:
    """Measured seconds of a whole model (a :class:`~attncost.config.ModelConfig` or a preset
    name) on this machine: ``infer`` one forward, ``train`` forward + backward; ``batch`` and
    ``seq_len`` override the model's; ``runtime``: ``torch`` (eager) or ``onnxruntime`` (the
    model exported to ONNX, inference only, on the CPU: :mod:`attncost.latency.onnx`);
    ``device``: ``cpu``, ``cuda`` or ``cuda:<index>`` (torch eager)."""
    from ..torch_device import resolve_device_name
    from .onnx import check_runtime
    from .profile import check_threads, check_timing

    check_mode(mode)
    check_timing(min_run_time, repeats)
    check_runtime(runtime, mode)
    (t,) = check_threads(threads)
    if runtime == "onnxruntime" and device != "cpu":
        raise ConfigError(f"device {device!r} with runtime 'onnxruntime': attncost times "
                          f"ONNX Runtime's CPU provider only; use device 'cpu'")
    device = resolve_device_name(device)
    m = _sized(model_config, batch, seq_len)
    import torch

    from ..nn.model import TransformerModel

    torch.manual_seed(0)
    model = TransformerModel(m, dropout=0.0)
    if runtime == "onnxruntime":
        from .onnx import time_onnxruntime

        return time_onnxruntime(model, model_input(m), t, min_run_time=min_run_time,
                                repeats=repeats)[0]
    return time_module(model.to(device), model_input(m, device), mode, t,
                       min_run_time=min_run_time, repeats=repeats)[0]


def predicted_latency(model_config: Any, profile: Any, mode: str = "infer", *,
                      batch: int | None = None, seq_len: int | None = None,
                      threads: int | None = None) -> float:
    """Predicted seconds of a whole model from a device profile (a file, a
    :class:`~attncost.latency.profile.Profile` or a fitted
    :class:`~attncost.latency.predictor.Predictor`): what a search can use for a candidate's
    latency instead of the roofline."""
    m = _sized(model_config, batch, seq_len)
    if profile is None:
        raise ConfigError("a profile is needed: a profile file from `attncost profile -o FILE`")
    return predictor_for(profile).predict(m, mode, threads=threads)
