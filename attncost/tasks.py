"""Offline tasks that give a search real accuracies, and the loop that trains on them.

Two tasks, both generated or bundled, so a search runs with no network on a 2-core CPU:

* ``digits``: scikit-learn's 8×8 handwritten digits (1,797 images, UCI; bundled with
  scikit-learn), cut into 2×2 patches → 16 tokens into a small ViT, mean-pooled, 10 classes.
  Held-out validation: a fixed stratified 25 % split. It barely separates attention variants
  (every variant reaches 95–98 %), which is the honest answer for such a short sequence.
* ``mqar``: multi-query associative recall (Arora et al. 2023, "Zoology", arXiv 2312.04927).
  A sequence of key-value pairs ``k1 v1 … kP vP`` then queries ``q1 … qQ`` (keys drawn from the
  pairs); the model must output each query's value at the query's position. Bidirectional
  attention is safe here because the query section holds no answers, so non-causal variants
  (Linformer, linear) can be searched too. It separates variants sharply: recall needs a sharp
  lookup, which low-rank and linear attentions lack.

:func:`train` trains one architecture (a :class:`~attncost.model.ModelConfig`) on one seed and
reports validation accuracy every ``eval_every`` steps; it raises :class:`TrainingDiverged` on a
non-finite loss. torch is imported only when training starts.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from .config import AttentionConfig
from .errors import AttncostError, ConfigError, unknown
from .model import ModelConfig


class TrainingDiverged(AttncostError):
    """Training produced a non-finite loss (NaN or inf)."""


@dataclass(frozen=True)
class TaskSpec:
    """One task: how its data look and what a model for it needs."""

    name: str
    description: str
    seq_len_fn: Callable[[dict[str, Any]], int]  # of resolved options
    chance_fn: Callable[[dict[str, Any]], float]  # of resolved options
    defaults: dict[str, Any] = field(default_factory=dict)

    def options(self, given: dict[str, Any] | None = None) -> dict[str, Any]:
        """The task's options: its defaults with ``given`` over them."""
        return {**self.defaults, **(given or {})}

    def seq_len(self, given: dict[str, Any] | None = None) -> int:
        return self.seq_len_fn(self.options(given))

    def chance(self, given: dict[str, Any] | None = None) -> float:
        """Accuracy of guessing uniformly."""
        return self.chance_fn(self.options(given))


def _digits_seq_len(opts: dict[str, Any]) -> int:
    patch = opts["patch_size"]
    if 8 % patch:
        raise ConfigError(f"digits patch_size must divide 8 (1, 2, 4 or 8), got {patch!r}")
    return (8 // patch) ** 2


def _mqar_seq_len(o: dict[str, Any]) -> int:
    return (1 if o["pair_tokens"] else 2) * o["pairs"] + o["queries"]


TASKS: dict[str, TaskSpec] = {
    "digits": TaskSpec("digits", "scikit-learn 8×8 digits as 2×2 patch tokens, 10 classes",
                       _digits_seq_len, lambda o: 0.1, {"patch_size": 2}),
    "mqar": TaskSpec("mqar", "multi-query associative recall (Zoology, Arora et al. 2023)",
                     _mqar_seq_len, lambda o: 1.0 / o["values"],
                     {"pairs": 16, "queries": 16, "keys": 32, "values": 16,
                      "train_examples": 20000, "val_examples": 1000, "pair_tokens": 1}),
}


def get_task(name: str) -> TaskSpec:
    if name not in TASKS:
        raise unknown("task", name, TASKS)
    return TASKS[name]


def task_model(task: str, layers: tuple[str, ...], attention: AttentionConfig,
               options: dict[str, Any] | None = None, **model_fields: Any) -> ModelConfig:
    """The :class:`ModelConfig` that ``task`` trains: its input and head around the
    skeleton (``attention`` carries d_model, heads, batch; seq_len comes from the task)."""
    spec = get_task(task)
    opts = spec.options(options)
    seq_len = spec.seq_len_fn(opts)
    attn = attention.with_(seq_len=seq_len, max_seq_len=seq_len, causal=False)
    base = dict(layers=tuple(layers), attention=attn, pre_norm=True, final_norm=True)
    base.update(model_fields)
    if task == "digits":
        return ModelConfig(name="digits-vit", image_size=8, patch_size=opts["patch_size"],
                           channels=1, pooling="mean", class_head=(10,), max_positions=seq_len,
                           **base)
    vocab = mqar_vocab(opts)  # 0 is unused padding
    return ModelConfig(name="mqar", vocab=vocab, lm_head=True, tied_embeddings=False,
                       max_positions=seq_len, **base)


# -- data ----------------------------------------------------------------------------------


def _digits_data(opts: dict[str, Any], seed: int):
    import numpy as np
    import torch
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    images, labels = load_digits(return_X_y=True)
    images = (images / 16.0).astype(np.float32).reshape(-1, 1, 8, 8)
    x_tr, x_va, y_tr, y_va = train_test_split(images, labels, test_size=0.25, random_state=0,
                                              stratify=labels)  # fixed split, whatever the seed
    return (torch.from_numpy(x_tr), torch.from_numpy(y_tr).long(),
            torch.from_numpy(x_va), torch.from_numpy(y_va).long())


def mqar_batch(n: int, pairs: int, queries: int, keys: int, values: int, generator,
               pair_tokens: bool = True) -> tuple:
    """``n`` MQAR sequences: inputs and targets (-100 = not scored).

    Each sequence draws ``pairs`` distinct keys (of ``keys``) and a value (of ``values``) for
    each, then ``queries`` keys from those pairs. Two layouts:

    * ``pair_tokens`` (default): one token per key-value pair, ``1 + key·values + value``;
      a query is ``1 + keys·values + key``; answers are ``1 + keys·values + keys + value``.
      The lookup is one attention hop (match the query's key in a pair token's embedding).
    * Zoology's layout: ``k1 v1 k2 v2 … q1 q2 …`` with keys ``1..keys`` and values
      ``keys+1..keys+values``: two hops (a value token must first learn its key from the
      previous position). A 2-layer model needs far more steps than a CPU search can give it
      to learn that (seen here: standard attention at 25 % after 1,000 steps), hence the
      default."""
    import torch

    if pairs > keys:
        raise ConfigError(f"mqar pairs={pairs} needs at least as many keys, got keys={keys}")
    k = torch.argsort(torch.rand(n, keys, generator=generator), dim=1)[:, :pairs]
    v = torch.randint(0, values, (n, pairs), generator=generator)
    which = torch.randint(0, pairs, (n, queries), generator=generator)
    q = torch.gather(k, 1, which)
    answers = torch.gather(v, 1, which)
    if pair_tokens:
        context = 1 + k * values + v
        q_tok = 1 + keys * values + q
        ans_tok = 1 + keys * values + keys + answers
    else:
        context = torch.stack([k + 1, v + keys + 1], dim=2).reshape(n, 2 * pairs)
        q_tok, ans_tok = q + 1, answers + keys + 1
    inputs = torch.cat([context, q_tok], dim=1)
    targets = torch.full_like(inputs, -100)
    targets[:, context.shape[1]:] = ans_tok
    return inputs, targets


def mqar_vocab(o: dict[str, Any]) -> int:
    """Token ids used by MQAR with resolved options ``o`` (0 is padding)."""
    if o["pair_tokens"]:
        return 1 + o["keys"] * o["values"] + o["keys"] + o["values"]
    return 1 + o["keys"] + o["values"]


def _mqar_data(o: dict[str, Any], seed: int):
    import torch

    shape = (o["pairs"], o["queries"], o["keys"], o["values"])
    pt = bool(o["pair_tokens"])
    train = mqar_batch(o["train_examples"], *shape, torch.Generator().manual_seed(1000 + seed),
                       pair_tokens=pt)
    val = mqar_batch(o["val_examples"], *shape, torch.Generator().manual_seed(7),  # fixed
                     pair_tokens=pt)
    return (*train, *val)


def load_data(task: str, options: dict[str, Any] | None = None, seed: int = 0):
    """(train inputs, train targets, validation inputs, validation targets) as tensors."""
    opts = get_task(task).options(options)
    return _digits_data(opts, seed) if task == "digits" else _mqar_data(opts, seed)


# -- training ------------------------------------------------------------------------------


@dataclass
class TrainResult:
    accuracy: float
    history: list[tuple[int, float]]
    seconds: float
    steps: int
    params: int


def _accuracy(model, x, y, batch: int = 512) -> float:
    import torch

    model.eval()
    correct = total = 0
    with torch.no_grad():
        for i in range(0, len(x), batch):
            logits = model(x[i:i + batch])
            target = y[i:i + batch]
            mask = target != -100
            correct += int((logits.argmax(-1) == target)[mask].sum())
            total += int(mask.sum())
    model.train()
    return correct / max(total, 1)


def train(model_config: ModelConfig, task: str, *, steps: int = 300, batch: int = 64,
          lr: float = 1e-3, weight_decay: float = 0.01, seed: int = 0, eval_every: int = 50,
          options: dict[str, Any] | None = None, data: Any = None,
          on_eval: Callable[[int, float], None] | None = None) -> TrainResult:
    """Train ``model_config`` on ``task`` with AdamW (linear warm-up over 5 % of the steps,
    cosine decay) and return the final validation accuracy and its history.

    ``on_eval(step, accuracy)`` is called after every evaluation; it may raise (Optuna's
    ``TrialPruned``) to stop early. Raises :class:`TrainingDiverged` on a non-finite loss."""
    import torch
    import torch.nn.functional as F

    from .nn.model import TransformerModel

    if steps <= 0 or batch <= 0 or eval_every <= 0:
        raise ConfigError(f"steps, batch and eval_every must be positive, got "
                          f"{steps}, {batch}, {eval_every}")
    x_tr, y_tr, x_va, y_va = data if data is not None else load_data(task, options, seed)
    torch.manual_seed(seed)
    model = TransformerModel(model_config, dropout=0.0)
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
        idx = torch.randint(0, len(x_tr), (batch,), generator=gen)
        logits = model(x_tr[idx])
        target = y_tr[idx]
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), target.reshape(-1),
                               ignore_index=-100)
        if not torch.isfinite(loss):
            raise TrainingDiverged(f"loss became {float(loss.detach())} at step {step} (lr={lr})")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        if step % eval_every == 0 or step == steps:
            acc = _accuracy(model, x_va, y_va)
            history.append((step, acc))
            if on_eval is not None:
                on_eval(step, acc)
    return TrainResult(history[-1][1], history, time.perf_counter() - start, steps, params)
