"""Hostile-user fuzz test: well over 1,000 generated inputs through the command line
(``typer.testing.CliRunner`` on ``attncost.cli.app``, in process) and the public Python API.

Every input is generated deterministically (``itertools.product`` over fixed value lists; no
randomness), and each is its own test id. A case fails on:

* a traceback: the CLI raised something other than ``SystemExit``; the API raised anything
  that is not one of attncost's typed errors (:class:`attncost.errors.AttncostError`, a
  ``ValueError``);
* an error message that is not one line: a non-zero exit must print exactly one non-empty
  line, ``error: …``, with exit status 2 (README: "Bad input gets one line, error: …, and
  exit status 2"); a typed API error's message must be one line (``attncost/errors.py``);
* a silent accept: an input that is clearly invalid (a negative, zero or non-finite size, a
  string where a number goes, an unknown name, a malformed range or file, an output path that
  cannot be written) exits 0 / returns instead of being refused. Valid edge cases (``--d-model
  1``, huge exact sizes) may succeed: they are only checked for the other failures;
* a negative or non-finite count (params, FLOPs, bytes) in any successful output (int64 wrap),
  or a numpy overflow / invalid-value warning while computing it;
* a hang: every case has a time bound (a correct implementation answers in well under a
  second; huge layer counts must be refused up front or computed in closed form).

Commands that train or measure (``search``, ``validate``, ``bench``, ``search-bench``,
``peers``, ``paper-claims``, ``report``) are only given inputs that must fail before any
work starts: the function that would start the work is replaced by a tripwire, and reaching
it counts as accepting the input.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import importlib
import io
import itertools
import json
import math
import re
import shlex
import signal
import warnings
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pytest
from typer.testing import CliRunner

import attncost
from attncost.cli import app
from attncost.errors import AttncostError

# -- the case tables ---------------------------------------------------------------------------

REJECT, ANY = "reject", "any"
# Bounds that catch hangs (minutes, or forever), not speed: speed goals live in benchmarks,
# and a loaded 2-core machine is several times slower than an idle one.
BOUND_S = 20.0       # every case: a correct implementation answers in well under a second
HANG_BOUND_S = 20.0  # huge layer counts: refuse up front or compute in closed form
HUGE = "1" + "0" * 30            # 10**30 as typed
NEG_HUGE = "-" + "9" * 30
VARIANTS = list(attncost.variant_names())
DEVICE = "rtx-3060"
D = "{D}"            # placeholder for the folder of fuzz files (made once per session)


class CliCase(NamedTuple):
    id: str
    args: tuple[str, ...]
    expect: str
    bound: float = BOUND_S


class ApiCase(NamedTuple):
    id: str
    fn: str            # "module:name" under attncost
    args: tuple
    kwargs: dict
    expect: str
    bound: float = BOUND_S


class FileRef(NamedTuple):
    """An API argument naming a fuzz file (resolved to its path at run time)."""
    name: str


class Call(NamedTuple):
    """An API argument made by calling ``fn`` at run time (e.g. a custom device)."""
    fn: str
    args: tuple = ()


CLI_CASES: list[CliCase] = []
API_CASES: list[ApiCase] = []
_ids: set[str] = set()


def _safe(text: str, limit: int = 90) -> str:
    s = text.encode("unicode_escape").decode("ascii")
    return s if len(s) <= limit else s[:limit] + f"...({len(s)}ch)"


def _unique(base: str) -> str:
    base = _safe(base, 150)
    name, n = base, 1
    while name in _ids:
        n += 1
        name = f"{base}#{n}"
    _ids.add(name)
    return name


def cli(args: list[str], expect: str, bound: float = BOUND_S) -> None:
    args = tuple(str(a) for a in args)
    CLI_CASES.append(CliCase(_unique(" ".join(_safe(a, 40) or "''" for a in args)), args,
                             expect, bound))


def api(fn: str, args: tuple = (), kwargs: dict | None = None, expect: str = REJECT,
        bound: float = BOUND_S) -> None:
    kwargs = kwargs or {}
    shown = ", ".join([*(_short(a) for a in args), *(f"{k}={_short(v)}" for k, v in kwargs.items())])
    API_CASES.append(ApiCase(_unique(f"{fn}({shown})"), fn, tuple(args), kwargs, expect, bound))


def _short(v: Any) -> str:
    if isinstance(v, FileRef):
        return f"<{v.name}>"
    if isinstance(v, Call):
        return f"{v.fn.split(':')[1]}({', '.join(map(_short, v.args))})"
    r = re.sub(r" at 0x[0-9a-fA-F]+", "", repr(v))  # ids stay the same from run to run
    return r if len(r) <= 40 else r[:40] + f"...({len(r)}ch)"


# ---- fuzz files: name -> bytes (or DIR); written once into a temporary folder --------------

DIR = object()
FILES: dict[str, Any] = {
    "adir": DIR,
    "plainfile": b"just some text\n",
    "nonutf8": b"\xff\xfe\x00\x81 not utf-8 \xc3\x28 [x]\n",
    "empty": b"",
}


def _file(name: str, content: str | bytes) -> str:
    FILES[name] = content.encode() if isinstance(content, str) else content
    return f"{D}/{name}"


MISSING = f"{D}/does-not-exist"
ADIR, PLAIN, NONUTF8, EMPTY = (f"{D}/{n}" for n in ("adir", "plainfile", "nonutf8", "empty"))
UNWRITABLE = ["/proc/nope/x", f"{D}/plainfile/x"]    # no such folder; under a regular file

# ---- integer flags of the configuration ------------------------------------------------------

INT_REJECT = ["-1", "-2147483649", NEG_HUGE, "nan", "inf", "-inf", "1.5", "2.0", "1e3", "",
              " ", "abc", "0x10", "10**30", "None", "[]", "1,2", "8 8"]
INT_ZERO = ["0", "-0"]
INT_ODD_OK = ["+8", " 8 ", "1_0", "\u0661\u0662\u0668", "\uff11\uff12\uff18", "000008",
              "1", "3"]
# flag -> (estimate base args, is zero invalid (True) / valid or arguable (False))
ATTN_INT_FLAGS = {
    "--d-model": (["-v", "standard"], True),
    "--heads": (["-v", "standard"], True),
    "--seq-len": (["-v", "standard"], True),
    "--batch": (["-v", "standard"], True),
    "--d-head": (["-v", "standard"], True),
    "--kv-heads": (["-v", "gqa"], True),
    "--k": (["-v", "linformer"], True),
    "--max-seq-len": (["-v", "linformer"], True),
    "--kv-latent": (["-v", "mla"], True),
    "--q-latent": (["-v", "mla"], True),
    "--rope-dim": (["-v", "mla"], False),
    "--window": (["-v", "standard", "--causal"], True),
    "--layers": (["-v", "standard"], True),
    "--decode-tokens": (["--mode", "infer", "--device", DEVICE], False),
}

for (flag, (base, zero_bad)), value in itertools.product(
        ATTN_INT_FLAGS.items(), INT_REJECT + INT_ZERO + INT_ODD_OK + [HUGE]):
    if flag == "--layers" and value == HUGE:
        continue  # its own hang case below
    if value in INT_REJECT:
        expect = REJECT
    elif value in INT_ZERO:
        expect = REJECT if zero_bad else ANY
    else:
        expect = ANY
    cli(["estimate", *base, flag, value, "-f", "json"], expect)

CORE_INT_REJECT = ["0", "-1", NEG_HUGE, "nan", "inf", "1.5", "", "abc"]
_OTHER_CMDS = {
    "compare": ["compare"],
    "fit": ["fit", "--device", DEVICE],
    "crossover": ["crossover", "--a", "linformer", "--hi", "4096"],
    "plot curves": ["plot", "curves", "-o", f"{D}/out.png"],
}
for (cmd, base), flag, value in itertools.product(
        _OTHER_CMDS.items(),
        ["--d-model", "--heads", "--seq-len", "--batch", "--d-head", "--kv-heads", "--k",
         "--max-seq-len", "--kv-latent", "--q-latent", "--window", "--layers"],
        CORE_INT_REJECT):
    if cmd == "crossover" and flag == "--seq-len":
        continue
    if cmd == "plot curves" and flag in ("--kv-latent", "--q-latent", "--window"):
        continue
    if cmd == "plot curves" and value not in ("0", "-1", "nan", "abc"):
        continue  # figures are slow to draw: the fast-rejecting core only
    extra = ["--causal"] if flag == "--window" else []
    cli([*base, *extra, flag, value], REJECT)

# the formula command takes only these sizes
for flag, value in itertools.product(["--d-head", "--max-seq-len", "--layers"],
                                     CORE_INT_REJECT):
    cli(["formula", "-v", "super", "--metric", "params", flag, value], REJECT)

# ---- whole-model (--preset) integer flags ------------------------------------------------------

MODEL_INT_FLAGS = {  # flag -> (preset, zero invalid?)
    "--d-ff": ("gpt2", False), "--vocab": ("gpt2", False),
    "--experts": ("mixtral-8x7b-v0.1", False), "--experts-per-token": ("mixtral-8x7b-v0.1", False),
    "--expert-d-ff": ("mixtral-8x7b-v0.1", False),
    "--shared-experts": ("deepseek-v2-lite", False), "--dense-layers": ("deepseek-v2-lite", False),
    "--global-every": ("gemma-2-2b", False), "--window-from": ("qwen2.5-0.5b", False),
    "--max-positions": ("gpt2", False), "--token-types": ("bert-base", False),
    "--image-size": ("vit-b16", True), "--patch-size": ("vit-b16", True),
    "--channels": ("vit-b16", True), "--layers": ("gpt2", True),
}
for (flag, (preset_name, zero_bad)), value in itertools.product(
        MODEL_INT_FLAGS.items(), ["-1", NEG_HUGE, "nan", "1.5", "abc", "", "0"]):
    expect = REJECT if value != "0" or zero_bad else ANY
    cli(["estimate", "--preset", preset_name, flag, value, "-f", "json"], expect)
for value in ["", "a,b", "0", "-1", "1,,2", "1,-1", "nan", "1.5", ",", "10,0"]:
    cli(["estimate", "--preset", "vit-b16", "--class-head", value, "-f", "json"], REJECT)
for value in ["1000", "6,1", "1"]:
    cli(["estimate", "--preset", "vit-b16", "--class-head", value, "-f", "json"], ANY)
# model flags without --preset
for flag, value in [("--d-ff", "128"), ("--vocab", "0"), ("--ffn-mult", "2"), ("--norm", "rmsnorm")]:
    cli(["estimate", flag, value], REJECT)

# ---- float flags -------------------------------------------------------------------------------

FLOAT_BAD = ["nan", "NaN", "inf", "-inf", "1e309", "-1e309", "abc", "", "1,5", "0x1p3", "--"]
FLOAT_FLAGS = {  # flag -> (base args, extra rejected values, any values)
    "--headroom": (["estimate", "--device", DEVICE], ["-0.1", "1", "1.0", "1.5", "-1", "100"],
                   ["0", "-0.0", "0.999999", "1e-320", " 0.5 "]),
    "--peak-tflops": (["estimate", "--memory-budget", "8GiB"], ["0", "-1", "-0.0", "-1e-300"],
                      ["1e-300", "1e300", "100"]),
    "--bandwidth": (["estimate", "--memory-budget", "8GiB", "--peak-tflops", "10"],
                    ["0", "-1", "-0.0"], ["1e-300", "1e300", "500"]),
    "--softcap": (["estimate", "-v", "standard"], ["0", "-1", "-50"], ["1e-300", "1e300", "50"]),
    "--ffn-mult": (["estimate", "--preset", "llama2-7b", "-f", "json"], ["0", "-1", "-2.5"],
                   ["0.5", "4"]),
    "--final-softcap": (["estimate", "--preset", "gemma-2-2b", "-f", "json"], ["0", "-30"],
                        ["30", "1e300"]),
}
for flag, (base, bad, ok) in FLOAT_FLAGS.items():
    for value in FLOAT_BAD + bad:
        cli([*base, flag, value], REJECT)
    for value in ok:
        cli([*base, flag, value], ANY)
for cmd in (["fit", "--device", DEVICE], ["compare", "--device", DEVICE]):
    for value in ["nan", "inf", "-0.1", "1", "abc", ""]:
        cli([*cmd, "--headroom", value], REJECT)
# --peak-tflops / --bandwidth need --memory-budget; not both --device and --memory-budget
cli(["estimate", "--peak-tflops", "10"], REJECT)
cli(["estimate", "--bandwidth", "100"], REJECT)
cli(["estimate", "--device", DEVICE, "--memory-budget", "8GiB"], REJECT)
cli(["fit"], REJECT)

# ---- memory budgets ----------------------------------------------------------------------------

BUDGET_BAD = ["", " ", "-1GB", "0", "0GB", "-0GiB", "nanGB", "NaN", "infGiB", "inf", "abc",
              "6XB", "GB", "-8GiB", "1e400GB", "10**30", "6GiBs", "0.5B", "1.5B", "1e-30GB",
              "6,5GB", "--"]
BUDGET_OK = ["6GiB", "6gb", "6 GiB", "1B", "1e30GiB", "6000000000", "1.5GiB", "512MiB"]
for cmd, value in itertools.product(["estimate", "fit"], BUDGET_BAD + BUDGET_OK):
    cli([cmd, "--memory-budget", value, "-f", "json"], REJECT if value in BUDGET_BAD else ANY)

# ---- names -------------------------------------------------------------------------------------

LONG = "a" * 5000
VARIANT_BAD = ["bogus", "", ",", "standard,bogus", "all,bogus", "stan dard", "standard\x00",
               "../../etc/passwd", LONG, "*", "none", "standard;super", "-"]
VARIANT_ODD = ["STANDARD", " standard", "standard ", "standard,standard", "all,standard",
               "standard,,super", "all"]
for cmd, value in itertools.product(["estimate", "compare", "fit", "formula", "sweep"],
                                    VARIANT_BAD + VARIANT_ODD):
    base = {"estimate": ["estimate"], "compare": ["compare"], "fit": ["fit", "--device", DEVICE],
            "formula": ["formula", "--metric", "params"],
            "sweep": ["sweep", "--metric", "params", "--seq-len", "64,128"]}[cmd]
    cli([*base, "-v", value], REJECT if value in VARIANT_BAD else ANY)
for value in VARIANT_BAD + ["STANDARD", "super"]:
    cli(["crossover", "--a", value, "--hi", "4096"], REJECT if value in VARIANT_BAD else ANY)
    cli(["crossover", "--a", "linformer", "--b", value, "--hi", "4096"],
        REJECT if value in VARIANT_BAD else ANY)
cli(["crossover"], REJECT)  # --a is required

NAME_FLAGS = {  # flag -> (base, rejected, any)
    "--device": (["estimate"], ["bogus", "", "../x", LONG, "rtx 3060", "none"],
                 ["RTX-3060", " rtx-3060", "rtx-3060 "]),
    "--preset": (["estimate"], ["bogus", "", "../data/presets", LONG, "gpt-2"],
                 ["GPT2", "gpt2 "]),
    "--dtype": (["estimate"], ["bogus", "", "fp64", "int4", "nan", "fp32,bf16"],
                ["FP32", "float32", "bfloat16"]),
    "--optimizer": (["estimate"], ["bogus", "", "lion", "adam,sgd"], ["ADAM", "AdamW"]),
    "--impl": (["estimate"], ["bogus", "", "flash"], ["MATERIALISED", "materialized"]),
    "--sharing": (["estimate", "-v", "linformer"], ["bogus", "", "full", "all"], ["Headwise", "key_value"]),
    "--mode": (["estimate"], ["bogus", "", "training", "0"], ["TRAIN", "Infer"]),
    "--format": (["estimate"], ["bogus", "", "xml", "yaml", "table,json"], ["JSON", "Csv"]),
    "--ffn-activation": (["estimate", "--preset", "gpt2"], ["bogus", "", "tanh"], ["GELU", "SwiGLU"]),
    "--norm": (["estimate", "--preset", "gpt2"], ["bogus", "", "batchnorm"], ["RMSNorm"]),
    "--pooling": (["estimate", "--preset", "vit-b16"], ["bogus", "", "max"], ["CLS"]),
    "--baseline": (["compare"], ["bogus", "", "all", "standard,super"], ["super", "STANDARD"]),
}
for flag, (base, bad, ok) in NAME_FLAGS.items():
    for value in bad:
        cli([*base, flag, value], REJECT)
    for value in ok:
        cli([*base, flag, value], ANY)
for cmd in (["fit"], ["compare"], ["plot", "roofline", "-o", f"{D}/r.png"],
            ["plot", "curves", "-o", f"{D}/c.png"]):
    for value in ["bogus", "", LONG]:
        cli([*cmd, "--device", value], REJECT)

METRIC_BAD = ["bogus", "", "PARAMS ", "flops", "params;flops_fwd", "notes", "variant",
              "inputs", "__class__"]
METRIC_ODD = ["params,flops_fwd", "PARAMS", "kv_cache_bytes_per_token"]
for value in METRIC_BAD + METRIC_ODD:
    e = REJECT if value in METRIC_BAD else ANY
    cli(["sweep", "-v", "standard", "--seq-len", "64", "--metric", value], e)
    cli(["formula", "-v", "standard", "--metric", value], e)
    cli(["crossover", "--a", "linformer", "--hi", "4096", "--metric", value], e)
    cli(["plot", "curves", "-v", "standard", "--values", "64,128", "--metric", value,
         "-o", f"{D}/m.png"], e)
cli(["crossover", "--a", "super", "--hi", "4096", "--metric", "kv_cache_bytes_per_token"], ANY)

# ---- crossover ranges --------------------------------------------------------------------------

for lo, hi, expect in [("0", "100", REJECT), ("-1", "100", REJECT), ("100", "10", REJECT),
                       ("10", "10", REJECT), ("nan", "100", REJECT), ("1", "nan", REJECT),
                       ("1.5", "100", REJECT), ("1", "1e3", REJECT), ("1", "", REJECT),
                       ("abc", "100", REJECT), ("1", NEG_HUGE, REJECT), (NEG_HUGE, "1", REJECT),
                       ("1", HUGE, ANY), ("1", "20000000", ANY), (HUGE, HUGE + "0", ANY),
                       ("1", "2", ANY), ("2", "3", ANY)]:
    cli(["crossover", "--a", "linformer", "--k", "1", "--lo", lo, "--hi", hi, "-f", "json"], expect)

# ---- sweep ranges ------------------------------------------------------------------------------

RANGE_BAD = ["1:10:x2:5", "a:b", "1:10:x1", "1:10:x0", "1:10:x-2", "10:1", "0:10", "-5:10",
             "1:10:0", "1:10:-1", "1:10:", ":10", "1:", ":", "", ",", "1,,2", "1,a", "nan", "inf",
             "1.5", "1e3", "1:1e3", "x2", "1:10:x", "1:10:y2", "1:10:x1.5", "1:10:2.5",
             "1:100000000:1", "1:" + HUGE + ":1", "0", "-1", "1,-1", "1:10:x2,0", "10**3",
             "1:10:x2:", "1::2", "0:0", NEG_HUGE + ":1"]
RANGE_OK = ["64:512:x2", "64:256:64", " 64 , 128 ", "64", "1:1", "5:5:x2",
            "1:" + HUGE + ":x2", "1:" + HUGE + ":x1000000", "00064", "+64"]
for dim, value in itertools.product(["--seq-len", "--d-model", "--batch"], RANGE_BAD + RANGE_OK):
    extra = ["--heads", "1"] if dim == "--d-model" else []
    cli(["sweep", "-v", "standard", "--metric", "params", *extra, dim, value],
        REJECT if value in RANGE_BAD else ANY)
for value in ["1:10:x2:5", "a:b", "0", "-1", "", "1:10:x1", "nan", "1:100000000:1"]:
    cli(["plot", "curves", "-v", "standard", "--values", value, "-o", f"{D}/v.png"], REJECT)
for value in ["bogus", "", "batch", "heads"]:
    cli(["plot", "curves", "-v", "standard", "--axis", value, "-o", f"{D}/a.png"],
        REJECT if value in ("bogus", "") else ANY)

# the int64-wrap check: exact huge sizes through the vectorised sweep and estimate
for variant, (dim, value) in itertools.product(
        VARIANTS, [("--d-model", "800000000000000000"), ("--d-model", HUGE),
                   ("--seq-len", "4611686018427387904"), ("--batch", "9223372036854775807")]):
    cli(["sweep", "-v", variant, "--heads", "1", dim, value, "--metric", "params",
         "--metric", "flops_fwd", "--metric", "train_peak_bytes"], ANY)
for variant, dims in itertools.product(
        VARIANTS, [["--d-model", HUGE, "--heads", "1"], ["--d-model", "800000000000000000",
                                                          "--heads", "1"],
                   ["--seq-len", "4611686018427387904"], ["--batch", HUGE],
                   ["--d-model", "1", "--heads", "1", "--seq-len", "1"]]):
    cli(["estimate", "-v", variant, *dims, "-f", "json"], ANY)
for variant in VARIANTS:
    cli(["fit", "-v", variant, "--d-model", HUGE, "--heads", "1", "--device", DEVICE, "-f", "json"],
        ANY)
    cli(["estimate", "-v", variant, "--layers", "100", "-f", "json"], ANY)
cli(["compare", "--d-model", HUGE, "--heads", "1", "-f", "csv"], ANY)
cli(["compare", "--d-model", HUGE, "--heads", "1"], ANY)
cli(["crossover", "--a", "linformer", "--d-model", HUGE, "--heads", "1", "--hi", "4096"], ANY)
cli(["estimate", "--preset", "gpt2", "--d-model", HUGE, "--heads", "1", "-f", "json"], ANY)
cli(["estimate", "--preset", "gpt2", "--layers", "200", "-f", "json"], ANY)
cli(["estimate", "-v", "all", "--d-model", HUGE, "--heads", "1", "--device", DEVICE], ANY)
# sizes past a float (10**200): exact integers must not meet float() unguarded
H200 = "1" + "0" * 200
for variant in VARIANTS:
    cli(["estimate", "-v", variant, "--d-model", H200, "--heads", "1", "--device", DEVICE,
         "-f", "json"], ANY)
    cli(["sweep", "-v", variant, "--d-model", H200, "--heads", "1", "--metric", "params"], ANY)
for args in (["estimate", "--d-model", H200, "--heads", "1"],
             ["estimate", "--seq-len", H200, "--device", DEVICE],
             ["estimate", "--batch", H200, "--device", DEVICE, "-f", "csv"],
             ["estimate", "--batch", H200, "--memory-budget", "8GiB", "--peak-tflops", "10",
              "--bandwidth", "100", "-f", "json"],
             ["compare", "--seq-len", H200, "--device", DEVICE],
             ["compare", "--d-model", H200, "--heads", "1", "-f", "json"],
             ["fit", "-v", "standard", "--d-model", H200, "--heads", "1", "--device", DEVICE],
             ["fit", "--preset", "gpt2", "--vocab", H200, "--device", DEVICE, "-f", "json"],
             ["estimate", "--preset", "gpt2", "--vocab", H200, "--device", DEVICE],
             ["estimate", "-v", "super", "--seq-len", H200, "--mode", "infer", "--decode-tokens",
              H200, "--device", DEVICE, "-f", "json"],
             ["crossover", "--a", "linformer", "--d-model", H200, "--heads", "1", "--hi", "100"],
             ["crossover", "--a", "linformer", "--batch", H200, "--hi", "100", "-f", "csv"]):
    cli(args, ANY)
# tiny budgets, headroom next to 1, subnormal and huge peaks: finite answers or a refusal
for cmd, budget in itertools.product(["estimate", "fit", "compare"], ["1B", "2B", "7B", "1KiB"]):
    cli([cmd, "-v", "standard", "--memory-budget", budget, "-f", "json"], ANY)
for cmd, headroom in itertools.product(["estimate", "fit"], ["0.9999999999", "0.9999999999999999"]):
    cli([cmd, "--memory-budget", "8GiB", "--headroom", headroom, "-f", "json"], ANY)
    cli([cmd, "--device", DEVICE, "--headroom", headroom, "-f", "json"], ANY)
for cmd, peak in itertools.product(["estimate", "fit"], ["1e-320", "1e308"]):
    cli([cmd, "--memory-budget", "8GiB", "--peak-tflops", peak, "--bandwidth", peak, "-f", "json"],
        ANY)
# a grid whose every axis is allowed but whose product (10**18 points) cannot be allocated
_BIG_AXIS = "1:1000000:1"
cli(["sweep", "-v", "standard", "--metric", "params", "--heads", "1", "--seq-len", _BIG_AXIS,
     "--batch", _BIG_AXIS, "--d-model", _BIG_AXIS], ANY)
cli(["sweep", "-v", "standard", "--metric", "params", "--heads", "1", "--seq-len", _BIG_AXIS,
     "--batch", _BIG_AXIS, "--d-model", _BIG_AXIS, "-o", f"{D}/big.csv"], ANY)

# many layers: refuse up front or compute in closed form, never hang
cli(["estimate", "--layers", HUGE], ANY, HANG_BOUND_S)
cli(["sweep", "-v", "standard", "--seq-len", "64", "--metric", "params", "--layers", "64"], ANY,
    HANG_BOUND_S)
cli(["estimate", "--preset", "gpt2", "--layers", HUGE], ANY, HANG_BOUND_S)

# ---- output paths ------------------------------------------------------------------------------

for out in [*(u + ".csv" for u in UNWRITABLE), ADIR, f"{D}/x.txt", f"{D}/x", "", PLAIN,
            f"{D}/x.CSV.bak", "/proc/nope/x.parquet"]:
    cli(["sweep", "-v", "standard", "--seq-len", "64", "-o", out], REJECT)
cli(["sweep", "-v", "standard", "--seq-len", "64", "-o", f"{D}/sweep-ok.csv"], ANY)
for out in [*(u + ".png" for u in UNWRITABLE), f"{D}/fig.txt", f"{D}/fig", ADIR, ""]:
    cli(["plot", "breakdown", "-v", "standard", "-o", out], REJECT)
for out in [u + ".svg" for u in UNWRITABLE]:
    cli(["plot", "roofline", "-v", "standard", "-o", out], REJECT)
    cli(["plot", "curves", "-v", "standard", "--values", "64,128", "-o", out], REJECT)
for out in ["/proc/nope", PLAIN, f"{D}/plainfile/sub"]:
    cli(["report", "-o", out], REJECT)

# ---- devices files -----------------------------------------------------------------------------

_DEV_BASE = {"memory": '"8GiB"', "bandwidth": "100.0", "peak_tflops": "{ fp32 = 10.0 }"}


def _device_toml(changes: dict[str, str | None], name: str = "fz") -> str:
    fields = {**_DEV_BASE, **changes}
    return f"[{name}]\n" + "".join(f"{k} = {v}\n" for k, v in fields.items() if v is not None)


DEVICE_FILES: list[tuple[str, str, str]] = []  # (file name, path, expect)


def _devfile(label: str, content: str | bytes | None, expect: str, path: str | None = None) -> None:
    name = f"dev-{len(DEVICE_FILES):02d}-{label}.toml"
    DEVICE_FILES.append((label, path or _file(name, content), expect))


for field_name, values in {
        "bandwidth": ["-1.0", "0", "0.0", "-0.0", "nan", "inf", "-inf", '"fast"', '"100"', "true",
                      "[100]", "{ a = 1 }", "1e400", "-1e-300"],
        "memory": ['"-8GiB"', '"0"', '"0GiB"', '"nanGiB"', '"infGiB"', '"8XB"', '""', "0", "-1",
                   "nan", "inf", "true", "1.5", '"1.5B"', "[1]", '"1e400GB"'],
        "peak_tflops": ["nan", "10", "{ fp32 = nan }", "{ fp32 = -1.0 }", "{ fp32 = 0 }",
                        '{ fp32 = "x" }', "{ fp32 = inf }", "{ fp16 = 1.0 }",
                        "{ fp32 = 1.0, bogus = 2.0 }", "{ fp32 = 1.0, fp16 = nan }",
                        "{ fp32 = true }", "{}", "[1.0]", "{ fp32 = 1e400 }"],
        "title": ["5", "true", "[]"],
        "kind": ["[]", "{}"],
        "bogus": ["1"]}.items():
    for v in values:
        _devfile(f"{field_name}={v}", _device_toml({field_name: v}), REJECT)
for missing in ("memory", "bandwidth", "peak_tflops"):
    _devfile(f"no-{missing}", _device_toml({missing: None}), REJECT)
for label, content in [("empty", ""), ("not-a-table", "fz = 5\n"), ("empty-table", "[fz]\n"),
                       ("bad-toml", "[fz\nmemory = \n"), ("array-of-tables", "[[fz]]\nmemory = 1\n"),
                       ("one-good-one-bad", _device_toml({}, "fz-ok") + _device_toml(
                           {"bandwidth": "nan"})),
                       ("nul-byte", "[fz]\nmemory = \"8GiB\x00\"\n")]:
    _devfile(label, content, REJECT)
_devfile("non-utf8", None, REJECT, NONUTF8)
_devfile("directory", None, REJECT, ADIR)
_devfile("missing", None, REJECT, MISSING)
for v in ['"8 GiB"', "8589934592", "8589934592.0", '"1e30GiB"', "1e-300"]:
    field_name = "bandwidth" if v == "1e-300" else "memory"
    _devfile(f"ok-{field_name}={v}", _device_toml({field_name: v}), ANY)
_devfile("ok-override-builtin", _device_toml({}, DEVICE), ANY)
_devfile("ok-quoted-name", _device_toml({}, '"fz"'), ANY)

for (label, path, expect), base in itertools.product(
        DEVICE_FILES, [["devices", "-f", "json"], ["estimate", "--device", "fz", "-f", "json"],
                       ["fit", "--device", "fz", "-f", "json"],
                       ["compare", "-v", "standard", "--device", "fz", "-f", "json"]]):
    cli([*base, "--devices-file", path], expect)

# ---- calibration files -------------------------------------------------------------------------

_TERMS = ("s_per_matmul_flop", "s_per_other_flop", "s_per_byte", "s_per_matmul_kernel",
          "s_per_elementwise_kernel", "s_per_copy_kernel")
_COEF = dict(zip(_TERMS, (1.8e-11, 1.5e-10, 4.8e-11, 1.9e-05, 2.9e-05, 0.0)))


def _calibration(value: Any = None, term: str = "s_per_byte", key: str = "latency_fwdbwd_s",
                 raw: str | None = None) -> str:
    if raw is not None:
        return raw
    bad = dict(_COEF)
    bad[term] = value
    text = json.dumps({"latency_model": {"latency_fwd_s": dict(_COEF), key: "@@"}})
    return text.replace('"@@"', "{" + ", ".join(
        f'"{t}": {v if isinstance(v, str) else json.dumps(v)}' for t, v in bad.items()) + "}")


CALIBRATION_FILES: list[tuple[str, str, str]] = []
for label, content, expect in [
        ("empty", "", REJECT), ("obj", "{}", REJECT), ("list", "[]", REJECT), ("null", "null", REJECT),
        ("num", "5", REJECT), ("str", '"x"', REJECT), ("bad-json", "{", REJECT),
        ("model-null", '{"latency_model": null}', REJECT),
        ("model-list", '{"latency_model": []}', REJECT),
        ("model-empty", '{"latency_model": {}}', REJECT),
        ("summary-null", '{"summary": null}', REJECT),
        ("summary-num", '{"summary": 5}', REJECT),
        ("missing-fwdbwd", json.dumps({"latency_model": {"latency_fwd_s": _COEF}}), REJECT),
        ("terms-as-list", json.dumps({"latency_model": {"latency_fwd_s": list(_COEF.values()),
                                                        "latency_fwdbwd_s": _COEF}}), REJECT),
        ("coef-NaN", _calibration("NaN"), REJECT), ("coef-Infinity", _calibration("Infinity"), REJECT),
        ("coef--Infinity", _calibration("-Infinity"), REJECT),
        ("coef-str", _calibration('"abc"'), REJECT), ("coef-true", _calibration("true"), REJECT),
        ("coef-null", _calibration("null"), REJECT), ("coef-list", _calibration("[1]"), REJECT),
        ("coef-1e400", _calibration("1e400"), REJECT),
        ("fwd-NaN", _calibration("NaN", key="latency_fwd_s"), REJECT),
        ("ok", _calibration(4.8e-11), ANY),
        ("ok-summary", json.dumps({"summary": {"latency_model": {
            "latency_fwd_s": _COEF, "latency_fwdbwd_s": _COEF}}}), ANY),
        ("ok-1e-3", _calibration(1e-3), ANY)]:
    name = f"cal-{len(CALIBRATION_FILES):02d}-{label}.json"
    CALIBRATION_FILES.append((label, _file(name, content), expect))
for label, path in [("non-utf8", NONUTF8), ("directory", ADIR), ("missing", MISSING)]:
    CALIBRATION_FILES.append((label, path, REJECT))
for (label, path, expect), mode in itertools.product(CALIBRATION_FILES, ["train", "infer"]):
    cli(["estimate", "--mode", mode, "--calibration", path, "-f", "json"], expect)

# ---- search specifications (must fail before any training) ------------------------------------

_SPEC_BASE: dict[str, dict[str, str]] = {
    "search": {"name": '"fuzz"', "task": '"digits"', "objective": '"params"', "trials": "4",
               "seed": "0"},
    "model": {"layers": "2", "d_model": "16", "heads": "2", "batch": "1"},
    "candidates": {"variants": '["standard", "mqa"]'},
    "target": {"accuracy": "0.9"},
    "budget": {"memory": '"64MB"'},
    "training": {"steps": "10", "batch": "8", "lr": "0.003", "seeds": "1", "eval_every": "5"},
    "task": {"patch_size": "2"},
}


def _spec_toml(section: str | None = None, key: str | None = None, value: str | None = None) -> str:
    spec = {s: dict(b) for s, b in _SPEC_BASE.items()}
    if section is not None:
        spec.setdefault(section, {})
        if value is None:
            spec[section].pop(key, None)
        else:
            spec[section][key] = value
    return "".join(f"[{s}]\n" + "".join(f"{k} = {v}\n" for k, v in body.items()) + "\n"
                   for s, body in spec.items())


SPEC_MUTATIONS = {
    ("target", "accuracy"): ["nan", "inf", "-inf", "-0.1", "1.5", '"0.9"', "true", "[0.9]", None],
    ("training", "lr"): ["nan", "inf", "0", "-1", "2", '"x"', "true"],
    ("training", "steps"): ["0", "-1", "1.5", "nan", '"10"', "true"],
    ("training", "seeds"): ["0", "-1", "nan"],
    ("training", "batch"): ["0", "-1", "inf"],
    ("training", "eval_every"): ["0", "-5"],
    ("search", "trials"): ["0", "-1", "nan", '"4"'],
    ("search", "seed"): ["-1", "nan", "1.5"],
    ("search", "workers"): ["0", "-1"],
    ("search", "confidence"): ["nan", "0.2", "1.0", "inf"],
    ("search", "objective"): ['"bogus"', '""', "5"],
    ("search", "sampler"): ['"bogus"', '""'],
    ("search", "task"): ['"bogus"', '""', None],
    ("search", "name"): ['"../../x"', '""', '"a b"', '"x/y"'],
    ("search", "storage"): ['""', "5"],
    ("model", "layers"): ["0", "-1", "1.5", "nan", '"2"', None],
    ("model", "d_model"): ["0", "-16", "nan", "inf", "1.5"],
    ("model", "heads"): ["0", "3", "-2", "nan"],
    ("model", "d_ff"): ["0", "-1", "nan"],
    ("model", "ffn_mult"): ["nan", "0", "-1", "inf"],
    ("model", "dtype"): ['"bogus"', "5"],
    ("candidates", "variants"): ["[]", '["bogus"]', '"standard"', "[1]", '["standard", "standard"]', None],
    ("candidates", "layer_9"): ['["standard"]'],
    ("candidates", "linformer_k"): ["0", "-1", "nan"],
    ("candidates", "kv_heads"): ["0", "-1", "3"],
    ("budget", "memory"): ['"-1MB"', '"nanMB"', '""', "0", "-5", "true", "nan", '"64XB"'],
    ("budget", "latency_ms"): ["nan", "0", "-1", "inf"],
    ("budget", "headroom"): ["nan", "1", "-0.1", "inf"],
    ("budget", "device"): ['"bogus"', "5", '""'],
    ("budget", "mode"): ['"bogus"', '""'],
    ("task", "patch_size"): ["0", "-1", "nan", '"x"', "3"],
    ("task", "bogus_option"): ["1"],
    ("bogus_section", "x"): ["1"],
    ("model", "bogus_field"): ["1"],
}
SPEC_FILES: list[tuple[str, str, str]] = []
for (section, key), values in SPEC_MUTATIONS.items():
    for v in values:
        label = f"{section}.{key}={'<deleted>' if v is None else v}"
        SPEC_FILES.append((label, _file(f"spec-{len(SPEC_FILES):03d}.toml",
                                        _spec_toml(section, key, v)), REJECT))
for label, content in [("empty", ""), ("bad-toml", "[search\n"), ("array", "x = [1, 2]\n"),
                       ("search-not-table", "search = 5\n")]:
    SPEC_FILES.append((label, _file(f"spec-{len(SPEC_FILES):03d}.toml", content), REJECT))
SPEC_FILES += [("non-utf8", NONUTF8, REJECT), ("directory", ADIR, REJECT),
               ("missing", MISSING, REJECT)]
SPEC_OK = _file("spec-ok.toml", _spec_toml())
SPEC_FILES.append(("valid", SPEC_OK, ANY))
for label, path, expect in SPEC_FILES:
    cli(["search", path], expect)

for flags, expect in [
        (["--target", "nan"], REJECT), (["--target", "1.5"], REJECT), (["--target", "-1"], REJECT),
        (["--target", "inf"], REJECT), (["--trials", "0"], REJECT), (["--trials", "-1"], REJECT),
        (["--steps", "0"], REJECT), (["--seeds", "0"], REJECT), (["--workers", "0"], REJECT),
        (["--workers", "-3"], REJECT), (["--confidence", "2"], REJECT),
        (["--confidence", "nan"], REJECT), (["--latency-ms", "-1"], REJECT),
        (["--latency-ms", "nan"], REJECT), (["--memory", "-1MB"], REJECT),
        (["--memory", "abc"], REJECT), (["--memory", ""], REJECT), (["--sampler", "bogus"], REJECT),
        (["--objective", "bogus"], REJECT), (["--device", "bogus"], REJECT),
        (["--seed", "-1"], REJECT), (["--seed", "nan"], REJECT), (["--storage", ""], REJECT),
        (["--format", "bogus"], REJECT), (["--trials", "abc"], REJECT),
        (["--variant-file", MISSING], REJECT), (["--variant-file", ADIR], REJECT),
        (["--variant-file", NONUTF8], REJECT), (["--task-file", MISSING], REJECT),
        (["--task-file", ADIR], REJECT), (["--task-file", NONUTF8], REJECT),
        (["-o", "/proc/nope/x.json"], REJECT), (["-o", f"{D}/plainfile/x.json"], REJECT),
        (["-o", ADIR], REJECT),
        (["--trials", "5"], ANY), (["--target", "0.5"], ANY)]:
    cli(["search", SPEC_OK, *flags], expect)

# ---- variant and task plug-in files -------------------------------------------------------------

PLUGINS = {
    "syntax-error": "def broken(:\n",
    "raises": "raise RuntimeError('boom at import')\n",
    "import-error": "import attncost_no_such_module\n",
    "zero-division": "x = 1 / 0\n",
}
for label, content in PLUGINS.items():
    path = _file(f"plugin-{label}.py", content)
    cli(["estimate", "--variant-file", path], REJECT)
    cli(["compare", "--variant-file", path], REJECT)
for path in [MISSING, ADIR, NONUTF8, EMPTY]:
    cli(["estimate", "--variant-file", path], ANY if path == EMPTY else REJECT)
    cli(["sweep", "--seq-len", "64", "--variant-file", path], ANY if path == EMPTY else REJECT)

# ---- validate (must fail before measuring) -------------------------------------------------------

_V = ["validate", "-v", "standard", "--d-model", "16", "--heads", "2", "--seq-len", "8", "--no-timing"]
for flags in [["--d-model", "0"], ["--d-model", "-1"], ["--d-model", "nan"], ["--d-model", "abc"],
              ["--d-model", "1.5"], ["--heads", "0"], ["--heads", "3"], ["--seq-len", "0"],
              ["--batch", "0"], ["--batch", "-1"], ["--kv-heads", "0"], ["--k", "0"],
              ["--device", "bogus"], ["--device", ""],
              ["-v", "bogus"], ["--impl", "bogus"], ["--format", "bogus"],
              ["-o", "/proc/nope/x.csv"], ["-o", f"{D}/plainfile/x.csv"], ["-o", ADIR],
              ["-o", NONUTF8], ["-o", PLAIN], ["--plot", "/proc/nope/x.png"],
              ["--plot", f"{D}/plot.txt"], ["--variant-file", MISSING],
              ["--variant-file", NONUTF8]]:
    cli([*_V, *flags], REJECT)
for flags in [["--grid", "bogus"], ["--grid", ""], ["-v", "bogus"], ["-o", "/proc/nope/x.csv"]]:
    cli(["validate", "--no-timing", *flags], REJECT)

# ---- plot inputs ---------------------------------------------------------------------------------

BAD_CSV = _file("bad.csv", "a,b\n1,2\n")
HEADER_ONLY_CSV = _file("header.csv", "variant,metric,predicted,measured,tolerance\n")
NAN_CSV = _file("nan.csv", "variant,metric,predicted,measured,tolerance\nstandard,params,nan,"
                           "-inf,exact\n")
for path in [MISSING, ADIR, NONUTF8, EMPTY, BAD_CSV, NAN_CSV, PLAIN]:
    cli(["plot", "validation", path, "-o", f"{D}/val.png"], REJECT)
cli(["plot", "validation", HEADER_ONLY_CSV, "-o", f"{D}/val.png"], ANY)
for label, content in [("empty", ""), ("obj", "{}"), ("list", "[]"), ("nan", "NaN"),
                       ("bad", "{"), ("null-runs", '{"runs": null}')]:
    cli(["plot", "search", _file(f"summary-{label}.json", content), "-o", f"{D}/s.png"], REJECT)
for path in [MISSING, ADIR, NONUTF8]:
    cli(["plot", "search", path, "-o", f"{D}/s.png"], REJECT)
cli(["plot", "roofline", "--mode", "bogus", "-o", f"{D}/r.png"], REJECT)
cli(["plot", "curves", "--headroom", "nan", "-o", f"{D}/c.png"], REJECT)
cli(["plot", "curves", "--headroom", "1", "--device", DEVICE, "-o", f"{D}/c.png"], REJECT)
cli(["plot", "breakdown", "-v", "bogus", "-o", f"{D}/b.png"], REJECT)
cli(["plot", "bogus"], REJECT)

# ---- commands that run long jobs: argument errors only -------------------------------------------

for flags in [["--runs", "0"], ["--runs", "-1"], ["--runs", "abc"], ["--runs", "1.5"],
              ["--runs", "nan"], ["--configs", "0"], ["--configs", "-1"], ["--configs", ""]]:
    cli(["bench", *flags], REJECT)
for flags in [["--evaluations", "0"], ["--evaluations", "-1"], ["--evaluations", "abc"],
              ["--noise", "nan"], ["--noise", "inf"], ["--noise", "-1"], ["--noise", "0"],
              ["--noise", "0.5"], ["--noise", "abc"], ["--jobs", "0"], ["--jobs", "-1"],
              ["--families", "bogus"], ["--families", ""], ["--families", ","],
              ["--samplers", "bogus"], ["--samplers", ","], ["--instances", "a,b"],
              ["--instances", ""], ["--instances", "-1"], ["--instances", "1,,2"],
              ["--format", "bogus"], ["-o", "/proc/nope/x.json"], ["-o", ADIR],
              ["-o", NONUTF8], ["-o", PLAIN], ["-o", f"{D}/plainfile/x.json"]]:
    cli(["search-bench", *flags], REJECT)
for flags in [["--d-model", "0"], ["--d-model", "-1"], ["--d-model", "abc"], ["--heads", "0"],
              ["--heads", "3"], ["--seq-len", "0"], ["--seq-len", "nan"],
              ["-o", "/proc/nope/x.md"], ["-o", f"{D}/plainfile/x.md"], ["-o", ADIR]]:
    cli(["peers", *flags], REJECT)
for out in ["/proc/nope/x.md", f"{D}/plainfile/x.md", ADIR]:
    cli(["paper-claims", "-o", out], REJECT)

# ---- usage errors --------------------------------------------------------------------------------

for args in [["bogus"], ["estimate", "--bogus"], ["estimate", "--d-model"], ["estimate", "-v"],
             ["estimate", "extra-arg"], ["estimate", "--d-model", "8", "--d-model"],
             ["sweep", "--seq-len"], ["estimate", "--help-me"], ["estimate", "--causal=maybe"],
             ["estimate", "--no-causal=1"], ["fit", "--require-fit=x"], ["--bogus"],
             ["estimate", "-"], ["estimate", "--", "--d-model", "8"],
             ["search"], ["plot", "search"], ["estimate", "\x00"], ["formula", "--latex=no"]]:
    cli(args, REJECT)

# ---- the Python API --------------------------------------------------------------------------------

NAN, INF = float("nan"), float("inf")
DIM_NAMES = ["d_model", "heads", "seq_len", "batch", "d_head", "kv_heads", "k", "max_seq_len",
             "kv_latent", "q_latent", "rope_dim", "window"]
API_INT_BAD = [0, -1, -(10**30), NAN, INF, -INF, 1.5, "8", "", True, False, b"8", [8], (8,),
               {"v": 8}, np.int64(-1), np.float64(NAN), np.float64(1.5), Fraction(3, 2),
               Decimal("NaN"), complex(8, 0), object()]
API_INT_OK = [2.0, np.int64(8), np.int32(4), 10**30, Fraction(8, 1), Decimal(8), 1, 3]
_VARIANT_FOR = {"kv_heads": "gqa", "k": "linformer", "max_seq_len": "linformer",
                "kv_latent": "mla", "q_latent": "mla", "rope_dim": "mla"}


def _dim_expect(dim: str, value: Any) -> str:
    if any(value is v for v in API_INT_OK):
        return ANY
    if dim == "rope_dim" and not isinstance(value, bool) and value == 0:
        return ANY  # a RoPE dimension of 0 is arguable
    return REJECT


for dim, value in itertools.product(DIM_NAMES, API_INT_BAD + API_INT_OK):
    extra = {"causal": True} if dim == "window" else {}
    api("config:AttentionConfig", (), {dim: value, **extra}, _dim_expect(dim, value))
    api("api:estimate", (_VARIANT_FOR.get(dim, "standard"),), {dim: value, **extra},
        _dim_expect(dim, value))
for value in [0, -1, NAN, INF, -INF, "50", "", True, b"50", [50], complex(50, 0), object(),
              np.float64(NAN), Decimal("Infinity")]:
    api("config:AttentionConfig", (), {"softcap": value}, REJECT)
    api("api:estimate", ("standard",), {"softcap": value}, REJECT)
for value in [50, 50.0, 1e-300, 10**30, np.float32(30)]:
    api("api:estimate", ("standard",), {"softcap": value}, ANY)
for field_name, value in itertools.product(["impl", "sharing", "dtype", "optimizer"],
                                           ["bogus", "", 5, None, b"fp32", ["fp32"], NAN]):
    api("config:AttentionConfig", (), {field_name: value}, ANY if value is None else REJECT)
for field_name, value in itertools.product(["causal", "bias", "dropout", "qk_norm"],
                                           ["false", "yes", "", 2, 0.5, NAN, [True], -1]):
    api("config:AttentionConfig", (), {field_name: value}, REJECT)
api("config:AttentionConfig", (), {"d_model": 64, "heads": 3}, REJECT)
api("config:AttentionConfig", (), {"seq_len": 100, "max_seq_len": 50}, REJECT)

# layers, across every function that takes it
LAYER_FNS = {
    "api:estimate": (("standard",), {}), "api:compare": (("all",), {}),
    "api:compare_variants": (("standard,super",), {}),
    "api:formula": (("super", "params"), {}), "api:sweep": (("standard", {"seq_len": [64]}), {}),
    "api:max_batch": (("standard", DEVICE), {}), "api:max_seq_len": (("standard", DEVICE), {}),
    "api:fit_table": (("standard", DEVICE), {}),
    "api:crossover": (("linformer", "standard", "flops_fwd"), {"k": 8, "hi": 256}),
}
for (fn, (args, kw)), value in itertools.product(
        LAYER_FNS.items(), [0, -1, 1.5, NAN, INF, "2", True, None, [], np.float64(2.5)]):
    # fit_table documents layers=None as "one layer, or the preset's"
    api(fn, args, {**kw, "layers": value}, ANY if value is None and fn == "api:fit_table" else REJECT)
for fn, (args, kw) in LAYER_FNS.items():
    api(fn, args, {**kw, "layers": 4}, ANY)
api("api:estimate", ("standard",), {"layers": 10**30}, ANY, HANG_BOUND_S)
api("api:sweep", ("standard", {"seq_len": [64]}), {"layers": 64}, ANY, HANG_BOUND_S)

# device, mode, headroom, decode_tokens, efficiency
RUN_FNS = {"api:estimate": ("standard",), "api:estimate_model": ("gpt2",),
           "api:max_batch": ("standard", DEVICE), "api:fit_table": ("standard", DEVICE)}
RUN_KW_BAD = {
    "device": ["bogus", "", 5, b"rtx-3060", [DEVICE], NAN],
    "mode": ["bogus", "", 5, "TRAIN "],
    "headroom": [-0.1, 1, 1.5, NAN, INF, -INF, "0.1", True, 10**400],
    "decode_tokens": [-1, 1.5, NAN, INF, "3", True, -(10**30)],
    "efficiency": [0, -1, NAN, INF, 2, "1", True],
}
for fn, key in itertools.product(RUN_FNS, RUN_KW_BAD):
    for value in RUN_KW_BAD[key]:
        if fn in ("api:max_batch", "api:fit_table"):
            if key == "efficiency":
                continue  # these take no efficiency
            if key == "device":
                api(fn, ("standard", value), {}, REJECT)
                continue
            args, kw = ("standard", DEVICE), {key: value}
        else:
            args, kw = RUN_FNS[fn], {key: value}
            if key != "device":
                kw["device"] = DEVICE
        if key == "decode_tokens":
            kw["mode"] = "infer"
        api(fn, args, kw, REJECT)
for value in [0, 0.0, 0.5, 0.99, np.float64(0.2)]:
    api("api:estimate", ("standard",), {"device": DEVICE, "headroom": value}, ANY)
for value in [0, 10**30, 5]:
    api("api:estimate", ("standard",), {"device": DEVICE, "mode": "infer", "decode_tokens": value},
        ANY)

# custom devices
for kw, expect in [
        ({"memory": "-1GB"}, REJECT), ({"memory": "nanGB"}, REJECT), ({"memory": "0"}, REJECT),
        ({"memory": 0}, REJECT), ({"memory": -1}, REJECT), ({"memory": NAN}, REJECT),
        ({"memory": INF}, REJECT), ({"memory": True}, REJECT), ({"memory": ""}, REJECT),
        ({"memory": "1e400GB"}, REJECT), ({"memory": None}, REJECT), ({"memory": 1.5}, REJECT),
        ({"memory": [8]}, REJECT), ({"memory": b"8GB"}, REJECT),
        ({"memory": "8GB", "peak_tflops": NAN}, REJECT), ({"memory": "8GB", "peak_tflops": -1}, REJECT),
        ({"memory": "8GB", "peak_tflops": 0}, REJECT), ({"memory": "8GB", "peak_tflops": INF}, REJECT),
        ({"memory": "8GB", "peak_tflops": "x"}, REJECT), ({"memory": "8GB", "peak_tflops": True}, REJECT),
        ({"memory": "8GB", "bandwidth_gbs": NAN}, REJECT), ({"memory": "8GB", "bandwidth_gbs": -1}, REJECT),
        ({"memory": "8GB", "bandwidth_gbs": 0}, REJECT), ({"memory": "8GB", "bandwidth_gbs": INF}, REJECT),
        ({"memory": "8GB", "bandwidth_gbs": "x"}, REJECT), ({"memory": "8GB", "name": ""}, REJECT),
        ({"memory": "8GB", "name": 5}, REJECT),
        ({"memory": "8GB"}, ANY), ({"memory": 10**30}, ANY),
        ({"memory": "8GB", "peak_tflops": 1e-300, "bandwidth_gbs": 1e-300}, ANY)]:
    api("devices:custom_device", (), kw, expect)

# formula
for args, kw, expect in [
        (("super", "bogus"), {}, REJECT), (("super", ""), {}, REJECT), (("super", None), {}, REJECT),
        (("super", 5), {}, REJECT), (("bogus", "params"), {}, REJECT), (("", "params"), {}, REJECT),
        ((None, "params"), {}, REJECT), (("super", "params"), {"d_head": 0}, REJECT),
        (("super", "params"), {"max_seq_len": -1}, REJECT),
        (("super", "params"), {"max_seq_len": NAN}, REJECT),
        (("super", "params"), {"bogus": 1}, REJECT),
        (("super", "params"), {"dtype": "bogus"}, REJECT),
        (("super", "kv_cache_bytes_per_token"), {}, ANY),
        (("super", "params"), {"max_seq_len": 10**30}, ANY),
        (("mla", "flops_fwd"), {"d_head": 10**30}, ANY)]:
    api("api:formula", args, kw, expect)

# sweep grids
SWEEP_GRIDS = [
    (None, REJECT), ("seq_len", REJECT), ([("seq_len", [64])], REJECT), ({"seq_len": None}, REJECT),
    ({"seq_len": 64}, REJECT), ({"seq_len": [0]}, REJECT), ({"seq_len": [-1]}, REJECT),
    ({"seq_len": [NAN]}, REJECT), ({"seq_len": [1.5]}, REJECT), ({"seq_len": ["8"]}, REJECT),
    ({"seq_len": [True]}, REJECT), ({"seq_len": np.array([-1])}, REJECT),
    ({"seq_len": np.array([1.5])}, REJECT), ({"seq_len": np.array([], dtype=np.int64)}, REJECT),
    ({"seq_len": range(0, 3)}, REJECT), ({"seq_len": [64, -64]}, REJECT),
    ({"seq_len": np.array([2**63 - 1, -1], dtype=object)}, REJECT), ({"bogus": [1]}, REJECT),
    ({"seq_len": [[64]]}, REJECT), ({"seq_len": [None]}, REJECT), ({5: [64]}, REJECT),
    ({"seq_len": np.array([[64, 128]])}, REJECT), ({"seq_len": [64.0]}, REJECT),
    ({"heads": [3]}, REJECT), ({"seq_len": [64], "max_seq_len": [32]}, REJECT),
    ({"seq_len": range(1, 4)}, ANY), ({"seq_len": (x for x in (64, 128))}, ANY), ({}, ANY),
    ({"seq_len": [2**63]}, ANY), ({"seq_len": [10**30]}, ANY),
    ({"seq_len": np.array([64, 128], dtype=np.int32)}, ANY), ({"seq_len": {64, 128}}, ANY),
    ({"d_model": [2**62], "heads": [1]}, ANY), ({"batch": [2**63 - 1]}, ANY),
]
for (grid, expect), variant in itertools.product(SWEEP_GRIDS, ["standard", "mla"]):
    api("api:sweep", (variant, grid), {"metrics": ["params", "flops_fwd", "train_peak_bytes"]},
        expect)
for kw, expect in [({"metrics": ["bogus"]}, REJECT), ({"metrics": "params"}, ANY),
                   ({"metrics": []}, ANY), ({"metrics": [5]}, REJECT), ({"metrics": None}, ANY),
                   ({"d_model": -1}, REJECT), ({"d_model": NAN}, REJECT),
                   ({"causal": "yes"}, REJECT), ({"dtype": "bogus"}, REJECT)]:
    api("api:sweep", ("standard", {"seq_len": [64]}), kw, expect)
for variants, expect in [("bogus", REJECT), ("", REJECT), ([], REJECT), (None, REJECT),
                         (5, REJECT), (["standard", "bogus"], REJECT), ("all,bogus", REJECT),
                         ([None], REJECT), ("standard", ANY), (("standard", "super"), ANY)]:
    api("api:sweep", (variants, {"seq_len": [64]}), {"metrics": ["params"]}, expect)
    api("api:compare", (variants,), {}, expect)
    api("api:compare_variants", (variants,), {}, expect)
    # fit_table documents variants=None as "standard"
    api("api:fit_table", (variants, DEVICE), {}, ANY if variants is None else expect)

# crossover ranges
for kw, expect in [({"lo": 0}, REJECT), ({"lo": -1}, REJECT), ({"lo": 100, "hi": 10}, REJECT),
                   ({"lo": 10, "hi": 10}, REJECT), ({"lo": 1.5}, REJECT), ({"hi": NAN}, REJECT),
                   ({"hi": INF}, REJECT), ({"lo": "1"}, REJECT), ({"lo": True}, REJECT),
                   ({"lo": None}, REJECT), ({"hi": -(10**30)}, REJECT), ({"k": 0}, REJECT),
                   ({"k": -1}, REJECT), ({"k": NAN}, REJECT), ({"hi": 10**30}, ANY),
                   ({"lo": 1, "hi": 2}, ANY), ({"k": 10**6, "hi": 4096}, ANY),
                   ({"hi": np.int64(4096)}, ANY), ({"seq_len": 5}, ANY)]:
    api("api:crossover", ("linformer", "standard", "flops_fwd"), {"hi": 4096, **kw}, expect)
for args, expect in [(("bogus", "standard", "flops_fwd"), REJECT),
                     (("linformer", "", "flops_fwd"), REJECT),
                     (("linformer", "standard", "bogus"), REJECT),
                     (("linformer", "standard", None), REJECT),
                     (("linformer", None, "flops_fwd"), REJECT),
                     (("super", "standard", "kv_cache_bytes_per_token"), ANY),
                     (("standard", "standard", "flops_fwd"), ANY)]:
    api("api:crossover", args, {"hi": 4096}, expect)

# max_batch / max_seq_len
for fn, (kw, expect) in itertools.product(
        ["api:max_batch", "api:max_seq_len"],
        [({"d_model": 0}, REJECT), ({"d_model": NAN}, REJECT), ({"heads": 3}, REJECT),
         ({"batch": -1}, REJECT), ({"seq_len": 1.5}, REJECT), ({"bogus": 1}, REJECT),
         ({"d_model": 10**30, "heads": 1}, ANY), ({"d_model": 1, "heads": 1, "seq_len": 1}, ANY),
         ({"mode": "infer", "decode_tokens": 10**30}, ANY)]):
    api(fn, ("standard", DEVICE), kw, expect)
for fn, device in itertools.product(["api:max_batch", "api:max_seq_len"],
                                    ["bogus", "", None, 5, NAN]):
    api(fn, ("standard", device), {}, REJECT)

# whole models
for name, expect in [("bogus", REJECT), ("", REJECT), (None, REJECT), (5, REJECT),
                     ("../data/presets", REJECT), (["gpt2"], REJECT), ("gpt2", ANY)]:
    api("api:estimate_model", (name,), {}, expect)
    api("config:preset", (name,), {}, expect)
MODEL_BAD = {
    "layers": [0, -1, 1.5, NAN, "x", [], ["bogus"], ["standard", "bogus"], True, [None]],
    "d_ff": [0, -1, NAN, 1.5, "8"], "vocab": [-1, NAN, 1.5, "x"],
    "ffn_mult": [0, -1, NAN, INF, "2"], "experts": [-1, NAN, 1.5],
    "image_size": [0, -1, NAN], "patch_size": [0, -1, NAN], "channels": [0, -1],
    "max_positions": [-1, NAN], "class_head": [(0,), (-1,), ("a",), (1.5,), (NAN,)],
    "norm": ["bogus", 5], "ffn_activation": ["bogus", 5], "pooling": ["bogus"],
    "variant": ["bogus", "", 5], "bogus_field": [1],
}
for key, values in MODEL_BAD.items():
    preset_name = "vit-b16" if key in ("image_size", "patch_size", "channels", "class_head",
                                       "pooling") else "gpt2"
    for value in values:
        api("api:estimate_model", (preset_name,), {key: value}, REJECT)
for kw in [{"layers": 200}, {"layers": ["standard", "mla"]}, {"d_model": 10**30, "heads": 1},
           {"layers": 1}, {"vocab": 0, "lm_head": False}]:
    api("api:estimate_model", ("gpt2",), kw, ANY)
api("api:estimate_model", ("gpt2",), {"layers": 10**30}, ANY, HANG_BOUND_S)

# sizes past a float, tiny budgets, a grid too big to allocate
for variant in VARIANTS:
    api("api:estimate", (variant,), {"d_model": 10**200, "heads": 1, "device": DEVICE}, ANY)
for fn, args in [("api:max_batch", ("standard", DEVICE)), ("api:max_seq_len", ("standard", DEVICE)),
                 ("api:fit_table", ("standard", DEVICE)), ("api:compare", ("all",))]:
    api(fn, args, {"d_model": 10**200, "heads": 1, **({"device": DEVICE} if fn == "api:compare"
                                                      else {})}, ANY)
api("api:estimate_model", ("gpt2",), {"vocab": 10**200, "device": DEVICE}, ANY)
api("api:crossover", ("linformer", "standard", "flops_fwd"), {"d_model": 10**200, "heads": 1,
                                                              "hi": 100}, ANY)
for budget in ["1B", "2B", "7B", "1KiB", 1]:
    api("api:estimate", ("standard",), {"device": Call("devices:custom_device", (budget,))}, ANY)
    api("api:max_batch", ("standard", Call("devices:custom_device", (budget,))), {}, ANY)
    api("api:fit_table", ("standard", Call("devices:custom_device", (budget,))), {}, ANY)
for peak in [1e-320, 1e308]:
    api("api:estimate", ("standard",), {"device": Call("devices:custom_device", ("8GiB", peak, peak))},
        ANY)
for headroom in [0.9999999999, 0.9999999999999999]:
    api("api:estimate", ("standard",), {"device": DEVICE, "headroom": headroom}, ANY)
    api("api:max_batch", ("standard", DEVICE), {"headroom": headroom}, ANY)
api("api:sweep", ("standard", {"seq_len": range(1, 10**6 + 1), "batch": range(1, 10**6 + 1),
                               "d_model": range(1, 10**6 + 1)}), {"heads": 1, "metrics": ["params"]},
    ANY)
api("api:model_config", (object(),), {}, REJECT)

# file loaders through the API: devices, calibration, search spec
for label, path, expect in DEVICE_FILES:
    api("devices:load_devices_file", (FileRef(path),), {}, expect)
for label, path, expect in CALIBRATION_FILES:
    api("budget:load_calibration", (FileRef(path),), {}, expect)
for label, path, expect in SPEC_FILES:
    api("search.spec:load_spec", (FileRef(path),), {}, expect)
for kw, expect in [({"target_accuracy": NAN}, REJECT), ({"target_accuracy": 1.5}, REJECT),
                   ({"trials": 0}, REJECT), ({"trials": -1}, REJECT), ({"steps": 0}, REJECT),
                   ({"confidence": NAN}, REJECT), ({"latency_ms": -1}, REJECT),
                   ({"memory_bytes": "-1MB"}, REJECT), ({"seeds": 0}, REJECT),
                   ({"workers": 0}, REJECT), ({"sampler": "bogus"}, REJECT),
                   ({"objective": "bogus"}, REJECT), ({"device": "bogus"}, REJECT),
                   ({"trials": 5}, ANY), ({"target_accuracy": 0.5}, ANY)]:
    api("search.spec:load_spec", (FileRef(SPEC_OK),), kw, expect)


# -- running a case ------------------------------------------------------------------------------


class _Hang(BaseException):
    """Raised by the alarm when a case runs past its bound."""


class _WorkStarted(BaseException):
    """Raised by a tripwire: a long job (training, measuring) started."""


#: command -> (module, attribute, what it starts): reaching it means the input was accepted
TRIPWIRES = {
    "search": [("attncost.search.runner", "run_search", "search training")],
    "validate": [("attncost.validate", "measure_one", "PyTorch measurement")],
    "search-bench": [("attncost.search.benchmark", "run_plan", "benchmark runs")],
    "peers": [("attncost.peers", "table", "peer measurements")],
    "paper-claims": [("attncost.claims", "collect", "paper-claims runs")],
    "report": [("attncost.report", "figures", "report figures")],
    "bench": [("attncost.bench", "run", "benchmark")],
}


@contextlib.contextmanager
def _bounded(seconds: float):
    def on_alarm(signum, frame):
        raise _Hang()

    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


@pytest.fixture(scope="module")
def fz_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("fuzz")
    for name, content in FILES.items():
        if content is DIR:
            (root / name).mkdir()
        else:
            (root / name).write_bytes(content)
    return root


@pytest.fixture(scope="module", autouse=True)
def _warm_imports():
    """Import the heavy modules once, outside every case's time bound."""
    import matplotlib

    matplotlib.use("Agg")
    for name in ("sympy", "pandas", "matplotlib.pyplot", "attncost.api", "attncost.plots",
                 "attncost.search.spec", "attncost.search.runner", "attncost.validate",
                 "attncost.search.benchmark", "attncost.peers", "attncost.claims",
                 "attncost.report", "attncost.bench", "optuna"):
        with contextlib.suppress(Exception):
            importlib.import_module(name)
    with contextlib.suppress(Exception):
        attncost.estimate("standard")


@pytest.fixture(autouse=True)
def _devices_restored():
    """Devices a case adds (a devices file, valid or not) do not leak into the next case."""
    from attncost import devices

    saved = dict(getattr(devices, "_user", {}))
    yield
    if hasattr(devices, "_user"):
        devices._user.clear()
        devices._user.update(saved)


# -- checks of successful output -----------------------------------------------------------------

def _count_keys() -> set[str]:
    from attncost.metrics import METRICS

    return set(METRICS) | {"max_batch", "max_seq_len", "required_bytes", "budget_bytes",
                           "memory_bytes", "latency_s", "calibrated_latency_s", "at"}


def _bad_number(key: str, value: Any) -> str | None:
    """A problem if ``value`` of a count/bytes/latency field is negative or not finite."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, (int, np.integer)):
        return f"{key} = {value} is negative (int64 wrap?)" if value < 0 else None
    if isinstance(value, (float, np.floating)):
        if not math.isfinite(value):
            return f"{key} = {value} is not finite"
        if value < 0:
            return f"{key} = {value} is negative"
    return None


def _walk(obj: Any, keys: set[str], path: str = "", depth: int = 0) -> list[str]:
    if depth > 8:
        return []
    problems: list[str] = []
    if isinstance(obj, dict):
        for k, v in obj.items():
            if isinstance(k, str) and k in keys and not isinstance(v, (dict, list)):
                p = _bad_number(f"{path}{k}", v)
                if p:
                    problems.append(p)
            problems += _walk(v, keys, f"{path}{k}.", depth + 1)
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj[:2000]):
            problems += _walk(v, keys, f"{path}[{i}].", depth + 1)
    elif dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        problems += _walk({f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}, keys,
                          path, depth + 1)
    elif type(obj).__name__ == "DataFrame":
        for col in obj.columns:
            if col in keys:
                for v in obj[col].tolist():
                    p = _bad_number(f"{path}{col}", v)
                    if p:
                        problems.append(p)
                        break
    return problems


_NUM = re.compile(r"^[+-]?(\d+(\.\d*)?([eE][+-]?\d+)?|nan|inf|-inf)$", re.IGNORECASE)
_TABLE_NEG = re.compile(r"(?<![\w.\-×])-\d")


def _output_problems(text: str) -> list[str]:
    """Negative or non-finite counts in a command's JSON, CSV or table output."""
    keys = _count_keys()
    stripped = text.strip()
    if not stripped:
        return []
    if stripped[0] in "[{":
        try:
            return _walk(json.loads(stripped), keys)
        except ValueError:
            pass
    first = stripped.splitlines()[0]
    if "," in first and any(k in first.split(",") for k in keys):
        problems = []
        for row in csv.DictReader(io.StringIO(stripped)):
            for k, v in row.items():
                if k in keys and v and _NUM.match(v.strip()):
                    p = _bad_number(k, float(v) if not re.fullmatch(r"[+-]?\d+", v.strip())
                                    else int(v))
                    if p:
                        problems.append(p)
            if len(problems) > 3:
                break
        return problems
    return [f"negative number in a table row: {line.strip()[:120]!r}"
            for line in stripped.splitlines() if "│" in line and _TABLE_NEG.search(line)][:3]


def _numeric_warnings(caught: list) -> list[str]:
    return [f"{w.category.__name__}: {w.message}" for w in caught
            if issubclass(w.category, RuntimeWarning) and re.search(
                r"overflow|invalid value|divide by zero", str(w.message))]


def _where(exc: BaseException | None) -> str:
    tb = getattr(exc, "__traceback__", None)
    last = None
    while tb is not None:
        if "attncost" in tb.tb_frame.f_code.co_filename:
            last = tb
        tb = tb.tb_next
    if last is None:
        return ""
    f = last.tb_frame.f_code.co_filename
    return f" at {f[f.rfind('attncost'):]}:{last.tb_lineno}"


def _fail(kind: str, repro: str, detail: str) -> None:
    pytest.fail(f"FUZZ [{kind}] {repro} :: {detail}", pytrace=False)


# -- the tests -----------------------------------------------------------------------------------

runner = CliRunner()


@pytest.fixture(scope="module", autouse=True)
def _command_built_once():
    """Build the click command from the typer app once, as a real process does, instead of
    on every invoke (which costs ~40 ms a case)."""
    import typer.main
    import typer.testing

    built = typer.main.get_command(app)
    original = typer.testing._get_command
    typer.testing._get_command = lambda a: built if a is app else original(a)
    yield
    typer.testing._get_command = original


@pytest.mark.parametrize("case", CLI_CASES, ids=[c.id for c in CLI_CASES])
def test_cli(case: CliCase, fz_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    args = [a.replace(D, str(fz_dir)) for a in case.args]
    repro = "attncost " + shlex.join(args)
    for module, attr, what in TRIPWIRES.get(args[0], []):
        def tripwire(*a: Any, _what: str = what, **k: Any) -> None:
            raise _WorkStarted(_what)
        with contextlib.suppress(ImportError):
            monkeypatch.setattr(importlib.import_module(module), attr, tripwire)
    result, work = None, None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            with _bounded(case.bound):
                result = runner.invoke(app, args, env={"COLUMNS": "200"})
        except _WorkStarted as e:
            work = str(e)
        except _Hang:
            _fail("hang", repro, f"no answer within {case.bound:g} s")
    if result is not None and isinstance(result.exception, _Hang):
        _fail("hang", repro, f"no answer within {case.bound:g} s")
    if result is not None and isinstance(result.exception, _WorkStarted):
        work = str(result.exception)
    if work is not None:
        if case.expect == REJECT:
            _fail("silent-accept", repro, f"accepted: started {work} instead of refusing "
                                          f"the input first")
        return
    assert result is not None
    exc = result.exception
    if exc is not None and not isinstance(exc, SystemExit):
        _fail("traceback", repro, f"{type(exc).__name__}: {str(exc)[:200]}{_where(exc)}")
    output = result.output
    if result.exit_code == 0:
        if case.expect == REJECT:
            _fail("silent-accept", repro, f"exit 0; output starts {output.strip()[:150]!r}")
        problems = _output_problems(result.stdout) + _numeric_warnings(caught)
        if problems:
            _fail("bad-output", repro, "; ".join(problems[:3]))
        return
    text = output.strip()
    lines = text.splitlines()
    if "Traceback" in output:
        _fail("traceback", repro, f"traceback printed: {text[-300:]!r}")
    if "╭" in output or "Usage:" in output:
        _fail("usage-box", repro, f"usage text instead of one line: {text[:300]!r}")
    if len(lines) != 1:
        _fail("multi-line", repro, f"exit {result.exit_code}, {len(lines)} lines: {text[:300]!r}")
    if not lines[0].startswith("error:"):
        _fail("not-error-line", repro, f"exit {result.exit_code}: {lines[0][:200]!r}")
    if result.exit_code != 2:
        _fail("exit-status", repro, f"exit {result.exit_code} (bad input exits 2): {lines[0][:200]!r}")


def _resolve(fn: str) -> Any:
    module, name = fn.split(":")
    return getattr(importlib.import_module(f"attncost.{module}"), name)


def _api_repro(case: ApiCase, fz_dir: Path) -> str:
    def show(v: Any) -> str:
        return repr(str(fz_dir) + v.name[len(D):]) if isinstance(v, FileRef) else _short(v)

    module, name = case.fn.split(":")
    shown = ", ".join([*(show(a) for a in case.args),
                       *(f"{k}={show(v)}" for k, v in case.kwargs.items())])
    return f"attncost.{module}.{name}({shown})"


@pytest.mark.parametrize("case", API_CASES, ids=[c.id for c in API_CASES])
def test_api(case: ApiCase, fz_dir: Path) -> None:
    def real(v: Any) -> Any:
        if isinstance(v, FileRef):
            return Path(str(fz_dir) + v.name[len(D):])
        if isinstance(v, Call):
            return _resolve(v.fn)(*v.args)
        return v

    fn = _resolve(case.fn)
    repro = _api_repro(case, fz_dir)
    value, exc = None, None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            with _bounded(case.bound):
                args = [real(a) for a in case.args]
                kwargs = {k: real(v) for k, v in case.kwargs.items()}
                value = fn(*args, **kwargs)
        except _Hang:
            _fail("hang", repro, f"no answer within {case.bound:g} s")
        except Exception as e:  # noqa: BLE001 - judging what was raised is the test
            exc = e
    if exc is not None:
        if not isinstance(exc, AttncostError):
            _fail("untyped-exception", repro, f"{type(exc).__name__}: {str(exc)[:200]}{_where(exc)}")
        msg = str(exc)
        if not msg.strip() or len(msg.strip().splitlines()) != 1:
            _fail("multi-line", repro, f"{type(exc).__name__} message is not one line: {msg[:300]!r}")
        return
    if case.expect == REJECT:
        _fail("silent-accept", repro, f"returned {_short(value)}")
    problems = _walk(value, _count_keys()) + _numeric_warnings(caught)
    if case.fn in ("api:max_batch", "api:max_seq_len") and value is not None and (
            isinstance(value, bool) or not isinstance(value, int) or value < 1):
        problems.append(f"returned {value!r}, expected a positive int or None")
    if problems:
        _fail("bad-output", repro, "; ".join(problems[:3]))


def test_fuzz_case_count() -> None:
    n_cli, n_api = len(CLI_CASES), len(API_CASES)
    print(f"fuzz inputs: {n_cli + n_api} ({n_cli} CLI, {n_api} API)")
    assert n_cli + n_api >= 1000
    assert len({c.id for c in CLI_CASES}) == n_cli and len({c.id for c in API_CASES}) == n_api
