"""The command line: outputs, the JSON contract, errors as one line with exit status 2."""

import json
import os
import subprocess
import sys

from pathlib import Path

import pytest
from typer.testing import CliRunner

import attncost
from attncost.cli import app

runner = CliRunner()
CONTRACT_INTS = ("params", "flops_fwd", "flops_bwd", "activation_bytes",
                 "inference_peak_bytes", "train_peak_bytes")


def run(*args):
    return runner.invoke(app, list(args), env={"COLUMNS": "200"})


def test_estimate_table():
    r = run("estimate", "--d-model", "512", "--variant", "super")
    assert r.exit_code == 0, r.output
    assert "Super attention" in r.output and "786,432" in r.output
    assert "KV cache per token" in r.output and "not defined" in r.output
    assert "max_seq_len" in r.output  # says W_A fixes the length


def test_estimate_json_contract():
    r = run("estimate", "--d-model", "512", "-v", "standard,super", "--format", "json")
    assert r.exit_code == 0, r.output
    rows = json.loads(r.output)
    assert [row["variant"] for row in rows] == ["standard", "super"]
    for row in rows:
        for key in CONTRACT_INTS:
            assert isinstance(row[key], int), key
        assert row["inputs"]["d_model"] == 512
    assert rows[0]["kv_cache_bytes_per_token"] == 2 * 512 * 4
    assert rows[1]["kv_cache_bytes_per_token"] is None
    assert rows[0]["params"] == 4 * 512 * 512


def test_estimate_all_csv_and_device():
    r = run("estimate", "-v", "all", "--format", "csv", "--device", "jetson-orin-nano-8gb")
    assert r.exit_code == 0, r.output
    lines = r.output.strip().splitlines()
    assert lines[0].startswith("variant,") and "fits" in lines[0]
    assert len(lines) == 1 + len(attncost.variant_names())


def test_estimate_preset_with_overrides():
    r = run("estimate", "--preset", "gpt2", "--seq-len", "256", "--format", "json")
    assert r.exit_code == 0, r.output
    row = json.loads(r.output)[0]
    assert row["params"] == 124_439_808 and row["inputs"]["attention"]["seq_len"] == 256
    r = run("estimate", "--preset", "seed-imdb", "-v", "efficient", "--format", "json")
    assert json.loads(r.output)[0]["params"] == 647_693 - 2112


def test_formula_and_breakdown():
    r = run("estimate", "-v", "efficient", "--formula")
    assert r.exit_code == 0 and "params = 2*d_m**2" in r.output
    r = run("formula", "-v", "super", "--metric", "params", "--latex")
    assert r"2 d_{m}^{2} + \ell^{2}" in r.output
    r = run("estimate", "--breakdown", "--seq-len", "16")
    assert "per-operation breakdown" in r.output and "softmax" in r.output


def test_compare_ratios_and_left_out():
    r = run("compare", "--causal", "--seq-len", "128")
    assert r.exit_code == 0, r.output
    assert "×0.750" in r.output  # optimised params
    assert "left out" in r.output and "linformer" in r.output


def test_devices_fit_crossover_sweep(tmp_path):
    r = run("devices", "--format", "json")
    assert len(json.loads(r.output)) >= 15
    r = run("fit", "-v", "standard", "--device", "rpi5-8gb", "--format", "json")
    out = json.loads(r.output)
    assert out["rows"][0]["max_batch"] > 0 and out["rows"][0]["max_seq_len"] > 0
    r = run("fit", "-v", "standard", "--memory-budget", "1MiB", "--require-fit")
    assert r.exit_code == 1
    r = run("crossover", "--a", "super", "--b", "standard", "--metric", "params", "--hi", "2048")
    assert "from seq_len 725, standard is lower" in r.output
    target = tmp_path / "sweep.csv"
    r = run("sweep", "-v", "standard,efficient", "--seq-len", "128:1024:x2", "--d-model",
            "256,512", "-o", str(target))
    assert r.exit_code == 0, r.output
    assert len(target.read_text().strip().splitlines()) == 1 + 2 * 4 * 2


def test_custom_variant_file_in_cli(example_variant_file):
    r = run("compare", "--variant-file", example_variant_file, "-v", "standard,shared-kv",
            "--format", "json")
    assert r.exit_code == 0, r.output
    rows = {row["variant"]: row for row in json.loads(r.output)}
    assert rows["shared-kv"]["params"] == 3 * 512 * 512


@pytest.mark.parametrize("args,message", [
    (["estimate", "--heads", "7"], "heads=7 does not divide d_model=512"),
    (["estimate", "--seq-len", "0"], "seq_len must be a positive integer, got 0"),
    (["estimate", "--d-model", "-4"], "d_model must be a positive integer, got -4"),
    (["estimate", "-v", "flash"], "unknown variant 'flash'; allowed:"),
    (["estimate", "--device", "jetson"], "unknown device 'jetson'; allowed:"),
    (["estimate", "--memory-budget", "banana"], "memory size 'banana' is not understood"),
    (["estimate", "-v", "linformer", "--k", "600"], "k=600 exceeds"),
    (["estimate", "-v", "linformer", "--causal"], "does not support causal masking"),
    (["estimate", "-v", "super", "--mode", "infer", "--device", "rpi5-8gb",
      "--decode-tokens", "100"], "no KV cache"),
    (["estimate", "--dtype", "fp64"], "unknown dtype 'fp64'"),
    # flags that would change nothing are refused in every output format, not noted
    (["fit", "--preset", "gemma-2-2b", "--device", "h100-sxm", "--decode-tokens", "8192",
      "-f", "json"], "--decode-tokens has no effect in train mode"),
    (["compare", "--device", "h100-sxm", "--decode-tokens", "5", "-f", "csv"],
     "--decode-tokens has no effect in train mode"),
    (["estimate", "--headroom", "0.2", "-f", "json"], "--headroom has no effect without"),
    (["estimate", "--impl", "flash"], "unknown implementation 'flash'"),
    (["estimate", "--preset", "gpt5"], "unknown preset 'gpt5'"),
    (["sweep", "--seq-len", "1:x"], "--seq-len '1:x' is not understood"),
    (["estimate", "--variant-file", "nope.py"], "variant file 'nope.py' does not exist"),
])
def test_bad_input_is_one_line_and_exit_2(args, message):
    r = run(*args)
    assert r.exit_code == 2, r.output
    assert "Traceback" not in r.output
    err = r.stderr if hasattr(r, "stderr") else r.output
    lines = [ln for ln in err.strip().splitlines() if ln]
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], err


def test_estimate_imports_neither_torch_nor_sympy_nor_pandas():
    code = ("import sys\nfrom attncost.cli import app\n"
            "try:\n    app(['estimate', '--d-model', '512', '--variant', 'super'])\n"
            "except SystemExit as e:\n    assert e.code in (0, None), e.code\n"
            "bad = [m for m in ('torch', 'sympy', 'pandas', 'numpy') if m in sys.modules]\n"
            "print('HEAVY', bad)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**os.environ, "COLUMNS": "120"})
    assert out.returncode == 0, out.stderr
    assert "HEAVY []" in out.stdout


def test_console_script_runs():
    out = subprocess.run([sys.executable, "-m", "attncost", "estimate", "--format", "json"],
                         capture_output=True, text=True)
    assert out.returncode == 0 and json.loads(out.stdout)[0]["variant"] == "standard"


def test_user_devices_file(tmp_path):
    f = tmp_path / "mine.toml"
    f.write_text('[my-board]\ntitle = "My board"\nmemory = "6GiB"\nbandwidth = 50\n'
                 'peak_tflops = { fp32 = 1.0 }\nsource = "my datasheet"\n')
    r = run("fit", "-v", "efficient", "--devices-file", str(f), "--device", "my-board",
            "--format", "json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["device"]["memory_bytes"] == 6 * 2**30
    bad = tmp_path / "bad.toml"
    bad.write_text('[x]\ntitle = "no memory"\n')
    r = run("devices", "--devices-file", str(bad))
    assert r.exit_code == 2 and "lacks field" in r.output and "fields: memory" in r.output


@pytest.mark.parametrize("body, named", [
    ('memory = "8GiB"\nbandwidth = -100\npeak_tflops = { fp32 = 1.0 }', "bandwidth"),
    ('memory = "8GiB"\nbandwidth = "fast"\npeak_tflops = { fp32 = 1.0 }', "'fast'"),
    ('memory = "8GiB"\nbandwidth = nan\npeak_tflops = { fp32 = 1.0 }', "nan"),
    ('memory = "8GiB"\nbandwidth = inf\npeak_tflops = { fp32 = 1.0 }', "inf"),
    ('memory = "-8GiB"\nbandwidth = 10\npeak_tflops = { fp32 = 1.0 }', "'-8GiB'"),
    ('memory = "8GiB"\nbandwidth = 10\npeak_tflops = { fp32 = 0 }', "peak_tflops.fp32"),
    ('memory = "8GiB"\nbandwidth = 10\npeak_tflops = { fp64 = 1.0, fp32 = 1.0 }', "'fp64'"),
    ('memory = "8GiB"\nbandwidth = 10\npeak_tflops = 5', "peak_tflops"),
    ('memory = "8GiB"\nbandwidth = 10\npeak_tflops = { fp32 = 1.0 }\nbandwdth = 3',
     "'bandwdth'"),
])
def test_devices_file_fields_are_checked(tmp_path, body, named):
    """A devices file's numbers are typed: a negative, infinite, NaN or text bandwidth, a bad
    size, a zero peak or an unknown dtype or field is one line naming it, and no device of
    the file is added."""
    f = tmp_path / "devs.toml"
    f.write_text(f"[board]\n{body}\n")
    r = run("fit", "--devices-file", str(f), "--device", "board")
    assert r.exit_code == 2, r.output
    assert r.output.count("\n") == 1 and r.output.startswith("error: ") and named in r.output


def test_calibration_constants_are_checked(tmp_path):
    import json as _json

    good = _json.loads((Path(__file__).parents[1] / "reports" / "validation-cpu-summary.json").read_text())
    model = good.get("summary", good)["latency_model"]
    for bad in (-1.0, float("nan"), "x"):
        broken = {k: dict(v) for k, v in model.items()}
        broken["latency_fwd_s"]["s_per_byte"] = bad
        f = tmp_path / "cal.json"
        f.write_text(_json.dumps({"latency_model": broken}))
        r = run("estimate", "--calibration", str(f), "--mode", "infer")
        assert r.exit_code == 2 and r.output.startswith("error: ") and "s_per_byte" in r.output
    r = run("estimate", "--calibration", str(tmp_path))
    assert r.exit_code == 2 and "is a folder" in r.output


@pytest.mark.parametrize("args", [["estimate", "--layers", "0"], ["sweep", "--layers", "0"],
                                  ["formula", "--metric", "bananas"],
                                  ["compare", "--layers", "-1"]])
def test_zero_and_unknown_are_errors_not_defaults(args):
    r = run(*args)
    assert r.exit_code == 2 and r.output.startswith("error: "), r.output
