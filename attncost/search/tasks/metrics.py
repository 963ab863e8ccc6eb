"""How a task is scored: the registry of task metrics.

The search compares every run by one number, its **score**: in [0, 1], higher is better, the
target is a score. A metric gives its raw value (what the user reads, in its own direction)
and the score it maps to:

* ``accuracy`` — the fraction of scored targets predicted right (the default); score = value.
* ``f1`` — macro-averaged F1 over the classes present in the targets or predictions (the
  unweighted mean of per-class F1 = 2·precision·recall/(precision + recall), as
  scikit-learn's ``f1_score(average="macro")``); score = value.
* ``loss`` — mean cross-entropy (nats per scored target), lower is better; score =
  exp(−loss), the geometric-mean probability given to the right answer (1/perplexity). A
  uniform guess over C classes scores 1/C, as accuracy's chance level does.

Users add one with :func:`register_metric`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

from ...errors import AttncostError, unknown


@dataclass(frozen=True)
class TaskMetric:
    """``value(pred, target, nll)`` of 1-D tensors over the scored targets (predicted class,
    true class, per-target cross-entropy); ``higher_is_better``; ``to_score`` maps a value
    into [0, 1] (higher better) and ``from_score`` back."""

    name: str
    value: Callable[[Any, Any, Any], float]
    higher_is_better: bool = True
    to_score: Callable[[float], float] = lambda v: v
    from_score: Callable[[float], float] = lambda s: s
    label: str = ""

    @property
    def direction(self) -> str:
        return "maximise" if self.higher_is_better else "minimise"


TASK_METRICS: dict[str, TaskMetric] = {}


def register_metric(metric: TaskMetric, *, replace: bool = False) -> TaskMetric:
    """Add a task metric; a name already registered is refused unless ``replace``."""
    if metric.name in TASK_METRICS and not replace:
        raise AttncostError(f"task metric {metric.name!r} is already registered; pass "
                            f"replace=True to replace it")
    TASK_METRICS[metric.name] = metric
    return metric


def get_metric(name: str) -> TaskMetric:
    """The task metric called ``name``; UnknownNameError lists the registered ones."""
    if not isinstance(name, str) or name not in TASK_METRICS:
        raise unknown("task metric", name, TASK_METRICS)
    return TASK_METRICS[name]


def _accuracy(pred: Any, target: Any, nll: Any) -> float:
    return float((pred == target).float().mean()) if len(target) else 0.0


def _macro_f1(pred: Any, target: Any, nll: Any) -> float:
    """Macro F1 (scikit-learn's ``average="macro"``, classes present in either)."""
    import torch

    classes = torch.unique(torch.cat([pred, target]))
    scores = []
    for c in classes:
        tp = int(((pred == c) & (target == c)).sum())
        fp = int(((pred == c) & (target != c)).sum())
        fn = int(((pred != c) & (target == c)).sum())
        scores.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
    return sum(scores) / len(scores) if scores else 0.0


def _mean_nll(pred: Any, target: Any, nll: Any) -> float:
    return float(nll.mean()) if len(nll) else math.inf


register_metric(TaskMetric("accuracy", _accuracy, label="accuracy"))
register_metric(TaskMetric("f1", _macro_f1, label="macro F1"))
register_metric(TaskMetric("loss", _mean_nll, higher_is_better=False,
                           to_score=lambda v: math.exp(-v) if math.isfinite(v) else 0.0,
                           from_score=lambda s: -math.log(s) if s > 0 else math.inf,
                           label="cross-entropy (nats)"))
