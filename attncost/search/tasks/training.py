"""The training loop every task uses unless it brings its own.

:func:`train` trains one architecture on one seed with AdamW (linear warm-up over 5 % of the
steps, cosine decay, gradient clipping at 1) and scores it on the held-out split every
``eval_every`` steps; it raises :class:`TrainingDiverged` on a non-finite loss. It runs on
the CPU by default, or on a GPU with mixed precision (:mod:`attncost.search.tasks.device`).
torch is imported only when training starts.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

from ...config import ModelConfig
from ...errors import AttncostError, ConfigError

if TYPE_CHECKING:
    from .base import Task, TaskData
    from .device import TrainDevice


class TrainingDiverged(AttncostError):
    """Training produced a non-finite loss (NaN or inf)."""


@dataclass
class TrainResult:
    accuracy: float  # the task's score on the held-out split (accuracy unless it says)
    history: list[tuple[int, float]]
    seconds: float
    steps: int
    params: int
    device: str = "cpu"
    precision: str = "fp32"


def _model_and_optimizer(model_config: ModelConfig, seed: int, steps: int, lr: float,
                         weight_decay: float, device: str) -> tuple[Any, Any, Any]:
    """The model (GPT-2 init of token embeddings), AdamW and its warm-up + cosine schedule."""
    import torch

    from ...nn.model import TransformerModel

    torch.manual_seed(seed)
    model = TransformerModel(model_config, dropout=0.0).to(device)
    if getattr(model, "tok_embed", None) is not None:  # GPT-2 init: tokens on the scale of
        torch.nn.init.normal_(model.tok_embed.weight, std=0.02)  # the positions (0.02)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    warmup = max(1, steps // 20)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / warmup) * 0.5 * (1 + math.cos(math.pi * s / steps)))
    return model, opt, sched


def _step(model: Any, opt: Any, x: Any, y: Any, dev: "TrainDevice", scaler: Any,
          step: int, lr: float) -> None:
    """One optimisation step under the device's autocast (and loss scaling for fp16)."""
    import torch
    import torch.nn.functional as F

    with dev.autocast():
        logits = model(x)
        loss = F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), y.reshape(-1),
                               ignore_index=-100)
    if not torch.isfinite(loss):
        raise TrainingDiverged(f"loss became {float(loss.detach())} at step {step} (lr={lr})")
    opt.zero_grad(set_to_none=True)
    if scaler is None:
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        return
    scaler.scale(loss).backward()
    scaler.unscale_(opt)
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    scaler.step(opt)
    scaler.update()


def _check_counts(**counts: Any) -> None:
    for name, v in counts.items():
        if isinstance(v, bool) or not isinstance(v, int) or v <= 0:
            raise ConfigError(f"{name} must be a positive integer, got {v!r}")


def train(task: "Task", model_config: ModelConfig, opts: dict[str, Any] | None = None, *,
          steps: int = 300, batch: int = 64, lr: float = 1e-3, weight_decay: float = 0.01,
          seed: int = 0, eval_every: int = 50, data: "TaskData | None" = None,
          on_eval: Callable[[int, float], None] | None = None,
          device: str = "cpu", precision: str = "auto") -> TrainResult:
    """Train ``model_config`` on ``task`` and return the final held-out score and its history.

    ``device`` (``cpu``, ``cuda``, ``cuda:1``) and ``precision`` (``auto``, ``fp32``,
    ``bf16``, ``fp16``) say where and how (:func:`~attncost.search.tasks.device.resolve_device`).
    ``on_eval(step, score)`` is called after every evaluation; it may raise (Optuna's
    ``TrialPruned``) to stop early. Raises :class:`TrainingDiverged` on a non-finite loss."""
    import torch

    from .device import resolve_device

    _check_counts(steps=steps, batch=batch, eval_every=eval_every)
    dev = resolve_device(device, precision)
    opts = task.resolve(opts) if opts is None else opts
    d = data if data is not None else task.data(opts, seed)
    x_tr, y_tr = d.x_train.to(dev.name), d.y_train.to(dev.name)
    x_va, y_va = d.x_val.to(dev.name), d.y_val.to(dev.name)
    model, opt, sched = _model_and_optimizer(model_config, seed, steps, lr, weight_decay,
                                             dev.name)
    scaler = dev.scaler()
    name = task.metric_of(opts)  # passed only when options choose it (user scores keep
    metric = {} if name == task.metric else {"metric": name}  # their signature)
    gen = torch.Generator().manual_seed(seed)
    history: list[tuple[int, float]] = []
    start = time.perf_counter()
    model.train()
    for step in range(1, steps + 1):
        idx = torch.randint(0, len(x_tr), (batch,), generator=gen).to(dev.name)
        _step(model, opt, x_tr[idx], y_tr[idx], dev, scaler, step, lr)
        sched.step()
        if step % eval_every == 0 or step == steps:
            with dev.autocast():
                score = task.score(model, x_va, y_va, **metric)
            history.append((step, score))
            if on_eval is not None:
                on_eval(step, score)
    params = sum(p.numel() for p in model.parameters())
    return TrainResult(history[-1][1], history, time.perf_counter() - start, steps, params,
                       dev.name, dev.precision)
