"""The ``attncost`` command line (typer): one module per command group, each command
parse → one :mod:`attncost.api` call → render.

* :mod:`~attncost.cli.base` — the app, one-line errors, flags made from the configuration's
  fields, shared options and output helpers; :mod:`~attncost.cli.render` — tables.
* Command modules, found by name (no list to edit): :mod:`~attncost.cli.costs`,
  :mod:`~attncost.cli.measure`, :mod:`~attncost.cli.figures`, :mod:`~attncost.cli.search`.
  A new command group is one more module here that adds its commands to ``base.app``.
"""

import importlib
import pkgutil

from .base import app

_NOT_COMMANDS = {"base", "render"}
for _info in pkgutil.iter_modules(__path__):
    if _info.name not in _NOT_COMMANDS:
        importlib.import_module(f"{__name__}.{_info.name}")


def main() -> None:
    """Console-script entry point."""
    app()


__all__ = ["app", "main"]
