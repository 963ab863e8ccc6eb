"""The search benchmark's black boxes (issue 10): every family's exact optimum equals brute
force on small instances, the landscapes' cost figures are the cost model's, and the API is
vectorised, bounded and deterministic."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from attncost.search import benchmark as bm
from attncost.search import landscapes as ls

FAMILIES = sorted(ls.FAMILIES)


def brute_force(space, accuracy, target):
    """Every arrangement, in budget, meeting the target: the cheapest (then the most
    accurate)."""
    best = None
    archs = list(itertools.product(range(len(space.variants)), repeat=space.layers))
    acc = accuracy(np.array(archs))
    for arch, a in zip(archs, acc):
        names = tuple(space.variants[v] for v in arch)
        if a < target or not space.budget_ok(names):
            continue
        key = (space.cost(names), -a)
        if best is None or key < best[0]:
            best = (key, names)
    return (None, math.inf) if best is None else (best[1], best[0][0])


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("layers", [3, 5])
def test_exact_optimum_matches_brute_force(family, layers):
    space = bm.cost_space(layers)
    for seed in (0, 1):
        land = ls.make(family, layers, seed)
        for target in (0.90, 0.80):
            got, cost = bm.exact_optimum(space, land.true_accuracy, target)
            want, want_cost = brute_force(space, land.true_accuracy, target)
            assert (got is None) == (want is None)
            if want is not None:
                assert cost == pytest.approx(want_cost, rel=1e-12), (family, layers, seed)
                assert space.budget_ok(got)
                idx = np.array([[space.variants.index(v) for v in got]])
                assert land.true_accuracy(idx)[0] >= target


def test_landscape_cost_figures_are_the_cost_models():
    space = bm.cost_space(12)
    assert space.variants == ls.VARIANTS
    per = np.array([space.cost_per_variant[v] for v in ls.VARIANTS])
    assert np.allclose(per, ls.COST_PER_LAYER, rtol=1e-12)
    assert space.base_cost == pytest.approx(ls.COST_BASE, rel=1e-12)
    assert space.param_budget == ls.param_budget(12)
    usage = np.array([space.additive_usage[v] for v in ls.VARIANTS])
    assert np.array_equal(usage, ls.PARAM_PER_LAYER)


@pytest.mark.parametrize("family", FAMILIES)
def test_api_range_determinism(family):
    rng = np.random.default_rng(0)
    for layers in (3, 8, 12):
        archs = rng.integers(0, ls.NV, size=(5000, layers))
        l0 = ls.make(family, layers, 0)
        acc = l0.true_accuracy(archs)
        assert acc.shape == (5000,)
        assert np.all(acc >= ls.CHANCE) and np.all(acc <= 1.0)
        assert np.array_equal(acc, ls.make(family, layers, 0).true_accuracy(archs))
        if layers == 12:
            assert not np.array_equal(acc, ls.make(family, layers, 1).true_accuracy(archs))
            std = l0.true_accuracy(np.zeros(layers, dtype=int))[0]
            assert std >= 0.92  # standard attention everywhere meets the target with room


def test_unknown_family_is_a_one_line_error():
    from attncost.errors import UnknownNameError

    with pytest.raises(UnknownNameError, match="unknown landscape family 'nope'"):
        ls.make("nope")
