"""Replacing the attention of some blocks of a model: ``swap_attention(model, spec)``.

``spec`` is a variant name (every block: ``"efficient"``) or comma-separated ``RANGE:VARIANT``
parts, a range being one block index or ``first-last`` (0-based, inclusive):
``"0-11:efficient,12-31:gqa"``. Blocks no range names keep their variant. Pure
configuration: the result is a :class:`ModelConfig`; nothing is costed. Variant names are
checked against the variant registry (imported when a name is checked).
"""

from __future__ import annotations

import re

from ..errors import ConfigError
from .model import ModelConfig

_RANGE = re.compile(r"^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$")


def _variant(name: str, spec: str) -> str:
    from .. import variants

    name = name.strip()
    if not name:
        raise ConfigError(f"attention spec {spec!r}: a part names no variant; write "
                          f"'VARIANT' or 'FIRST-LAST:VARIANT', e.g. '0-11:efficient'")
    return variants.get(name).name


def parse_attention_spec(spec: str, n_layers: int) -> dict[int, str]:
    """Block index → variant for every block ``spec`` names (see the module docstring); a
    one-line :class:`ConfigError` for a malformed part, a range outside 0..n_layers-1 or two
    ranges naming one block, and the registry's error for an unknown variant."""
    if not isinstance(spec, str) or not spec.strip():
        raise ConfigError(f"attention spec must be a variant name or 'FIRST-LAST:VARIANT,...', "
                          f"got {spec!r}")
    parts = [p for p in spec.split(",")]
    if len(parts) == 1 and ":" not in parts[0]:
        name = _variant(parts[0], spec)
        return {i: name for i in range(n_layers)}
    out: dict[int, str] = {}
    for part in parts:
        if ":" not in part:
            raise ConfigError(f"attention spec {spec!r}: part {part.strip()!r} has no range; "
                              f"with several parts each is 'FIRST-LAST:VARIANT' or "
                              f"'INDEX:VARIANT'")
        where, name = part.split(":", 1)
        match = _RANGE.match(where)
        if not match:
            raise ConfigError(f"attention spec {spec!r}: {where.strip()!r} is not a block index "
                              f"or range; allowed: INDEX or FIRST-LAST within 0-{n_layers - 1}")
        first = int(match.group(1))
        last = int(match.group(2)) if match.group(2) is not None else first
        if first > last:
            raise ConfigError(f"attention spec {spec!r}: range {first}-{last} runs backwards; "
                              f"write FIRST-LAST with FIRST <= LAST")
        if last >= n_layers:
            raise ConfigError(f"attention spec {spec!r}: range {first}-{last} exceeds the "
                              f"model's {n_layers} blocks; allowed: 0-{n_layers - 1}")
        variant = _variant(name, spec)
        for i in range(first, last + 1):
            if i in out:
                raise ConfigError(f"attention spec {spec!r}: block {i} is named twice; "
                                  f"ranges must not overlap")
            out[i] = variant
    return out


def swap_attention(model: ModelConfig, spec: str) -> ModelConfig:
    """``model`` with the attention variant of the blocks ``spec`` names replaced
    (``"efficient"``: every block; ``"0-11:efficient,12-31:gqa"``: by range)."""
    if not isinstance(model, ModelConfig):
        raise ConfigError(f"swap_attention needs a ModelConfig, got {model!r}")
    chosen = parse_attention_spec(spec, len(model.layers))
    layers = tuple(chosen.get(i, v) for i, v in enumerate(model.layers))
    return model.with_(layers=layers)
