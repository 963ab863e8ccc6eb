"""attncost: what an attention layer costs, exactly, before you train anything.

The public API (torch is never imported here):

* :func:`estimate`, :func:`estimate_model`, :func:`compare`, :func:`compare_variants`,
  :func:`to_frame`
* :func:`formula` (sympy), :func:`sweep` / :func:`evaluate` (vectorised numpy)
* :func:`max_batch`, :func:`max_seq_len`, :func:`fit_table`, :func:`crossover`;
  :mod:`attncost.devices`
* :class:`AttentionConfig`, :class:`ModelConfig`, :func:`preset`
* :func:`register` to add a variant (see ``attncost.variants``); :data:`attncost.metrics.METRICS`

Names are loaded on first use, so importing a submodule (``attncost.nn``, the PyTorch side)
does not import the cost model.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.2.0"

#: public name → the module that defines it
_EXPORTS = {
    **{n: "api" for n in ("Comparison", "Estimate", "FitRow", "compare", "compare_model",
                          "compare_variants",
                          "crossover", "DecodeCosts", "decode_costs", "dims_arrays", "estimate",
                          "estimate_model", "evaluate",
                          "fit_table", "formula", "max_batch", "max_seq_len", "sweep",
                          "to_frame")},
    **{n: "config" for n in ("AttentionConfig", "ModelConfig", "from_hf_config", "preset",
                             "preset_names", "swap_attention")},
    **{n: "errors" for n in ("AttncostError", "ConfigError", "UnknownNameError",
                             "UnsupportedError")},
    "register": "variants",
}

__all__ = sorted([*_EXPORTS, "variant_names", "__version__"])


def __getattr__(name: str) -> Any:
    if name == "variant_names":
        return importlib.import_module(".variants", __name__).names
    if name in _EXPORTS:
        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module 'attncost' has no attribute {name!r}")


def __dir__() -> list[str]:
    return __all__
