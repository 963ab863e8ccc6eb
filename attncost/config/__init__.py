"""The configuration layer: what a user describes, validated in one place.

* :mod:`~attncost.config.attention` — :class:`AttentionConfig` (one layer), :class:`Dims`,
  :class:`Options` and the default rules of every dimension.
* :mod:`~attncost.config.model` — :class:`ModelConfig` (a whole transformer).
* :mod:`~attncost.config.presets` — the shipped models.

Nothing here knows how costs are computed or how a model is run.
"""

from .attention import (DEFAULT_RULES, DIM_FIELDS, IMPLEMENTATIONS, OPTIMIZERS, SHARING_MODES,
                        SYMBOL_NAMES, AttentionConfig, Dims, Options, check_choices,
                        default_kv_heads, option, resolve_dims, symbolic_dims)
from .model import FFN_ACTIVATIONS, NORMS, POOLING, ModelConfig
from .presets import preset, preset_names

__all__ = [
    "AttentionConfig", "DEFAULT_RULES", "DIM_FIELDS", "Dims", "FFN_ACTIVATIONS",
    "IMPLEMENTATIONS", "ModelConfig", "NORMS", "OPTIMIZERS", "Options", "POOLING",
    "SHARING_MODES", "SYMBOL_NAMES", "check_choices", "default_kv_heads", "option", "preset",
    "preset_names", "resolve_dims", "symbolic_dims",
]
