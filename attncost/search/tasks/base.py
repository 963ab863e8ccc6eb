"""What a task is: a declared option schema, data, the model it trains, how it is scored.

A task gives a search real accuracies. :class:`Task` is the one interface built-in and user
tasks share; subclasses declare

* ``options``: a tuple of :class:`TaskOption` (typed, with defaults and limits): the spec's
  ``[task]`` section is validated against it, with one-line errors naming the field;
* ``seq_len(opts)`` and ``chance(opts)`` (the score of a uniform guess);
* ``model(layers, attention, opts, **fields)``: the :class:`~attncost.config.ModelConfig`
  the candidates train — a model the cost model describes exactly;
* ``data(opts, seed)``: a :class:`TaskData` (train and held-out split, fixed by the seed);

and may override ``score`` (accuracy by default) and ``train`` (the loop of
:mod:`attncost.search.tasks.training` by default).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping

from ...config import AttentionConfig, ModelConfig
from ...errors import AttncostError

KINDS = {"int": (int,), "float": (int, float), "str": (str,), "bool": (bool,),
         "list": (list, tuple)}


class TaskOptionError(AttncostError):
    """A task option is invalid; the message names the field."""


@dataclass(frozen=True)
class TaskOption:
    """One option of a task: its type (``int``, ``float``, ``str``, ``bool``, ``list``),
    default, help, and limits (``minimum``/``maximum`` for numbers, ``choices``)."""

    name: str
    kind: str
    default: Any
    help: str = ""
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple | None = None

    def check(self, value: Any) -> Any:
        """``value`` if valid, else a one-line :class:`TaskOptionError`."""
        types = KINDS[self.kind]
        ok = isinstance(value, types) and not (self.kind in ("int", "float") and
                                               isinstance(value, bool))
        if ok and self.kind in ("int", "float"):
            ok = math.isfinite(value) and (self.minimum is None or value >= self.minimum) and (
                self.maximum is None or value <= self.maximum)
        if ok and self.choices is not None:
            ok = value in self.choices
        if not ok:
            raise TaskOptionError(f"[task] {self.name} = {value!r} is invalid: {self.allowed()}")
        return list(value) if self.kind == "list" else value

    def allowed(self) -> str:
        if self.choices is not None:
            return "allowed: " + ", ".join(map(str, self.choices))
        text = {"int": "an integer", "float": "a number", "str": "a string",
                "bool": "true or false", "list": "a list"}[self.kind]
        if self.minimum is not None and self.maximum is not None:
            return f"must be {text} in [{self.minimum}, {self.maximum}]"
        if self.minimum is not None:
            return f"must be {text} ≥ {self.minimum}"
        return f"must be {text}"


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
    input_kind: str = "tokens"  # tokens | patches | features
    output_kind: str = "sequence"  # sequence | token | lm
    metric: str = "accuracy"
    higher_is_better: bool = True

    def resolve(self, given: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The defaults with the ``given`` options over them, each checked; unknown names
        are refused with the allowed ones listed."""
        given = dict(given or {})
        known = {o.name: o for o in self.options}
        for key in given:
            if key not in known:
                allowed = ", ".join(known) or "none"
                raise TaskOptionError(f"unknown field [task] {key} for task {self.name!r}; "
                                      f"allowed: {allowed}")
        opts = {o.name: o.check(given[o.name]) if o.name in given else o.default
                for o in self.options}
        self.check(opts)
        return opts

    def check(self, opts: dict[str, Any]) -> None:
        """Checks across options (override; raise :class:`TaskOptionError`)."""

    def seq_len(self, opts: dict[str, Any]) -> int:
        raise NotImplementedError

    def chance(self, opts: dict[str, Any]) -> float:
        """The score of guessing uniformly."""
        raise NotImplementedError

    def model(self, layers: tuple[str, ...], attention: AttentionConfig,
              opts: dict[str, Any], **fields: Any) -> ModelConfig:
        raise NotImplementedError

    def data(self, opts: dict[str, Any], seed: int) -> TaskData:
        raise NotImplementedError

    def skeleton(self, layers: tuple[str, ...], attention: AttentionConfig,
                 opts: dict[str, Any], **fields: Any) -> dict[str, Any]:
        """ModelConfig fields every task shares: the candidate's layers, the attention at
        the task's length (bidirectional), pre-norm blocks, ``fields`` over them."""
        seq_len = self.seq_len(opts)
        attn = attention.with_(seq_len=seq_len, max_seq_len=seq_len, causal=False)
        return {"layers": tuple(layers), "attention": attn, "pre_norm": True,
                "final_norm": True, **fields}

    def score(self, model: Any, x: Any, y: Any, batch: int = 512) -> float:
        """Accuracy of ``model`` on ``(x, y)``: argmax of the last axis against every target
        that is not -100."""
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

    def train(self, model_config: ModelConfig, opts: dict[str, Any], **kw: Any) -> Any:
        """Train one candidate (:func:`attncost.search.tasks.training.train`)."""
        from .training import train

        return train(self, model_config, opts, **kw)
