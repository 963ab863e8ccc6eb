"""The search (issue 4): specs, costs, the sampler against an exact optimum, and the Optuna
study — constraints, infeasible skipping, caching, pruning, divergence, resume after a kill,
parallel workers on a journal file and on a real PostgreSQL server."""

from __future__ import annotations

import glob
import itertools
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest

optuna = pytest.importorskip("optuna")
pytest.importorskip("sklearn")

from attncost.search import benchmark as bm  # noqa: E402
from attncost.search import objective, pruners, runner, storage  # noqa: E402
from attncost.search.spec import SpecError, apply_overrides, load_spec  # noqa: E402
from attncost.search.evidence import EVALUATED  # noqa: E402
from attncost.search.tasks import TrainingDiverged, TrainResult, get_task, train  # noqa: E402
from attncost.search.tasks.mqar import mqar_batch  # noqa: E402
from studies import search_cmd, tiny  # noqa: E402  (tests/studies.py)


def task_model(task, layers, attention):
    t = get_task(task)
    return t.model(layers, attention, t.resolve())


def run_search(spec, **kw):
    return runner.run_search(spec, **kw).to_dict()

ROOT = Path(__file__).resolve().parents[1]


# -- specs ---------------------------------------------------------------------------------


@pytest.mark.parametrize("path", sorted(glob.glob(str(ROOT / "search" / "*.toml"))))
def test_shipped_specs_load(path):
    spec = load_spec(path)
    assert spec.layers == len(spec.choices)
    assert spec.target_accuracy is not None


def test_at_least_three_shipped_specs():
    names = {Path(p).stem for p in glob.glob(str(ROOT / "search" / "*.toml"))}
    assert {"edge-digits", "mqar-recall", "long-sequence"} <= names


@pytest.mark.parametrize("change, message", [
    ({"search": {"task": "imagenet"}}, "[search] task = 'imagenet' is invalid: allowed: "
                                       "digits, induction, listops, mqar, sequences, or "
                                       "\"package.module:object\""),
    ({"candidates": {"variants": ["standard", "flash"]}}, "[candidates] variants = 'flash'"),
    ({"model": {"layers": 0}}, "[model] layers = 0 is invalid: must be an integer ≥ 1"),
    ({"model": {"colour": "red"}}, "unknown field [model] colour"),
    ({"search": {"objective": "latency"}}, "a latency objective needs [budget] device"),
    ({"budget": {"memory": "lots"}}, "[budget] memory = 'lots' is invalid"),
    ({"target": {"accuracy": 1.5}}, "[target] accuracy = 1.5 is invalid: must be a number in"),
    ({"candidates": {"layer_5": ["standard"]}}, "[candidates] layer_5"),
    ({"model": {"heads": 5}}, "[model] heads=5 does not divide d_model=16"),
    ({"candidates": {"linformer_k": 999}}, "[candidates] k=999 exceeds the sequence length 16"),
])
def test_spec_errors_name_the_field(tmp_path, change, message):
    with pytest.raises(SpecError) as e:
        load_spec(tiny(tmp_path, **change))
    assert message in str(e.value)
    assert "\n" not in str(e.value)


def test_overrides_are_validated_like_the_file(tmp_path):
    spec = load_spec(tiny(tmp_path))
    changed = apply_overrides(spec, trials=9, target_accuracy=0.5, memory_bytes="1MB")
    assert (changed.trials, changed.target_accuracy, changed.memory_bytes) == (9, 0.5, 10**6)
    with pytest.raises(SpecError, match=r"\[search\] trials = 0"):
        apply_overrides(spec, trials=0)


def test_editing_the_spec_changes_the_study_but_trials_do_not(tmp_path):
    spec = load_spec(tiny(tmp_path))
    assert storage.study_name(spec) == storage.study_name(apply_overrides(spec, trials=50))
    assert storage.study_name(spec) != storage.study_name(apply_overrides(spec, steps=4))


# -- costs ---------------------------------------------------------------------------------


@pytest.mark.parametrize("metric", ["params", "flops", "latency"])
def test_layer_costs_add_up_to_the_whole_model(metric):
    """The searchers plan with per-layer costs; they must equal the whole-model cost model."""
    model, where = bm.skeleton(4)
    raw = lambda arch: bm.candidate_cost(model.with_(layers=arch), memory_budget=None,  # noqa: E731
                                         latency_budget_s=None, **where)
    space = bm.layer_space((bm.VARIANTS,) * 4, metric, raw)
    rng = np.random.default_rng(0)
    for _ in range(10):
        arch = tuple(rng.choice(bm.VARIANTS, 4))
        assert space.cost(arch) == pytest.approx(raw(arch).value(metric), rel=1e-12)


def test_over_budget_is_known_before_training(tmp_path):
    spec = load_spec(tiny(tmp_path, budget={"memory": "190KB"}))
    cost = objective.cost_function(spec)
    standard, cheap = cost(("standard", "standard")), cost(("efficient", "efficient"))
    assert not standard.fits and "memory" in standard.reason
    assert standard.memory > cheap.memory


# -- the exact optimum and the sampler -----------------------------------------------------


def test_exact_optimum_matches_brute_force_on_the_legacy_box():
    space = bm.cost_space(5, 1024, bm.LEGACY_VARIANTS)
    box = bm.make_blackbox(5, seed=3)
    optimum, cost = bm.exact_optimum(space, box, 0.95)
    best = None
    for arch in itertools.product(bm.LEGACY_VARIANTS, repeat=5):
        idx = np.array([[bm.LEGACY_VARIANTS.index(v) for v in arch]])
        if not space.budget_ok(arch) or box(idx)[0] < 0.95:
            continue
        c = space.cost(arch)
        if best is None or c < best[0] - 1e-15:
            best = (c, arch)
    assert best is not None and cost == pytest.approx(best[0], rel=1e-12)


def test_arrangements_are_every_distinct_permutation():
    from itertools import permutations

    for counts in ((2, 1, 0, 1), (1, 1, 1, 1), (3, 0, 2, 0), (4,)):
        got = {tuple(r) for r in bm.arrangements(counts)}
        items = [v for v, c in enumerate(counts) for _ in range(c)]
        assert got == set(permutations(items))
        assert len(got) == len(bm.arrangements(counts))


def test_thompson_sampler_finds_the_legacy_optimum():
    """The first sampler on the form it models, noiseless: the exact optimum."""
    problem = bm.make_problem("legacy", 1, layers=5)
    problem.noise = 0.0
    result = bm.run(problem, "thompson", seed=0, evaluations=100)
    assert result.certified[100][0] == pytest.approx(0.0, abs=1e-12)
    assert not result.certified[100][1]


# -- data and training ---------------------------------------------------------------------


def test_mqar_answers_are_the_values_of_the_queried_keys():
    import torch

    x, y = mqar_batch(50, 4, 6, 8, 5, torch.Generator().manual_seed(0), pair_tokens=False)
    for row, target in zip(x.tolist(), y.tolist()):
        pairs = dict(zip(row[0:8:2], row[1:8:2]))
        assert len(pairs) == 4
        for q, t in zip(row[8:], target[8:]):
            assert pairs[q] == t
        assert all(t == -100 for t in target[:8])
    x, y = mqar_batch(50, 4, 6, 8, 5, torch.Generator().manual_seed(0))
    for row, target in zip(x.tolist(), y.tolist()):
        pairs = {(p - 1) // 5: (p - 1) % 5 for p in row[:4]}
        for q, t in zip(row[4:], target[4:]):
            assert t - (1 + 40 + 8) == pairs[q - 1 - 40]


def test_digits_training_learns():
    from attncost.config import AttentionConfig

    m = task_model("digits", ("efficient", "standard"), AttentionConfig(d_model=32, heads=2))
    r = train(get_task("digits"), m, steps=150, batch=64, lr=3e-3, eval_every=75)
    assert [s for s, _ in r.history] == [75, 150]
    assert r.accuracy > 0.5  # chance is 0.1


def test_divergence_is_a_typed_error():
    from attncost.config import AttentionConfig

    m = task_model("digits", ("standard",), AttentionConfig(d_model=16, heads=2))
    with pytest.raises(TrainingDiverged, match="loss became"):
        train(get_task("digits"), m, steps=5, lr=float("inf"), eval_every=5)


# -- the study ---------------------------------------------------------------------------


def fake_train(accuracy_of, calls):
    """Stands in for the task's training in-process: accuracy by architecture and seed,
    reported at 2 steps."""
    def _train(model, opts, *, on_eval=None, seed=0, **kw):
        arch = tuple(model.layers)
        calls.append((arch, seed))
        acc = accuracy_of(arch, seed)
        if acc != acc:
            raise TrainingDiverged("loss became nan at step 1 (lr=0.003)")
        for step, a in ((1, acc * 0.9), (2, acc)):
            if on_eval:
                on_eval(step, a)
        return TrainResult(acc, [(1, acc * 0.9), (2, acc)], 0.0, 2, 0)
    return _train


def test_budget_caching_retests_and_divergence(tmp_path, monkeypatch):
    """Over-budget candidates are never trained; every (architecture, seed) is trained once;
    re-tests use fresh seeds and count as evaluations; a diverged run is failed with its
    reason and the study goes on; the answer is certified, within the budget."""
    calls: list = []
    accuracy = {"standard": 0.9, "efficient": 0.7}

    def acc_of(arch, seed):
        if "linformer" in arch:
            return float("nan")
        return min(accuracy[v] for v in arch) + 0.003 * (seed % 3 - 1)

    monkeypatch.setattr(get_task("digits"), "train", fake_train(acc_of, calls))
    spec = load_spec(tiny(tmp_path, budget={"memory": "190KB"},
                          search={"sampler": "random", "trials": 12},
                          target={"accuracy": 0.6}))
    summary = run_search(spec)
    by_status: dict[str, list] = {}
    for r in summary["trials"]:
        by_status.setdefault(r["status"], []).append(r)
    baseline = summary["baseline"]  # trained even over budget, to compare with
    assert baseline["layers"] == ["standard"] * 2 and not baseline["within_budget"]
    for r in by_status.get("over-budget", []):
        assert r["accuracy"] is None
        if r["layers"] != baseline["layers"]:
            assert tuple(r["layers"]) not in {a for a, _ in calls}
    assert by_status["over-budget"], "the 190 KB budget excludes some architectures"
    assert len(calls) == len(set(calls)), "an (architecture, seed) was trained twice"
    evaluated = [r for r in summary["trials"] if r["status"] in EVALUATED]
    assert len(evaluated) == summary["evaluations"] <= 12
    assert any(r["retest"] and r["seed"] > 0 for r in evaluated)
    for r in by_status.get("diverged", []):
        assert r["state"] == "fail" and "nan" in r["reason"]
    best = summary["best"]
    assert best is not None and best["state"] == "certified" and best["within_budget"]
    assert best["runs"] >= 3 and best["lower"] >= 0.6
    study = optuna.load_study(study_name=summary["study"],
                              storage=storage.make_storage(summary["storage"]))
    for t in study.trials:
        if t.user_attrs.get("status") == "trained":
            assert {"accuracy", "budget"} <= set(t.constraints)


def test_hopeless_first_runs_are_pruned(tmp_path, monkeypatch):
    calls: list = []
    monkeypatch.setattr(get_task("digits"), "train", fake_train(
        lambda a, s: 0.95 + 0.002 * s if a == ("standard", "standard") else 0.2, calls))
    spec = load_spec(tiny(tmp_path, search={"sampler": "attncost", "trials": 10},
                          target={"accuracy": 0.9}, training={"seeds": 2}))
    summary = run_search(spec)
    pruned = [r for r in summary["trials"] if r["status"] == "pruned"]
    assert pruned and all(r["state"] == "pruned" and not r["retest"] for r in pruned)
    assert summary["best"]["layers"] == ["standard", "standard"]


def test_target_pruner_waits_for_its_warm_up_then_prunes_the_hopeless():
    study = optuna.create_study(pruner=pruners.make_pruner(0.9, warmup_steps=10))
    for _ in range(2):  # two successes, at 0.8 by step 5 and 0.9 by step 10
        t = study.ask()
        t.report(0.8, 5)
        t.report(0.9, 10)
        t.set_user_attr("accuracy", 0.92)
        study.tell(t, 1.0)
    t = study.ask()
    t.report(0.3, 5)
    assert not t.should_prune()  # far behind, but still warming up
    t.report(0.3, 10)
    assert t.should_prune()
    t2 = study.ask()
    t2.report(0.89, 10)
    assert not t2.should_prune()  # within the margin of the slowest success


def test_target_pruner_needs_successes_before_pruning():
    pruner = pruners.make_pruner(0.9)
    study = optuna.create_study(pruner=pruner)
    t = study.ask()
    t.report(0.1, 1)
    assert not t.should_prune()  # nothing has succeeded yet: no evidence it is hopeless


def test_multi_objective_pareto_front_is_re_tested(tmp_path, monkeypatch):
    acc = {"standard": 0.9, "efficient": 0.7, "linformer": 0.5}
    monkeypatch.setattr(get_task("digits"), "train", fake_train(
        lambda a, s: sum(acc[v] for v in a) / 2 + 0.001 * s, []))
    spec = load_spec(tiny(tmp_path, search={"objective": "multi", "cost": "params",
                                            "sampler": "nsga2", "trials": 12}))
    summary = run_search(spec)
    front = summary["pareto"]
    assert front
    for a, b in itertools.combinations(front, 2):  # no point dominates another
        assert not (a["accuracy"] >= b["accuracy"] and a["params"] <= b["params"] and
                    (a["accuracy"], a["params"]) != (b["accuracy"], b["params"]))
    assert all(r["runs"] >= 2 for r in front)  # every member re-verified with a fresh seed


def test_cli_search_writes_the_summary(tmp_path):
    spec = tiny(tmp_path, search={"trials": 3, "sampler": "attncost"})
    out = tmp_path / "out.json"
    r = subprocess.run(search_cmd(spec, "-o", str(out), "--steps", "2"), cwd=tmp_path,
                       capture_output=True,
                       text=True)
    assert r.returncode == 0, r.stderr
    summary = json.loads(out.read_text())
    assert summary["spec"]["steps"] == 2 and summary["evaluations"] <= 3
    assert summary["baseline"]["layers"] == ["standard", "standard"]
    text = " ".join(r.stdout.split())
    assert "baseline" in text and "runs of 2 training steps of digits" in text


# -- surrogate -----------------------------------------------------------------------------


def test_surrogate_held_out_error_is_measured_on_unseen_runs():
    from attncost.search import surrogate

    box = bm.make_blackbox(4, seed=3)
    rng = np.random.default_rng(0)
    archs = sorted({tuple(rng.choice(bm.LEGACY_VARIANTS, 4)) for _ in range(120)})
    idx = np.array([[bm.LEGACY_VARIANTS.index(v) for v in a] for a in archs])
    runs = list(zip(archs, box(idx).tolist()))
    cv = surrogate.cross_validate(runs, bm.LEGACY_VARIANTS, folds=5)
    assert cv["runs"] == len(runs) and len(cv["predictions"]) == len(runs)
    # a smooth additive box: held-out error small but not zero
    assert 0 < cv["mean_abs_error"] < 0.03
    # the prediction of a run seen in training is closer than of one held out
    model = surrogate.fit(runs, bm.LEGACY_VARIANTS)
    seen = np.mean([abs(model.predict(a) - y) for a, y in runs])
    assert seen < cv["mean_abs_error"]
    with pytest.raises(ValueError, match="at least 3"):
        surrogate.cross_validate(runs[:2], bm.LEGACY_VARIANTS)


def test_cli_surrogate_needs_measured_runs(tmp_path):
    spec = tiny(tmp_path)
    r = subprocess.run(search_cmd(spec, "--surrogate"), capture_output=True, text=True,
                       cwd=tmp_path)
    assert r.returncode == 2 and r.stderr.startswith("error: no study at ")
    assert not (tmp_path / "study.journal").exists()  # asking creates nothing
    r = subprocess.run(search_cmd(spec, "--trials", "2"), capture_output=True, text=True,
                       cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    r = subprocess.run(search_cmd(spec, "--surrogate"), capture_output=True, text=True,
                       cwd=tmp_path)
    assert r.returncode == 2
    assert "the surrogate needs at least 3 trained runs" in r.stderr


def test_a_converged_multi_objective_study_asks_nothing_more(tmp_path, monkeypatch):
    """Once every arrangement has been run, running the study again adds no trials (the
    sampler's repeats used to be told as 'cached', ~100 per rerun)."""
    acc = {"standard": 0.9, "efficient": 0.8, "linformer": 0.6}
    monkeypatch.setattr(get_task("digits"), "train", fake_train(
        lambda a, s: sum(acc[v] for v in a) / 2 + 0.001 * s, []))
    spec = load_spec(tiny(tmp_path, search={"objective": "multi", "cost": "params",
                                            "sampler": "nsga2", "trials": 60}))
    first = run_search(spec)
    assert first["converged"] == f"every one of the {len(first['architectures'])} " \
                                 f"in-budget arrangements was run"
    again = run_search(spec)
    assert len(again["trials"]) == len(first["trials"])
    assert again["converged"] == first["converged"]
