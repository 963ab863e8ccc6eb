"""A task's typed option schema: what the spec's ``[task]`` section may hold.

Every option declares its type — any JSON/TOML value: ``int``, ``float``, ``str``, ``bool``,
``list`` (optionally of one ``item`` type), ``table`` (a TOML table / JSON object) or ``any``;
or ``path``, a string naming an existing file, made absolute (a relative path is relative to
the spec file's folder, so that worker processes and other machines read the same file) —
its default (or ``required``), help, and limits (``minimum``/``maximum`` for numbers and for
the items of a numeric list, ``choices``). A bad value gets one line naming the field:
``[task] seq_len = 'long' is invalid: must be an integer ≥ 8``; a bad list item names its
index: ``[task] columns[2] = 3 is invalid: must be a string``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from ...errors import AttncostError

#: Option types and the Python values each accepts (bool is never a number).
KINDS: dict[str, tuple[type, ...]] = {
    "int": (int,), "float": (int, float), "str": (str,), "bool": (bool,),
    "list": (list, tuple), "table": (dict,), "any": (object,), "path": (str,)}
_NOUNS = {"int": "an integer", "float": "a number", "str": "a string", "bool": "true or false",
          "list": "a list", "table": "a table", "any": "any value",
          "path": "the path of a file"}


class TaskOptionError(AttncostError):
    """A task option is invalid; the message names the field."""


def _is(kind: str, value: Any) -> bool:
    """Whether ``value`` has the option type ``kind`` (booleans are not numbers, floats are
    finite)."""
    if kind in ("int", "float"):
        if isinstance(value, bool) or not isinstance(value, KINDS[kind]):
            return False
        return kind == "int" or math.isfinite(value)
    return isinstance(value, KINDS[kind])


@dataclass(frozen=True)
class TaskOption:
    """One option of a task (see the module docstring). ``default=None`` with
    ``required=False`` means "unset" (the task decides)."""

    name: str
    kind: str
    default: Any = None
    help: str = ""
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple | None = None
    item: str | None = None  # the type of a list's items
    required: bool = False

    def __post_init__(self) -> None:
        for k in (self.kind, self.item or "any"):
            if k not in KINDS:
                raise AttncostError(f"task option {self.name!r}: type {k!r} is not one of "
                                    f"{', '.join(KINDS)}")

    def check(self, value: Any, where: str | None = None) -> Any:
        """``value`` if valid (lists as lists), else a one-line :class:`TaskOptionError`."""
        where = where or self.name
        if value is None and self.default is None and not self.required:
            return None
        if not self._ok(self.kind, value):
            raise TaskOptionError(f"[task] {where} = {value!r} is invalid: {self.allowed()}")
        if self.kind == "list":
            if self.item:
                for i, v in enumerate(value):
                    if not self._ok(self.item, v):
                        raise TaskOptionError(f"[task] {where}[{i}] = {v!r} is invalid: "
                                              f"{self._allowed_of(self.item)}")
            return list(value)
        return dict(value) if self.kind == "table" else value

    def _ok(self, kind: str, value: Any) -> bool:
        if not _is(kind, value):
            return False
        if kind in ("int", "float") and ((self.minimum is not None and value < self.minimum)
                                         or (self.maximum is not None and value > self.maximum)):
            return False
        return self.choices is None or kind == "list" or value in self.choices

    def allowed(self) -> str:
        """What the option accepts, in words."""
        if self.choices is not None:
            return "allowed: " + ", ".join(map(str, self.choices))
        if self.kind == "list" and self.item:
            return f"must be a list of {self._plural(self.item)}"
        return self._allowed_of(self.kind)

    def _plural(self, kind: str) -> str:
        word = {"int": "integers", "float": "numbers", "str": "strings", "bool": "booleans",
                "list": "lists", "table": "tables", "any": "values", "path": "paths"}[kind]
        return word + self._range()

    def _allowed_of(self, kind: str) -> str:
        if self.choices is not None and kind != "list":
            return "allowed: " + ", ".join(map(str, self.choices))
        return f"must be {_NOUNS[kind]}" + (self._range() if kind in ("int", "float") else "")

    def _range(self) -> str:
        lo, hi = self.minimum, self.maximum
        if lo is not None and hi is not None:
            return f" in [{lo}, {hi}]"
        if lo is not None:
            return f" ≥ {lo}"
        return f" ≤ {hi}" if hi is not None else ""


def _path(option: TaskOption, value: str, base_dir: str | Path | None) -> str:
    """A ``path`` option's value made absolute (relative to ``base_dir``, else the working
    directory); it must name an existing file."""
    p = Path(value).expanduser()
    if not p.is_absolute():
        p = Path(base_dir or ".") / p
    p = p.resolve()
    if not value or not p.is_file():
        raise TaskOptionError(f"[task] {option.name} = {value!r} is invalid: no such file "
                              f"({p})")
    return str(p)


def resolve_options(task_name: str, options: tuple[TaskOption, ...],
                    given: Mapping[str, Any] | None,
                    base_dir: str | Path | None = None) -> dict[str, Any]:
    """The defaults with ``given`` over them, each checked; an unknown name is refused with
    the allowed ones listed, a missing required one named; ``path`` options are made
    absolute against ``base_dir``."""
    given = dict(given or {})
    known = {o.name: o for o in options}
    for key in given:
        if key not in known:
            raise TaskOptionError(f"unknown field [task] {key} for task {task_name!r}; "
                                  f"allowed: {', '.join(known) or 'none'}")
    out: dict[str, Any] = {}
    for o in options:
        if o.name in given:
            out[o.name] = o.check(given[o.name])
            if o.kind == "path" and out[o.name] is not None:
                out[o.name] = _path(o, out[o.name], base_dir)
        elif o.required:
            raise TaskOptionError(f"[task] {o.name} is required for task {task_name!r}: "
                                  f"{o.help or o.allowed()}")
        else:
            out[o.name] = list(o.default) if isinstance(o.default, tuple) else o.default
    return out
