"""A SURROGATE for quick what-ifs: accuracy predicted from measured runs, never measured.

The model is the sampler's (:class:`~attncost.search.sampler.AccuracyModel`): logit-linear in
per-position variant effects and adjacent-pair interactions, its posterior mean fitted to the
trained trials of a study. Its error is reported by k-fold cross-validation over those
measured runs (each run predicted by a model that never saw it). Everything it outputs is
labelled ``surrogate``; it can rank candidates that were never trained, but only real
training (``attncost search``) measures them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from .samplers.costaware import AccuracyModel, Features, accuracy_logit


@dataclass
class Surrogate:
    variants: tuple[str, ...]
    chance: float
    features: Features
    weights: np.ndarray  # the posterior mean, computed once by :func:`fit`

    def predict(self, arch: Sequence[str]) -> float:
        idx = [self.variants.index(v) for v in arch]
        z = float(self.features.of(idx) @ self.weights)
        return self.chance + (1 - self.chance) / (1 + math.exp(-z))


def fit(runs: Sequence[tuple[Sequence[str], float]], variants: Sequence[str], chance: float,
        prior_bias: float = 2.0) -> Surrogate:
    """Fit on ``(layers, measured accuracy)`` pairs."""
    if not runs:
        raise ValueError("the surrogate needs at least one measured run")
    layers = len(runs[0][0])
    feats = Features(layers, len(variants))
    model = AccuracyModel(feats)
    for arch, acc in runs:
        model.xs.append(feats.of([list(variants).index(v) for v in arch]))
        model.ys.append(accuracy_logit(acc, chance))
    return Surrogate(tuple(variants), chance, feats, model.mean(prior_bias))


def cross_validate(runs: Sequence[tuple[Sequence[str], float]], variants: Sequence[str],
                   chance: float, folds: int = 5, seed: int = 0) -> dict[str, Any]:
    """Held-out error of the surrogate: every run predicted by a fit on the other folds.
    Returns mean and max absolute error (accuracy points) and the predictions."""
    runs = list(runs)
    if len(runs) < 3:
        raise ValueError(f"cross-validation needs at least 3 measured runs, got {len(runs)}")
    folds = min(folds, len(runs))
    order = np.random.default_rng(seed).permutation(len(runs))
    preds: list[dict[str, Any]] = []
    for k in range(folds):
        held = set(order[k::folds].tolist())
        model = fit([r for i, r in enumerate(runs) if i not in held], variants, chance)
        for i in sorted(held):
            arch, acc = runs[i]
            p = model.predict(arch)
            preds.append({"layers": list(arch), "measured": acc, "surrogate": p,
                          "abs_error": abs(p - acc)})
    errs = np.array([p["abs_error"] for p in preds])
    return {"runs": len(runs), "folds": folds, "mean_abs_error": float(errs.mean()),
            "median_abs_error": float(np.median(errs)), "max_abs_error": float(errs.max()),
            "predictions": preds}


#: The most candidates :func:`what_if` ranks (it enumerates them).
MAX_CANDIDATES = 200_000


def what_if(spec, top: int = 5) -> dict[str, Any]:
    """Fit the surrogate to the trained runs of ``spec``'s study, measure its held-out error
    and rank every in-budget candidate by predicted accuracy: the cheapest predicted to meet
    the target. Labelled SURROGATE throughout."""
    from itertools import product

    from ..errors import AttncostError
    from .objective import chance as chance_of
    from .objective import cost_function
    from .runner import open_study

    study, _ = open_study(spec)
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
    chance = chance_of(spec)
    cv = cross_validate(runs, variants, chance)
    model = fit(runs, variants, chance)
    cost_of = cost_function(spec)
    target = spec.target_accuracy or 0.0
    ranked = []
    for arch in product(*spec.choices):
        cost = cost_of(arch)
        if cost.fits and (acc := model.predict(arch)) >= target:
            ranked.append({"layers": list(arch), "surrogate_accuracy": acc,
                           "cost": cost.value(spec.cost_metric)})
    ranked.sort(key=lambda r: r["cost"])
    return {"label": "SURROGATE (predicted, not measured)", "study": study.study_name,
            "cost_metric": spec.cost_metric,
            "cross_validation": {k: v for k, v in cv.items() if k != "predictions"},
            "predicted_best": ranked[:top]}
