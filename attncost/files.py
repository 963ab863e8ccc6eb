"""Reading and writing a user's files with one-line errors (devices files, search specs,
outputs)."""

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


def write_frame(df: Any, path: str | Path) -> Path:
    """Write a DataFrame as CSV or Parquet (by suffix); one-line errors for a bad suffix, a
    missing pyarrow or a path that cannot be written."""
    p = Path(path)
    if p.suffix not in (".csv", ".parquet"):
        raise ConfigError(f"output {str(path)!r}: use a .csv or .parquet file name")
    try:
        if p.suffix == ".parquet":
            try:
                df.to_parquet(p, index=False)
            except ImportError:
                raise ConfigError("writing Parquet needs pyarrow: pip install -c "
                                  "constraints.txt -e '.[parquet]'") from None
        else:
            df.to_csv(p, index=False)
    except OSError as e:
        raise ConfigError(f"cannot write {str(path)!r}: {e.strerror or e}") from None
    return p


def write_text(path: str | Path, text: str) -> Path:
    """Write ``text`` to ``path`` (creating its folder); one-line error if it cannot."""
    p = Path(path)
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    except OSError as e:
        raise ConfigError(f"cannot write {str(path)!r}: {e.strerror or e}") from None
    return p
