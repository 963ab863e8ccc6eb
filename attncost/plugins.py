"""Loading a user's Python file that registers variants, PyTorch modules, metrics or tasks.

A file is imported once per process (by its resolved path); errors are one line naming the
file. Worker processes of a search load the same files (``SearchSpec.plugins``).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

from .errors import AttncostError

_loaded: dict[Path, ModuleType] = {}


def import_file(path: str | Path, what: str = "plugin file") -> tuple[ModuleType, bool]:
    """The module of the Python file at ``path`` and whether this call imported it (False:
    it was already loaded, and what it registered is still registered)."""
    p = Path(path)
    if not p.is_file():
        raise AttncostError(f"{what} {str(path)!r} does not exist")
    key = p.resolve()
    if key in _loaded and _registered_by(_loaded[key]):
        return _loaded[key], False
    spec = importlib.util.spec_from_file_location(f"attncost_plugin_{len(_loaded)}_{p.stem}", p)
    if spec is None or spec.loader is None:
        raise AttncostError(f"{what} {str(path)!r} cannot be imported (not a Python file?)")
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except AttncostError as exc:
        raise AttncostError(f"{what} {str(path)!r}: {exc}") from None
    except Exception as exc:
        raise AttncostError(f"{what} {str(path)!r} failed to import: "
                            f"{type(exc).__name__}: {exc}") from None
    _loaded[key] = module
    return module, True


def _registered_by(module: ModuleType) -> bool:
    """Whether anything ``module`` registered is still registered (tests remove what they
    add; a file loaded again must then register again)."""
    from . import metrics, variants
    from .search import tasks

    name = module.__name__
    return (any(getattr(v.build_fn, "__module__", "") == name for v in variants.REGISTRY.values())
            or any(getattr(m.compute, "__module__", "") == name for m in metrics.METRICS.values())
            or any(type(t).__module__ == name for t in tasks.TASKS.values()))
