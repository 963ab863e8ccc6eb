"""PyTorch modules of the attention variants, registered by variant name.

The cost model describes a variant (:mod:`attncost.variants`); this side implements it in
PyTorch, written from the papers and never from the cost formulas, so that validation compares
two independent things. A module is registered here under the variant's name with
:func:`register_module`; :func:`build_attention` makes the module of a variant for an
:class:`~attncost.config.AttentionConfig`. Built-in modules live in
:mod:`attncost.nn.attention` (imported, with torch, only when a module is asked for), whole
models in :mod:`attncost.nn.model`.

A user variant file registers its module beside its cost description::

    @register_module("my-attention")
    def build(cfg, dropout):            # cfg: AttentionConfig; dropout: probability
        from attncost.nn.attention import GroupedQueryAttention   # torch, imported here
        ...

This package never imports the cost model.
"""

from __future__ import annotations

import importlib
from typing import Any, Callable

from ..config import AttentionConfig
from ..errors import AttncostError, unknown

ModuleFactory = Callable[[AttentionConfig, float], Any]

_FACTORIES: dict[str, ModuleFactory] = {}
_loaded = False


def register_module(name: str, *, replace: bool = False) -> Callable[[ModuleFactory], ModuleFactory]:
    """Decorator: ``factory(cfg, dropout) -> nn.Module`` is the PyTorch module of variant
    ``name`` (a name already registered is refused unless ``replace``)."""

    def deco(fn: ModuleFactory) -> ModuleFactory:
        if name in _FACTORIES and not replace:
            raise AttncostError(f"a PyTorch module for variant {name!r} is already "
                                f"registered; pass replace=True to replace it")
        _FACTORIES[name] = fn
        return fn

    return deco


def unregister_module(name: str) -> None:
    """Remove the module of variant ``name`` (a user's, e.g. at the end of a test)."""
    _FACTORIES.pop(name, None)


def _load_builtins() -> None:
    global _loaded
    if not _loaded:
        _loaded = True
        importlib.import_module(f"{__name__}.attention")


def module_names() -> list[str]:
    """Variants with a registered PyTorch module (imports torch)."""
    _load_builtins()
    return list(_FACTORIES)


def has_module(name: str) -> bool:
    """Whether variant ``name`` has a PyTorch module (imports torch)."""
    return name in module_names()


def build_attention(variant: str, cfg: AttentionConfig, dropout_p: float = 0.1):
    """The ``nn.Module`` of ``variant`` for ``cfg`` (``cfg.dropout`` switches ``dropout_p``
    on)."""
    _load_builtins()
    if variant not in _FACTORIES:
        raise unknown("variant with a PyTorch module", variant, _FACTORIES)
    return _FACTORIES[variant](cfg, dropout_p if cfg.dropout else 0.0)


__all__ = ["build_attention", "has_module", "module_names", "register_module",
           "unregister_module"]
