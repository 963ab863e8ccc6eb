"""Plots and the generated report: files are written in both formats, bad input is one
line, and the committed reports/report.md is current (rendering it again gives the same
text, tables included)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("matplotlib")

from attncost import plots, report  # noqa: E402
from attncost.config import AttentionConfig  # noqa: E402
from attncost.errors import AttncostError  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SMALL = AttentionConfig(d_model=64, heads=4, seq_len=64)


def test_committed_report_is_current():
    committed = (ROOT / "reports" / report.REPORT).read_text()
    assert report.render(ROOT / "reports") == committed, \
        "reports/report.md is stale: run `attncost report`"


def test_every_figure_the_report_links_exists():
    text = (ROOT / "reports" / report.REPORT).read_text()
    links = [line.split("](")[1].rstrip(")") for line in text.splitlines()
             if line.startswith("![")]
    assert len(links) >= 6
    for link in links:
        assert (ROOT / "reports" / link).is_file(), link


@pytest.mark.parametrize("suffix", [".png", ".svg"])
def test_figures_are_written(tmp_path, suffix):
    fig = plots.curves(["standard", "linformer"], ("params", "train_peak_bytes"), "seq_len",
                       [64, 128, 256, 512], SMALL.with_(k=16), device="rpi5-8gb")
    path = plots.save(fig, tmp_path / f"c{suffix}")
    assert path.stat().st_size > 5000
    if suffix == ".svg":
        text = path.read_text()
        assert "sequence length" in text and "training-step peak memory" in text


def test_crossover_is_marked_where_the_cost_model_puts_it():
    fig = plots.curves(["standard", "super"], ("params",), "seq_len", [256, 512, 1024, 2048],
                       AttentionConfig(d_model=512, heads=8))
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert any("super dearer than standard from ℓ = 725" in t for t in texts), texts


def test_bad_figure_suffix_is_an_error(tmp_path):
    with pytest.raises(AttncostError, match="must end in .png or .svg"):
        plots.save(plots.memory_breakdown(["standard"], SMALL), tmp_path / "x.jpg")


def test_search_plot_from_a_summary(tmp_path):
    from attncost.search.summary import ArchitectureRow, SearchSummary, TrialRow

    screen = [0.95, 0.96]
    confirm = [0.955, 0.96, 0.95]
    trials = [TrialRow(i, ["standard"], "complete", "trained", seed=i, accuracy=a, params=100)
              for i, a in enumerate(screen)]
    trials += [TrialRow(2 + i, ["standard"], "complete", "trained", seed=2 + i, accuracy=a,
                        params=100, retest=True, batch=len(confirm))
               for i, a in enumerate(confirm)]
    trials += [TrialRow(5, ["efficient"], "complete", "trained", seed=0, accuracy=0.8,
                        params=60),
               TrialRow(6, ["linformer"], "complete", "over-budget", params=200)]

    def arch(layers, state, accs, lower, upper, params, ok=True):
        mean = sum(accs) / len(accs)
        return ArchitectureRow(layers, state, len(accs), 1, mean, accs[-1], lower, upper,
                               0.99, accs, ok, params=params)

    best = arch(["standard"], "certified", screen + confirm, 0.94, 0.97, 100)
    archs = [best, arch(["efficient"], "ruled-out", [0.8], 0.7, 0.85, 60)]
    summary = SearchSummary(spec={"name": "t", "trials": 7}, study="t-0", storage="x",
                            objective="params", cost_metric="params", cost_key="params",
                            target_accuracy=0.9, confidence=0.95, evaluations=3,
                            noise_sd=0.02, accuracy_source="test", best=best,
                            baseline=best, architectures=archs, trials=trials)
    fig = plots.search(summary)
    scatter, history = fig.axes
    labels = set(scatter.get_legend_handles_labels()[1])
    assert {"certified (1)", "ruled-out (1)", "target 90%", "answer",
            "standard baseline"} <= labels, labels
    # the answer's cost after each trial: certified once its confirmation batch is in
    xs, ys = history.lines[0].get_data()
    assert list(xs)[0] == 4 and set(ys) == {100}, (xs, ys)
    assert {"trained", "over-budget"} <= set(history.get_legend_handles_labels()[1])
    path = plots.save(fig, tmp_path / "s.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # the same figure from the summary's JSON file
    summary.write(tmp_path / "t.json")
    again = plots.search(tmp_path / "t.json")
    assert set(again.axes[0].get_legend_handles_labels()[1]) == labels


def test_cli_plot_and_errors(tmp_path):
    out = tmp_path / "r.svg"
    r = subprocess.run([sys.executable, "-m", "attncost", "plot", "roofline", "--device",
                        "rpi5-8gb", "-v", "standard,efficient", "--d-model", "64", "--heads",
                        "4", "--seq-len", "64", "-o", str(out)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert out.is_file()
    r = subprocess.run([sys.executable, "-m", "attncost", "plot", "curves", "--metric",
                        "speed", "-o", str(tmp_path / "x.png")], capture_output=True, text=True)
    assert r.returncode == 2
    assert r.stderr.strip().startswith("error: unknown plot metric 'speed'")
    assert len(r.stderr.strip().splitlines()) == 1


def test_report_renders_without_results(tmp_path):
    text = report.render(tmp_path)
    assert "No validation summary" in text and "No search summaries" in text
    assert "| standard |" in text
