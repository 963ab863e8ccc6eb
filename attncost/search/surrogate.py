"""A SURROGATE for quick what-ifs: accuracy predicted from measured runs, never measured.

The model is the searcher's (:class:`~attncost.search.samplers.gp.HammingGP`: a Gaussian
process on the per-layer choices, with a kernel on the count vector), fitted to the runs of a
study. Its error is reported by k-fold cross-validation over those runs (each run predicted
by a model that never saw it). Everything it outputs is labelled ``surrogate``; it can rank
candidates that were never trained, but only real training (``attncost search``) measures
them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from .samplers.gp import HammingGP

#: A guess of the noise of one run (accuracy points), refined by the fit.
NOISE_GUESS = 0.02


@dataclass
class Surrogate:
    variants: tuple[str, ...]
    gp: HammingGP

    def encode(self, archs: Sequence[Sequence[str]]) -> np.ndarray:
        return np.array([[self.variants.index(v) for v in a] for a in archs], dtype=np.int64)

    def predict_many(self, archs: Sequence[Sequence[str]]) -> np.ndarray:
        mean, _ = self.gp.predict(self.encode(archs))
        return np.clip(mean, 0.0, 1.0)

    def predict(self, arch: Sequence[str]) -> float:
        return float(self.predict_many([arch])[0])


def fit(runs: Sequence[tuple[Sequence[str], float]], variants: Sequence[str]) -> Surrogate:
    """Fit on ``(layers, measured accuracy)`` pairs (one per run)."""
    from threadpoolctl import threadpool_limits

    if not runs:
        raise ValueError("the surrogate needs at least one measured run")
    s = Surrogate(tuple(variants), HammingGP(len(runs[0][0]), len(variants)))
    with threadpool_limits(1):
        s.gp.fit(s.encode([a for a, _ in runs]), np.array([y for _, y in runs]), NOISE_GUESS)
    return s


def cross_validate(runs: Sequence[tuple[Sequence[str], float]], variants: Sequence[str],
                   folds: int = 5, seed: int = 0) -> dict[str, Any]:
    """Held-out error of the surrogate: every run predicted by a fit on the other folds.
    Returns mean, median and max absolute error (accuracy points) and the predictions."""
    runs = list(runs)
    if len(runs) < 3:
        raise ValueError(f"cross-validation needs at least 3 measured runs, got {len(runs)}")
    folds = min(folds, len(runs))
    order = np.random.default_rng(seed).permutation(len(runs))
    preds: list[dict[str, Any]] = []
    for k in range(folds):
        held = sorted(order[k::folds].tolist())
        model = fit([r for i, r in enumerate(runs) if i not in set(held)], variants)
        for i, p in zip(held, model.predict_many([runs[i][0] for i in held])):
            arch, acc = runs[i]
            preds.append({"layers": list(arch), "measured": acc, "surrogate": float(p),
                          "abs_error": abs(float(p) - acc)})
    errs = np.array([p["abs_error"] for p in preds])
    return {"runs": len(runs), "folds": folds, "mean_abs_error": float(errs.mean()),
            "median_abs_error": float(np.median(errs)), "max_abs_error": float(errs.max()),
            "predictions": preds}


#: The most candidates :func:`what_if` ranks (it enumerates them).
MAX_CANDIDATES = 200_000


def what_if(spec: Any, top: int = 5) -> dict[str, Any]:
    """Fit the surrogate to the trained runs of ``spec``'s study, measure its held-out error
    and rank every in-budget candidate by predicted accuracy: the cheapest predicted to meet
    the target. Labelled SURROGATE throughout."""
    from itertools import product

    from ..errors import AttncostError
    from .objective import cost_function
    from .runner import open_study

    study, _ = open_study(spec, create=False)
    runs = [(tuple(t.user_attrs["layers"]), t.user_attrs["accuracy"]) for t in study.trials
            if t.user_attrs.get("status") == "trained"]
    if len(runs) < 3:
        raise AttncostError(f"the surrogate needs at least 3 trained runs in study "
                            f"{study.study_name}; it has {len(runs)}: run the search first")
    size = math.prod(len(c) for c in spec.choices)
    if size > MAX_CANDIDATES:
        raise AttncostError(f"the surrogate ranks by enumeration; {size:,} candidates is "
                            f"too many (at most {MAX_CANDIDATES:,})")
    variants = tuple(dict.fromkeys(v for layer in spec.choices for v in layer))
    cv = cross_validate(runs, variants)
    model = fit(runs, variants)
    cost_of = cost_function(spec)
    target = spec.target_accuracy or 0.0
    archs = [a for a in product(*spec.choices) if cost_of(a).fits]
    ranked = [{"layers": list(a), "surrogate_accuracy": float(p),
               "cost": cost_of(a).value(spec.cost_metric)}
              for a, p in zip(archs, model.predict_many(archs) if archs else []) if p >= target]
    ranked.sort(key=lambda r: r["cost"])
    return {"label": "SURROGATE (predicted, not measured)", "study": study.study_name,
            "cost_metric": spec.cost_metric,
            "cross_validation": {k: v for k, v in cv.items() if k != "predictions"},
            "predicted_best": ranked[:top]}
