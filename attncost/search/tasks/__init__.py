"""Tasks behind one registry: the built-in ones and a user's register the same way.

Four ways in, all read by every consumer (spec, objective, runner, surrogate) and by search
worker processes and other machines alike:

1. :func:`register_task` — a decorator on a :class:`~attncost.search.tasks.base.Task`
   subclass (or a call with an instance); the built-in tasks are the modules of this package
   (found by name, no list to edit): ``digits``, ``mqar``, ``sequences``, ``listops``,
   ``induction``;
2. the ``attncost.tasks`` entry-point group of an installed distribution
   (``[project.entry-points."attncost.tasks"] recall = "my_package.tasks:Recall"``): a Task
   subclass or instance (registered), or a module that registers its tasks when imported;
3. ``attncost search SPEC --task-file my_task.py`` (:func:`load_task_file`);
4. a reference in the spec, ``task = "my_package.tasks:recall"``: the module is imported and
   the object (a Task subclass or instance) is the task (:func:`get_task`).
"""

from __future__ import annotations

import importlib
import pkgutil
import warnings
from typing import Any

from ...errors import AttncostError, unknown
from .base import INPUT_KINDS, OUTPUT_KINDS, Task, TaskData
from .metrics import TASK_METRICS, TaskMetric, get_metric, register_metric
from .options import TaskOption, TaskOptionError
from .training import TrainingDiverged, TrainResult, train

TASKS: dict[str, Task] = {}
ENTRY_POINT_GROUP = "attncost.tasks"
_NOT_TASKS = {"base", "training", "options", "metrics", "device", "files"}
_loaded = False
_broken: dict[str, str] = {}  # entry points that failed to load: name → why


class TaskError(AttncostError):
    """A task cannot be found, loaded or registered."""


def _instance(obj: Any, where: str) -> Task:
    """A Task instance from a Task subclass or instance, else a one-line TaskError."""
    instance = obj() if isinstance(obj, type) and issubclass(obj, Task) else obj
    if not isinstance(instance, Task) or not isinstance(instance.name, str) or \
            not instance.name:
        raise TaskError(f"{where} is not a Task with a name; subclass "
                        f"attncost.search.tasks.Task and set name")
    instance.validate()
    return instance


def register_task(task: Any = None, *, replace: bool = False) -> Any:
    """Register a :class:`Task` (a subclass — used as a decorator — or an instance) under
    its ``name``; a name already registered is refused unless ``replace`` (or it is the same
    class registered again, e.g. a module imported twice)."""

    def add(obj: Any) -> Any:
        instance = _instance(obj, repr(obj))
        old = TASKS.get(instance.name)
        same = old is not None and _same_class(type(old), type(instance))
        if old is not None and not replace and not same:
            raise TaskError(f"task {instance.name!r} is already registered; pass "
                            f"replace=True to replace it")
        TASKS[instance.name] = instance
        return obj

    return add if task is None else add(task)


def _same_class(a: type, b: type) -> bool:
    return a is b or (a.__module__, a.__qualname__) == (b.__module__, b.__qualname__)


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
        raise TaskError(f"task file {str(path)!r} registered no task; decorate a Task "
                        f"subclass with @attncost.search.tasks.register_task")
    return added


def _load_builtins() -> None:
    global _loaded
    if not _loaded:
        _loaded = True
        for info in pkgutil.iter_modules(__path__):
            if info.name not in _NOT_TASKS:
                importlib.import_module(f"{__name__}.{info.name}")
        load_entry_points()


def load_entry_points() -> list[str]:
    """Load the ``attncost.tasks`` entry points; returns the task names they added. A broken
    one is a warning (and is named if a spec asks for its task), never a crash."""
    from importlib.metadata import entry_points

    before = set(TASKS)
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            obj = ep.load()
            if not _is_module(obj):
                task = _instance(obj, f"entry point {ep.name} = {ep.value!r}")
                if TASKS.get(task.name) is not task:
                    register_task(task, replace=_same_name_class(task))
        except Exception as exc:  # a broken plugin must not break the tool: say so
            _broken[ep.name] = f"{type(exc).__name__}: {exc}"
            warnings.warn(f"attncost: could not load task entry point {ep.name!r} "
                          f"({ep.value}): {exc}", stacklevel=2)
    return sorted(set(TASKS) - before)


def _is_module(obj: Any) -> bool:
    import types

    return isinstance(obj, types.ModuleType)


def _same_name_class(task: Task) -> bool:
    old = TASKS.get(task.name)
    return old is not None and _same_class(type(old), type(task))


def task_names() -> list[str]:
    """Registered task names, sorted."""
    _load_builtins()
    return sorted(TASKS)


def is_reference(name: Any) -> bool:
    """Whether ``name`` is a ``module:object`` reference rather than a registered name."""
    return isinstance(name, str) and ":" in name


def task_from_reference(ref: str) -> Task:
    """The task that ``"package.module:object"`` names: the module is imported (on
    ``sys.path``, as worker processes see it too) and the object must be a Task subclass or
    instance; it is registered under its name (the same class may register twice)."""
    module_name, _, attr = ref.partition(":")
    if not module_name or not attr.replace(".", "").replace("_", "").isalnum():
        raise TaskError(f"task reference {ref!r} is invalid: write \"package.module:object\"")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise TaskError(f"task reference {ref!r}: cannot import {module_name!r} ({exc}); is "
                        f"it installed or on PYTHONPATH?") from None
    obj: Any = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise TaskError(f"task reference {ref!r}: module {module_name!r} has no "
                            f"{attr!r}")
        obj = getattr(obj, part)
    task = _instance(obj, f"task reference {ref!r} ({type(obj).__name__})")
    if TASKS.get(task.name) is not task:
        if task.name in TASKS and not _same_name_class(task):
            raise TaskError(f"task reference {ref!r} names task {task.name!r}, but another "
                            f"task of that name is registered ({type(TASKS[task.name]).__module__})")
        TASKS[task.name] = task
    return TASKS[task.name]


def get_task(name: str) -> Task:
    """The task called ``name`` (or a ``module:object`` reference); UnknownNameError lists
    the registered ones."""
    _load_builtins()
    if is_reference(name):
        return task_from_reference(name)
    if not isinstance(name, str) or name not in TASKS:
        err = unknown("task", name, task_names())
        if name in _broken:
            err = type(err)(f"{err}; its entry point failed to load: {_broken[name]}")
        raise err
    return TASKS[name]


__all__ = ["ENTRY_POINT_GROUP", "INPUT_KINDS", "OUTPUT_KINDS", "TASKS", "TASK_METRICS",
           "Task", "TaskData", "TaskError", "TaskMetric", "TaskOption", "TaskOptionError",
           "TrainResult", "TrainingDiverged", "get_metric", "get_task", "is_reference",
           "load_entry_points", "load_task_file", "register_metric", "register_task",
           "task_from_reference", "task_names", "train", "unregister_task"]
