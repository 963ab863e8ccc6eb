"""The variant registry: one builder per attention variant, and how users add their own.

A variant is a function ``build(dims, options) -> Graph`` registered under a name. The graph's
input tensor is ``x`` (batch·seq_len·d_model) and its output ``out`` (the same size). Every
metric (parameters, FLOPs, memory, bytes, KV cache) is derived from that graph by
:mod:`attncost.costs`; nothing else about a variant is written anywhere.

Adding a variant (see ``tests/examples/custom_variant.py``)::

    from attncost.variants import register
    from attncost.variants.core import attention, project

    @register("my-attention", title="...", source="...")
    def build(d, o):
        g = new_graph(d)
        ...
        return g

Load such a file with ``attncost estimate --variant-file my_variant.py --variant my-attention``
or declare it as an entry point in the ``attncost.variants`` group.
"""

from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ..config import Dims, Options
from ..errors import AttncostError, UnsupportedError, unknown
from ..ops import Graph

Builder = Callable[[Dims, Options], Graph]


@dataclass(frozen=True)
class Variant:
    """A registered attention variant."""

    name: str
    build_fn: Builder
    title: str
    source: str
    supports_causal: bool = True
    impl_matters: bool = True  # does materialised vs fused change anything?

    def build(self, d: Dims, o: Options) -> Graph:
        """The variant's graph for these dimensions and options."""
        if o.causal and not self.supports_causal:
            raise UnsupportedError(
                f"variant {self.name!r} does not support causal masking; use --no-causal or "
                f"one of: {', '.join(n for n, v in sorted(REGISTRY.items()) if v.supports_causal)}")
        return self.build_fn(d, o)


REGISTRY: dict[str, Variant] = {}
_BUILTIN_MODULES = ("standard", "paper", "linformer", "linear", "kernel_linear", "mla")
_loaded = False


def register(name: str, *, title: str, source: str, supports_causal: bool = True,
             impl_matters: bool = True) -> Callable[[Builder], Builder]:
    """Decorator: register ``build(dims, options) -> Graph`` as variant ``name``."""

    def deco(fn: Builder) -> Builder:
        REGISTRY[name] = Variant(name, fn, title, source, supports_causal, impl_matters)
        return fn

    return deco


def _load_builtins() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True
    for mod in _BUILTIN_MODULES:
        importlib.import_module(f"{__name__}.{mod}")
    try:  # third-party variants declared as entry points
        from importlib.metadata import entry_points

        for ep in entry_points(group="attncost.variants"):
            ep.load()
    except Exception as exc:  # pragma: no cover - a broken plugin must not break the tool
        import warnings

        warnings.warn(f"attncost: could not load a variant entry point: {exc}")


#: The variants attncost ships, in display order.
BUILTIN = ("standard", "optimised", "efficient", "super", "linformer", "linear", "mqa", "gqa",
           "mla", "kernel-linear")


def names() -> list[str]:
    """Registered variant names, built-ins first in a fixed order."""
    _load_builtins()
    return [n for n in BUILTIN if n in REGISTRY] + sorted(n for n in REGISTRY
                                                          if n not in BUILTIN)


def get(name: str) -> Variant:
    """The variant called ``name``; UnknownNameError lists the allowed names."""
    _load_builtins()
    try:
        return REGISTRY[name]
    except KeyError:
        raise unknown("variant", name, names()) from None


def resolve(spec: list[str] | tuple[str, ...] | str) -> list[str]:
    """Expand ``'all'`` and comma-separated lists into validated variant names."""
    items = [spec] if isinstance(spec, str) else list(spec)
    out: list[str] = []
    for item in items:
        for part in str(item).split(","):
            part = part.strip()
            if not part:
                continue
            if part == "all":
                out.extend(names())
            else:
                out.append(get(part).name)
    if not out:
        raise AttncostError("no variant given; name one or more, or 'all'")
    return list(dict.fromkeys(out))


_loaded_files: dict[Path, list[str]] = {}


def load_variant_file(path: str | Path) -> list[str]:
    """Import a Python file that registers variants; returns the names it added (a file
    already loaded is not imported twice)."""
    p = Path(path)
    if not p.is_file():
        raise AttncostError(f"variant file {str(path)!r} does not exist")
    if p.resolve() in _loaded_files:
        return _loaded_files[p.resolve()]
    _load_builtins()
    before = set(REGISTRY)
    spec = importlib.util.spec_from_file_location(f"attncost_user_variant_{p.stem}", p)
    if spec is None or spec.loader is None:  # pragma: no cover
        raise AttncostError(f"variant file {str(path)!r} cannot be imported")
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except AttncostError:
        raise
    except Exception as exc:
        raise AttncostError(f"variant file {str(path)!r} failed to import: {exc}") from None
    added = sorted(set(REGISTRY) - before)
    if not added:
        raise AttncostError(
            f"variant file {str(path)!r} registered no variant; decorate a builder with "
            f"@attncost.variants.register('name', title=..., source=...)")
    _loaded_files[p.resolve()] = added
    return added
