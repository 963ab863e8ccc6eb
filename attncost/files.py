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
    text = read_user_text(path, what, error)
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise error(f"{what} {str(path)!r} is not valid TOML: {exc}") from None


def read_user_text(path: str | Path, what: str,
                   error: type[AttncostError] = ConfigError) -> str:
    """The UTF-8 text of a file the user named; ``error`` naming ``what`` when it is missing,
    a folder, unreadable or not UTF-8 text."""
    p = Path(path)
    if str(path) == "":
        raise error(f"{what} path is empty; give a file name")
    if p.is_dir():
        raise error(f"{what} {str(path)!r} is a folder, not a file")
    if not p.is_file():
        raise error(f"{what} {str(path)!r} does not exist")
    try:
        return p.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise error(f"{what} {str(path)!r} is not UTF-8 text") from None
    except OSError as e:
        raise error(f"cannot read {what} {str(path)!r}: {e.strerror or e}") from None


def check_writable(path: str | Path, what: str = "output", folder: bool = False) -> Path:
    """Refuse, before any work is done, an output path that cannot be written: empty, a
    folder where a file is wanted (a file where a ``folder`` is), or inside a folder that
    cannot be created or written. Creates nothing."""
    import os
    import tempfile

    kind = "folder" if folder else "file"
    if str(path) == "":
        raise ConfigError(f"{what} path is empty; give a {kind} name")
    p = Path(path)
    if p.exists() and p.is_dir() != folder:
        raise ConfigError(f"{what} {str(path)!r} is a {'file' if folder else 'folder'}; "
                          f"give a {kind} name")
    probe_dir = p if folder else p.parent
    while not probe_dir.exists() and probe_dir != probe_dir.parent:
        probe_dir = probe_dir.parent
    if not probe_dir.is_dir():
        raise ConfigError(f"cannot write {what} {str(path)!r}: {str(probe_dir)!r} is not a "
                          f"folder")
    try:  # a real write (permission bits say nothing to root, or of /proc and read-only mounts)
        if p.is_file():
            with p.open("ab"):
                pass
        else:
            fd, probe = tempfile.mkstemp(dir=probe_dir, prefix=".attncost-probe-")
            os.close(fd)
            os.unlink(probe)
    except OSError as e:
        raise ConfigError(f"cannot write {what} {str(path)!r}: {e.strerror or e}") from None
    return p


def write_frame(df: Any, path: str | Path) -> Path:
    """Write a DataFrame as CSV or Parquet (by suffix); one-line errors for a bad suffix, a
    missing pyarrow or a path that cannot be written."""
    p = Path(path)
    if p.suffix not in (".csv", ".parquet"):
        raise ConfigError(f"output {str(path)!r}: use a .csv or .parquet file name")
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
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


def write_atomic(path: str | Path, data: str | bytes) -> Path:
    """Write ``data`` (text as UTF-8) to ``path`` whole or not at all: a temporary file
    beside it (named by this process), then a rename — a reader, or a run interrupted
    mid-write, never sees half a file. Creates the folder; raises OSError."""
    import os

    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_name(f"{p.name}.{os.getpid()}.tmp")
    try:
        tmp.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
        os.replace(tmp, p)
    finally:
        tmp.unlink(missing_ok=True)
    return p
