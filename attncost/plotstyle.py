"""One plotting style: a colour-blind-safe colour per variant (Okabe & Ito's palette, plus
greys), the same in every figure."""

from __future__ import annotations

COLOURS = {
    "standard": "#000000",
    "optimised": "#E69F00",
    "efficient": "#56B4E9",
    "super": "#009E73",
    "linformer": "#F0E442",
    "linear": "#0072B2",
    "mqa": "#D55E00",
    "gqa": "#CC79A7",
    "mla": "#7F7F7F",
    "kernel-linear": "#B8B8B8",
}
