"""Reading a user's TOML file with one-line errors (the devices file, search specs)."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from .errors import AttncostError, ConfigError


def read_toml(path: str | Path, what: str,
              error: type[AttncostError] = ConfigError) -> dict[str, Any]:
    """The parsed TOML at ``path``; ``error(...)`` naming ``what`` ("devices file", "search
    spec") when it does not exist or does not parse."""
    p = Path(path)
    if not p.is_file():
        raise error(f"{what} {str(path)!r} does not exist")
    try:
        return tomllib.loads(p.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise error(f"{what} {str(path)!r} is not valid TOML: {exc}") from None
