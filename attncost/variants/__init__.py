"""The variant registry: one builder per attention variant, and how users add their own.

A variant is a function ``build(dims, options) -> Graph`` registered under a name, with its
title, source, what it supports and how figures draw it (its colour). The graph's input tensor
is ``x`` (batch·seq_len·d_model) and its output ``out`` (the same size). Every metric
(parameters, FLOPs, memory, bytes, KV cache) is derived from that graph by
:mod:`attncost.costs`; nothing else about a variant is written anywhere. Its PyTorch module is
registered by the same name on the PyTorch side (:func:`attncost.nn.register_module`).

Adding a variant (see ``tests/examples/custom_variant.py``)::

    from attncost.variants import register
    from attncost.variants.core import attention, new_graph, output_projection, project

    @register("my-attention", title="...", source="...")
    def build(d, o):
        g = new_graph(d)
        ...
        return g

A built-in variant is a module of this package (found by name, no list to edit); a user's is a
file loaded with ``--variant-file my_variant.py`` or an entry point in the ``attncost.variants``
group. A name can be registered once; ``replace=True`` replaces it (and the cost model's caches
with it: they are keyed by the registered record).
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass, replace as dc_replace
from pathlib import Path
from typing import Callable

from ..config import Dims, Options
from ..errors import AttncostError, UnsupportedError, unknown
from ..ops import Graph

Builder = Callable[[Dims, Options], Graph]

#: Colours for variants registered without one (greys and muted tones, distinct from the
#: built-ins' Okabe–Ito palette), picked by registration order.
FALLBACK_COLOURS = ("#882255", "#44AA99", "#117733", "#332288", "#AA4499", "#999933",
                    "#661100", "#6699CC")


@dataclass(frozen=True)
class Variant:
    """A registered attention variant."""

    name: str
    build_fn: Builder
    title: str
    source: str
    supports_causal: bool = True
    impl_matters: bool = True  # does materialised vs fused change anything?
    colour: str = "#555555"  # the same colour in every figure
    outline: bool = False  # light colours get a dark outline in line plots
    rank: int = 1000  # display order: built-ins by rank, then the rest by name

    @property
    def builtin(self) -> bool:
        """Shipped with attncost (a module of this package)."""
        return getattr(self.build_fn, "__module__", "").startswith(__name__ + ".")

    def options_for(self, o: Options) -> Options:
        """``o``, with the implementation fixed where it changes nothing for this variant."""
        return o if self.impl_matters else dc_replace(o, impl="materialised")

    def build(self, d: Dims, o: Options) -> Graph:
        """The variant's graph for these dimensions and options."""
        if o.causal and not self.supports_causal:
            raise UnsupportedError(
                f"variant {self.name!r} does not support causal masking; use --no-causal or "
                f"one of: {', '.join(n for n in names() if REGISTRY[n].supports_causal)}")
        return self.build_fn(d, o)


REGISTRY: dict[str, Variant] = {}
_loaded = False


def register(name: str, *, title: str, source: str, supports_causal: bool = True,
             impl_matters: bool = True, colour: str | None = None, outline: bool = False,
             rank: int = 1000, replace: bool = False) -> Callable[[Builder], Builder]:
    """Decorator: register ``build(dims, options) -> Graph`` as variant ``name``.

    A name already registered is refused unless ``replace=True``."""
    if not isinstance(name, str) or not name or "," in name or name == "all":
        raise AttncostError(f"variant name {name!r} must be a non-empty string without "
                            f"commas, and not 'all'")

    def deco(fn: Builder) -> Builder:
        if name in REGISTRY and not replace:
            raise AttncostError(
                f"variant {name!r} is already registered (by {REGISTRY[name].source}); pass "
                f"replace=True to replace it")
        picked = colour or FALLBACK_COLOURS[len(REGISTRY) % len(FALLBACK_COLOURS)]
        REGISTRY[name] = Variant(name, fn, title, source, supports_causal, impl_matters,
                                 picked, outline, rank)
        return fn

    return deco


def unregister(name: str) -> None:
    """Remove variant ``name`` (a user's, e.g. at the end of a test)."""
    get(name)
    del REGISTRY[name]


def _load_builtins() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True
    for info in pkgutil.iter_modules(__path__):
        if info.name != "core":
            importlib.import_module(f"{__name__}.{info.name}")
    from importlib.metadata import entry_points

    for ep in entry_points(group="attncost.variants"):  # third-party variants
        try:
            ep.load()
        except Exception as exc:  # a broken plugin must not break the tool: say so
            import warnings

            warnings.warn(f"attncost: could not load variant entry point {ep.name!r}: {exc}")


def names() -> list[str]:
    """Registered variant names: built-ins in their display order, then the rest by name."""
    _load_builtins()
    return sorted(REGISTRY, key=lambda n: (not REGISTRY[n].builtin, REGISTRY[n].rank, n))


def builtin_names() -> list[str]:
    """The variants attncost ships, in display order."""
    return [n for n in names() if REGISTRY[n].builtin]


def get(name: str) -> Variant:
    """The variant called ``name``; UnknownNameError lists the allowed names."""
    _load_builtins()
    try:
        return REGISTRY[name]
    except (KeyError, TypeError):
        raise unknown("variant", name, names()) from None


def resolve(spec: list[str] | tuple[str, ...] | str) -> list[str]:
    """Expand ``'all'`` and comma-separated lists into validated variant names."""
    if not isinstance(spec, (str, list, tuple)) or not all(isinstance(i, str) for i in spec):
        raise AttncostError(f"variants {spec!r} must be a name, a comma-separated list of "
                            f"names or a list of names (or 'all')")
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


def load_variant_file(path: str | Path) -> list[str]:
    """Import a Python file that registers variants (and, optionally, their PyTorch modules);
    returns the names of the variants it registers. A file is imported once."""
    from ..plugins import import_file

    _load_builtins()
    module, _ = import_file(path, "variant file")
    added = sorted(n for n, v in REGISTRY.items()
                   if getattr(v.build_fn, "__module__", None) == module.__name__)
    if not added:
        raise AttncostError(
            f"variant file {str(path)!r} registered no variant; decorate a builder with "
            f"@attncost.variants.register('name', title=..., source=...)")
    return added
