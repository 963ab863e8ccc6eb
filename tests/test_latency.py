"""The kernel-level latency predictor (attncost.latency): device profile files (round trip,
resume, bad files), fitting on synthetic timings with known coefficients, prediction through
the API and CLI, and the judge's plumbing on synthetic timings (no real timing here: the
full judgement is a documented command, README "Latency")."""

from __future__ import annotations

import json

import pytest

import attncost as ac
from attncost.errors import ConfigError
from attncost.graphs import layer_graph
from attncost.latency import bench, judge, profile as prof_mod, reference
from attncost.latency.kernels import KINDS, kernel_calls
from attncost.latency.predictor import Predictor, fit_kind, _aux, _work
from attncost.latency.profile import (FORMAT, VERSION, Measurement, Profile, load_profile,
                                      save_profile)

pytest.importorskip("torch")
pytest.importorskip("sklearn")

LAUNCH = 20e-6
DISPATCH = {"infer": 3e-6, "train": 7e-6}


def _coef(kind: str) -> tuple[float, float, float]:
    """Known (intercept, per work unit, per aux unit) seconds of a kind's forward."""
    i = sorted(KINDS).index(kind)
    return 1e-6 * (1 + i % 3), 1e-10 * (1 + i % 5), (2e-12 if _aux(kind, _feats(kind)) else 0)


def _feats(kind: str) -> dict:
    return next(f for k, f in bench.grid(quick=True) if k == kind)


def _fwd(kind: str, f: dict) -> float:
    a, b, c = _coef(kind)
    return a + b * _work(kind, f) + c * _aux(kind, f)


def _kernels(calls, mode: str, dispatch: dict | None = None) -> float:
    """Synthetic time of kernel calls: each kernel's forward (train: plus the share of a
    backward that costs twice the forward; a train-only sum: its timed kind's forward, in
    training only) + ``dispatch`` (default DISPATCH) per operation of its kind."""
    dispatch = dispatch or {}
    total = 0.0
    for c in calls:
        kk = KINDS[c.kind]
        if kk.train_only:
            total += _fwd(kk.timed_as, c.features) if mode == "train" else 0.0
            continue
        total += dispatch.get(c.kind, DISPATCH[mode])
        if not kk.included:
            fwd = _fwd(c.kind, c.features)
            total += fwd + (c.backward * 2 * fwd if mode == "train" else 0.0)
    return total


def _layer_time(kind: str, f: dict, mode: str) -> float:
    """A reference layer's or model's synthetic time: :func:`_kernels` (+ the launch)."""
    calls = kernel_calls(reference.graph(kind, f))
    return _kernels(calls, mode) + (LAUNCH if mode == "train" else 0.0)


def synthetic_profile(threads: int = 1) -> Profile:
    """Every kernel of the quick grid with times from known formulas (train = launch + 3 ×
    forward), and reference layers from those kernels plus a known dispatch cost."""
    ms = []
    for kind, f in bench.grid(quick=True):
        if kind == "launch":
            ms.append(Measurement(kind, threads, f, 1e-6, 1e-6 + LAUNCH))
        elif reference.is_reference(kind):
            ms.append(Measurement(kind, threads, f, _layer_time(kind, f, "infer"),
                                  _layer_time(kind, f, "train")))
        else:
            fwd = _fwd(kind, f)
            ms.append(Measurement(kind, threads, f, fwd, LAUNCH + 3 * fwd))
    return Profile({"processor": "synthetic"}, "0.0", [threads], "2026-01-01", measurements=ms)


@pytest.fixture(scope="module")
def synthetic() -> Profile:
    return synthetic_profile()


@pytest.fixture(scope="module")
def profile_file(synthetic, tmp_path_factory):
    """The synthetic profile as a file (its fitted predictor is cached per file)."""
    path = tmp_path_factory.mktemp("profile") / "synthetic.json"
    save_profile(synthetic, path)
    return path


@pytest.fixture(scope="module")
def exact(synthetic) -> Predictor:
    return Predictor.fit(synthetic, residual=False)


# -- profile files ------------------------------------------------------------------------------


def test_profile_file_round_trip(tmp_path, synthetic):
    path = tmp_path / "p.json"
    save_profile(synthetic, path)
    raw = json.loads(path.read_text())
    assert raw["format"] == FORMAT and raw["version"] == VERSION
    assert {"machine", "torch", "threads", "date", "measurements"} <= set(raw)
    back = load_profile(path)
    assert back == synthetic
    assert Predictor.fit(back, residual=False).overhead_s == \
        Predictor.fit(synthetic, residual=False).overhead_s


def test_profile_resumes_and_records_where_it_ran(tmp_path, monkeypatch):
    """The file is kept after every measurement; a run stopped half-way resumes and takes
    only what is missing (fake timings: the grid is three kernels)."""
    grid = [("scalar", {"numel": 16}), ("binary", {"numel": 32}), ("copy", {"numel": 64})]
    monkeypatch.setattr(bench, "grid", lambda quick=False, seed=0: grid)
    taken = []

    def fake(kind, features, threads, min_run_time=0.0, repeats=1, device="cpu"):
        assert device == "cpu"
        if len(taken) == 2 and stop["now"]:
            raise KeyboardInterrupt
        taken.append(kind)
        return Measurement(kind, threads, dict(features), 1e-6, 2e-6)

    stop = {"now": True}
    monkeypatch.setattr(prof_mod, "measure", fake)
    out = tmp_path / "cpu.json"
    with pytest.raises(KeyboardInterrupt):
        prof_mod.profile(out, threads=1, rounds=1)
    assert [m.kind for m in load_profile(out).measurements] == ["scalar", "binary"]
    stop["now"] = False
    seen = []
    p = prof_mod.profile(out, threads=1, progress=lambda i, n, what: seen.append((i, n)),
                         rounds=1)
    assert taken == ["scalar", "binary", "copy"] and seen[0] == (0, 1)
    assert len(p.measurements) == 3
    assert p.machine["cores"] and p.torch and p.date and p.threads == [1]
    again = prof_mod.profile(out, threads=1, rounds=1)
    assert len(again.measurements) == 3 and len(taken) == 3  # nothing measured twice
    assert "earlier" not in again.timing
    quick = prof_mod.profile(out, threads=1, rounds=1, quick=True)  # timed another way now:
    assert quick.timing["min_run_time_s"] == 0.01  # how the earlier ones were stays on record
    assert load_profile(out).timing["earlier"]["min_run_time_s"] == 0.02


def test_profile_passes_keep_each_measurements_lowest(tmp_path, monkeypatch):
    """A second pass re-times every measurement and keeps the lower forward and training
    time of the two (fake timings: the second pass is slower forward, faster training);
    a third run with the same passes takes nothing."""
    grid = [("scalar", {"numel": 16}), ("binary", {"numel": 32})]
    monkeypatch.setattr(bench, "grid", lambda quick=False, seed=0: grid)
    times = iter([(1e-6, 9e-6), (2e-6, 8e-6), (1.5e-6, 5e-6), (3e-6, 7e-6)])

    def fake(kind, features, threads, min_run_time=0.0, repeats=1, device="cpu"):
        assert device == "cpu"
        f, t = next(times)
        return Measurement(kind, threads, dict(features), f, t)

    monkeypatch.setattr(prof_mod, "measure", fake)
    out = tmp_path / "cpu.json"
    p = prof_mod.profile(out, threads=1, rounds=2)
    assert [(m.fwd_s, m.train_s, m.rounds) for m in load_profile(out).measurements] == \
        [(1e-6, 5e-6, 2), (2e-6, 7e-6, 2)]
    assert p.timing["rounds"] == 2
    prof_mod.profile(out, threads=1, rounds=2)  # nothing left: `times` would be exhausted
    with pytest.raises(ConfigError, match="rounds=0 must be an integer from 1 to 10"):
        prof_mod.profile(out, threads=1, rounds=0)


def test_judge_takes_more_passes_until_the_two_lowest_agree(monkeypatch):
    from attncost.latency import measure as measure_mod

    values = iter([1.0, 2.0, 1.3, 2.05, 1.02])
    monkeypatch.setattr(judge, "module_and_input", lambda case, device="cpu": (None, None))
    monkeypatch.setattr(measure_mod, "time_module",
                        lambda module, x, mode, threads: (next(values), 0.0))
    case = judge.Case("one", "layer", "standard", None)
    timings = judge.Timings(None)
    out = judge.measure_cases([case], 1, timings)
    assert out[("layer", "one", "infer")] == (1.0, 0.0)
    assert out[("layer", "one", "train")] == (2.0, 0.0)
    assert [m for m, _ in timings.samples(case, "infer", 1)] == [1.0, 1.3, 1.02]
    assert len(timings.samples(case, "train", 1)) == 2


def test_every_kernel_kind_has_a_builder_that_runs():
    """Each timed kind of the registry is built by the profiler; its two callables run."""
    timed = {k for k, kk in KINDS.items() if not kk.included and not kk.timed_as}
    assert timed <= set(bench.BUILDERS)
    for kind in sorted(timed | {"launch"}):
        fwd, train = bench.build(kind, _feats(kind) if kind != "launch" else {"numel": 1})
        fwd()
        train()
    m = prof_mod.measure("scalar", {"numel": 64}, 1, min_run_time=0.001, repeats=1)
    assert m.fwd_s > 0 and m.train_s > 0


class _Devices:
    """The devices of every tensor an operation reads or writes (a torch dispatch mode)."""

    def __enter__(self):
        import torch
        from torch.utils._python_dispatch import TorchDispatchMode
        from torch.utils._pytree import tree_flatten

        seen = self.seen = set()

        class Mode(TorchDispatchMode):
            def __torch_dispatch__(self, func, types, args=(), kwargs=None):
                out = func(*args, **(kwargs or {}))
                seen.update(t.device.type for t in tree_flatten((args, kwargs, out))[0]
                            if isinstance(t, torch.Tensor))
                return out

        self.mode = Mode()
        self.mode.__enter__()
        return self

    def __exit__(self, *exc):
        self.mode.__exit__(*exc)


def test_every_kernel_and_reference_runs_wholly_on_the_device_it_is_given():
    """The profiler's operands, masks made at call time, reference layers and models, and
    every judged module and its input are made on the device asked for (CUDA in use; here
    torch's meta device, which runs anything and says where each tensor lives): no tensor
    of any kernel, forward or backward, is left on the CPU."""
    one_each = {}
    for kind, f in bench.grid(quick=True):
        one_each.setdefault(kind, f)
    for kind, f in one_each.items():
        fwd, train = bench.build(kind, f, "meta")
        with _Devices() as d:
            fwd()
            train()
        assert d.seen == {"meta"}, kind
    for case in judge.smoke_cases() + judge.fresh_models()[1:]:
        module, x = judge.module_and_input(case, "meta")
        with _Devices() as d:
            y = module(x)
            y.backward(y.detach())
        assert d.seen == {"meta"}, case.name


def test_profile_and_judge_devices(tmp_path, synthetic):
    """A device that is not a torch device, or is not here, is one line; a profile records
    its device and resumes only on the same one; the judge refuses a profile of a device
    this machine lacks (it times this machine against the profile)."""
    import dataclasses

    from typer.testing import CliRunner

    from attncost.cli import app
    from attncost.latency.measure import measure_latency
    from attncost.torch_device import DeviceError

    with pytest.raises(DeviceError, match="device 'gpu' is invalid: allowed: cpu, cuda"):
        prof_mod.profile(tmp_path / "p.json", device="gpu")
    r = CliRunner().invoke(app, ["profile", "-o", str(tmp_path / "p.json"), "--device", "tpu"])
    assert r.exit_code == 2 and "device 'tpu' is invalid" in r.output
    assert "Traceback" not in r.output and not (tmp_path / "p.json").exists()
    with pytest.raises(DeviceError, match="device 'cuda:x' is invalid"):
        measure_latency("seed-imdb", device="cuda:x")
    with pytest.raises(DeviceError, match="device 'cuda:²' is invalid"):
        measure_latency("seed-imdb", device="cuda:²")  # a digit, but not an index
    for kw, fragment in ((dict(repeats=0), "repeats 0 must be an integer ≥ 1"),
                         (dict(repeats=101), "repeats 101 must be at most 100"),
                         (dict(min_run_time=float("nan")), "must be a finite number"),
                         (dict(min_run_time=-1), "min_run_time .* must be positive")):
        with pytest.raises(ConfigError, match=fragment):
            measure_latency("seed-imdb", **kw)
    gpu = dataclasses.replace(synthetic, device="cuda",
                              machine={**synthetic.machine, "gpu": "NVIDIA H200"})
    path = tmp_path / "h200.json"
    save_profile(gpu, path)
    assert load_profile(path).device == "cuda"
    assert judge.check_device(synthetic) == "cpu"
    import torch

    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match=r"timed on cuda \(NVIDIA H200\) and this "
                                              r"machine has no such device"):
            judge.check_device(gpu)
        r = CliRunner().invoke(app, ["validate-latency", str(path), "-o",
                                     str(tmp_path / "v.csv")])
        assert r.exit_code == 2 and "no such device" in r.output and "Traceback" not in r.output
        assert "--cached" not in r.output
        (tmp_path / "v.timings.json").write_text("{}")  # a cache beside the CSV: point to it
        r = CliRunner().invoke(app, ["validate-latency", str(path), "-o",
                                     str(tmp_path / "v.csv")])
        assert r.exit_code == 2 and "with --cached" in r.output
        with pytest.raises(DeviceError, match="sees no CUDA GPU here"):
            measure_latency("seed-imdb", device="cuda")
        # resuming a GPU's profile on this CPU would mix two devices' timings
        with pytest.raises(DeviceError, match="device 'cuda' is not available"):
            prof_mod.profile(path, device="cuda")
    with pytest.raises(ConfigError, match=r"on 'NVIDIA H200' \(cuda\); give a new file name"):
        prof_mod.profile(path, threads=1, rounds=1)
    r = CliRunner().invoke(app, ["profile", "-o", str(path)])  # refused before any timing
    assert r.exit_code == 2 and "give a new file name" in r.output
    assert "profiling" not in r.output


def test_gpu_timing_blocks_give_the_time_per_call(monkeypatch):
    """The GPU's timing loop (blocks of back-to-back calls, sized from one call) on a call
    of known length (2 ms on a fake clock; here on the CPU, where it waits for nothing):
    the median per call is that length, blocks of ≥ 1 ms, ≥ 5 blocks and min_run_time per
    repeat."""
    import time

    clock = [0.0]
    calls = []

    def call() -> None:
        calls.append(1)
        clock[0] += 0.002

    monkeypatch.setattr(time, "perf_counter", lambda: clock[0])
    med, iqr = prof_mod.time_blocks(call, 1, 0.03, 2, "cpu")
    assert med == pytest.approx(0.002) and iqr == pytest.approx(0.0, abs=1e-12)
    assert len(calls) == 1 + 2 * 15  # the sizing call, then 2 repeats of 15 one-call blocks
    clock[0], calls[:] = 0.0, []
    monkeypatch.setattr(prof_mod, "GPU_BLOCK_S", 0.01)  # 5 calls a block: 5 blocks ≥ 0.03 s
    assert prof_mod.time_blocks(call, 1, 0.03, 1, "cpu")[0] == pytest.approx(0.002)
    assert len(calls) == 1 + 5 * 5


@pytest.mark.parametrize("content, fragment", [
    ("not json", "is not JSON"),
    ("{}", "is not an attncost profile"),
    (json.dumps({"format": FORMAT, "version": 99}), "has version 99"),
    (json.dumps({"format": FORMAT, "version": VERSION, "threads": [0],
                 "measurements": []}), "has threads [0]"),
    (json.dumps({"format": FORMAT, "version": VERSION, "threads": [1]}),
     "no list of measurements"),
    (json.dumps({"format": FORMAT, "version": VERSION, "threads": [1],
                 "measurements": [{"kind": "linear"}]}), "malformed measurement #0"),
    (json.dumps({"format": FORMAT, "version": VERSION, "threads": [1], "measurements": [
        {"kind": "scalar", "threads": 1, "features": {"numel": 4}, "fwd_s": -1,
         "train_s": 1}]}), "fwd_s"),
    (json.dumps({"format": FORMAT, "version": VERSION, "threads": [1], "measurements": []}),
     "no kernel measurements"),
    (json.dumps({"format": FORMAT, "version": VERSION, "threads": [1], "measurements": [],
                 "timing": "fast"}), "has timing 'fast'; expected an object"),
    (json.dumps({"format": FORMAT, "version": VERSION, "threads": [1], "measurements": [],
                 "machine": ["cpu"]}), "has machine ['cpu']; expected an object"),
])
def test_bad_profile_files_are_one_line_errors(tmp_path, content, fragment):
    from typer.testing import CliRunner

    from attncost.cli import app

    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(ConfigError, match=fragment.replace("[", r"\[").replace("]", r"\]")):
        ac.estimate("standard", profile=str(path))
    r = CliRunner().invoke(app, ["estimate", "--profile", str(path)])
    assert r.exit_code == 2 and "Traceback" not in r.output
    assert len(r.output.strip().splitlines()) <= 2  # one line (rich may fold it once)


def test_a_profile_missing_a_kernel_kind_is_refused(synthetic):
    import dataclasses

    partial = dataclasses.replace(synthetic, measurements=[
        m for m in synthetic.measurements if m.kind != "sdpa"])
    with pytest.raises(ConfigError, match="no 'sdpa' kernels at 1 thread"):
        Predictor.fit(partial, residual=False)


def test_missing_profile_and_threads_errors(tmp_path, exact):
    with pytest.raises(ConfigError, match="does not exist"):
        ac.estimate("standard", profile=str(tmp_path / "none.json"))
    with pytest.raises(ConfigError, match="threads=2 was not profiled"):
        ac.estimate("standard", profile=exact, threads=2)
    with pytest.raises(ConfigError, match="threads applies"):
        ac.estimate("standard", threads=1)


# -- fitting on synthetic timings ------------------------------------------------------------


@pytest.mark.parametrize("kind", ["linear", "bmm", "sdpa", "softmax", "layernorm", "binary"])
def test_fit_kind_recovers_known_coefficients(kind):
    feats = [f for k, f in bench.grid() if k == kind]
    times = [_fwd(kind, f) for f in feats]
    model = fit_kind(kind, feats, times, residual=False)
    a, b, c = _coef(kind)
    assert model.baseline[0] == pytest.approx(a, rel=1e-6)
    assert model.baseline[1] == pytest.approx(b, rel=1e-6)
    assert model.baseline[2] == pytest.approx(c, rel=1e-6, abs=1e-20)
    # with the tree residual on top, the fit stays within 1 % on the profiled points
    full = fit_kind(kind, feats, times, residual=True)
    assert max(abs(p / t - 1) for p, t in zip(full.predict(feats), times)) < 0.01


def test_predictor_recovers_dispatch_and_launch(exact):
    """Synthetic references cost DISPATCH per operation of any kind: the fit finds it as the
    shared per-operation cost, every kind at it, nothing per call or block."""
    assert exact.launch_s[1] == pytest.approx(LAUNCH)
    for mode in ("infer", "train"):
        over = exact.overhead_s[(1, mode)]
        assert over["op"] == pytest.approx(DISPATCH[mode], rel=1e-4)
        assert over["call"] == pytest.approx(0, abs=DISPATCH[mode] * 1e-3)
        assert over["block"] == pytest.approx(0, abs=DISPATCH[mode] * 1e-3)
        assert {k: v for k, v in over.items() if k in KINDS} == \
            pytest.approx({k: DISPATCH[mode] for k in over if k in KINDS}, rel=1e-3)


@pytest.mark.parametrize("mode", ["infer", "train"])
def test_predictor_sums_kernels_of_an_unseen_graph(exact, mode):
    """A configuration outside the profile: Σ kernels + dispatch per op (+ launch)."""
    cfg = ac.AttentionConfig(d_model=72, heads=3, seq_len=37, batch=2, causal=True)
    for variant in ("standard", "mla", "efficient"):
        graph = layer_graph(variant, cfg)
        calls = kernel_calls(graph)
        expected = sum(
            0.0 if KINDS[c.kind].included else
            _fwd(c.kind, c.features) * (1 + (2 * c.backward if mode == "train" else 0))
            for c in calls) + len(calls) * DISPATCH[mode] + (LAUNCH if mode == "train" else 0)
        assert exact.predict(graph, mode) == pytest.approx(expected, rel=1e-6)
        assert exact.predict((variant, cfg), mode) == pytest.approx(expected, rel=1e-6)


def test_estimate_reports_predicted_latency_next_to_the_roofline(exact, synthetic):
    e = ac.estimate("gqa", d_model=64, seq_len=24, mode="infer", profile=exact)
    graph = layer_graph("gqa", ac.AttentionConfig(d_model=64, seq_len=24))
    assert e.predicted_latency_s == pytest.approx(exact.predict(graph, "infer"))
    assert e.roofline is not None  # of the profiled machine, no device given
    assert "synthetic" in e.predicted_latency_source
    assert "attncost profile-check" in e.predicted_latency_source
    m = ac.estimate_model("seed-imdb", mode="train", profile=exact, device="rpi5-8gb")
    assert m.predicted_latency_s == pytest.approx(exact.predict(ac.preset("seed-imdb"),
                                                                "train"))
    assert m.roofline.latency_s > 0 and m.to_dict()["predicted_latency_s"] > 0
    c = ac.compare_variants(["standard", "linformer"], causal=True, profile=exact)
    assert [x.variant for x in c.estimates] == ["standard"]


def test_cli_profile_estimate(profile_file):
    from typer.testing import CliRunner

    from attncost.cli import app

    path = profile_file
    r = CliRunner().invoke(app, ["estimate", "-v", "standard", "--profile", str(path),
                                 "--threads", "1", "--format", "json"])
    assert r.exit_code == 0, r.output
    row = json.loads(r.output)[0]
    assert row["predicted_latency_s"] > 0 and row["roofline"]["latency_s"] > 0
    r = CliRunner().invoke(app, ["estimate", "-v", "standard", "--profile", str(path)],
                           env={"COLUMNS": "200"})
    assert "Predicted latency (profile: synthetic)" in r.output and "Roofline" in r.output


# -- the judge's plumbing ------------------------------------------------------------------------


def test_judge_writes_every_report_from_synthetic_timings(tmp_path, monkeypatch, synthetic):
    """The judge on synthetic 'measured' times (the kernel predictor's own formulas, +5 %
    on the models): three models scored, the summary's top-level figures, CSV, text, PNG."""
    path = tmp_path / "p.json"
    save_profile(synthetic, path)
    pred = Predictor.fit(synthetic, residual=False)

    def fake_measure(cases, threads, timings, progress=None, device="cpu", speed=None):
        out = {}
        for c in cases:
            for mode in ("infer", "train"):
                t = pred.predict(c.target, mode)
                out[(c.kind, c.name, mode)] = (t * (1.05 if c.kind == "model" else 1.0), 0.0)
        return out

    monkeypatch.setattr(judge, "measure_cases", fake_measure)
    out = tmp_path / "r" / "latency-cpu.csv"
    rows, summary = judge.judge(path, out, cases=judge.smoke_cases(), predictor=pred)
    assert len(rows) == 2 * len(judge.smoke_cases())
    assert summary["share_within_15pct"] == 1.0
    assert summary["median_abs_error"] == pytest.approx(0.0, abs=1e-9)
    assert set(summary["models"]) == {"kernel", "six_constant", "roofline"}
    for f in ("latency-cpu.csv", "latency-cpu-summary.json", "latency-cpu.txt",
              "latency-cpu.png"):
        assert (out.parent / f).stat().st_size > 0
    assert "kernel-level predictor" in (out.parent / "latency-cpu.txt").read_text()
    written = json.loads((out.parent / "latency-cpu-summary.json").read_text())
    assert written["share_within_15pct"] == 1.0
    assert written["goal_met"] is True  # a JSON boolean, not the string "True"


def test_judge_from_cached_timings_times_nothing(tmp_path, monkeypatch, synthetic, exact):
    """A GPU profile judged on this CPU machine from the timings its run cached (the GPU
    was lent for one run): nothing is timed, every timing is the lowest of its passes, and
    the summary says where they were taken; a cache that is missing, for another profile or
    short of passes is one line (CLI too)."""
    import dataclasses

    from typer.testing import CliRunner

    from attncost.cli import app

    gpu = dataclasses.replace(synthetic, device="cuda",
                              machine={"processor": "x", "cores": 16, "gpu": "NVIDIA H200"})
    path = tmp_path / "h200.json"
    save_profile(gpu, path)
    out = tmp_path / "latency-cuda.csv"
    cache = tmp_path / "latency-cuda.timings.json"
    cases = judge.smoke_cases()
    timings = {judge.Timings.key(c, mode, 1): [[exact.predict(c.target, mode) * 1.03, 0.0],
                                               [exact.predict(c.target, mode), 1e-7]]
               for c in judge.calibration_cases() + cases for mode in ("infer", "train")}
    identity = judge.identity_of(gpu)
    assert identity == f"NVIDIA H200|16|torch {gpu.torch}|profile {gpu.date}"
    cache.write_text(json.dumps({"identity": identity, "timings": timings}))

    def no_timing(*args, **kwargs):
        raise AssertionError("a cached judgement timed something")

    monkeypatch.setattr(judge, "measure_cases", no_timing)
    rows, summary = judge.judge(path, out, cases=cases, predictor=exact, cached=True)
    assert summary["share_within_15pct"] == 1.0 and summary["judged_from_cached_timings"]
    assert summary["timed_on"] == f"NVIDIA H200|16|torch {gpu.torch}"
    assert summary["unsettled_timings"] == 0 and summary["load_average_1min"] is None
    assert all(r["iqr_s"] == 1e-7 for r in rows)  # the lower pass, with its own IQR
    text = out.with_suffix(".txt").read_text()
    assert "judged here from the cached timings" in text and "SMOKE" not in text
    assert summary["untimed_cases"] == [] and "Left out" not in text
    later = judge.test_models()[2]  # a case added after the cache was made: left out, listed
    rows2, s2 = judge.judge(path, out, cases=cases + [later], predictor=exact, cached=True)
    assert s2["untimed_cases"] == [later.name] and len(rows2) == len(rows)
    assert "Left out: 1 held-out cases" in out.with_suffix(".txt").read_text()
    with pytest.raises(ConfigError, match="none of the 1 held-out cases asked for has cached"):
        judge.judge(path, out, cases=[later], predictor=exact, cached=True)
    assert not summary["smoke"]
    _, smoke = judge.judge(path, out, cases=cases, predictor=exact, cached=True, smoke=True)
    assert smoke["smoke"] and out.with_suffix(".txt").read_text().startswith("SMOKE RUN")
    r = CliRunner().invoke(app, ["validate-latency", str(path), "-o", str(out), "--cached",
                                 "--smoke"])
    assert r.exit_code == 0, r.output
    short = dict(timings)
    key = judge.Timings.key(cases[0], "train", 1)
    short[key] = short[key][:1]
    cache.write_text(json.dumps({"identity": identity, "timings": short}))
    with pytest.raises(ConfigError, match=r"hold 1 of 2 passes of .* train ×1"):
        judge.judge(path, out, cases=cases, predictor=exact, cached=True)
    for other in (identity.replace(gpu.date, "2025-01-01"),
                  identity.replace("NVIDIA H200|16", "NVIDIA A100|8")):
        cache.write_text(json.dumps({"identity": other, "timings": timings}))
        with pytest.raises(ConfigError, match="not for this profile"):
            judge.judge(path, out, cases=cases, predictor=exact, cached=True)
    for bad, fragment in (([[-1.0, 0.0]], "damaged entry"), ([[float("nan"), 0.0]], "damaged"),
                          ("fast", "damaged entry"), ([[0.0, 0.0]], "medians > 0")):
        cache.write_text(json.dumps({"identity": identity,
                                     "timings": {**timings, key: bad}}))
        with pytest.raises(ConfigError, match=fragment):
            judge.judge(path, out, cases=cases, predictor=exact, cached=True)
    for text, fragment in (("{", "are not JSON"), ("[]", "not a timings file"),
                           ('{"identity": "x"}', "not a timings file")):
        cache.write_text(text)
        with pytest.raises(ConfigError, match=fragment):
            judge.judge(path, out, cases=cases, predictor=exact, cached=True)
    cache.unlink()
    r = CliRunner().invoke(app, ["validate-latency", str(path), "-o", str(out), "--cached"])
    assert r.exit_code == 2 and "no cached timings" in r.output and "Traceback" not in r.output


# -- the machine's drift from its profile ---------------------------------------------------------

_TINY = {"d_model": 16, "heads": 2, "seq_len": 8, "batch": 1}
_MID = {"d_model": 128, "heads": 4, "seq_len": 128, "batch": 2}


def _anchor_profile() -> Profile:
    ms = [Measurement("layer:standard:fused:0", 1, _TINY, 1e-4, 3e-4),
          Measurement("layer:standard:fused:0", 1, _MID, 4e-4, 1.2e-3),
          Measurement("layer:standard:materialised:0", 1, _TINY, 2e-4, 5e-4),
          Measurement("layer:standard:fused:0", 2, _MID, 3e-4, 1e-3),
          Measurement("layer:standard:fused:1", 1, _MID, 9.0, 9.0),
          Measurement("linear", 1, {"m": 8, "k": 8, "n": 8, "bias": 0}, 1e-6, 3e-6)]
    return Profile({"processor": "x"}, "0", [1, 2], "2026-01-01",
                   timing={"min_run_time_s": 0.03, "repeats": 2}, measurements=ms)


def test_anchors_are_the_profiles_largest_unmasked_standard_layers():
    from attncost.latency import drift

    prof = _anchor_profile()
    got = drift.anchors(prof, 1)
    assert [(m.kind, m.features["d_model"]) for m in got] == [
        ("layer:standard:fused:0", 128), ("layer:standard:materialised:0", 16)]
    assert [m.fwd_s for m in drift.anchors(prof, 2)] == [3e-4]
    assert drift.anchors(prof, 3) == []


def test_speed_factor_is_the_median_of_now_over_profiled(monkeypatch):
    """Each anchor re-timed as the profile timed it (its min_run_time and repeats); the
    factor is the median of the four ratios (two anchors × forward, training step)."""
    from attncost.latency import drift

    prof = _anchor_profile()
    scale = {128: (1.2, 1.4), 16: (1.3, 1.1)}
    seen = []

    def fake(kind, features, threads, min_run_time, repeats, device):
        seen.append((kind, threads, min_run_time, repeats, device))
        old = next(m for m in drift.anchors(prof, threads) if m.kind == kind)
        f, t = scale[features["d_model"]]
        return Measurement(kind, threads, features, old.fwd_s * f, old.train_s * t)

    monkeypatch.setattr(prof_mod, "measure", fake)
    assert drift.speed_factor(prof, 1) == pytest.approx(1.25)
    assert seen == [("layer:standard:fused:0", 1, 0.03, 2, "cpu"),
                    ("layer:standard:materialised:0", 1, 0.03, 2, "cpu")]
    with pytest.raises(ConfigError, match="no anchor layer .* at threads=3"):
        drift.speed_factor(prof, 3)
    assert drift.speed_factor(prof, 1, passes=2) == pytest.approx(1.25)  # lowest of two
    assert len(seen) == 2 + 4


def test_a_damaged_anchor_or_timing_record_is_one_line():
    """An anchor timed at 0 s, or a profile whose timing block is not numbers, is named
    (not a division by zero or a conversion traceback); the verdict agrees with the factor
    as printed, and ±5 % is steady at both edges."""
    import dataclasses

    from attncost.latency import drift

    prof = _anchor_profile()
    zero = dataclasses.replace(prof, measurements=[
        dataclasses.replace(m, fwd_s=0.0) if m.kind == "layer:standard:fused:0" else m
        for m in prof.measurements])
    with pytest.raises(ConfigError, match="anchor layer:standard:fused:0 ×1 has times 0.0"):
        drift.speed_factor(zero, 1)
    huge = dataclasses.replace(prof, measurements=[
        dataclasses.replace(m, fwd_s=1e300, train_s=1e300) for m in prof.measurements])
    with pytest.raises(ConfigError, match="no machine drifts that far"):
        drift.speed_factor(huge, 2)
    for timing, fragment in (({"min_run_time_s": "abc"}, "min_run_time_s 'abc' must be a"),
                             ({"repeats": 0}, "repeats")):
        with pytest.raises(ConfigError, match=fragment):
            drift.speed_factor(dataclasses.replace(prof, timing=timing), 1)
    assert drift.steady(1.05) and drift.steady(0.95) and not drift.steady(1.06)
    assert drift.prediction_error(1.0551) == pytest.approx(1 / 1.06 - 1)
    assert "about 6% low" in drift.verdict(1.0551)
    others = drift.others_running(samples=3, interval_s=0.0)
    assert others is None or others >= 0


def test_speed_factor_times_the_real_anchor_layer():
    """The real path: the tiny standard layer (well under a millisecond) timed now against
    a profiled 20 ms (the factor is now / profiled, so far below 1)."""
    from attncost.latency import drift

    prof = Profile({"processor": "x"}, "0", [1], "2026-01-01",
                   timing={"min_run_time_s": 0.001, "repeats": 1},
                   measurements=[Measurement("layer:standard:fused:0", 1, _TINY, 0.02, 0.02)])
    assert drift.PLAUSIBLE[0] <= drift.speed_factor(prof, 1) < 0.5


def test_each_pass_of_a_case_keeps_the_machines_speed_when_it_was_timed(monkeypatch):
    """The speed is taken once per case and pass, before that pass's timings, and kept as
    each sample's third value; passes that time nothing take none."""
    from attncost.latency import measure as measure_mod

    values = iter([1.0, 2.0, 1.3, 2.05, 1.02])
    speeds = iter([1.1, 1.2, 1.3])
    monkeypatch.setattr(judge, "module_and_input", lambda case, device="cpu": (None, None))
    monkeypatch.setattr(measure_mod, "time_module",
                        lambda module, x, mode, threads: (next(values), 0.0))
    case = judge.Case("one", "layer", "standard", None)
    timings = judge.Timings(None)
    out = judge.measure_cases([case], 1, timings, speed=lambda: next(speeds))
    assert timings.samples(case, "infer", 1) == [[1.0, 0.0, 1.1], [1.3, 0.0, 1.2],
                                                 [1.02, 0.0, 1.3]]
    assert timings.samples(case, "train", 1) == [[2.0, 0.0, 1.1], [2.05, 0.0, 1.2]]
    assert out[("layer", "one", "infer")] == (1.0, 0.0, 1.1)  # the lowest, with its speed


@pytest.mark.parametrize("bad", [[[1.0, 0.0, 0.0]], [[1.0, 0.0, -1.0]],
                                 [[1.0, 0.0, float("inf")]], [[1.0, 0.0, 1.0, 1.0]],
                                 [[1.0, 0.0, 1e308]], [[1.0, 0.0, 1e-320]]])
def test_a_timing_with_a_bad_speed_factor_is_damaged(bad):
    assert judge.samples_of(bad) is None
    assert judge.samples_of([[1.0, 0.0], [1.0, 0.0, 1.2]]) == [[1.0, 0.0], [1.0, 0.0, 1.2]]


def test_the_judge_reports_drift_corrected_figures_beside_the_raw(tmp_path, synthetic,
                                                                  exact):
    """Timings taken with the machine 1.3× slower than profiled (and the speed factor saying
    so): the raw figures (the summary's top level, the judgement) miss every one; corrected
    by the factor, every one is exact — reported in the summary, CSV and text, never
    instead of the raw. Timings without a factor give no drift figures."""
    import csv

    from typer.testing import CliRunner

    from attncost.cli import app

    path, out = tmp_path / "p.json", tmp_path / "latency-cpu.csv"
    save_profile(synthetic, path)
    cases = judge.smoke_cases()

    def cache(with_factor: bool) -> None:
        timings = {judge.Timings.key(c, mode, 1): [
            [exact.predict(c.target, mode) * 1.3, 0.0, *([1.3] if with_factor else [])]] * 2
            for c in judge.calibration_cases() + cases for mode in ("infer", "train")}
        out.with_name("latency-cpu.timings.json").write_text(json.dumps(
            {"identity": judge.identity_of(synthetic), "timings": timings}))

    cache(True)
    rows, summary = judge.judge(path, out, cases=cases, predictor=exact, cached=True)
    assert summary["share_within_15pct"] == 0.0
    assert json.loads(out.with_name("latency-cpu-summary.json").read_text())["goal_met"] is False
    d = summary["drift"]
    assert d["speed_factor"]["1"] == {"median": 1.3, "min": 1.3, "max": 1.3}
    assert d["kernel_corrected"]["share_within_15pct"] == 1.0
    assert d["kernel_corrected"]["median_abs_error"] == pytest.approx(0.0, abs=1e-9)
    assert d["timings"] == len(rows) == 2 * len(cases)
    with open(out, newline="", encoding="utf-8") as fh:
        first = next(csv.DictReader(fh))
    assert float(first["speed_factor"]) == 1.3
    assert abs(float(first["kernel_drift_corrected_error"])) < 1e-9
    text = out.with_suffix(".txt").read_text()
    assert "Machine drift" in text and "1 thread ×1.30 (1.30–1.30)" in text
    cache(False)
    rows, summary = judge.judge(path, out, cases=cases, predictor=exact, cached=True)
    assert summary["drift"] is None and rows[0]["speed_factor"] is None
    assert "Machine drift: not measured" in out.with_suffix(".txt").read_text()
    r = CliRunner().invoke(app, ["validate-latency", str(path), "-o", str(out), "--cached",
                                 "--no-drift"])
    assert r.exit_code == 2 and "--cached times nothing" in r.output
    assert "Traceback" not in r.output
    import dataclasses

    bare = dataclasses.replace(synthetic, measurements=[
        m for m in synthetic.measurements if not m.kind.startswith("layer:standard:")])
    save_profile(bare, tmp_path / "bare.json")
    r = CliRunner().invoke(app, ["validate-latency", str(tmp_path / "bare.json"), "-o",
                                 str(out), "--drift"])
    assert r.exit_code == 2 and "no anchor layer" in r.output and "threads=1" in r.output
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "x.timings.json").mkdir()
    r = CliRunner().invoke(app, ["validate-latency", str(path), "-o",
                                 str(tmp_path / "d" / "x.csv"), "--cached"])
    assert r.exit_code == 2 and "is a folder" in r.output and "Traceback" not in r.output


def test_profile_check_says_how_far_the_machine_has_moved(tmp_path, monkeypatch):
    """`attncost profile-check`: the speed factor per thread count and what it means for the
    profile's predictions (table and JSON); bad input is one line."""
    from typer.testing import CliRunner

    from attncost.cli import app
    from attncost.latency import drift

    prof = _anchor_profile()
    path = tmp_path / "p.json"
    save_profile(prof, path)
    monkeypatch.setattr(drift, "speed_factor",
                        lambda p, t, device="cpu", passes=1: {1: 1.25, 2: 0.98}[t])
    monkeypatch.setattr(drift, "busy", lambda threads: None)
    r = CliRunner().invoke(app, ["profile-check", str(path)])
    assert r.exit_code == 0, r.output
    said = " ".join(r.output.split())
    assert "1 thread: ×1.25 the profiled time" in said
    assert "predictions from the profile are about 20% low here now" in said
    assert "2 threads: ×0.98 the profiled time — the profile still holds" in said
    assert "the profile was made on x, this is" in said  # another machine: said
    r = CliRunner().invoke(app, ["profile-check", str(path), "-t", "1", "-f", "json"])
    assert r.exit_code == 0, r.output
    one = json.loads(r.output)["threads"]
    assert list(one) == ["1"] and one["1"]["speed_factor"] == 1.25
    assert one["1"]["prediction_error"] == pytest.approx(-0.2)
    assert one["1"]["steady"] is False and "20% low" in one["1"]["verdict"]
    monkeypatch.setattr(drift, "busy", lambda threads: 2.0)  # another job on the cores
    r = CliRunner().invoke(app, ["profile-check", str(path), "-t", "1"])
    said = " ".join(r.output.split())
    assert "other work is running (2 other runnable processes" in said
    assert "re-profile" not in said
    assert drift.verdict(0.8).startswith("this machine runs faster")
    for args, fragment in ((["-t", "3"], "threads=3 was not profiled"),
                           (["-t", "0"], "threads=0 must be a positive integer"),
                           (["-f", "png"], "Invalid value")):
        r = CliRunner().invoke(app, ["profile-check", str(path), *args])
        assert r.exit_code == 2 and fragment in r.output and "Traceback" not in r.output
    r = CliRunner().invoke(app, ["profile-check", str(tmp_path / "none.json")])
    assert r.exit_code == 2 and "Traceback" not in r.output


def test_score_counts_the_tolerance():
    rows = [{"kernel_error": e} for e in (0.0, 0.1, -0.15, 0.2, -0.5)]
    s = judge.score(rows, "kernel")
    assert s["share_within_15pct"] == pytest.approx(0.6)
    assert s["median_abs_error"] == pytest.approx(0.15)


# -- latency in the search ----------------------------------------------------------------------


def _edge_spec(budget: str, sampler: str = "attncost") -> dict:
    import tomllib

    return tomllib.loads(f"""
[search]
name = "lat"
task = "digits"
objective = "latency"
sampler = "{sampler}"
[model]
layers = 2
d_model = 32
heads = 2
d_ff = 64
batch = 1
[candidates]
variants = ["standard", "efficient"]
[target]
accuracy = 0.9
[budget]
mode = "infer"
{budget}
[task]
patch_size = 2
""")


def test_search_latency_from_a_profile(tmp_path, profile_file):
    from attncost.latency.predictor import predictor_for
    from attncost.search.objective import Trainer
    from attncost.search.spec import SpecError, _to_sections, parse_spec

    path = profile_file
    spec = parse_spec(_edge_spec(f'latency_source = "profile"\nprofile = "{path}"\n'
                                 f'threads = 1\nlatency_ms = 50'))
    assert spec.latency_source == "profile" and spec.device is None
    t = Trainer(spec)
    arch = ("efficient", "standard")
    pred = predictor_for(path)  # the search's own fit (cached per file)
    assert t.cost_of(arch).latency_s == pytest.approx(
        pred.predict(spec.model(arch, spec.attention()), "infer", threads=1))
    assert t.space().cost(arch) == pytest.approx(t.cost_of(arch).latency_s, rel=1e-9)
    assert _to_sections(spec)["budget"]["latency_source"] == "profile"
    roof = parse_spec(_edge_spec('device = "rpi5-8gb"'))
    assert "latency_source" not in roof.as_dict()  # old studies keep their names
    for budget, fragment in [
        ('latency_source = "profile"', "needs [budget] profile"),
        (f'latency_source = "profile"\nprofile = "{tmp_path / "none.json"}"', "does not exist"),
        (f'latency_source = "profile"\nprofile = "{path}"\nthreads = 3', "threads = 3 was not"),
        ('latency_source = "guess"', "allowed: roofline, profile, measured"),
        (f'profile = "{path}"\ndevice = "rpi5-8gb"', "needs latency_source"),
        ('device = "rpi5-8gb"\nthreads = 2', "threads applies"),
        ('latency_source = "measured"', "sampler = 'attncost' plans with per-layer costs"),
    ]:
        with pytest.raises(SpecError, match=fragment.replace("[", r"\[").replace("]", r"\]")):
            parse_spec(_edge_spec(budget))


def test_search_latency_measured_per_architecture(monkeypatch):
    from attncost.latency import measure
    from attncost.search.objective import Trainer, latency_source
    from attncost.search.spec import parse_spec

    calls = []

    def fake(m, batch=None, seq_len=None, threads=1, mode="infer", **kw):
        calls.append((m.layers, threads, mode))
        return 1e-3 * len([v for v in m.layers if v == "standard"]) + 1e-4

    monkeypatch.setattr(measure, "measure_latency", fake)
    spec = parse_spec(_edge_spec('latency_source = "measured"\nthreads = 1', sampler="tpe"))
    t = Trainer(spec)
    assert t.cost_of(("standard", "standard")).latency_s == pytest.approx(2.1e-3)
    t.cost_of(("standard", "standard"))
    assert calls == [(("standard", "standard"), 1, "infer")]  # timed once per architecture
    assert latency_source(spec).startswith("measured")
    # the real timing runs (one model, a short timing)
    real = measure.time_module(*judge.module_and_input(judge.held_out_models()[0]), "infer", 1,
                               min_run_time=0.001, repeats=1)
    assert real[0] > 0


def test_judge_timings_resume_only_on_the_same_machine(tmp_path):
    path, case = tmp_path / "t.timings.json", judge.smoke_cases()[0]
    first = judge.Timings(path, "cpu A|torch 2").get(case, "infer", 1, lambda: (1.0, 0.1))
    again = judge.Timings(path, "cpu A|torch 2").get(case, "infer", 1, lambda: (2.0, 0.2))
    other = judge.Timings(path, "cpu B|torch 2").get(case, "infer", 1, lambda: (3.0, 0.3))
    assert (first, again, other) == ((1.0, 0.1), (1.0, 0.1), (3.0, 0.3))
    path.write_text("{damaged")
    assert judge.Timings(path, "cpu A|torch 2").data == {}


def test_in_situ_factor_and_dispatch_are_recovered_from_the_reference_sizes():
    """Reference layers at three sizes (and models) whose kernels take 1.3× their separate
    timings beyond their fixed part (matmuls 1.6×; embeddings and gradient sums as timed):
    the fit recovers each group's factor and the dispatch cost; with one size only, the
    factors stay 1."""
    import dataclasses

    base = synthetic_profile()
    launch = {"infer": 0.0, "train": LAUNCH}
    factor = {"linear": 1.6, reference.FIXED: 1.0}

    def slowed(m):
        if not reference.is_reference(m.kind):
            return m
        out = {}
        for mode, attr in (("infer", "fwd_s"), ("train", "train_s")):
            calls = kernel_calls(reference.graph(m.kind, m.features))
            n = sum(not KINDS[c.kind].train_only for c in calls)
            kernels = 0.0
            for c in calls:
                kk = KINDS[c.kind]
                alone = _kernels([c], mode) - (0.0 if kk.train_only else DISPATCH[mode])
                fixed = 0.0 if kk.included or kk.train_only else \
                    _coef(c.kind)[0] * (1 + (2 * c.backward if mode == "train" else 0))
                g = factor.get(reference.in_situ_group(c.kind), 1.3)
                kernels += fixed + g * (alone - fixed)  # the intercept is never scaled
            out[attr] = kernels + n * DISPATCH[mode] + launch[mode]
        return dataclasses.replace(m, **out)

    sizes = {tuple(sorted(m.features.items())) for m in base.measurements
             if m.kind.startswith(reference.PREFIX)}
    assert len(sizes) == len(reference.REFERENCE_SIZES) == 3
    fitted = Predictor.fit(dataclasses.replace(
        base, measurements=[slowed(m) for m in base.measurements]), residual=False)
    for mode in ("infer", "train"):
        assert fitted.in_situ[(1, mode)] == pytest.approx(
            {"linear": 1.6, "bmm": 1.3, "sdpa": 1.3, "other": 1.3}, rel=1e-4)
        assert fitted.overhead_s[(1, mode)]["op"] == pytest.approx(DISPATCH[mode], rel=1e-3)
    tiny = dataclasses.replace(base, measurements=[
        m for m in base.measurements if not m.kind.startswith(reference.PREFIX)
        or m.features == reference.REFERENCE_SIZE])
    one = Predictor.fit(tiny, residual=False)
    assert one.in_situ[(1, "infer")] == {}  # every group at its separate timing
    assert one.overhead_s[(1, "infer")]["op"] == pytest.approx(DISPATCH["infer"], rel=1e-3)


@pytest.mark.parametrize("args, fragment", [
    (["profile", "-o", "p.txt"], "--out p.txt: the suffix must be .json"),
    (["validate-latency", "p.json", "-o", "l.png"], "--out l.png: the suffix must be .csv"),
    (["decode", "-o", "t.txt"], "--out t.txt: the suffix must be .md, .json or .csv"),
])
def test_output_suffixes_are_checked_before_any_work(tmp_path, monkeypatch, args, fragment):
    """validate-latency -o l.png used to write its CSV there and then the figure over it."""
    from typer.testing import CliRunner

    from attncost.cli import app

    monkeypatch.chdir(tmp_path)
    r = CliRunner().invoke(app, args)
    assert r.exit_code == 2 and r.output.strip() == f"error: {fragment}"
    assert not list(tmp_path.iterdir())


# -- the second version's terms: tied gradients, vector tails, fresh pages, glue per kind -------


def _tiny_lm(**over):
    from attncost.config import preset

    sizes = dict(d_model=16, heads=2, seq_len=8, batch=1, layers=1, d_ff=32, vocab=64,
                 max_positions=8)
    return preset("gpt2", **{**sizes, **over})


def test_tied_embeddings_add_their_gradients_in_a_training_step(exact):
    from attncost.graphs import model_graph

    sums = [c for c in kernel_calls(model_graph(_tiny_lm())) if c.kind == "grad-accumulate"]
    assert [c.features for c in sums] == [{"numel": 64 * 16}]
    untied = kernel_calls(model_graph(_tiny_lm(tied_embeddings=False)))
    assert not any(c.kind == "grad-accumulate" for c in untied)
    assert exact.call_times(sums, "infer") == [0.0]
    assert exact.call_times(sums, "train") == pytest.approx([_fwd("binary", {"numel": 1024})])


def test_autograd_sums_a_tied_tables_gradients_out_of_place():
    """What the grad-accumulate call stands for, seen in a real backward: an add with the
    table's shape when the head is tied to the embedding, none when it is not."""
    import torch
    from torch.utils._python_dispatch import TorchDispatchMode

    from attncost.nn.model import TransformerModel
    from attncost.latency.measure import model_input

    class Adds(TorchDispatchMode):
        def __init__(self):
            super().__init__()
            self.shapes = []

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            out = func(*args, **(kwargs or {}))
            if func is torch.ops.aten.add.Tensor:
                self.shapes.append(tuple(out.shape))
            return out

    for tied in (True, False):
        m = _tiny_lm(tied_embeddings=tied)
        model, x = TransformerModel(m, dropout=0.0), model_input(m)
        loss = model(x).sum()
        with Adds() as adds:
            loss.backward()
        assert ((64, 16) in adds.shapes) is tied


def test_fused_attention_off_the_vector_width_fits_its_own_slope():
    """Score elements cost more on the tail path (each query row's last kv mod 16 keys, all
    of them below 16 keys) and where the queries are not a multiple of the vector width;
    each query row and each flash block costs a fixed amount: known costs are recovered at
    unseen lengths, aligned or not, short keys included."""
    from attncost.latency.predictor import flash_blocks, sdpa_tail_scores

    feats = [f for k, f in bench.grid() if k == "sdpa"]

    def t(f):
        scores = f["bh"] * f["q"] * f["kv"]
        return (2e-6 + 1e-10 * f["flops"] + 3e-9 * scores * (1 + 0.5 * (f["q"] % 16 != 0))
                + 2e-8 * sdpa_tail_scores(f) + 4e-8 * f["bh"] * f["q"] + 5e-7 * flash_blocks(f))

    model = fit_kind("sdpa", feats, [t(f) for f in feats], residual=False)
    for q, kv in ((45, 45), (48, 48), (150, 160), (160, 150), (200, 9), (800, 600)):
        f = {"bh": 6, "q": q, "kv": kv, "d": 32, "causal": 0, "flops": 4 * 6 * q * kv * 32}
        assert model.predict([f])[0] == pytest.approx(t(f), rel=1e-6)


def test_tensors_past_the_allocators_cache_fit_their_own_slope():
    feats = [f for k, f in bench.grid() if k == "binary"]
    assert max(f["numel"] for f in feats) * 4 > 2 * (32 << 20)  # the grid reaches past it

    def t(f):
        n = f["numel"]
        return 3e-6 + 1e-10 * n + (5e-10 * n if 4 * n > 32 << 20 else 0)

    model = fit_kind("binary", feats, [t(f) for f in feats], residual=False)
    for n in (1000, 1 << 20, 38_597_376):
        assert model.predict([{"numel": n}])[0] == pytest.approx(t({"numel": n}), rel=1e-6)


def test_a_kind_with_more_glue_than_the_others_is_found(synthetic):
    """References whose linears cost 3× the glue of any other operation: the per-kind
    overheads predict an unseen layer and an unseen model within 1 %."""
    import dataclasses

    from attncost.graphs import model_graph

    glue = {mode: {"linear": 3 * DISPATCH[mode]} for mode in DISPATCH}
    launch = {"infer": 0.0, "train": LAUNCH}

    def time_of(graph, mode):
        return _kernels(kernel_calls(graph), mode, glue[mode]) + launch[mode]

    def regl(m):
        if not reference.is_reference(m.kind):
            return m
        g = reference.graph(m.kind, m.features)
        return dataclasses.replace(m, fwd_s=time_of(g, "infer"), train_s=time_of(g, "train"))

    fitted = Predictor.fit(dataclasses.replace(
        synthetic, measurements=[regl(m) for m in synthetic.measurements]), residual=False)
    unseen = [layer_graph("mla", ac.AttentionConfig(d_model=40, heads=5, seq_len=11)),
              model_graph(_tiny_lm(d_model=24, heads=3, layers=3))]
    for graph in unseen:
        for mode in ("infer", "train"):
            assert fitted.predict(graph, mode) == pytest.approx(time_of(graph, mode), rel=0.01)


# -- ONNX Runtime -------------------------------------------------------------------------------


def test_every_variant_runs_in_onnx_runtime_as_in_torch():
    """Each variant with a PyTorch module (causal where it can be) exports with torch.onnx
    and gives torch's outputs in ONNX Runtime."""
    pytest.importorskip("onnxruntime")
    import numpy as np
    import torch

    from attncost import variants
    from attncost.latency import onnx as ort_mod
    from attncost.nn import build_attention, has_module

    checked = 0
    for name in variants.builtin_names():
        if not has_module(name):
            continue
        for causal in (False, True) if variants.get(name).supports_causal else (False,):
            cfg = ac.AttentionConfig(d_model=24, heads=3, seq_len=10, batch=2, causal=causal)
            torch.manual_seed(0)
            module = build_attention(name, cfg).eval()
            x = torch.randn(2, 10, 24)
            with torch.no_grad():
                expected = module(x).numpy()
            assert np.allclose(ort_mod.run(module, x), expected, atol=1e-4), (name, causal)
            checked += 1
    assert checked >= 15


def test_measured_latency_in_onnx_runtime_and_its_errors():
    pytest.importorskip("onnxruntime")
    from attncost.latency.measure import measure_latency

    lm = _tiny_lm(layers=2)
    assert 0 < measure_latency(lm, runtime="onnxruntime", min_run_time=0.001, repeats=1) < 1
    with pytest.raises(ConfigError, match="times inference only; mode 'train'"):
        measure_latency(lm, mode="train", runtime="onnxruntime")
    with pytest.raises(ConfigError, match="runtime 'tvm' is unknown; allowed: torch, "
                                          "onnxruntime"):
        measure_latency(lm, runtime="tvm")


@pytest.mark.parametrize("budget, mode, fragment", [
    ('device = "rpi5-8gb"\nruntime = "onnxruntime"', "infer", "runtime applies to "
                                                              "latency_source"),
    ('latency_source = "measured"\nruntime = "tvm"', "infer", "runtime = 'tvm' is invalid"),
    ('latency_source = "measured"\nruntime = "onnxruntime"', "train", "times inference only"),
])
def test_search_runtime_errors(budget, mode, fragment):
    pytest.importorskip("onnxruntime")
    from attncost.search.spec import SpecError, parse_spec

    data = _edge_spec(budget)
    data["budget"]["mode"] = mode
    with pytest.raises(SpecError, match=fragment):
        parse_spec(data)


def test_search_runtime_onnxruntime_is_kept_and_named():
    pytest.importorskip("onnxruntime")
    from attncost.search.objective import latency_source
    from attncost.search.spec import parse_spec

    spec = parse_spec(_edge_spec('latency_source = "measured"\nruntime = "onnxruntime"',
                                 sampler="tpe"))
    assert spec.latency_runtime == "onnxruntime" and "latency_runtime" in spec.as_dict()
    assert "onnxruntime 1." in latency_source(spec)
    torch_spec = parse_spec(_edge_spec('latency_source = "measured"', sampler="tpe"))
    assert "latency_runtime" not in torch_spec.as_dict()  # old studies keep their names


def test_a_fitted_predictor_is_cached_on_disk_between_processes(tmp_path, synthetic,
                                                                 monkeypatch):
    """The second process reads the fit instead of fitting (fitting is made to fail);
    another profile's bytes, a damaged cache or ATTNCOST_NO_CACHE fit anew."""
    from attncost.latency import predictor as pm

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    path = tmp_path / "p.json"
    save_profile(synthetic, path)
    first = pm._load_or_fit(path)
    cached = pm.cache_file(path)
    assert cached.exists() and cached.is_relative_to(tmp_path / "cache")
    monkeypatch.setattr(pm.Predictor, "fit", classmethod(lambda cls, p: 1 / 0))
    again = pm._load_or_fit(path)
    assert again.overhead_s == first.overhead_s and again.launch_s == first.launch_s
    cached.write_bytes(b"not a pickle")
    with pytest.raises(ZeroDivisionError):  # damaged: fitted again
        pm._load_or_fit(path)
    monkeypatch.setenv("ATTNCOST_NO_CACHE", "1")
    assert pm.cache_file(path) is None


@pytest.mark.parametrize("name, sizes", [
    ("smollm2-135m", dict(layers=2, seq_len=8)),                       # RMSNorm, GQA, tied
    ("gemma-2-2b", dict(d_model=32, heads=4, kv_heads=2, seq_len=8, layers=2, d_ff=64,
                        vocab=64)),                                     # soft-capping, windows
])
def test_rms_norm_models_export_to_onnx_as_in_torch(name, sizes):
    """The TorchScript exporter has no translation of aten::rms_norm: it is written out for
    the export, and the model gives torch's outputs in ONNX Runtime."""
    pytest.importorskip("onnxruntime")
    import numpy as np
    import torch

    from attncost.config import preset
    from attncost.latency import onnx as ort_mod
    from attncost.latency.measure import model_input
    from attncost.nn.model import TransformerModel

    m = preset(name, batch=1, **sizes)
    torch.manual_seed(0)
    model, x = TransformerModel(m, dropout=0.0).eval(), model_input(m)
    with torch.no_grad():
        expected = model(x).numpy()
    assert np.allclose(ort_mod.run(model, x), expected, atol=1e-3)


def test_a_model_onnx_cannot_express_is_one_typed_line(capfd):
    """A mixture of experts' routing does not export: one line naming the operator, and
    nothing of the exporter's traced graph on the terminal."""
    pytest.importorskip("onnxruntime")
    from attncost.config import preset
    from attncost.errors import UnsupportedError
    from attncost.latency.measure import measure_latency

    moe = preset("mixtral-8x7b-v0.1", batch=1, d_model=32, heads=4, kv_heads=2, seq_len=8,
                 layers=1, d_ff=64, vocab=64, expert_d_ff=64)
    with pytest.raises(UnsupportedError, match="cannot be exported to ONNX") as err:
        measure_latency(moe, runtime="onnxruntime")
    assert "\n" not in str(err.value) and "Sort" in str(err.value)
    out, errs = capfd.readouterr()
    assert "graph(" not in out + errs


def _softmax_rows_run(case: judge.Case) -> list[int]:
    """The row lengths of every last-dimension softmax the PyTorch module of ``case`` runs
    in a forward (read at the ATen level, as the kernel sees its input)."""
    import torch
    from torch.utils._python_dispatch import TorchDispatchMode

    rows: list[int] = []

    class Rows(TorchDispatchMode):
        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            if func is torch.ops.aten._softmax.default:
                x, dim = args[0], args[1] % args[0].dim()
                if dim == x.dim() - 1:
                    rows.append(int(x.shape[dim]))
            return func(*args, **(kwargs or {}))

    module, x = judge.module_and_input(case)
    with torch.no_grad(), Rows():
        module(x)
    return sorted(rows)


@pytest.mark.parametrize("case", [c for c in judge._layer_cases(((56, 7, 30, 1),), "layer")
                                  if "materialised" in c.name], ids=lambda c: c.name)
def test_each_softmax_kernel_has_the_rows_its_module_normalises(case):
    """The ``cols`` feature of every softmax kernel call equals the length of the rows the
    real module's softmax runs over: keys for scores, a head's features for linear
    attention's queries (the graph once read d_model there, through the head split)."""
    calls = kernel_calls(layer_graph(*case.target))
    predicted = sorted(c.features["cols"] for c in calls if c.kind == "softmax")
    assert predicted == _softmax_rows_run(case)


def test_the_grid_times_vocabulary_heads_and_short_unaligned_fused_attention():
    """Past MAX_FLOPS only the vocabulary heads, within their own limits; GPT-2-medium's
    head at 128 tokens lies inside their ranges; short fused attention with narrow heads and
    both lengths off the vector width is in the grid."""
    g = bench.grid()
    heads = [f for k, f in g if k == "linear" and f["flops"] > bench.MAX_FLOPS]
    assert len(heads) >= 4
    assert all(f["flops"] <= bench.MAX_HEAD_FLOPS and f["k"] * f["n"] <= bench.MAX_HEAD_WEIGHTS
               and bench.HEAD_LINEAR["n"][0] <= f["n"] <= bench.HEAD_LINEAR["n"][1]
               for f in heads)
    assert all(f["flops"] <= bench.MAX_FLOPS for k, f in g if k in ("bmm", "sdpa"))
    lo, hi = bench.HEAD_LINEAR["n"]
    assert lo <= 50257 <= hi and bench.HEAD_LINEAR["k"][0] <= 1024 <= bench.HEAD_LINEAR["k"][1]
    short = [f for k, f in g if k == "sdpa" and f["q"] <= 256 and f["q"] % 16 and f["kv"] % 16]
    assert len(short) >= 20
    assert sum(f["q"] != f["kv"] and max(f["q"], f["kv"]) > 2 * min(f["q"], f["kv"])
               for k, f in g if k == "sdpa") >= 20  # queries and keys of unequal lengths
    assert sum(f["cols"] <= 16 for k, f in g if k == "softmax") >= 15  # short rows
    assert bench.grid() == g  # a fixed seed: two profiles time the same shapes


def test_the_grid_times_every_kernel_of_every_reference_alone():
    """The in-situ factors compare each reference with its own kernels as timed: every
    kernel a reference layer or model runs (but those timed with another kind and the
    backward's own sums) is a measurement of the grid, quick or not, each once."""
    from attncost.latency import reference
    from attncost.latency.kernels import KINDS, kernel_calls
    from attncost.latency.profile import measurement_key

    own = reference.reference_kernels()
    assert len({measurement_key(k, 1, f) for k, f in own}) == len(own) > 100
    for quick in (False, True):
        keys = {measurement_key(k, 1, f) for k, f in bench.grid(quick)}
        for kind, f in reference.reference_layers():
            for c in kernel_calls(reference.graph(kind, f)):
                if KINDS[c.kind].timed_alone:
                    assert measurement_key(c.kind, 1, c.features) in keys, (kind, c.op)


def test_the_grid_times_layer_sized_element_wise_kernels():
    g = bench.grid()
    lo, hi = bench.LAYER_NUMEL
    for kind in bench.LAYER_ELEMENTWISE:
        assert sum(lo <= f["numel"] <= hi for k, f in g if k == kind) >= 12 + 4, kind


def test_flash_attention_blocks_follow_pytorchs_cpu_split_sizes():
    from attncost.latency.predictor import flash_blocks, sdpa_tail_scores

    # queries in blocks of 32 below 192, 64 from 192, 256 from 768; keys in blocks of 512
    assert flash_blocks({"bh": 3, "q": 100, "kv": 100}) == 3 * 4 * 1
    assert flash_blocks({"bh": 1, "q": 192, "kv": 513}) == 1 * 3 * 2
    assert flash_blocks({"bh": 2, "q": 768, "kv": 512}) == 2 * 3 * 1
    # each query row's last kv mod 16 keys run on the tail path; all of them below 16
    assert sdpa_tail_scores({"bh": 2, "q": 10, "kv": 45}) == 2 * 10 * 13
    assert sdpa_tail_scores({"bh": 2, "q": 10, "kv": 64}) == 0
    assert sdpa_tail_scores({"bh": 2, "q": 10, "kv": 9}) == 2 * 10 * 9


def test_a_softmax_over_rows_shorter_than_a_vector_gets_its_scalar_path_term():
    from attncost.latency.predictor import baseline_terms

    short = baseline_terms("softmax", {"numel": 960, "cols": 8})
    wide = baseline_terms("softmax", {"numel": 960, "cols": 16})
    assert short[-1] == 960 and wide[-1] == 0
    assert len(short) == len(wide)


def test_every_held_out_case_has_its_own_name_and_a_known_set():
    cases = judge.held_out()
    assert len({c.name for c in cases}) == len(cases)
    assert {c.set for c in cases} == {"first", "fresh", "test", "v4-test", "v5-test", "v6-test",
                                      "v7-test", "v8-test", "v9-test"}
    assert all(sum(c.set == s for c in cases) == 103
               for s in ("v4-test", "v5-test", "v6-test", "v7-test", "v8-test", "v9-test"))


def test_one_held_out_set_can_be_judged_alone(tmp_path):
    from attncost.errors import UnknownNameError

    assert {c.set for c in judge.held_out(["v6-test"])} == {"v6-test"}
    both = judge.held_out(["fresh", "test"])
    assert {c.set for c in both} == {"fresh", "test"}
    assert len(both) == sum(c.set in ("fresh", "test") for c in judge.held_out())
    with pytest.raises(UnknownNameError, match=r"unknown held-out set 'v10-test'; allowed: "
                                               r"first, fresh, test, v4-test, v5-test"):
        judge.held_out(["v10-test"])
    from typer.testing import CliRunner

    from attncost.cli import app

    profile = "reports/latency-cpu-profile.json"
    out = str(tmp_path / "l.csv")
    for args, fragment in ((["--set", "v10-test"], "unknown held-out set 'v10-test'"),
                           (["--set", "fresh", "--smoke"], "drop one")):
        r = CliRunner().invoke(app, ["validate-latency", profile, "-o", out, *args])
        assert r.exit_code == 2 and fragment in r.output, r.output
        assert "Traceback" not in r.output and len(r.output.strip().splitlines()) == 1


def test_a_row_length_below_one_is_refused_not_read_as_one():
    """A custom variant's graph that gives a softmax ``row_len=0`` used to be predicted as
    rows of 1 element; it is now a one-line error naming the op."""
    import dataclasses

    from attncost.config import AttentionConfig
    from attncost.errors import AttncostError

    g = layer_graph("linear", AttentionConfig(d_model=48, heads=6, seq_len=20, batch=1))
    ops = [dataclasses.replace(o, row_len=0) if getattr(o, "row_len", None) is not None else o
           for o in g.ops]
    assert len([o for o in g.ops if getattr(o, "row_len", None) is not None]) == 1
    with pytest.raises(AttncostError, match=r"operation 'softmax_q' gives row_len=0"):
        kernel_calls(dataclasses.replace(g, ops=ops))
    assert kernel_calls(g)  # the graph as built still works


def test_graphs_name_their_attention_layers_as_the_profile_names_reference_layers():
    """Graph.attention_layers: a layer's every operation, each stacked layer's and each
    model block's attention operations, keyed as the profile's reference layers are."""
    from attncost.config import preset
    from attncost.graphs import model_graph

    for kind, f in reference.reference_layers():
        g = reference.graph(kind, f)
        if kind.startswith(reference.PREFIX):
            assert g.attention_layers == [("", kind[len(reference.PREFIX):])]
    cfg = ac.AttentionConfig(d_model=32, heads=4, seq_len=8, batch=1, impl="fused", causal=True)
    assert [k for _, k in layer_graph("kernel-linear", cfg, layers=2).attention_layers] == \
        ["kernel-linear:materialised:1"] * 2  # the implementation does not matter for it
    assert layer_graph("standard", cfg).attention_layers == [("", "standard:fused:1")]
    m = preset("smollm2-135m", layers=2, seq_len=8, batch=1)
    g = model_graph(m)
    assert [p for p, _ in g.attention_layers] == ["blocks.0.attn.", "blocks.1.attn."]
    inside = [op.name for op in g.ops if op.name.startswith("blocks.1.attn.")]
    assert inside and all(".attn." in n for n in inside)


def test_a_variant_slower_than_predicted_in_its_references_gets_its_own_correction():
    """One variant's reference layers 20 % slower than the kernels and overheads explain
    (which the shared factors and overheads partly absorb): its correction brings its
    references' median prediction to the measurement, where the same fit without
    corrections falls > 5 % short, and the others' stay near 1; its layers are predicted
    that much longer, and in a model only its attention operations are; a correction stays
    within CORRECTION_RANGE."""
    import dataclasses

    from attncost.config import preset

    base = synthetic_profile()

    def slowed(factor):
        return dataclasses.replace(base, measurements=[
            dataclasses.replace(m, fwd_s=m.fwd_s * factor, train_s=m.train_s * factor)
            if m.kind.startswith(f"{reference.PREFIX}mla:") else m
            for m in base.measurements])

    import copy
    import statistics

    plain, slow = (Predictor.fit(p, residual=False) for p in (base, slowed(1.2)))
    uncorrected = copy.copy(slow)
    uncorrected.correction = {}
    mla = [m for m in slowed(1.2).measurements if m.kind.startswith(f"{reference.PREFIX}mla:")]
    for mode, attr in (("infer", "fwd_s"), ("train", "train_s")):
        def ratio(pred):
            return statistics.median(pred.predict(reference.graph(m.kind, m.features), mode)
                                     / getattr(m, attr) for m in mla)
        assert ratio(slow) == pytest.approx(1.0, abs=0.02)
        assert ratio(uncorrected) < 0.95
        assert slow.correction[(1, mode)]["mla"] > 1.05
        assert slow.correction[(1, mode)]["standard"] == pytest.approx(1.0, abs=0.03)
    cfg = ac.AttentionConfig(d_model=48, heads=4, seq_len=24, batch=2)
    calls = kernel_calls(layer_graph("mla", cfg))
    assert slow.predict(("mla", cfg)) - slow.graph_seconds(calls, "infer") == pytest.approx(
        (uncorrected.predict(("mla", cfg)) - slow.graph_seconds(calls, "infer"))
        * slow.correction[(1, "infer")]["mla"], rel=1e-9)
    assert plain.correction[(1, "infer")]["mla"] == pytest.approx(1.0, abs=0.03)
    model = preset("smollm2-135m", layers=1, seq_len=8, batch=1, variant="mla")
    whole, calls = slow.predict(model), kernel_calls(model_graph_of(model))
    attn = [c for c in calls if c.op.startswith("blocks.0.attn.")]
    rest = [c for c in calls if not c.op.startswith("blocks.0.attn.")]
    factor = slow.correction[(1, "infer")]["mla"]
    assert whole == pytest.approx(sum(slow.call_seconds(attn, "infer")) * factor
                                  + sum(slow.call_seconds(rest, "infer"))
                                  + slow.graph_seconds(calls, "infer"), rel=1e-9)
    assert Predictor.fit(slowed(2.0), residual=False).correction[(1, "infer")]["mla"] == \
        reference.CORRECTION_RANGE[1]


def model_graph_of(m):
    from attncost.graphs import model_graph

    return model_graph(m)


def test_the_in_situ_factor_stops_at_the_longest_reference_kernel():
    """A kernel far longer than any the references ran (a vocabulary head) keeps its factor
    on its first cap seconds only; one within the cap is scaled whole; the cap is the
    longest reference kernel of its group."""
    import dataclasses

    from attncost.latency.kernels import KernelCall

    pred = Predictor.fit(synthetic_profile(), residual=False)
    cap = pred.in_situ_cap[(1, "infer")]
    assert cap["linear"] > 0
    pred = dataclasses.replace(pred, in_situ={(1, "infer"): {"linear": 1.5}},
                               in_situ_cap={(1, "infer"): {"linear": cap["linear"]}})
    small = {"m": 4, "k": 8, "n": 8, "bias": 0, "flops": 512}
    huge = {"m": 128, "k": 768, "n": 50257, "bias": 0, "flops": 2 * 128 * 768 * 50257}
    per_op = pred.overhead_s[(1, "infer")].get("linear", pred.overhead_s[(1, "infer")]["op"])
    for f in (small, huge):
        call = [KernelCall("lm_head", "linear", f)]
        x, fixed = pred.call_times(call, "infer")[0], pred.call_intercepts(call, "infer")[0]
        assert pred.call_seconds(call, "infer")[0] == pytest.approx(
            x + 0.5 * min(x - fixed, cap["linear"]) + per_op)
    assert pred.call_times([KernelCall("h", "linear", huge)], "infer")[0] - \
        pred.call_intercepts([KernelCall("h", "linear", huge)], "infer")[0] > cap["linear"]


def test_a_matmul_output_past_the_allocators_cache_is_a_baseline_term():
    """The output elements of a matmul whose fp32 output exceeds 32 MiB (fresh pages every
    call) are a term of its baseline; below that, 0."""
    from attncost.latency.predictor import FRESH_PAGES_BYTES, baseline_terms

    below = {"m": 128, "k": 768, "n": 50257, "bias": 0}  # 25.7 MB
    above = {"m": 567, "k": 6, "n": 26110, "bias": 0}  # 59.2 MB
    assert baseline_terms("linear", below)[-1] == 0
    assert baseline_terms("linear", above)[-1] == 567 * 26110
    assert 4 * 567 * 26110 > FRESH_PAGES_BYTES > 4 * 128 * 50257
    batched = {"batch": 5, "m": 512, "k": 8, "n": 4096}  # 41.9 MB
    assert baseline_terms("bmm", batched)[-1] == 5 * 512 * 4096


def test_the_gpu_warning_states_the_committed_gpu_judgements():
    """``estimate --profile`` with a GPU profile warns with the figures of the committed
    CUDA reports (one per GPU), not numbers typed once and left behind."""
    from pathlib import Path

    from attncost.api import GPU_JUDGEMENTS

    reports = Path(__file__).resolve().parent.parent / "reports"
    summaries = {json.loads(p.read_text())["timed_on"].split("|")[0]: json.loads(p.read_text())
                 for p in reports.glob("latency-cuda-*-summary.json")}
    assert {gpu for gpu, _, _ in GPU_JUDGEMENTS} == set(summaries)
    for gpu, share, median in GPU_JUDGEMENTS:
        assert share == pytest.approx(summaries[gpu]["share_within_15pct"], abs=5e-4)
        assert median == pytest.approx(summaries[gpu]["median_abs_error"], abs=5e-4)
