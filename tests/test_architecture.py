"""The house rules (issue 9): one registry per concept read by every consumer, contracts that
fail loudly, the walls between rooms, help that shows defaults, one-line usage errors, and
whole-model estimates linear in depth."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

import attncost
from attncost import api, metrics, variants
from attncost.cli import app

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "tests" / "examples"
runner = CliRunner()

#: The JSON contract of `attncost estimate --format json` (README, "JSON output"): other
#: tools read these fields; removing or renaming one must fail here.
JSON_CONTRACT = {
    "variant", "title", "source", "inputs", "flops_convention", "kv_cache_note", "notes",
    "fit", "roofline", "calibrated_latency_s",
    "params", "params_weights", "params_biases", "flops_fwd", "flops_fwd_matmul",
    "flops_fwd_other", "flops_fwd_useful", "flops_bwd", "flops_bwd_matmul", "flops_bwd_other",
    "flops_bwd_recompute", "weight_bytes", "grad_bytes", "optimizer_bytes", "activation_bytes",
    "inference_peak_bytes", "train_peak_bytes", "kv_cache_bytes_per_token",
    "decode_state_bytes", "bytes_fwd", "bytes_bwd",
}
INPUT_CONTRACT = {"d_model", "heads", "d_head", "seq_len", "batch", "kv_heads", "k",
                  "max_seq_len", "bias", "causal", "impl", "dtype", "optimizer", "layers"}
FIT_CONTRACT = {"device", "mode", "required_bytes", "capacity_bytes", "headroom",
                "budget_bytes", "fits", "utilisation"}


def cli(*args: str):
    return runner.invoke(app, list(args), env={"COLUMNS": "200"})


# -- contracts ------------------------------------------------------------------------------


def test_json_contract_keeps_every_field():
    r = cli("estimate", "-v", "standard,super", "--device", "rpi5-8gb", "--format", "json")
    assert r.exit_code == 0, r.output
    for row in json.loads(r.output):
        missing = JSON_CONTRACT - set(row)
        assert not missing, f"JSON contract lost {sorted(missing)}"
        assert not INPUT_CONTRACT - set(row["inputs"]), sorted(INPUT_CONTRACT - set(row["inputs"]))
        assert not FIT_CONTRACT - set(row["fit"]), sorted(FIT_CONTRACT - set(row["fit"]))
        for m in metrics.headline():
            assert m in row
    # every registered metric is a field (the table is the one source)
    assert set(metrics.METRICS) <= set(json.loads(r.output)[0])


def test_metric_table_is_read_by_every_consumer():
    """A metric added in one place (tests/examples/custom_metric.py) reaches JSON, CSV, the
    table, compare (headline), sweep (exact formulas) and plot curves."""
    from attncost import plots
    from attncost.plugins import import_file

    import_file(EXAMPLES / "custom_metric.py")
    try:
        e = api.estimate("efficient", d_model=64, heads=4, seq_len=32)
        assert e.to_dict()["flops_step"] == e.metrics["flops_fwd"] + e.metrics["flops_bwd"]
        assert e.to_row()["flops_step"] == e.metrics["flops_step"]
        table = cli("estimate", "-v", "efficient", "--d-model", "64", "--heads", "4",
                    "--seq-len", "32")
        assert "FLOPs per training step" in table.output
        compare = cli("compare", "--d-model", "64", "--heads", "4", "--seq-len", "32")
        assert "FLOPs/step" in compare.output
        df = api.sweep("efficient", {"seq_len": [32, 64]}, d_model=64, heads=4)
        assert df["flops_step"].tolist()[0] == e.metrics["flops_step"]
        assert "flops_step_ratio" in api.to_frame(api.compare("standard,efficient", d_model=64,
                                                              heads=4, seq_len=32))
        fig = plots.curves(["standard"], ["flops_step"], "seq_len", [32, 64],
                           attncost.AttentionConfig(d_model=64, heads=4))
        assert fig.axes[0].get_ylabel() == "training-step FLOPs"
    finally:
        metrics.unregister("flops_step")
    assert "flops_step" not in api.estimate("efficient").to_dict()


def test_duplicate_metric_is_refused():
    with pytest.raises(attncost.AttncostError, match="already registered"):
        metrics.metric("params", unit="count", label="x")(lambda f: 0)


# -- variants -------------------------------------------------------------------------------


def test_builtin_variants_come_from_the_registry():
    names = variants.builtin_names()
    assert names[0] == "standard" and len(names) == len(set(names)) >= 10
    assert variants.names()[:len(names)] == names
    colours = [variants.get(n).colour for n in names]
    assert len(set(colours)) == len(colours)  # one distinct colour per variant
    from attncost.nn import module_names

    assert set(names) <= set(module_names())  # every built-in has its PyTorch module


def test_duplicate_variant_registration_is_refused_and_replace_clears_caches():
    original = variants.get("standard")
    with pytest.raises(attncost.AttncostError, match="already registered"):
        variants.register("standard", title="x", source="y")(original.build_fn)
    before = api.formula("standard", "params")
    try:
        from attncost.variants.paper import efficient

        variants.register("standard", title="replaced", source="test", replace=True)(efficient)
        # formula (cached sympy) and estimate (exact ints) agree on the replacement
        assert api.formula("standard", "params") != before
        e = api.estimate("standard", d_model=64, heads=4, seq_len=16)
        assert e.metrics["params"] == api.estimate("efficient", d_model=64, heads=4,
                                                   seq_len=16).metrics["params"]
    finally:
        variants.REGISTRY["standard"] = original
    assert api.formula("standard", "params") == before


def test_new_variant_reaches_estimate_compare_validate_search_and_plots(tmp_path):
    """One file (tests/examples/custom_variant.py) with a cost description and a PyTorch
    module: every consumer picks it up by name."""
    pytest.importorskip("torch")
    pytest.importorskip("optuna")
    from attncost import plots

    vf = str(EXAMPLES / "custom_variant.py")
    r = cli("estimate", "--variant-file", vf, "-v", "shared-kv", "--d-model", "64",
            "--heads", "4", "--seq-len", "32", "--format", "json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)[0]["params"] == 3 * 64 * 64
    r = cli("compare", "--variant-file", vf, "-v", "standard,shared-kv")
    assert r.exit_code == 0 and "shared-kv" in r.output and "×0.750" in r.output
    r = cli("validate", "--variant-file", vf, "-v", "shared-kv", "--d-model", "32",
            "--heads", "2", "--seq-len", "16", "--no-timing", "--format", "json")
    assert r.exit_code == 0, r.output
    summary = json.loads(r.output)["summary"]
    assert summary["exact_mismatches"] == 0 and summary["configs_validated"] == 1
    assert variants.get("shared-kv").colour == "#882255"
    fig = plots.curves(["standard", "shared-kv"], ["params"], "seq_len", [16, 32])
    assert "#882255" in {line.get_color() for line in fig.axes[0].get_lines()}
    spec = tmp_path / "s.toml"
    spec.write_text(
        "[search]\nname = 'custom'\ntask = 'digits'\nobjective = 'params'\ntrials = 8\n"
        f"sampler = 'random'\nstorage = '{tmp_path / 'study.journal'}'\n"
        "[model]\nlayers = 2\nd_model = 16\nheads = 2\nd_ff = 32\n"
        "[candidates]\nvariants = ['standard', 'shared-kv']\n[target]\naccuracy = 0.1\n"
        "[training]\nsteps = 2\nbatch = 8\nseeds = 1\neval_every = 2\n")
    r = subprocess.run([sys.executable, "-m", "attncost", "search", str(spec), "--variant-file",
                        vf, "--workers", "2", "-o", str(tmp_path / "out.json")],
                       capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    tried = {tuple(t["layers"]) for t in json.loads((tmp_path / "out.json").read_text())["trials"]}
    assert any("shared-kv" in arch for arch in tried)


def test_search_candidate_without_a_module_is_a_spec_error(tmp_path):
    pytest.importorskip("optuna")
    from attncost.search.spec import SpecError, parse_spec

    @variants.register("no-module-attention", title="t", source="test")
    def build(d, o):
        return variants.get("standard").build(d, o)

    try:
        with pytest.raises(SpecError, match="no-module-attention has no PyTorch module"):
            parse_spec({"search": {"task": "digits", "objective": "params"},
                        "model": {"layers": 1, "d_model": 16, "heads": 2},
                        "candidates": {"variants": ["standard", "no-module-attention"]},
                        "target": {"accuracy": 0.5}})
    finally:
        variants.unregister("no-module-attention")


def test_a_task_in_one_file_is_searched(tmp_path):
    """tests/examples/custom_task.py registers "firstmatch"; a search trains on it (two
    worker processes, which load the file too)."""
    pytest.importorskip("torch")
    pytest.importorskip("optuna")
    spec = tmp_path / "s.toml"
    spec.write_text(
        "[search]\nname = 'fm'\ntask = 'firstmatch'\nobjective = 'params'\ntrials = 3\n"
        f"sampler = 'random'\nstorage = '{tmp_path / 'study.journal'}'\n"
        "[model]\nlayers = 1\nd_model = 16\nheads = 2\nd_ff = 32\n"
        "[candidates]\nvariants = ['standard', 'efficient']\n[target]\naccuracy = 0.1\n"
        "[training]\nsteps = 2\nbatch = 8\nseeds = 1\neval_every = 2\n"
        "[task]\nlength = 8\nexamples = 40\n")
    r = subprocess.run([sys.executable, "-m", "attncost", "search", str(spec), "--task-file",
                        str(EXAMPLES / "custom_task.py"), "--workers", "2",
                        "-o", str(tmp_path / "out.json")],
                       capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    out = json.loads((tmp_path / "out.json").read_text())
    assert out["spec"]["task"] == "firstmatch" and out["spec"]["task_options"]["length"] == 8
    assert all(t["accuracy"] is not None for t in out["trials"] if t["status"] == "trained")
    r = subprocess.run([sys.executable, "-m", "attncost", "search", str(spec)],
                       capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 2 and "task = 'firstmatch' is invalid" in r.stderr


# -- walls ----------------------------------------------------------------------------------


def _modules_after(code: str) -> set[str]:
    out = subprocess.run([sys.executable, "-c", code + "\nimport sys, json; "
                          "print(json.dumps(sorted(sys.modules)))"],
                         capture_output=True, text=True, check=True)
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


def test_pytorch_side_never_imports_the_cost_model():
    pytest.importorskip("torch")
    loaded = _modules_after("import attncost.nn.model, attncost.nn.attention")
    for cost_model in ("attncost.costs", "attncost.graphs", "attncost.variants",
                       "attncost.metrics", "attncost.api"):
        assert cost_model not in loaded, cost_model


def test_cost_model_never_imports_torch_the_cli_or_plots():
    loaded = _modules_after("import attncost; attncost.estimate_model('gpt2'); "
                            "attncost.formula('super', 'params')")
    for forbidden in ("torch", "attncost.cli", "attncost.plots", "attncost.search", "typer",
                      "matplotlib"):
        assert forbidden not in loaded, forbidden


def test_plots_leave_matplotlib_global_state_alone():
    import matplotlib

    from attncost import plots

    backend, rc = matplotlib.get_backend(), dict(matplotlib.rcParams)
    plots.curves(["standard"], ["params"], "seq_len", [16, 32])
    assert matplotlib.get_backend() == backend
    assert dict(matplotlib.rcParams) == rc


def test_every_command_module_registers_commands():
    import pkgutil

    import attncost.cli as pkg

    modules = {m.name for m in pkgutil.iter_modules(pkg.__path__)} - {"base", "render"}
    owners = {cmd.callback.__module__.rsplit(".", 1)[-1]
              for cmd in app.registered_commands}
    assert modules == owners


# -- help and usage errors -----------------------------------------------------------------


def _help(*args: str) -> str:
    r = cli(*args, "--help")
    assert r.exit_code == 0, r.output
    return " ".join(r.output.split())


def test_help_shows_every_default_and_extra():
    text = _help("estimate")
    for shown in ("--d-model INT Model width d_model. [default: (512)]",
                  "[default: (d_model/heads)]", "[default: (off, as the papers)]",
                  "[default: 0.1]", "--d-ff INT", "--vocab INT"):
        assert shown in text, shown
    assert "'.[peers]'" in _help("peers")
    assert "'.[torch]'" in _help("bench")
    assert "[default: (search/studies/<name>.journal)]" in _help("search")


@pytest.mark.parametrize("command", ["estimate", "compare", "fit", "sweep", "crossover",
                                     "formula", "validate", "search", "search-bench"])
def test_every_option_with_a_default_shows_it(command):
    """Each option's help line, as the help renders it, shows its default."""
    import typer.main

    click_cmd = typer.main.get_command(app).commands[command]
    ctx = click_cmd.make_context(command, [], resilient_parsing=True)
    for p in click_cmd.params:
        shown = getattr(p, "show_default", None)
        if p.name == "help" or p.param_type_name != "option":
            continue
        if p.default not in (None, (), False) or isinstance(shown, str):
            record = p.get_help_record(ctx)
            assert record and "[default:" in record[1], (command, p.opts, record)


@pytest.mark.parametrize("args, fragment", [
    (["estimate", "--d-model", "abc"], "'abc' is not an integer"),
    (["estimate", "--d-mdel", "3"], "No such option: --d-mdel"),
    (["estimate", "--peak-tflops", "nan", "--memory-budget", "1GB"], "'nan' is not a finite"),
    (["nonsense"], "No such command 'nonsense'"),
    (["estimate", "--heads"], "requires an argument"),
])
def test_usage_errors_are_one_line_with_exit_2(args, fragment):
    r = subprocess.run([sys.executable, "-m", "attncost", *args], capture_output=True,
                       text=True)
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and fragment in lines[0], lines


def test_model_fields_are_settable_from_the_cli():
    r = cli("estimate", "--preset", "llama2-7b", "-v", "gqa", "--d-model", "8192", "--heads",
            "64", "--kv-heads", "8", "--layers", "80", "--d-ff", "28672", "--vocab", "32000",
            "--format", "json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)[0]["params"] == 68_976_648_192  # LLaMA-2-70B
    r = cli("estimate", "--vocab", "100")
    assert r.exit_code == 2 and "--vocab describe a whole model: add --preset NAME" in r.output


def test_layers_as_a_number_in_the_api():
    e = api.estimate_model("gpt2", layers=24)
    assert len(e.inputs["layers"]) == 24
    assert api.estimate_model("gpt2", layers=12).metrics["params"] == 124_439_808
    for bad in (0, -1, 1.5, "twelve"):
        with pytest.raises(attncost.ConfigError) as exc:
            api.estimate_model("gpt2", layers=bad)
        assert "\n" not in str(exc.value)


# -- depth scaling ----------------------------------------------------------------------------


def test_whole_model_estimates_are_linear_in_depth():
    """Operations grow by a constant per block, and so does the time (a quadratic walk would
    take ~16× for 4× the depth; linear ~4×)."""
    ops = {n: len(api.estimate_model("llama2-7b", layers=n).ops) for n in (16, 32, 64)}
    assert ops[64] - ops[32] == 2 * (ops[32] - ops[16])

    def best_time(n: int) -> float:
        best = float("inf")
        for _ in range(3):
            t = time.perf_counter()
            api.estimate_model("llama2-7b", layers=n)
            best = min(best, time.perf_counter() - t)
        return best

    best_time(8)  # warm-up
    ratio = best_time(128) / best_time(32)
    assert ratio < 9, f"128 layers took {ratio:.1f}× the time of 32 (linear: ~4×)"


def test_bench_prints_the_depth_figure():
    from attncost.bench import depth_scaling

    out = depth_scaling((4, 8))
    assert set(out) == {4, 8}
    for name in attncost.preset_names():
        assert out[8][name][0] > out[4][name][0] > 0  # ops grow with depth
