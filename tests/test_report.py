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
    from attncost.search.summary import SearchSummary, TrialRow

    trials = [TrialRow(0, ["standard"], "complete", "trained", accuracy=0.95, params=100,
                       feasible=True),
              TrialRow(1, ["efficient"], "complete", "trained", accuracy=0.8, params=60),
              TrialRow(2, ["linformer"], "complete", "over-budget", params=200)]
    summary = SearchSummary(spec={"name": "t"}, study="t-0", storage="x", objective="params",
                            cost_metric="params", cost_key="params", target_accuracy=0.9,
                            finished_trials=3, accuracy_source="test", trials=trials,
                            best=trials[0])
    fig = plots.search(summary)
    scatter, history = fig.axes
    labels = scatter.get_legend_handles_labels()[1]
    assert {"trained, meets target", "trained, misses target", "target 90%",
            "best feasible"} <= set(labels)
    assert {"trained", "over-budget"} <= set(history.get_legend_handles_labels()[1])
    path = plots.save(fig, tmp_path / "s.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # the same figure from the summary's JSON file
    summary.write(tmp_path / "t.json")
    assert len(plots.search(tmp_path / "t.json").axes) == 2


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
