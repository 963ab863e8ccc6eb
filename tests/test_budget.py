"""Devices, budgets, max batch / sequence, roofline and crossovers."""

import pytest

import attncost as ac
from attncost.budget import fit, max_fitting, roofline
from attncost.devices import catalogue, custom_device, get_device
from attncost.units import parse_bytes

REQUIRED_DEVICES = {"rpi5-8gb", "jetson-orin-nano-8gb", "jetson-agx-orin-64gb", "apple-m2",
                    "rtx-3060", "rtx-4090", "t4", "l4", "v100-sxm2-32gb", "a100-40gb",
                    "a100-80gb", "h100-sxm", "h200-sxm"}


def test_catalogue_is_sourced_and_complete():
    devs = catalogue()
    assert len(devs) >= 15
    assert REQUIRED_DEVICES <= set(devs)
    for d in devs.values():
        assert d.memory_bytes > 0 and d.bandwidth > 0 and d.peak_flops["fp32"] > 0
        assert d.source, d.name
    # dense, never the sparse figure: the H100 SXM's BF16 is 989.4 TFLOP/s, not 1,979
    assert get_device("h100-sxm").peak_flops["bf16"] == pytest.approx(989.4e12)


@pytest.mark.parametrize("text,value", [("6GiB", 6 * 2**30), ("6GB", 6 * 10**9),
                                        ("6 GB", 6 * 10**9), ("512MiB", 512 * 2**20),
                                        ("1.5GiB", 3 * 2**29), ("1000", 1000)])
def test_parse_bytes(text, value):
    assert parse_bytes(text) == value


@pytest.mark.parametrize("bad", ["banana", "6 GX", "-1GB", "0", ""])
def test_parse_bytes_rejects(bad):
    with pytest.raises(ac.ConfigError, match="memory size"):
        parse_bytes(bad)


def test_max_fitting_is_exact_at_the_boundary():
    f = lambda n: 1000 + 37 * n + 3 * n * n  # noqa: E731
    for budget in (1040, 5000, 123_456, 10**9):
        n = max_fitting(f, budget)
        assert f(n) <= budget < f(n + 1)
    assert max_fitting(f, 10) is None


def test_max_batch_and_seq_len_are_exact():
    dev = get_device("jetson-orin-nano-8gb")
    budget = int(dev.memory_bytes * 0.9)
    n = ac.max_batch("standard", dev, d_model=512, heads=8, seq_len=512)
    at = lambda **kw: ac.estimate("standard", d_model=512, heads=8, **kw).metrics  # noqa: E731
    assert at(seq_len=512, batch=n)["train_peak_bytes"] <= budget
    assert at(seq_len=512, batch=n + 1)["train_peak_bytes"] > budget
    ell = ac.max_seq_len("super", dev, d_model=512, heads=8)
    sup = lambda L: ac.estimate("super", d_model=512, heads=8, seq_len=L).metrics  # noqa: E731
    assert sup(ell)["train_peak_bytes"] <= budget < sup(ell + 1)["train_peak_bytes"]


def test_fit_inference_with_kv_cache():
    e = ac.estimate("standard", d_model=512, mode="infer", device="rpi5-8gb",
                    decode_tokens=1000)
    assert e.fit.required_bytes == (e.metrics["inference_peak_bytes"]
                                    + 1000 * e.metrics["kv_cache_bytes_per_token"])
    with pytest.raises(ac.UnsupportedError, match="no KV cache"):
        ac.estimate("super", mode="infer", device="rpi5-8gb", decode_tokens=10)


def test_custom_budget_and_headroom():
    dev = custom_device("6GiB", peak_tflops=10, bandwidth_gbs=100)
    m = ac.estimate("standard").metrics
    r = fit(m, dev, "train", headroom=0.25)
    assert r.budget_bytes == int(6 * 2**30 * 0.75) and r.fits
    with pytest.raises(ac.ConfigError, match="headroom"):
        fit(m, dev, "train", headroom=1.5)


def test_roofline_bounds():
    """Tiny batch-1 decode-like work is memory-bound; big matmuls are compute-bound."""
    dev = get_device("a100-80gb")
    small = ac.estimate("standard", d_model=256, heads=4, seq_len=1, device=dev, mode="infer")
    assert small.roofline.bound == "memory"
    big = ac.estimate("standard", d_model=4096, heads=32, seq_len=4096, batch=8, dtype="bf16",
                      device=dev, mode="infer", impl="fused")
    assert big.roofline.bound == "compute"
    # ideal latency can never beat pure compute or pure traffic
    r = big.roofline
    assert r.latency_s >= max(r.flops / dev.peak_flops["bf16"], r.bytes / dev.bandwidth) * 0.999
    t4 = ac.estimate("standard", dtype="bf16", device="t4", mode="infer")
    assert any("no bf16" in n for n in t4.roofline.notes)


def test_linformer_crossover_with_fixed_k():
    """With k fixed, Linformer's forward FLOPs drop below standard's where
    8bℓd² + 8bℓkd < 8bℓd² + 4bℓ²d + (softmax etc.), i.e. near ℓ = 2k."""
    rows = ac.crossover("linformer", "standard", "flops_fwd_matmul", d_model=512, k=128,
                        lo=128, hi=4096)
    assert len(rows) == 1 and rows[0]["after"] == "a < b"
    ell = rows[0]["at"]
    assert ell == 256 + 1  # matmul FLOPs are equal at exactly ℓ = 2k
    for v in (ell - 1, ell):
        a = ac.estimate("linformer", d_model=512, k=128, seq_len=v).metrics["flops_fwd_matmul"]
        b = ac.estimate("standard", d_model=512, seq_len=v).metrics["flops_fwd_matmul"]
        assert (a < b) == (v == ell)


def test_roofline_needs_figures():
    with pytest.raises(ac.ConfigError, match="peak FLOP/s and a bandwidth"):
        roofline([], custom_device("1GiB"), "fp32")


def test_calibrated_latency_from_a_validation_summary(tmp_path):
    import json

    from attncost.budget import LATENCY_TERMS, calibrated_latency, latency_features, load_calibration

    coef = dict(zip(LATENCY_TERMS, (1e-11, 1e-10, 1e-10, 2e-5, 1e-5, 0.0)))
    f = tmp_path / "summary.json"
    f.write_text(json.dumps({"latency_model": {"latency_fwd_s": coef, "latency_fwdbwd_s": coef}}))
    model = load_calibration(f)
    e = ac.estimate("standard", d_model=64, heads=4, seq_len=32)
    feats = latency_features(e.ops)["latency_fwd_s"]
    assert calibrated_latency(e.ops, model, "infer") == pytest.approx(
        sum(c * x for c, x in zip(coef.values(), feats)))
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    with pytest.raises(ac.ConfigError, match="no latency_model"):
        load_calibration(bad)
