"""The public black-box search (issue 10): its contract, and answers that hold under noise."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

pytest.importorskip("optuna")

from attncost.search import benchmark as bm  # noqa: E402
from attncost.search import blackbox_search  # noqa: E402
from attncost.search import landscapes as ls  # noqa: E402
from attncost.search.evidence import Evidence, Run  # noqa: E402


def small_problem(family="additive", layers=4, seed=0):
    space = bm.cost_space(layers)
    land = ls.make(family, layers, seed)

    def truth(arch):
        return float(land.true_accuracy(np.array([[space.variants.index(v) for v in arch]]))[0])

    return space, truth


@pytest.mark.parametrize("budget", [7, 40])
def test_evaluation_count_is_never_exceeded_and_retests_count(budget):
    space, truth = small_problem()
    calls = []
    rng = np.random.default_rng(0)

    def evaluate(arch, seed):
        calls.append((arch, seed))
        return float(np.clip(truth(arch) + rng.normal(0, 0.0125), 0, 1))

    r = blackbox_search(space, evaluate, target=0.9, evaluations=budget, seed=1)
    assert len(calls) == r.evaluations <= budget
    assert len(calls) == len(set(calls)), "an (architecture, seed) was evaluated twice"
    seeds = {}
    for arch, seed in calls:
        seeds.setdefault(arch, []).append(seed)
    assert all(s == list(range(len(s))) for s in seeds.values())  # re-tests: fresh seeds
    if budget == 40:
        assert any(len(s) > 1 for s in seeds.values())  # re-tests happened and counted
        assert r.found
    if r.found:
        lo, hi = r.interval
        assert lo >= 0.9 and lo <= hi
        assert r.runs == len(seeds[r.architecture]) >= 5  # 2 screening + a batch of 3 or more
        assert 0.9 <= r.p_meets_target <= 1.0
        assert r.cost == space.cost(r.architecture) and space.budget_ok(r.architecture)


def test_a_lucky_draw_is_never_the_answer():
    """An architecture whose first evaluation is lucky (true accuracy below the target) is
    re-tested, not answered; an exactly-at-target one is never certified."""
    space, truth = small_problem()
    lucky = ("linear",) * 4

    def evaluate(arch, seed):
        if arch == lucky:  # one lucky draw, then the truth: 0.85
            return 0.99 if seed == 0 else 0.85
        return truth(arch)  # noiseless elsewhere

    r = blackbox_search(space, evaluate, target=0.9, evaluations=60, seed=0)
    assert r.architecture != lucky
    cand = next(c for c in r.candidates if tuple(c["layers"]) == lucky)
    assert cand["runs"] >= 2 and cand["state"] in ("ruled-out", "failed", "open")


def test_certification_is_a_planned_confirmation_of_fresh_runs():
    cost = {("a",): 1.0, ("b",): 2.0}.__getitem__
    # screening alone never certifies, however good
    screen = [Run(("b",), s, 0.97, order=s) for s in range(6)]
    assert Evidence(screen, cost, 0.9).verdicts[("b",)].state == "open"
    # a confirmation certifies only when its planned batch is complete
    batch = [Run(("b",), 6 + s, 0.97, order=6 + s, batch=3) for s in range(3)]
    assert Evidence(screen + batch[:2], cost, 0.9).verdicts[("b",)].state == "confirming"
    ev = Evidence(screen + batch, cost, 0.9)
    assert ev.verdicts[("b",)].state == "certified" and ev.answer().arch == ("b",)
    assert ev.verdicts[("b",)].lower >= 0.9
    # a lucky screening does not help a confirmation that comes out at the truth
    lucky = [Run(("a",), 0, 0.99, order=20), Run(("a",), 1, 0.97, order=21)] + \
        [Run(("a",), 2 + s, 0.89, order=22 + s, batch=4) for s in range(4)]
    ev = Evidence(screen + batch + lucky, cost, 0.9)
    assert ev.verdicts[("a",)].state == "failed" and ev.answer().arch == ("b",)
    # stricter with a larger planned budget (Bonferroni over its confirmations)
    assert Evidence(screen, cost, 0.9, budget=300).z_certify > ev.z_certify
    # ruled out: an upper bound on the screening mean below the target
    bad = [Run(("a",), s, 0.5, order=s) for s in range(2)]
    assert Evidence(bad, cost, 0.9).verdicts[("a",)].state == "ruled-out"


def test_a_certificate_does_not_lapse_as_the_noise_estimate_grows():
    cost = {("a",): 1.0, ("b",): 2.0}.__getitem__
    runs = [Run(("b",), s, 0.95 + 0.004 * (s % 2), order=s) for s in range(2)]
    runs += [Run(("b",), 2 + s, 0.95 + 0.004 * (s % 2), order=2 + s, batch=4) for s in range(4)]
    before = Evidence(runs, cost, 0.9, noise_prior=0.01)
    assert before.verdicts[("b",)].state == "certified"
    noisy = [Run(("a",), s, 0.5 + 0.3 * (s % 2), order=10 + s) for s in range(6)]
    after = Evidence(runs + noisy, cost, 0.9, noise_prior=0.01)
    assert after.sigma > before.sigma
    assert after.verdicts[("b",)].state == "certified"


def test_the_answer_under_noise_is_truly_feasible():
    """Many near-boundary candidates, noise of 1.5 points: over five seeds the certified
    answer is never one whose true accuracy misses the target."""
    problem = bm.make_problem("additive", 0, layers=6, noise=0.015)
    for seed in range(5):
        r = bm.run(problem, "attncost", seed, evaluations=100)
        regret, infeasible = r.certified[100]
        assert not infeasible, (seed, regret)


def test_bad_arguments_are_one_line_errors():
    from attncost.errors import AttncostError

    space, truth = small_problem()
    for kw in ({"evaluations": 0}, {"target": 1.5}, {"confidence": 1.0}):
        args = {"target": 0.9, "evaluations": 5, **kw}
        with pytest.raises(AttncostError) as e:
            blackbox_search(space, lambda a, s: truth(a), **args)
        assert "\n" not in str(e.value)
    with pytest.raises(AttncostError, match="returned"):
        blackbox_search(space, lambda a, s: float("nan"), target=0.9, evaluations=5)
    with pytest.raises(AttncostError, match="unknown sampler"):
        blackbox_search(space, lambda a, s: truth(a), target=0.9, evaluations=5,
                        sampler="bogus")


def test_the_documented_evaluator_example_runs_and_resumes(tmp_path):
    """tests/examples/blackbox_evaluator.py: a user's training command and a table of past
    runs; run again, it repeats no run."""
    import subprocess
    import sys
    from pathlib import Path

    example = Path(__file__).parent / "examples" / "blackbox_evaluator.py"
    table = tmp_path / "runs.csv"
    first = subprocess.run([sys.executable, str(example), str(table)], capture_output=True,
                           text=True, timeout=300)
    assert first.returncode == 0, first.stderr
    rows = table.read_text().splitlines()
    assert 5 < len(rows) <= 41 and "P(≥ 0.9)" in first.stdout
    again = subprocess.run([sys.executable, str(example), str(table)], capture_output=True,
                           text=True, timeout=300)
    assert again.stdout == first.stdout
    assert table.read_text().splitlines() == rows  # nothing was run twice
