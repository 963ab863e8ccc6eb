"""attncost: what an attention layer costs, exactly, before you train anything.

The public API (torch is never imported here):

* :func:`estimate`, :func:`estimate_model`, :func:`compare`, :func:`to_frame`
* :func:`formula` (sympy), :func:`sweep` / :func:`evaluate` (vectorised numpy)
* :func:`max_batch`, :func:`max_seq_len`, :func:`crossover`; :mod:`attncost.devices`
* :class:`AttentionConfig`, :class:`ModelConfig`, :func:`preset`
* :func:`register` to add a variant (see ``attncost.variants``)
"""

from .api import (Estimate, compare, crossover, dims_arrays, estimate, estimate_model, evaluate,
                  formula, max_batch, max_seq_len, sweep, to_frame)
from .config import AttentionConfig
from .errors import AttncostError, ConfigError, UnknownNameError, UnsupportedError
from .model import ModelConfig, preset, preset_names
from .variants import names as variant_names
from .variants import register

__version__ = "0.1.0"

__all__ = [
    "AttentionConfig", "AttncostError", "ConfigError", "Estimate", "ModelConfig",
    "UnknownNameError", "UnsupportedError", "compare", "crossover", "dims_arrays", "estimate",
    "estimate_model", "evaluate", "formula", "max_batch", "max_seq_len", "preset",
    "preset_names", "register", "sweep", "to_frame", "variant_names", "__version__",
]
