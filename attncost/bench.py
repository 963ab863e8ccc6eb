"""``attncost bench``: the speed goals of the cost model, measured in one run.

1. Cold-process time of ``attncost estimate --d-model 512 --variant super`` (new Python
   process each time; median and spread over ``runs``). Goal ≤ 0.5 s.
2. Vectorised sweep: configurations per second for the headline metrics of the JSON
   contract (:func:`attncost.metrics.headline`) of standard attention over random valid
   configurations (lambdified formulas, int64), after one warm-up call. Goal ≥ 10,000,000 / s.
3. Depth scaling: every preset at 32, 64 and 128 blocks, timed cold (the first estimate in a
   new Python process, after its imports): operations and seconds, which should both grow
   linearly with depth. Goal: any preset at 128 layers ≤ 0.3 s.
4. attncost vs torch's FlopCounterMode on the same configuration: the median time of one
   ``attncost.estimate`` (every metric, exact) against building a standard attention module
   and counting one forward under FlopCounterMode (CPU, explicit-matmul path so the count is
   right). Both FLOP counts are printed side by side. Goal ≥ 20× faster.

Figures are ratios and rates measured in this run on this machine; nothing is asserted.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from typing import Any

DEPTHS = (32, 64, 128)
_DEPTH_SCRIPT = """
import json, sys, time
import attncost
out = {}
for name in attncost.preset_names():
    t = time.perf_counter()
    e = attncost.estimate_model(name, layers=int(sys.argv[1]))
    out[name] = [len(e.ops), time.perf_counter() - t]
print(json.dumps(out))
"""


def _median_iqr(xs: list[float]) -> tuple[float, float]:
    xs = sorted(xs)
    q = statistics.quantiles(xs, n=4) if len(xs) >= 2 else [xs[0]] * 3
    return statistics.median(xs), q[2] - q[0]


def cold_estimate(runs: int) -> list[float]:
    cmd = [sys.executable, "-m", "attncost", "estimate", "--d-model", "512", "--variant",
           "super", "--format", "json"]
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "0"}
    subprocess.run(cmd, check=True, capture_output=True, env=env)  # warm the disk cache
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True, env=env)
        times.append(time.perf_counter() - t)
    return times


def sweep_rate(configs: int, repeats: int = 3) -> tuple[float, float]:
    """(configs per second, seconds per repeat) for the contract metrics of standard."""
    import numpy as np

    from .api import evaluate
    from .config import DIM_FIELDS
    from .metrics import headline

    rng = np.random.default_rng(0)
    heads = rng.choice([1, 2, 4, 8, 16], configs)
    d_head = rng.choice([16, 32, 64, 128], configs)
    seq = rng.integers(1, 8193, configs)
    dims: dict[str, Any] = {
        "batch": rng.integers(1, 65, configs), "seq_len": seq, "d_model": heads * d_head,
        "heads": heads, "d_head": d_head, "kv_heads": heads, "k": np.maximum(1, seq // 4),
        "max_seq_len": seq, "kv_latent": 4 * d_head, "q_latent": 12 * d_head,
        "rope_dim": np.maximum(1, d_head // 2)}
    assert set(dims) == set(DIM_FIELDS)
    contract = headline()
    evaluate("standard", {k: v[:10] for k, v in dims.items()}, metrics=contract)  # lambdify
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        evaluate("standard", dims, metrics=contract)
        best = min(best, time.perf_counter() - t)
    return configs / best, best


def flop_counter_ratio(d_model: int = 512, heads: int = 8, seq_len: int = 256,
                       repeats: int = 15) -> dict[str, Any]:
    """Median time of attncost.estimate vs FlopCounterMode on one standard-attention config."""
    import torch
    import torch.nn.functional as F
    from torch.utils.flop_counter import FlopCounterMode

    from .api import estimate

    torch.set_num_threads(1)

    class Attention(torch.nn.Module):  # explicit-matmul standard attention, batch-first
        def __init__(self) -> None:
            super().__init__()
            self.q = torch.nn.Linear(d_model, d_model, bias=False)
            self.k = torch.nn.Linear(d_model, d_model, bias=False)
            self.v = torch.nn.Linear(d_model, d_model, bias=False)
            self.o = torch.nn.Linear(d_model, d_model, bias=False)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            b, n, _ = x.shape
            split = lambda t: t.view(b, n, heads, -1).transpose(1, 2)  # noqa: E731
            q, k, v = split(self.q(x)), split(self.k(x)), split(self.v(x))
            p = F.softmax(q @ k.transpose(-2, -1) / (d_model // heads) ** 0.5, dim=-1)
            return self.o((p @ v).transpose(1, 2).reshape(b, n, d_model))

    def torch_count() -> int:
        module = Attention()
        x = torch.randn(1, seq_len, d_model)
        with FlopCounterMode(display=False) as counter:
            module(x)
        return counter.get_total_flops()

    def attncost_count() -> int:
        return estimate("standard", d_model=d_model, heads=heads, seq_len=seq_len,
                        batch=1).metrics["flops_fwd_matmul"]

    torch_count(), attncost_count()  # warm-up
    t_torch, t_ours = [], []
    for _ in range(repeats):
        t = time.perf_counter()
        n_torch = torch_count()
        t_torch.append(time.perf_counter() - t)
        t = time.perf_counter()
        n_ours = attncost_count()
        t_ours.append(time.perf_counter() - t)
    return {"torch_s": statistics.median(t_torch), "attncost_s": statistics.median(t_ours),
            "torch_flops": n_torch, "attncost_flops": n_ours, "config":
            f"standard, d_model {d_model}, heads {heads}, seq_len {seq_len}, batch 1"}


def depth_scaling(depths: tuple[int, ...] = DEPTHS) -> dict[int, dict[str, list[float]]]:
    """Per depth, per preset: [operations, seconds of the first estimate in a new process]."""
    import json

    out = {}
    for depth in depths:
        r = subprocess.run([sys.executable, "-c", _DEPTH_SCRIPT, str(depth)], check=True,
                           capture_output=True, text=True)
        out[depth] = json.loads(r.stdout)
    return out


def run(runs: int = 11, configs: int = 4_000_000) -> None:
    print(f"attncost bench — Python {sys.version.split()[0]}, {os.cpu_count()} CPUs")
    times = cold_estimate(runs)
    med, iqr = _median_iqr(times)
    print(f"1. cold `attncost estimate --d-model 512 --variant super`: median {med:.3f} s, "
          f"IQR {iqr:.3f} s over {runs} processes (goal <= 0.5 s)")
    rate, secs = sweep_rate(configs)
    from .metrics import headline

    print(f"2. vectorised sweep: {rate:,.0f} configurations/s ({configs:,} configs × "
          f"{len(headline())} metrics in {secs:.3f} s; goal >= 10,000,000/s)")
    scaling = depth_scaling()
    deepest = max(scaling)
    worst = max(scaling[deepest].items(), key=lambda kv: kv[1][1])
    print(f"3. depth scaling (first estimate in a new process): slowest preset at {deepest} "
          f"layers: {worst[0]} {worst[1][1]:.3f} s, {worst[1][0]:,.0f} ops (goal <= 0.3 s)")
    for name in scaling[deepest]:
        cells = ", ".join(f"{d} layers {scaling[d][name][1] * 1e3:.0f} ms "
                          f"({scaling[d][name][0]:,.0f} ops)" for d in sorted(scaling))
        print(f"   {name}: {cells}")
    try:
        r = flop_counter_ratio()
    except ImportError:
        print("4. FlopCounterMode ratio: skipped (torch is not installed; "
              "pip install 'attncost[torch]')")
        return
    ratio = r["torch_s"] / r["attncost_s"]
    print(f"4. {r['config']}: attncost.estimate {r['attncost_s'] * 1e3:.3f} ms vs "
          f"FlopCounterMode {r['torch_s'] * 1e3:.3f} ms → {ratio:,.1f}× faster (goal >= 20×); "
          f"matmul FLOPs: attncost {r['attncost_flops']:,}, FlopCounterMode "
          f"{r['torch_flops']:,} ({'equal' if r['attncost_flops'] == r['torch_flops'] else 'DIFFERENT'})")
