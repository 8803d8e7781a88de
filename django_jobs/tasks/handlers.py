"""Tasks as handlers: each task is registered under its module path when its module is imported.

A job row names its task by that path and the worker looks it up in the
handler registry; nothing is ever imported because a row says so. The job's
``data`` holds the call: ``{"args": [...], "kwargs": {...}, "backend": alias}``.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from inspect import iscoroutinefunction
from typing import Any

from ..exceptions import InvalidJob
from ..registry import registry
from .compat import Task, TaskContext, normalize_json, task_backends, task_started
from .sending import worth_sending

_tasks: dict[str, Task] = {}
# The tasks whose function is a plain one (no coroutine), called directly.
_plain: set[str] = set()
_lock = threading.Lock()


def register(task: Task) -> None:
    """Make ``task`` runnable by workers; the first task seen for a function wins.

    ``Task.using()`` makes copies that are validated (and so come here) too: they
    must not replace the decorated task. A re-imported module brings a new
    function, which does.
    """
    path = task.module_path
    with _lock:
        known = _tasks.get(path)
        if known is not None and known.func is task.func:
            return
        registry.register(path, _handler(task.func))
        _tasks[path] = task
        if iscoroutinefunction(task.func):
            _plain.discard(path)
        else:
            _plain.add(path)


def task_for(handler_name: str) -> Task | None:
    """The task registered under a handler name, or None for a plain handler."""
    return _tasks.get(handler_name)


def _handler(func: Callable[..., Any]) -> Callable[[Any, Any], Any]:
    path = f"{func.__module__}.{func.__qualname__}"

    def run(data: Any, ctx: Any) -> Any:
        return run_task(path, data, ctx)

    # The registry tells handlers apart by their qualified name: the task's.
    run.__module__ = func.__module__
    run.__qualname__ = func.__qualname__
    run.__doc__ = func.__doc__
    return run


def to_data(args: Any, kwargs: Any, backend: str) -> dict[str, Any]:
    """A call as a job's ``data``, normalised as Django does.

    A type JSON cannot hold raises ``TypeError`` here; values it cannot
    (NaN) or the databases will not (NUL characters) are refused with the
    job's own data checks, under ``refused_arguments()``.
    """
    return {
        "args": list(args) if _flat(args) else normalize_json(list(args)),
        "kwargs": dict(kwargs) if _flat(kwargs.values()) else normalize_json(dict(kwargs)),
        "backend": backend,
    }


_SCALARS = frozenset((str, int, float, bool, type(None)))


def _flat(values: Any) -> bool:
    """Only scalars, which ``normalize_json`` returns as they are: nothing to normalise."""
    return all(type(value) in _SCALARS for value in values)


def refused(exc: InvalidJob) -> Exception:
    """What to raise for a job refused at enqueue: its data refused is a ``ValueError``
    about the task's arguments; any other field stays ``InvalidJob``."""
    if exc.field != "data":
        return exc
    return ValueError(f"task arguments refused: {exc.message}")


_DATA_KEYS = frozenset(("args", "kwargs", "backend"))


def from_data(data: Any, default_backend: str) -> tuple[list[Any], dict[str, Any], str]:
    """``(args, kwargs, backend alias)`` from a job's ``data``; a bad shape raises ValueError."""
    if type(data) is dict and len(data) == 3:  # what enqueue() writes: the common case
        args, kwargs, backend = data.get("args"), data.get("kwargs"), data.get("backend")
        if type(args) is list and type(kwargs) is dict and type(backend) is str:
            return args, kwargs, backend
    if data is None:
        data = {}
    if not isinstance(data, dict) or not _DATA_KEYS.issuperset(data):
        raise ValueError(
            'a task\'s data must be {"args": [...], "kwargs": {...}} '
            f"(optionally with a 'backend' alias), got {str(data)[:200]!r}"
        )
    args, kwargs = data.get("args", []), data.get("kwargs", {})
    backend = data.get("backend", default_backend)
    if not isinstance(args, list) or not isinstance(kwargs, dict) or not isinstance(backend, str):
        raise ValueError(
            "a task's data needs a list 'args', a dict 'kwargs' and a string 'backend'"
        )
    return args, kwargs, backend


def run_task(path: str, data: Any, ctx: Any) -> Any:
    """Run the task behind a job: what the worker calls for an attempt."""
    task = _tasks[path]
    args, kwargs, alias = from_data(data, task.backend)
    result = None
    if task.takes_context:
        # The context is the stored result, read when the attempt starts.
        result = task_backends[alias].get_result(str(ctx.job_id))
    if worth_sending(task_started, logging.INFO):
        sender, snapshot = late_imports()
        started = result or snapshot(task, ctx.job_id, args, kwargs, alias, ctx.attempt)
        task_started.send(sender=sender, task_result=started)
    if task.takes_context:
        value = task.call(TaskContext(task_result=result), *args, **kwargs)
    elif path in _plain:  # what Task.call does for a function that is no coroutine
        value = task.func(*args, **kwargs)
    else:
        value = task.call(*args, **kwargs)
    return returnable(value)


_late: tuple[Any, Any] | None = None


def late_imports() -> tuple[Any, Any]:
    """``(JobsBackend, results.snapshot)``: modules that import this one, imported once."""
    global _late
    if _late is None:
        from .backend import JobsBackend
        from .results import snapshot

        _late = (JobsBackend, snapshot)
    return _late


def returnable(value: Any) -> Any:
    """A return value JSON can hold, as Django normalises it; anything else fails the attempt."""
    if value is None or type(value) in (str, int, bool):
        return value
    value = normalize_json(value)
    try:
        json.dumps(value, allow_nan=False)
    except ValueError as exc:
        raise ValueError(f"a task's return value must be JSON-serialisable: {exc}") from None
    return value
