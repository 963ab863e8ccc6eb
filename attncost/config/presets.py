"""Shipped whole-model presets — one registry, two kinds of entry — and ``hf:PATH``.

* ``data/presets.toml``: models described in attncost's own fields, each with its source and
  published parameter count (the tests check attncost's count equals it).
* ``data/hf/<name>/config.json``: a Hugging Face ``config.json`` as published, read by
  :func:`~attncost.config.hf.from_hf_config`, with its sidecar ``source.json`` (where the file
  comes from, the model card's published size, and the reference count of the class
  ``transformers`` builds from it, with its version). These default to the model's own dtype
  (``torch_dtype``) and context length.

``preset("hf:/path/to/config.json")`` reads any config file the same way.
"""

from __future__ import annotations

import json
import tomllib
from functools import lru_cache
from importlib import resources
from typing import Any, Callable

from ..errors import ConfigError, unknown
from .attention import AttentionConfig
from .model import ModelConfig

#: The prefix of a path to a Hugging Face ``config.json`` given where a preset name goes.
HF_PREFIX = "hf:"


@lru_cache(maxsize=1)
def _preset_table() -> dict[str, dict[str, Any]]:
    text = resources.files("attncost.data").joinpath("presets.toml").read_text()
    return tomllib.loads(text)


def _hf_dir() -> Any:
    return resources.files("attncost.data").joinpath("hf")


@lru_cache(maxsize=1)
def _registry() -> dict[str, Callable[[], ModelConfig]]:
    """Every preset name → a function building it: the TOML table first, then the shipped
    Hugging Face configs (a name in both is refused)."""
    out: dict[str, Callable[[], ModelConfig]] = {
        name: (lambda name=name: _toml_preset(name)) for name in _preset_table()}
    root = _hf_dir()
    for entry in sorted(root.iterdir(), key=lambda e: e.name) if root.is_dir() else ():
        if not entry.joinpath("config.json").is_file():
            continue
        if entry.name in out:
            raise ConfigError(f"preset {entry.name!r} is defined twice (presets.toml and "
                              f"data/hf/{entry.name})")
        out[entry.name] = lambda name=entry.name: _hf_preset(name)
    return out


def preset_names() -> list[str]:
    """Every shipped preset: the TOML ones, then the Hugging Face configs."""
    return list(_registry())


def hf_preset_names() -> list[str]:
    """The shipped presets that are Hugging Face configs (``data/hf/<name>/config.json``)."""
    return [n for n in _registry() if n not in _preset_table()]


def _toml_preset(name: str) -> ModelConfig:
    spec = dict(_preset_table()[name])
    attn = AttentionConfig(**spec.pop("attention"))
    blocks = spec.pop("n_layers")
    variant = spec.pop("variant", "standard")
    return ModelConfig(name=name, layers=(variant,) * blocks, attention=attn, **spec)


def hf_sidecar(name: str) -> dict[str, Any]:
    """The ``source.json`` of shipped Hugging Face preset ``name``."""
    return json.loads(_hf_dir().joinpath(name, "source.json").read_text(encoding="utf-8"))


def _hf_preset(name: str) -> ModelConfig:
    from .hf import from_hf_config

    entry = _hf_dir().joinpath(name)
    config = json.loads(entry.joinpath("config.json").read_text(encoding="utf-8"))
    side = hf_sidecar(name)
    ref = side["reference"]
    published = side.get("published_params") or {}
    if published.get("value"):
        card = f"; published: {published['value']}"
    elif published.get("unverified_recollection"):
        card = f"; published (recalled, unverified): {published['unverified_recollection']}"
    else:
        card = ""
    source = (f"{side['hub_id']} config.json ({side['config']['status']}); "
              f"{ref['what']} = {ref['count']:,} with transformers "
              f"{ref['transformers_version']}{card}")
    return from_hf_config(config, name=name, source=source, published_params=ref["count"])


def preset(name: str, **overrides: Any) -> ModelConfig:
    """A shipped model (``gpt2``, ``bert-base``, ``vit-b16``, ``llama2-7b``, ``seed-imdb``, the
    Hugging Face configs ``llama-3.1-8b``, ``mixtral-8x7b-v0.1``, ``deepseek-v3``... — see
    :func:`preset_names`) or ``hf:PATH`` (any Hugging Face ``config.json``), with optional
    field overrides (model or attention fields; ``layers`` a number of blocks or a list of
    variants; ``variant`` for every block)."""
    if isinstance(name, str) and name.startswith(HF_PREFIX):
        from .hf import from_hf_config

        path = name[len(HF_PREFIX):]
        if not path:
            raise ConfigError("hf: needs a path to a config.json, e.g. hf:./config.json")
        m = from_hf_config(path)
    else:
        registry = _registry()
        if not isinstance(name, str) or name not in registry:
            raise unknown("preset", name, registry)
        m = registry[name]()
    if "n_layers" in overrides:  # the presets file's name for a number of blocks
        if "layers" in overrides:
            raise ConfigError("give layers or n_layers, not both")
        overrides["layers"] = overrides.pop("n_layers")
    return m.with_(**overrides) if overrides else m
