"""The seed paper's question on real models: what would Optimised, Efficient and Super
attention (Hosseini et al., arXiv 2403.01643) save in each shipped preset?

:func:`what_if_table` estimates every shipped preset as published and with every block's
attention replaced by each of the three variants (:func:`~attncost.config.swap_attention`),
at the preset's own context length, dtype and batch 1, and writes one Markdown table:
parameters, FLOPs of a training step (forward + backward), the training and inference peaks
and the KV cache at that length, each with its change against the published attention.
Attention runs fused (flash-style SDPA) so that the ℓ×ℓ scores, identical for every variant,
do not drown the differences — except where soft-capping needs the materialised path
(Gemma-2). The three variants slice X into heads of d_model/heads columns: where a model sets
another head width (Gemma-2, Qwen3, DeepSeek), it becomes d_model/heads for them.

Super's W_A is L×L per block (L the context length): the table says where Super is
**impossible** (W_A alone holds more weights than the whole published model) or **dearer**
(ℓ ≥ √2·d_model: 2·d_model² + L² ≥ 4·d_model², the paper's break-even with standard
attention). Nothing here is measured: every number is attncost's exact count.
"""

from __future__ import annotations

import math
from typing import Any

from .config import ModelConfig, preset, preset_names, swap_attention
from .errors import AttncostError
from .units import human_bytes, human_count

#: The variants of the seed paper, in the table's order.
PAPER_VARIANTS = ("optimised", "efficient", "super")
#: The metrics compared (one column each, with its change).
COLUMNS = (("params", "params"), ("step_flops", "FLOPs/step"),
           ("train_peak_bytes", "train peak"), ("inference_peak_bytes", "infer peak"),
           ("kv_cache_bytes", "KV cache @ℓ"))


def _base(name: str) -> ModelConfig:
    """The preset at its context length, batch 1, fused attention where allowed."""
    m = preset(name)
    impl = "materialised" if m.attention.softcap is not None else "fused"
    return m.with_(impl=impl, batch=1)


def _metrics(m: ModelConfig) -> dict[str, Any]:
    from .api import estimate_model

    e = estimate_model(m).metrics
    return {**e, "step_flops": e["flops_fwd"] + e["flops_bwd"]}


def _swapped(m: ModelConfig, variant: str) -> tuple[ModelConfig, str]:
    """``m`` with every block's attention ``variant``; head width d_model/heads (the paper's
    slices) and no MLA/GQA-only options."""
    note = ""
    a = m.attention
    if a.d_head is not None and a.heads * a.d_head != a.d_model:
        if a.d_model % a.heads:
            raise AttncostError(f"heads={a.heads} does not divide d_model={a.d_model}")
        note = f"d_head {a.d_head} → {a.d_model // a.heads}"
    s = swap_attention(m, variant)
    return s.with_(d_head=None, latent_norm=False, direct_q=False), note


def _fmt(metric: str, v: Any) -> str:
    if v is None:
        return "—"
    if metric.endswith("bytes"):
        return human_bytes(v)
    return human_count(v, "FLOP" if metric == "step_flops" else "")


def _change(v: Any, base: Any) -> str:
    if v is None or not base:
        return "—"
    pct = 100.0 * (v - base) / base
    if abs(pct) < 0.05:
        return "0%"
    return f"{pct:+.1f}%" if abs(pct) < 1000 else f"×{v / base:,.0f}"


def _super_verdict(m: ModelConfig, base_params: int) -> str:
    big_l = m.attention.resolved_max_seq_len
    d = m.attention.d_model
    w_a = big_l * big_l * len(m.layers)
    if w_a >= base_params:
        return (f"**impossible**: W_A is {big_l:,}² per block, {human_count(w_a)} weights "
                f"in all ≥ the whole model")
    if big_l >= math.sqrt(2) * d:
        return f"**dearer**: ℓ = {big_l:,} ≥ √2·d_model = {math.sqrt(2) * d:,.0f}"
    return (f"below the break-even: ℓ = {big_l:,} < √2·d_model = {math.sqrt(2) * d:,.0f} "
            f"(fewer weights than standard MHA)")


def what_if_rows(name: str) -> list[dict[str, Any]]:
    """One row per variant (the published attention first) for preset ``name``: the
    metrics, their changes and notes."""
    m = _base(name)
    base = _metrics(m)
    published = "+".join(dict.fromkeys(m.layers))
    rows = [{"preset": name, "variant": f"{published} (published)", "metrics": base,
             "note": f"ℓ {m.attention.seq_len:,}, {m.attention.dtype}, {m.attention.impl}"}]
    for variant in PAPER_VARIANTS:
        try:
            s, note = _swapped(m, variant)
            row = {"preset": name, "variant": variant, "metrics": _metrics(s), "note": note}
        except AttncostError as exc:
            row = {"preset": name, "variant": variant, "metrics": None, "note": f"n/a: {exc}"}
        if variant == "super":
            verdict = _super_verdict(m, base["params"])
            row["note"] = "; ".join(n for n in (row["note"], verdict) if n)
        rows.append(row)
    return rows


def what_if_table(names: list[str] | None = None) -> str:
    """The Markdown report: one table over ``names`` (every shipped preset by default)."""
    names = list(names) if names is not None else preset_names()
    header = ["preset", "attention"] + [h for _, h in COLUMNS for h in (h, "Δ")] + ["notes"]
    lines = [
        "# What the seed paper's attention variants would save in real models",
        "",
        "Generated by `attncost.hf_report.what_if_table()` (exact counts, no measurement). "
        "Every shipped preset at its own context length ℓ and dtype, batch 1, training with "
        "Adam; every block's attention replaced by Optimised, Efficient or Super attention "
        "(Hosseini et al., arXiv 2403.01643); the FFN, norms, embeddings and heads unchanged. "
        "FLOPs/step = forward + backward. Attention is fused (flash-style SDPA) except for "
        "Gemma-2, whose logit soft-capping needs the materialised path. KV cache @ℓ: what a "
        "decoder keeps after ℓ tokens (sliding-window layers keep at most the window; — where "
        "the variant cannot decode: Super's W_A mixes whole sequences). Δ: change against the "
        "published attention. Super: **impossible** where W_A (ℓ² weights per block) alone "
        "outweighs the whole published model; **dearer** where ℓ ≥ √2·d_model (its weights "
        "exceed standard attention's).",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "|".join(["---", "---"] + ["---:"] * (2 * len(COLUMNS)) + ["---"]) + "|",
    ]
    for name in names:
        rows = what_if_rows(name)
        base = rows[0]["metrics"]
        for row in rows:
            cells = [name if row is rows[0] else "", row["variant"]]
            for metric, _ in COLUMNS:
                v = None if row["metrics"] is None else row["metrics"][metric]
                cells += [_fmt(metric, v),
                          "" if row is rows[0] else _change(v, base[metric])]
            cells.append(row["note"])
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def write(path: str = "reports/what-if-presets.md") -> str:
    """Write :func:`what_if_table` to ``path``; returns the text."""
    from pathlib import Path

    text = what_if_table()
    Path(path).write_text(text, encoding="utf-8")
    return text
