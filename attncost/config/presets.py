"""Shipped whole-model presets (``data/presets.toml``), each with its source and published
parameter count (the tests check attncost's count equals it)."""

from __future__ import annotations

import tomllib
from functools import lru_cache
from importlib import resources
from typing import Any

from ..errors import ConfigError, unknown
from .attention import AttentionConfig
from .model import ModelConfig


@lru_cache(maxsize=1)
def _preset_table() -> dict[str, dict[str, Any]]:
    text = resources.files("attncost.data").joinpath("presets.toml").read_text()
    return tomllib.loads(text)


def preset_names() -> list[str]:
    return list(_preset_table())


def preset(name: str, **overrides: Any) -> ModelConfig:
    """A shipped model (``gpt2``, ``bert-base``, ``vit-b16``, ``llama2-7b``, ``seed-imdb``...)
    with optional field overrides (model or attention fields; ``layers`` a number of blocks
    or a list of variants; ``variant`` for every block)."""
    table = _preset_table()
    if not isinstance(name, str) or name not in table:
        raise unknown("preset", name, table)
    spec = dict(table[name])
    attn = AttentionConfig(**spec.pop("attention"))
    blocks = spec.pop("n_layers")
    variant = spec.pop("variant", "standard")
    m = ModelConfig(name=name, layers=(variant,) * blocks, attention=attn, **spec)
    if "n_layers" in overrides:  # the presets file's name for a number of blocks
        if "layers" in overrides:
            raise ConfigError("give layers or n_layers, not both")
        overrides["layers"] = overrides.pop("n_layers")
    return m.with_(**overrides) if overrides else m
