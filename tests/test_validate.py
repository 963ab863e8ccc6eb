"""`attncost validate`: the grid passes, resumes after an interruption, and fails loudly."""

import json

import pytest

torch = pytest.importorskip("torch")

from typer.testing import CliRunner  # noqa: E402

import attncost as ac  # noqa: E402
from attncost import validate as val  # noqa: E402
from attncost.cli import app  # noqa: E402


def test_small_grid_is_exact_and_within_memory_tolerance(tmp_path):
    """The CI grid: every variant, both implementations, causal and not, biases on and off,
    at d_model 96 with 3 heads, seq_len 77, batch 3 (timing is left to the full grid)."""
    out = tmp_path / "v.csv"
    r = CliRunner().invoke(app, ["validate", "--grid", "small", "--no-timing", "-o", str(out),
                                 "--format", "json"])
    assert r.exit_code == 0, r.output
    summary = json.loads(r.output)["summary"]
    assert summary["exact_mismatches"] == 0
    assert summary["memory_worst_error"] <= 0.05
    assert summary["configs_validated"] >= 60
    assert out.read_text().count("\n") == 1 + summary["exact_checks"] * 6 // 4


def test_resume_reuses_finished_configurations(tmp_path, monkeypatch):
    out = tmp_path / "v.csv"
    configs = val.grid("one", ["standard", "efficient"],
                       ac.AttentionConfig(d_model=32, heads=2, seq_len=16))
    val.run(configs[:1], timing=False, out=out)
    calls = []
    real = val.measure_one

    def spy(variant, cfg, *a, **k):
        calls.append(variant)
        return real(variant, cfg, *a, **k)

    monkeypatch.setattr(val, "measure_one", spy)
    rows, summary = val.run(configs, timing=False, out=out)
    assert calls == ["efficient"]  # standard came from the CSV
    assert summary["configs_validated"] == 2 and summary["passed"]


def test_latency_calibration_recovers_known_constants():
    feats = [(1e6 * i, 1e4 * i, 1e5 * (i % 3 + 1), 10 + i % 4, 3 + i % 5, i % 2)
             for i in range(1, 30)]
    true = (2e-10, 0.0, 1e-9, 5e-6, 2e-6, 0.0)
    times = [sum(c * f for c, f in zip(true, x)) for x in feats]
    coef = val.fit_latency(feats, times)
    pred = [sum(c * f for c, f in zip(coef, x)) for x in feats]
    assert all(abs(p / t - 1) < 1e-6 for p, t in zip(pred, times))
    assert all(c >= 0 for c in coef)


def test_a_wrong_model_fails_the_run(monkeypatch):
    """Exit status 1 when an exact metric mismatches: break the model on purpose."""
    from attncost import api

    real = api.estimate

    def broken(*a, **k):
        e = real(*a, **k)
        e.metrics["activation_bytes"] += 4
        return e

    monkeypatch.setattr(api, "estimate", broken)
    r = CliRunner().invoke(app, ["validate", "-v", "standard", "--d-model", "32", "--heads", "2",
                                 "--seq-len", "8", "--no-timing"])
    assert r.exit_code == 1 and "FAILED" in r.output
