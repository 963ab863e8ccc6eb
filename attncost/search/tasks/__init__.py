"""Tasks behind a registry: the built-in ones and a user's register the same way.

:func:`register_task` (a decorator on a :class:`~attncost.search.tasks.base.Task` subclass,
or a call with an instance) adds a task; :func:`get_task` finds one by name. Built-in tasks
are the modules of this package (found by name, no list to edit): ``digits``, ``mqar``.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any

from ...errors import AttncostError, unknown
from .base import Task, TaskData, TaskOption, TaskOptionError
from .training import TrainingDiverged, TrainResult, train

TASKS: dict[str, Task] = {}
_NOT_TASKS = {"base", "training"}
_loaded = False


def register_task(task: Any = None, *, replace: bool = False) -> Any:
    """Register a :class:`Task` (a subclass — used as a decorator — or an instance) under
    its ``name``; a name already registered is refused unless ``replace``."""

    def add(obj: Any) -> Any:
        instance = obj() if isinstance(obj, type) else obj
        if not isinstance(instance, Task) or not instance.name:
            raise AttncostError(f"{obj!r} is not a Task with a name; subclass "
                                f"attncost.search.tasks.Task and set name")
        if instance.name in TASKS and not replace:
            raise AttncostError(f"task {instance.name!r} is already registered; pass "
                                f"replace=True to replace it")
        TASKS[instance.name] = instance
        return obj

    return add if task is None else add(task)


def unregister_task(name: str) -> None:
    TASKS.pop(name, None)


def load_task_file(path: str) -> list[str]:
    """Import a Python file that registers tasks; returns the names of the tasks it
    registers (a file is imported once)."""
    from ...plugins import import_file

    _load_builtins()
    module, _ = import_file(path, "task file")
    added = sorted(n for n, t in TASKS.items() if type(t).__module__ == module.__name__)
    if not added:
        raise AttncostError(f"task file {str(path)!r} registered no task; decorate a Task "
                            f"subclass with @attncost.search.tasks.register_task")
    return added


def _load_builtins() -> None:
    global _loaded
    if not _loaded:
        _loaded = True
        for info in pkgutil.iter_modules(__path__):
            if info.name not in _NOT_TASKS:
                importlib.import_module(f"{__name__}.{info.name}")


def task_names() -> list[str]:
    """Registered task names, sorted."""
    _load_builtins()
    return sorted(TASKS)


def get_task(name: str) -> Task:
    """The task called ``name``; UnknownNameError lists the registered ones."""
    _load_builtins()
    if not isinstance(name, str) or name not in TASKS:
        raise unknown("task", name, task_names())
    return TASKS[name]


__all__ = ["TASKS", "Task", "TaskData", "TaskOption", "TaskOptionError", "TrainResult",
           "TrainingDiverged", "get_task", "load_task_file", "register_task", "task_names",
           "train", "unregister_task"]
