"""``attncost paper-claims``: the seed paper's cost and speed claims, checked.

Hosseini et al., arXiv 2403.01643. Each claim is stated, then what attncost's model says and
what real runs on this machine measure (parameters counted from the PyTorch modules, matrix
multiplications counted by dispatch, forward times by ``torch.utils.benchmark`` on one thread,
best of three medians), and a verdict. Writes ``reports/paper-claims.md`` and a plot.
"""

from __future__ import annotations

import platform
from pathlib import Path
from typing import Any

from .plots import colour, new_figure, save, styled

PAPER_VARIANTS = ("standard", "optimised", "efficient", "super")
#: (label, dims): the paper's IMDB model, the size the issue asks about, a long sequence.
SPEED_CONFIGS = [
    ("IMDB size (d 32, 4 heads, ℓ 32, batch 64)", dict(d_model=32, heads=4, seq_len=32, batch=64)),
    ("d 512, 8 heads, ℓ 512, batch 1", dict(d_model=512, heads=8, seq_len=512, batch=1)),
    ("d 512, 8 heads, ℓ 2048, batch 1", dict(d_model=512, heads=8, seq_len=2048, batch=1)),
]


def count_matmuls(variant: str) -> int:
    """Matrix multiplications one head performs (W_O excluded), counted by dispatch."""
    import torch
    from torch.utils._python_dispatch import TorchDispatchMode

    from .config import AttentionConfig
    from .nn import build_attention

    aten = torch.ops.aten
    kinds = {aten.mm.default, aten.bmm.default, aten.addmm.default, aten.baddbmm.default}

    class Count(TorchDispatchMode):
        n = 0

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            if func in kinds:
                Count.n += 1
            return func(*args, **(kwargs or {}))

    module = build_attention(variant, AttentionConfig(d_model=16, heads=1, seq_len=8))
    with torch.no_grad(), Count():
        module(torch.randn(1, 8, 16))
    return Count.n - 1  # the output projection W_O


def forward_time(variant: str, impl: str, dims: dict[str, int]) -> float:
    import torch
    import torch.utils.benchmark as benchmark

    from .config import AttentionConfig
    from .nn import build_attention

    torch.manual_seed(0)
    cfg = AttentionConfig(impl=impl, **dims)
    module = build_attention(variant, cfg).eval()
    x = torch.randn(cfg.batch, cfg.seq_len, cfg.d_model)

    def fwd() -> None:
        with torch.no_grad():
            module(x)

    return min(benchmark.Timer(stmt="fn()", globals={"fn": fwd}, num_threads=1)
               .blocked_autorange(min_run_time=0.3).median for _ in range(3))


def collect() -> dict[str, Any]:
    from .api import estimate
    from .config import AttentionConfig
    from .measure import count_params
    from .nn import build_attention

    out: dict[str, Any] = {"params": [], "matmuls": {}, "speed": []}
    for label, dims in [("the paper's IMDB layer (d 32, ℓ 32, nn.Linear biases)",
                         dict(d_model=32, heads=4, seq_len=32, bias=True)),
                        ("d 512, ℓ 512 (ℓ = d)", dict(d_model=512, heads=8, seq_len=512)),
                        ("d 512, ℓ 1024 (ℓ = 2d)", dict(d_model=512, heads=8, seq_len=1024))]:
        cfg = AttentionConfig(**dims)
        row = {"label": label}
        for v in PAPER_VARIANTS:
            w, b = count_params(build_attention(v, cfg))
            row[v] = {"measured": w + b, "model": estimate(v, cfg).metrics["params"]}
        out["params"].append(row)
    for v in PAPER_VARIANTS:
        out["matmuls"][v] = count_matmuls(v)
    for label, dims in SPEED_CONFIGS:
        cfg = AttentionConfig(**dims)
        flops = {v: estimate(v, cfg).metrics["flops_fwd"] for v in PAPER_VARIANTS}
        for impl in ("materialised", "fused"):
            times = {v: forward_time(v, impl, dims) for v in PAPER_VARIANTS}
            out["speed"].append({"label": label, "impl": impl, "times": times, "flops": flops})
    return out


def plot(data: dict[str, Any], path: Path) -> None:
    """Write the speed figure (:func:`speed_figure`) to ``path``."""
    save(speed_figure(data), path)


@styled
def speed_figure(data: dict[str, Any]) -> Any:
    """Measured forward speed-ups over standard attention beside the model's FLOP ratios."""
    rows = data["speed"]
    fig, ax = new_figure(figsize=(11, 5))
    width = 0.12
    variants = PAPER_VARIANTS[1:]
    for i, r in enumerate(rows):
        for j, v in enumerate(variants):
            measured = r["times"]["standard"] / r["times"][v]
            predicted = r["flops"]["standard"] / r["flops"][v]
            xpos = i + (j - 1) * 2 * width
            ax.bar(xpos - width / 2, measured, width, color=colour(v),
                   label=f"{v}: measured" if i == 0 else None)
            ax.bar(xpos + width / 2, predicted, width, color=colour(v), alpha=0.4, hatch="//",
                   label=f"{v}: FLOP ratio (model)" if i == 0 else None)
    ax.axhline(1.0, color="0.3", lw=1)
    ax.axhline(2.0, color="0.5", lw=1, ls=":", label="paper: up to 2× (Efficient)")
    ax.set_xticks(range(len(rows)))
    short = {label: label.replace(" (", "\n(").replace(", batch", "\nbatch")
             for label, _ in SPEED_CONFIGS}
    ax.set_xticklabels([f"{short.get(r['label'], r['label'])}\n{r['impl']}" for r in rows],
                       fontsize=7)
    ax.set_ylim(0, 2.6)
    ax.set_ylabel("forward speed-up over standard (×)")
    ax.set_title("Seed paper's variants vs standard attention: forward speed on this CPU "
                 "(1 thread)")
    ax.legend(fontsize=7, ncol=4, loc="upper center")
    fig.tight_layout()
    return fig


def markdown(data: dict[str, Any], plot_name: str) -> str:
    import torch

    L: list[str] = []
    add = L.append
    add("# The seed paper's cost and speed claims, checked")
    add("")
    add("Paper: Hosseini, Hosseini, Castro, Purver, *Cost-Effective Attention Mechanisms for Low "
        "Resource Settings* (arXiv 2403.01643; v1 *You Need to Pay Better Attention*). Generated "
        f"by `attncost paper-claims` on {platform.machine()} CPU, torch {torch.__version__}, "
        "one thread. Parameters are counted from attncost's PyTorch modules; times are "
        "`torch.utils.benchmark` forward medians (best of three), no gradient.")
    add("")
    add("## 1. Parameters: Optimised 25 % fewer, Efficient 50 % fewer, Super 25 % fewer")
    add("")
    add("| layer | standard | optimised | efficient | super | model = measured? |")
    add("|---|---:|---:|---:|---:|---|")
    for row in data["params"]:
        std = row["standard"]["measured"]
        cells = [f"{std:,}"] + [f"{row[v]['measured']:,} ({row[v]['measured'] / std - 1:+.1%})"
                                for v in PAPER_VARIANTS[1:]]
        same = all(row[v]["measured"] == row[v]["model"] for v in PAPER_VARIANTS)
        add(f"| {row['label']} | " + " | ".join(cells) + f" | {'yes' if same else 'NO'} |")
    add("")
    add("**Verdict.** Optimised (−25 %) and Efficient (−50 %) hold exactly at every size (up to "
        "biases). Super's \"25 % fewer\" holds only when ℓ = d_model: its ℓ×ℓ kernel makes it "
        "smaller than standard only for ℓ < √2·d_model (≈ 1.41·d), and larger beyond — at "
        "ℓ = 2d it has 50 % *more* parameters. The claim is true for the paper's IMDB model "
        "(ℓ = d = 32) and does not generalise to long sequences.")
    add("")
    add("## 2. Matrix multiplications per head: Optimised one fewer, Efficient two fewer")
    add("")
    add("| variant | matmuls per head (counted by dispatch, W_O excluded) |")
    add("|---|---:|")
    for v, n in data["matmuls"].items():
        add(f"| {v} | {n} |")
    m = data["matmuls"]
    ok = m["optimised"] == m["standard"] - 1 and m["efficient"] == m["standard"] - 2
    add("")
    add(f"**Verdict.** {'Holds' if ok else 'Does NOT hold'}: standard {m['standard']}, "
        f"Optimised {m['optimised']}, Efficient {m['efficient']}. Super adds W_A·X back "
        f"({m['super']}).")
    add("")
    add("## 3. Speed: Efficient \"up to twice as fast\"; Super faster than standard")
    add("")
    add("| configuration | implementation | standard | optimised | efficient | super | "
        "efficient FLOP ratio (model) |")
    add("|---|---|---:|---:|---:|---:|---:|")
    best = 0.0
    for r in data["speed"]:
        t = r["times"]
        cells = [f"{t['standard'] * 1e3:.3f} ms"] + [
            f"{t[v] * 1e3:.3f} ms ({t['standard'] / t[v]:.2f}×)" for v in PAPER_VARIANTS[1:]]
        fr = r["flops"]["standard"] / r["flops"]["efficient"]
        best = max(best, t["standard"] / t["efficient"])
        add(f"| {r['label']} | {r['impl']} | " + " | ".join(cells) + f" | {fr:.2f}× |")
    add("")
    target = next(r for r in data["speed"] if r["label"].startswith("d 512, 8 heads, ℓ 512")
                  and r["impl"] == "materialised")
    sp = target["times"]["standard"] / target["times"]["efficient"]
    add(f"**Verdict.** The largest Efficient speed-up measured here is {best:.2f}×; at d_model "
        f"512, ℓ 512 (materialised) it is {sp:.2f}×, against a FLOP ratio of "
        f"{target['flops']['standard'] / target['flops']['efficient']:.2f}×. "
        + ("\"Up to twice as fast\" is reached on this CPU." if best >= 2 else
           "\"Up to twice as fast\" is **not** reached on this CPU: removing W_K and W_V "
           "removes 2ℓd² of the 4ℓd² + 2ℓ²d projection and core MACs, so the ceiling is "
           "(4d + 2ℓ)/(2d + 2ℓ) — 2× only as ℓ/d → 0 — and the ℓ² core, which no variant "
           "changes, dominates as sequences grow."))
    add("By FLOPs, Super costs more than Efficient everywhere (W_A·X adds ℓ²·d MACs) and less "
        "than standard only while ℓ < 2·d_model; measured differences smaller than about 10 % "
        "are within this shared machine's timing noise.")
    add("")
    add(f"![speed-ups]({plot_name})")
    add("")
    return "\n".join(L) + "\n"
