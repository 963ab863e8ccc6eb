"""The training loop every task uses unless it brings its own.

:func:`train` trains one architecture on one seed with AdamW (linear warm-up over 5 % of the
steps, cosine decay, gradient clipping at 1) and scores it on the held-out split every
``eval_every`` steps; it raises :class:`TrainingDiverged` on a non-finite loss. torch is
imported only when training starts.
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


class TrainingDiverged(AttncostError):
    """Training produced a non-finite loss (NaN or inf)."""


@dataclass
class TrainResult:
    accuracy: float  # the task's score on the held-out split (accuracy unless it says)
    history: list[tuple[int, float]]
    seconds: float
    steps: int
    params: int


def train(task: "Task", model_config: ModelConfig, opts: dict[str, Any] | None = None, *,
          steps: int = 300, batch: int = 64, lr: float = 1e-3, weight_decay: float = 0.01,
          seed: int = 0, eval_every: int = 50, data: "TaskData | None" = None,
          on_eval: Callable[[int, float], None] | None = None,
          device: str = "cpu") -> TrainResult:
    """Train ``model_config`` on ``task`` and return the final held-out score and its history.

    ``on_eval(step, score)`` is called after every evaluation; it may raise (Optuna's
    ``TrialPruned``) to stop early. Raises :class:`TrainingDiverged` on a non-finite loss."""
    import torch
    import torch.nn.functional as F

    from ...nn.model import TransformerModel

    for name, v in (("steps", steps), ("batch", batch), ("eval_every", eval_every)):
        if isinstance(v, bool) or not isinstance(v, int) or v <= 0:
            raise ConfigError(f"{name} must be a positive integer, got {v!r}")
    opts = task.resolve(opts) if opts is None else opts
    d = data if data is not None else task.data(opts, seed)
    x_tr, y_tr = d.x_train.to(device), d.y_train.to(device)
    x_va, y_va = d.x_val.to(device), d.y_val.to(device)
    torch.manual_seed(seed)
    model = TransformerModel(model_config, dropout=0.0).to(device)
    if getattr(model, "tok_embed", None) is not None:  # GPT-2 init: tokens on the scale of
        torch.nn.init.normal_(model.tok_embed.weight, std=0.02)  # the positions (0.02)
    params = sum(p.numel() for p in model.parameters())
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    warmup = max(1, steps // 20)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / warmup) * 0.5 * (1 + math.cos(math.pi * s / steps)))
    gen = torch.Generator().manual_seed(seed)
    history: list[tuple[int, float]] = []
    start = time.perf_counter()
    model.train()
    for step in range(1, steps + 1):
        idx = torch.randint(0, len(x_tr), (batch,), generator=gen).to(x_tr.device)
        logits = model(x_tr[idx])
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y_tr[idx].reshape(-1),
                               ignore_index=-100)
        if not torch.isfinite(loss):
            raise TrainingDiverged(f"loss became {float(loss.detach())} at step {step} (lr={lr})")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        if step % eval_every == 0 or step == steps:
            score = task.score(model, x_va, y_va)
            history.append((step, score))
            if on_eval is not None:
                on_eval(step, score)
    return TrainResult(history[-1][1], history, time.perf_counter() - start, steps, params)
