"""``JobsTask``: Django's ``Task`` with the options django-jobs adds.

Django's ``@task`` decorator passes keyword arguments it does not know to the
backend's ``task_class`` (Django 6.1+, and the ``django_tasks`` backport), so
``@task(max_attempts=5, timeout=30, unique_key=True)`` and
``@task(schedule="0 3 * * *")`` are plain Django code on a ``JobsBackend``.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from .compat import InvalidTask, Task

# ``unique_key``: a fixed key, True (a key made of the task's path and the
# call's arguments), or a function of the call's arguments returning the key.
UniqueKey = str | bool | Callable[..., str | None] | None


@dataclass(frozen=True, slots=sys.version_info >= (3, 11), kw_only=True)
class JobsTask(Task):
    # Attempts before the job fails (None: DJANGO_JOBS["DEFAULT_MAX_ATTEMPTS"]).
    max_attempts: int | None = None
    # Seconds one attempt may run (None: DJANGO_JOBS["DEFAULT_TIMEOUT"]).
    timeout: float | None = None
    # While a live (pending or running) job holds the key, enqueue() makes no other.
    unique_key: UniqueKey = None
    # What enqueue() does when the key is held: "return" the holder's result, or
    # "raise" django_jobs.exceptions.DuplicateJob.
    on_conflict: str = "return"
    # A cron expression or interval: the task also runs as a recurring job.
    schedule: str = ""
    # IANA time zone the schedule is read in (empty: settings.TIME_ZONE).
    timezone: str = ""

    def using(
        self,
        *,
        max_attempts: int | None = None,
        timeout: float | None = None,
        unique_key: UniqueKey = None,
        on_conflict: str | None = None,
        **changes: Any,
    ) -> JobsTask:
        """Django's ``using()``, which also takes our options (``unique_key=False`` drops a key)."""
        task = Task.using(self, **changes)
        given = dict(
            max_attempts=max_attempts,
            timeout=timeout,
            unique_key=unique_key,
            on_conflict=on_conflict,
        )
        extra = {name: value for name, value in given.items() if value is not None}
        return replace(task, **extra) if extra else task


def job_options(task: Task) -> dict[str, Any]:
    """The ``enqueue()`` options a task's fields stand for."""
    return {
        "queue": task.queue_name,
        "priority": task.priority,
        "max_attempts": getattr(task, "max_attempts", None),
        "timeout": getattr(task, "timeout", None),
    }


def unique_key_for(task: Task, args: Any, kwargs: Any, data: dict[str, Any]) -> str | None:
    """The unique key of one call of ``task`` (None: the call has none).

    ``data`` is the call as the job stores it; True keys on it, so calls whose
    arguments differ only in what JSON normalises (a tuple and a list) share a key.
    """
    from ..validation import clean_unique_key

    spec = getattr(task, "unique_key", None)
    if spec is None or spec is False:
        return None
    if spec is True:
        call = json.dumps([data["args"], data["kwargs"]], sort_keys=True, separators=(",", ":"))
        digest = hashlib.sha256(call.encode()).hexdigest()[:32]
        return f"{task.module_path[-160:]}:{digest}"
    key = spec(*args, **kwargs) if callable(spec) else spec
    return clean_unique_key(key)


def validate(task: Task) -> None:
    """Check the options with the rules jobs follow; raise ``InvalidTask`` with the reason."""
    from ..validation import (
        clean_max_attempts,
        clean_on_conflict,
        clean_queue,
        clean_schedule,
        clean_seconds,
        clean_timezone,
        clean_unique_key,
    )

    try:
        clean_queue(task.queue_name)
        clean_max_attempts(getattr(task, "max_attempts", None))
        clean_seconds("timeout", getattr(task, "timeout", None))
        clean_schedule(getattr(task, "schedule", ""), clean_timezone(getattr(task, "timezone", "")))
        unique_key = getattr(task, "unique_key", None)
        if not (unique_key is None or isinstance(unique_key, bool) or callable(unique_key)):
            clean_unique_key(unique_key)
        clean_on_conflict(getattr(task, "on_conflict", "return"))
    except ValueError as exc:
        raise InvalidTask(str(exc)) from None
