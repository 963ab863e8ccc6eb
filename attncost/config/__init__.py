"""The configuration layer: what a user describes, validated in one place.

* :mod:`~attncost.config.attention` — :class:`AttentionConfig` (one layer), :class:`Dims`,
  :class:`Options` and the default rules of every dimension.
* :mod:`~attncost.config.model` — :class:`ModelConfig` (a whole transformer).
* :mod:`~attncost.config.presets` — the shipped models (attncost's TOML table and Hugging Face
  ``config.json`` files), and ``hf:PATH``.
* :mod:`~attncost.config.hf` — :func:`from_hf_config`: a Hugging Face ``config.json`` read
  without network or transformers, one reader per model family.
* :mod:`~attncost.config.swap` — :func:`swap_attention`: some blocks' variants replaced.

Nothing here knows how costs are computed or how a model is run.
"""

from .attention import (DEFAULT_RULES, DIM_FIELDS, IMPLEMENTATIONS, OPTIMIZERS, SHARING_MODES,
                        SYMBOL_NAMES, AttentionConfig, Dims, Options, check_choices,
                        default_kv_heads, option, resolve_dims, symbolic_dims)
from .hf import from_hf_config
from .model import FFN_ACTIVATIONS, NORMS, POOLING, ModelConfig
from .presets import preset, preset_names
from .swap import parse_attention_spec, swap_attention

__all__ = [
    "AttentionConfig", "DEFAULT_RULES", "DIM_FIELDS", "Dims", "FFN_ACTIVATIONS",
    "IMPLEMENTATIONS", "ModelConfig", "NORMS", "OPTIMIZERS", "Options", "POOLING",
    "SHARING_MODES", "SYMBOL_NAMES", "check_choices", "default_kv_heads", "from_hf_config",
    "option", "parse_attention_spec", "preset", "preset_names", "resolve_dims",
    "swap_attention", "symbolic_dims",
]
