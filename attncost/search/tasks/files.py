"""Reading a user's data file for the ``sequences`` task: CSV, Parquet or NumPy ``.npz``.

:func:`read_columns` returns the named columns as Python lists (rows in file order) or, for
``.npz``, as the named arrays. Every problem is one line naming the file, the column, the row
(1-based, the header not counted) and what was expected (:class:`DataFileError`).

* CSV (``.csv``; ``.tsv`` tab-separated): the first line names the columns; read with the
  standard library (:mod:`csv`), so every cell is a string.
* Parquet (``.parquet``, ``.pq``): read with pyarrow (``pip install attncost[parquet]``);
  list columns come back as lists.
* NumPy (``.npz``): each column is an array of that name (``allow_pickle=False``: no object
  arrays), its first axis the rows.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from ...errors import AttncostError

SUFFIXES = {".csv": "csv", ".tsv": "csv", ".parquet": "parquet", ".pq": "parquet",
            ".npz": "npz"}


class DataFileError(AttncostError):
    """A data file cannot be read, or a cell is not what its column must hold."""


def file_format(path: Path) -> str:
    fmt = SUFFIXES.get(path.suffix.lower())
    if fmt is None:
        raise DataFileError(f"{path.name}: unknown file type {path.suffix!r}; allowed: "
                            f"{', '.join(SUFFIXES)}")
    return fmt


def _missing(path: Path, column: str, have: list[str]) -> DataFileError:
    return DataFileError(f"{path.name}: no column {column!r}; it has: "
                         f"{', '.join(map(repr, have)) or 'none'}")


def _read_csv(path: Path, columns: list[str]) -> dict[str, list[Any]]:
    import csv

    delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
    try:
        with path.open(newline="", encoding="utf-8") as f:
            reader = csv.reader(f, delimiter=delimiter)
            header = next(reader, None)
            if header is None:
                raise DataFileError(f"{path.name}: empty file; expected a header line naming "
                                    f"the columns")
            where = {name: header.index(name) for name in columns if name in header}
            for name in columns:
                if name not in where:
                    raise _missing(path, name, header)
            out: dict[str, list[Any]] = {name: [] for name in columns}
            for row, cells in enumerate(reader, start=1):
                if len(cells) != len(header):
                    raise DataFileError(f"{path.name}: row {row} has {len(cells)} cells; "
                                        f"expected {len(header)} (one per header column)")
                for name, i in where.items():
                    out[name].append(cells[i])
    except UnicodeDecodeError as e:
        raise DataFileError(f"{path.name}: not UTF-8 text ({e.reason} at byte {e.start})") \
            from None
    except csv.Error as e:
        raise DataFileError(f"{path.name}: not a CSV file ({e})") from None
    return out


def _read_parquet(path: Path, columns: list[str]) -> dict[str, list[Any]]:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise DataFileError(f"{path.name}: reading Parquet needs pyarrow (pip install -c "
                            f"constraints.txt -e '.[parquet]')") from None
    try:
        schema = pq.read_schema(path)
        for name in columns:
            if name not in schema.names:
                raise _missing(path, name, list(schema.names))
        table = pq.read_table(path, columns=columns)
    except DataFileError:
        raise
    except Exception as e:  # pyarrow raises its own error types for damaged files
        raise DataFileError(f"{path.name}: not a readable Parquet file "
                            f"({type(e).__name__}: {str(e).splitlines()[0]})") from None
    return {name: table.column(name).to_pylist() for name in columns}


def _read_npz(path: Path, columns: list[str]) -> dict[str, Any]:
    import zipfile

    import numpy as np

    if not zipfile.is_zipfile(path):
        raise DataFileError(f"{path.name}: not a readable .npz file (not a zip archive of "
                            f"arrays; write it with numpy.savez)")
    try:
        with np.load(path, allow_pickle=False) as z:
            for name in columns:
                if name not in z.files:
                    raise _missing(path, name, list(z.files))
            out = {name: z[name] for name in columns}
    except DataFileError:
        raise
    except ValueError as e:
        raise DataFileError(f"{path.name}: an array holds Python objects, which .npz files "
                            f"are not read with ({e}); store numbers or fixed-width "
                            f"strings") from None
    except Exception as e:
        raise DataFileError(f"{path.name}: not a readable .npz file ({type(e).__name__}: "
                            f"{e})") from None
    n = {name: (a.shape[0] if a.ndim else None) for name, a in out.items()}
    if None in n.values() or len(set(n.values())) > 1:
        raise DataFileError(f"{path.name}: arrays {', '.join(map(repr, n))} must have one row "
                            f"per example along their first axis, got lengths {n}")
    return out


def read_columns(path: Path, columns: list[str]) -> dict[str, Any]:
    """The ``columns`` of the file at ``path``, rows in file order (see the module
    docstring); a one-line :class:`DataFileError` if it cannot be read."""
    fmt = file_format(path)
    if not path.is_file():
        raise DataFileError(f"{path}: no such file")
    reader = {"csv": _read_csv, "parquet": _read_parquet, "npz": _read_npz}[fmt]
    out = reader(path, list(dict.fromkeys(columns)))
    if not len(next(iter(out.values()))):
        raise DataFileError(f"{path.name}: no rows")
    return out


# -- cells -------------------------------------------------------------------------------


def bad_cell(path: Path, row: int, column: str, expected: str, value: Any) -> DataFileError:
    """The one-line error of one cell (``row`` is 0-based here, 1-based in the message)."""
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return DataFileError(f"{path.name}: row {row + 1}, column {column!r}: expected {expected}, "
                         f"got {text}")


def numbers_of(value: Any) -> list[Any] | None:
    """A cell as a list of numbers (a list/array, or a string of numbers separated by spaces
    or commas), or None when it is not one."""
    import numpy as np

    if isinstance(value, str):
        parts = value.replace(",", " ").split()
        try:
            return [float(p) if any(c in p for c in ".eEn") else int(p) for p in parts]
        except ValueError:
            return None
    if isinstance(value, (list, tuple, np.ndarray)):
        items = list(np.asarray(value).reshape(-1).tolist()) if isinstance(
            value, np.ndarray) else list(value)
        if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in items):
            return items
    return None


def token_ids(path: Path, row: int, column: str, value: Any) -> list[int]:
    """A cell of token ids (integers ≥ 0)."""
    ids = numbers_of(value)
    if ids is None or not ids or not all(isinstance(i, int) and i >= 0 for i in ids):
        raise bad_cell(path, row, column, "token ids (integers ≥ 0 separated by spaces, or a "
                                          "list of them)", value)
    return ids


def feature_values(path: Path, row: int, column: str, value: Any) -> list[float]:
    """A cell of finite numbers (one, or several separated by spaces)."""
    import numpy as np

    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
        vals: list[Any] | None = [float(value)]
    else:
        vals = numbers_of(value)
    if not vals or not all(math.isfinite(v) for v in vals):
        raise bad_cell(path, row, column, "finite numbers", value)
    return [float(v) for v in vals]
