"""What a task is: a declared option schema, data, the model it trains, how it is scored.

A task gives a search real scores. :class:`Task` is the one interface built-in and user
tasks share; a subclass declares

* ``options``: a tuple of :class:`~attncost.search.tasks.options.TaskOption` (typed, with
  defaults and limits): the spec's ``[task]`` section is validated against it, with one-line
  errors naming the field;
* ``input_kind`` — ``tokens`` (integer ids → an embedding), ``patches`` (images → a patch
  embedding; such a task overrides :meth:`Task.model`) or ``features`` (continuous vectors →
  a linear projection) — and ``output_kind`` — ``sequence`` (one class per sequence, pooled
  by ``pooling``), ``token`` (one class per position; targets of -100 are not scored) or
  ``lm`` (language modelling: causal attention, an LM head over the vocabulary);
* ``metric``: a name of :data:`~attncost.search.tasks.metrics.TASK_METRICS` (``accuracy``
  by default, ``f1``, ``loss``);
* ``seq_len(opts)``, ``data(opts, seed)`` (a :class:`TaskData`: train and held-out split,
  fixed by the seed) and, for the default model, ``classes(opts)`` and ``vocab(opts)`` or
  ``features(opts)``;

and may override ``chance`` (the score of a uniform guess; 1/classes by default), ``model``
(the :class:`~attncost.config.ModelConfig` the candidates train — always one the cost model
describes exactly), ``check`` (checks across options) and ``train`` (the loop of
:mod:`attncost.search.tasks.training` by default).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from ...config import AttentionConfig, ModelConfig
from ...errors import AttncostError
from .metrics import get_metric
from .options import KINDS, TaskOption, TaskOptionError, resolve_options

INPUT_KINDS = ("tokens", "patches", "features")
OUTPUT_KINDS = ("sequence", "token", "lm")
POOLINGS = ("mean", "cls")

__all__ = ["INPUT_KINDS", "KINDS", "OUTPUT_KINDS", "Task", "TaskData", "TaskOption",
           "TaskOptionError"]


@dataclass
class TaskData:
    """Inputs and targets of the training and held-out splits (tensors; targets of -100 are
    not scored)."""

    x_train: Any
    y_train: Any
    x_val: Any
    y_val: Any


class Task:
    """Base class of every task (see the module docstring)."""

    name: str = ""
    description: str = ""
    options: tuple[TaskOption, ...] = ()
    input_kind: str = "tokens"
    output_kind: str = "sequence"
    metric: str = "accuracy"
    pooling: str = "mean"  # sequence classification: mean over positions or the first (cls)

    def validate(self) -> None:
        """Check the declaration (kinds, metric, options) — at registration, one line."""
        for attr, allowed in (("input_kind", INPUT_KINDS), ("output_kind", OUTPUT_KINDS),
                              ("pooling", POOLINGS)):
            if getattr(self, attr) not in allowed:
                raise AttncostError(f"task {self.name!r}: {attr} = {getattr(self, attr)!r} is "
                                    f"invalid: allowed: {', '.join(allowed)}")
        try:
            get_metric(self.metric)
        except AttncostError as e:
            raise AttncostError(f"task {self.name!r}: {e}") from None
        names = [o.name for o in self.options]
        if not all(isinstance(o, TaskOption) for o in self.options) or \
                len(set(names)) != len(names):
            raise AttncostError(f"task {self.name!r}: options must be distinct TaskOption "
                                f"names, got {names}")

    @property
    def higher_is_better(self) -> bool:
        return get_metric(self.metric).higher_is_better

    def resolve(self, given: Mapping[str, Any] | None = None,
                base_dir: str | Path | None = None) -> dict[str, Any]:
        """The defaults with the ``given`` options over them, each checked (``path``
        options made absolute against ``base_dir``), then :meth:`check`."""
        opts = resolve_options(self.name, self.options, given, base_dir)
        self.check(opts)
        return opts

    def input_kind_of(self, opts: dict[str, Any]) -> str:
        """The input kind for these options (``input_kind`` unless a task lets an option
        choose)."""
        return self.input_kind

    def metric_of(self, opts: dict[str, Any]) -> str:
        """The metric for these options (``metric`` unless a task lets an option choose)."""
        return self.metric

    def check(self, opts: dict[str, Any]) -> None:
        """Checks across options (override; raise :class:`TaskOptionError`)."""

    # -- what a task declares ---------------------------------------------------------

    def seq_len(self, opts: dict[str, Any]) -> int:
        raise NotImplementedError(f"task {self.name!r} must define seq_len(opts)")

    def data(self, opts: dict[str, Any], seed: int) -> TaskData:
        raise NotImplementedError(f"task {self.name!r} must define data(opts, seed)")

    def classes(self, opts: dict[str, Any]) -> int:
        """Classes of a ``sequence`` or ``token`` output."""
        raise NotImplementedError(f"task {self.name!r} must define classes(opts)")

    def vocab(self, opts: dict[str, Any]) -> int:
        """Token ids of a ``tokens`` input (0 … vocab − 1)."""
        raise NotImplementedError(f"task {self.name!r} must define vocab(opts)")

    def features(self, opts: dict[str, Any]) -> int:
        """Features per position of a ``features`` input."""
        raise NotImplementedError(f"task {self.name!r} must define features(opts)")

    def chance(self, opts: dict[str, Any]) -> float:
        """The score of guessing uniformly: 1/classes (1/vocab for ``lm``)."""
        n = self.vocab(opts) if self.output_kind == "lm" else self.classes(opts)
        return 1.0 / n

    # -- the model --------------------------------------------------------------------

    def skeleton(self, layers: tuple[str, ...], attention: AttentionConfig,
                 opts: dict[str, Any], **fields: Any) -> dict[str, Any]:
        """ModelConfig fields every task shares: the candidate's layers, the attention at
        the task's length (causal only for ``lm``), pre-norm blocks, ``fields`` over them."""
        seq_len = self.seq_len(opts)
        attn = attention.with_(seq_len=seq_len, max_seq_len=seq_len,
                               causal=self.output_kind == "lm")
        return {"layers": tuple(layers), "attention": attn, "pre_norm": True,
                "final_norm": True, **fields}

    def model(self, layers: tuple[str, ...], attention: AttentionConfig,
              opts: dict[str, Any], **fields: Any) -> ModelConfig:
        """The candidate's model from the declared kinds: the input (embedding, or a linear
        projection of features) and learned positions, the skeleton, and the output (a
        classifier on the pooled sequence or on every token, or an untied LM head)."""
        base = self.skeleton(layers, attention, opts, **fields)
        return ModelConfig(name=self.name, max_positions=self.seq_len(opts),
                           **self._input_fields(opts), **self._output_fields(opts), **base)

    def _input_fields(self, opts: dict[str, Any]) -> dict[str, Any]:
        kind = self.input_kind_of(opts)
        if kind == "tokens":
            return {"vocab": self.vocab(opts)}
        if kind == "features":
            vocab = self.vocab(opts) if self.output_kind == "lm" else 0
            return {"features": self.features(opts), "vocab": vocab}
        raise AttncostError(f"task {self.name!r} has input kind 'patches': override model() "
                            f"with image_size, patch_size and channels")

    def _output_fields(self, opts: dict[str, Any]) -> dict[str, Any]:
        if self.output_kind == "lm":
            return {"lm_head": True, "tied_embeddings": False}
        pooling = self.pooling if self.output_kind == "sequence" else "none"
        return {"pooling": pooling, "class_head": (self.classes(opts),)}

    # -- scoring and training ---------------------------------------------------------

    def evaluate(self, model: Any, x: Any, y: Any, batch: int = 512,
                 metric: str | None = None) -> float:
        """The raw value of ``metric`` (the task's by default) on ``(x, y)``, every target
        that is not -100; under the caller's autocast, if any."""
        import torch
        import torch.nn.functional as F

        model.eval()
        preds, targets, nlls = [], [], []
        with torch.no_grad():
            for i in range(0, len(x), batch):
                logits = model(x[i:i + batch])
                logits = logits.float().reshape(-1, logits.shape[-1])
                target = y[i:i + batch].reshape(-1)
                keep = target != -100
                preds.append(logits.argmax(-1)[keep])
                targets.append(target[keep])
                nlls.append(F.cross_entropy(logits[keep], target[keep], reduction="none"))
        model.train()
        return get_metric(metric or self.metric).value(torch.cat(preds), torch.cat(targets),
                                                       torch.cat(nlls))

    def score(self, model: Any, x: Any, y: Any, batch: int = 512,
              metric: str | None = None) -> float:
        """The search's score in [0, 1] (higher better) of ``metric`` (the task's by
        default) on ``(x, y)``."""
        m = metric or self.metric
        return get_metric(m).to_score(self.evaluate(model, x, y, batch, m))

    def train(self, model_config: ModelConfig, opts: dict[str, Any], **kw: Any) -> Any:
        """Train one candidate (:func:`attncost.search.tasks.training.train`)."""
        from .training import train

        return train(self, model_config, opts, **kw)

