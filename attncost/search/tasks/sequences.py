"""``sequences``: the user's own data file, no code — CSV, Parquet or NumPy ``.npz``.

One example per row: an input and a label. ``[task] input`` says what the input is:

* ``tokens`` — token ids, integers ≥ 0: a cell like ``"5 17 3"`` (spaces or commas), a
  Parquet list, or an ``.npz`` integer array (rows × positions). Ids are shifted by one so
  that 0 pads.
* ``text`` — a string, cut by ``tokenizer``: ``byte`` (its UTF-8 bytes, 256 ids), ``char``
  (each character; the vocabulary is the file's characters, sorted) or ``word`` (split on
  whitespace; the vocabulary is the file's words, sorted).
* ``features`` — continuous numbers, through a linear projection (the model's ``features``
  input): either ``columns = [...]``, numeric columns read as one sequence per row, or
  ``column``, a cell of numbers (a Parquet list, a string of numbers, or an ``.npz`` float
  array rows × positions [× features]); ``features`` numbers make one position.

Every sequence is padded with zeros (id 0 / zero vectors) or truncated to ``seq_len``
positions (0: the file's longest). Labels (``label`` column) are integers or strings; the
classes are their sorted distinct values. The held-out split is ``val_fraction`` of the rows,
drawn by ``split_seed`` (the same for every training seed). Metric: ``accuracy``, ``f1``
(macro) or ``loss``. A relative ``path`` is relative to the spec file's folder.

Bad files get one line: which file, column and row, and what was expected.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import register_task
from .base import Task, TaskData
from .files import DataFileError, bad_cell, feature_values, read_columns, token_ids
from .options import TaskOption, TaskOptionError

INPUTS = ("tokens", "text", "features")
TOKENIZERS = ("byte", "char", "word")
DEFAULT_COLUMN = {"tokens": "tokens", "text": "text", "features": "features"}


@dataclass(frozen=True)
class Loaded:
    """A data file as arrays: inputs (rows × seq_len, or × features), class indices, and
    what the model needs (vocab or features, classes)."""

    x: Any
    y: Any
    seq_len: int
    vocab: int
    features: int
    labels: tuple


def _pad(rows: list[list[Any]], seq_len: int, width: int | None = None) -> Any:
    """Rows padded with zeros or truncated to ``seq_len`` positions (of ``width`` numbers
    each, for features)."""
    import numpy as np

    shape = (len(rows), seq_len) + ((width,) if width else ())
    out = np.zeros(shape, dtype=np.float32 if width else np.int64)
    for i, r in enumerate(rows):
        r = r[:seq_len]
        if len(r):
            out[i, :len(r)] = r
    return out


def _text_ids(path: Path, col: str, cells: list[Any], tokenizer: str) -> tuple[list, int]:
    """Token ids of text cells (0 pads) and the vocabulary size."""
    for i, c in enumerate(cells):
        if not isinstance(c, str) or not c:
            raise bad_cell(path, i, col, "non-empty text", c)
    if tokenizer == "byte":
        return [[b + 1 for b in c.encode("utf-8")] for c in cells], 257
    pieces = [list(c) if tokenizer == "char" else c.split() for c in cells]
    vocab = {p: i + 1 for i, p in enumerate(sorted({p for ps in pieces for p in ps}))}
    return [[vocab[p] for p in ps] for ps in pieces], len(vocab) + 1


def _one_number(path: Path, row: int, column: str, value: Any) -> float:
    """A cell of a ``columns`` feature column: exactly one finite number."""
    vals = feature_values(path, row, column, value)
    if len(vals) != 1:
        raise bad_cell(path, row, column, "one finite number", value)
    return vals[0]


def _feature_rows(path: Path, opts: dict[str, Any], data: dict[str, Any]) -> list[list]:
    """Each row's numbers, grouped ``features`` per position."""
    import numpy as np

    f = opts["features"]
    if opts["columns"]:
        flat = [[_one_number(path, i, c, data[c][i]) for c in opts["columns"]]
                for i in range(len(data[opts["columns"][0]]))]
    else:
        col = opts["column"] or DEFAULT_COLUMN["features"]
        cells = data[col]
        if isinstance(cells, np.ndarray) and cells.dtype.kind in "fiu":
            cells = cells.reshape(len(cells), -1)
            if not np.isfinite(cells).all():
                row = int(np.argwhere(~np.isfinite(cells))[0][0])
                raise bad_cell(path, row, col, "finite numbers", cells[row].tolist())
        flat = [feature_values(path, i, col, c) for i, c in enumerate(cells)]
    for i, r in enumerate(flat):
        if len(r) % f:
            raise bad_cell(path, i, opts["column"] or ",".join(opts["columns"]),
                           f"a multiple of features = {f} numbers", f"{len(r)} numbers")
    return [[r[j:j + f] for j in range(0, len(r), f)] for r in flat]


def _labels(path: Path, col: str, cells: Any) -> tuple[list[int], tuple]:
    """Class indices of the label cells and the classes (sorted distinct labels)."""
    import numpy as np

    values = cells.tolist() if isinstance(cells, np.ndarray) else list(cells)
    out = []
    for i, v in enumerate(values):
        if isinstance(v, str) and v.strip().lstrip("-").isdigit():
            v = int(v)
        if isinstance(v, bool) or not isinstance(v, (int, str)) or v == "":
            raise bad_cell(path, i, col, "a label (an integer or a non-empty string)", v)
        out.append(v)
    if len({type(v) for v in out}) > 1:
        i = next(i for i, v in enumerate(out) if type(v) is not type(out[0]))
        raise bad_cell(path, i, col, f"a label like the others ({type(out[0]).__name__})",
                       out[i])
    classes = tuple(sorted(set(out)))
    if len(classes) < 2:
        raise DataFileError(f"{path.name}: column {col!r} has one class ({classes[0]!r}); a "
                            f"classifier needs at least two")
    index = {c: k for k, c in enumerate(classes)}
    return [index[v] for v in out], classes


def _inputs(path: Path, opts: dict[str, Any], data: dict[str, Any]) -> tuple[list, int, int]:
    """(rows, vocab, features) of the input column(s)."""
    kind, col = opts["input"], opts["column"] or DEFAULT_COLUMN[opts["input"]]
    if kind == "features":
        return _feature_rows(path, opts, data), 0, opts["features"]
    if kind == "text":
        rows, vocab = _text_ids(path, col, list(data[col]), opts["tokenizer"])
        return rows, vocab, 0
    rows = [[t + 1 for t in token_ids(path, i, col, c)] for i, c in enumerate(data[col])]
    return rows, max(max(r) for r in rows) + 1, 0


@functools.lru_cache(maxsize=8)
def _load(path: str, stamp: tuple, opts_json: str) -> Loaded:
    import numpy as np

    opts = json.loads(opts_json)
    p = Path(path)
    inputs = opts["columns"] if opts["input"] == "features" and opts["columns"] else \
        [opts["column"] or DEFAULT_COLUMN[opts["input"]]]
    data = read_columns(p, [*inputs, opts["label"]])
    if opts["max_rows"]:
        data = {k: v[:opts["max_rows"]] for k, v in data.items()}
    rows, vocab, features = _inputs(p, opts, data)
    y, classes = _labels(p, opts["label"], data[opts["label"]])
    seq_len = opts["seq_len"] or max(len(r) for r in rows)
    x = _pad(rows, seq_len, features or None)
    return Loaded(x, np.asarray(y, dtype=np.int64), seq_len, vocab, features, classes)


def load_sequences(opts: dict[str, Any]) -> Loaded:
    """The file ``opts['path']`` as arrays (cached per file version and options)."""
    p = Path(opts["path"])
    try:
        st = p.stat()
    except OSError:
        raise DataFileError(f"{p}: no such file") from None
    return _load(str(p), (st.st_mtime_ns, st.st_size), json.dumps(opts, sort_keys=True))


def split(n: int, fraction: float, seed: int) -> tuple[Any, Any]:
    """Row indices of the training and held-out splits: a permutation by ``seed``, the
    first ``round(n·fraction)`` (at least one) held out."""
    import numpy as np

    if n < 2:
        raise DataFileError(f"{n} row(s): a training and a held-out split need at least 2")
    order = np.random.default_rng(seed).permutation(n)
    n_val = min(n - 1, max(1, round(n * fraction)))
    return order[n_val:], order[:n_val]


@register_task
class Sequences(Task):
    name = "sequences"
    description = "your CSV, Parquet or .npz file: token ids, text or features, and a label"
    options = (
        TaskOption("path", "path", help="the data file: .csv, .tsv, .parquet, .pq or .npz",
                   required=True),
        TaskOption("input", "str", "tokens", "what the input is", choices=INPUTS),
        TaskOption("column", "str", None, "the input column (default: tokens, text or "
                                          "features, after input)"),
        TaskOption("columns", "list", None, "features: numeric columns, one sequence per row",
                   item="str"),
        TaskOption("features", "int", 1, "features: numbers per position", minimum=1),
        TaskOption("tokenizer", "str", "byte", "text: how text becomes tokens",
                   choices=TOKENIZERS),
        TaskOption("label", "str", "label", "the label column"),
        TaskOption("seq_len", "int", 0, "positions (pad or truncate; 0: the longest row)",
                   minimum=0),
        TaskOption("val_fraction", "float", 0.2, "rows held out", minimum=0.01, maximum=0.9),
        TaskOption("split_seed", "int", 0, "the seed that draws the held-out rows", minimum=0),
        TaskOption("max_rows", "int", 0, "read at most this many rows (0: all)", minimum=0),
        TaskOption("metric", "str", "accuracy", "how runs are scored",
                   choices=("accuracy", "f1", "loss")),
    )
    input_kind = "tokens"  # or features, after [task] input (see input_kind_of)
    output_kind = "sequence"

    def check(self, opts: dict[str, Any]) -> None:
        if opts["columns"] is not None and opts["input"] != "features":
            raise TaskOptionError(f"[task] columns is for input = \"features\" (input is "
                                  f"{opts['input']!r}); name the input column with column")
        if opts["columns"] is not None and not opts["columns"]:
            raise TaskOptionError("[task] columns = [] is invalid: name at least one column")
        if opts["columns"] and len(opts["columns"]) % opts["features"]:
            raise TaskOptionError(f"[task] features = {opts['features']} is invalid: must "
                                  f"divide the {len(opts['columns'])} columns")
        try:
            load_sequences(opts)
        except DataFileError as e:
            raise TaskOptionError(f"[task] path: {e}") from None

    def input_kind_of(self, opts: dict[str, Any]) -> str:
        return "features" if opts["input"] == "features" else "tokens"

    def metric_of(self, opts: dict[str, Any]) -> str:
        return opts["metric"]

    def seq_len(self, opts: dict[str, Any]) -> int:
        return load_sequences(opts).seq_len

    def classes(self, opts: dict[str, Any]) -> int:
        return len(load_sequences(opts).labels)

    def vocab(self, opts: dict[str, Any]) -> int:
        return load_sequences(opts).vocab

    def features(self, opts: dict[str, Any]) -> int:
        return load_sequences(opts).features

    def data(self, opts: dict[str, Any], seed: int) -> TaskData:
        import torch

        d = load_sequences(opts)
        tr, va = split(len(d.y), opts["val_fraction"], opts["split_seed"])
        x, y = torch.from_numpy(d.x), torch.from_numpy(d.y)
        return TaskData(x[tr], y[tr], x[va], y[va])
