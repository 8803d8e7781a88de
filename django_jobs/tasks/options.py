"""``JobsTask``: Django's ``Task`` with the options django-jobs adds.

Django's ``@task`` decorator passes keyword arguments it does not know to the
backend's ``task_class``, so ``@task(max_attempts=5, timeout=30)`` and
``@task(schedule="0 3 * * *")`` are plain Django code on a ``JobsBackend``.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, replace
from typing import Any

from .compat import InvalidTask, Task


@dataclass(frozen=True, slots=sys.version_info >= (3, 11), kw_only=True)
class JobsTask(Task):
    # Attempts before the job fails (None: DJANGO_JOBS["DEFAULT_MAX_ATTEMPTS"]).
    max_attempts: int | None = None
    # Seconds one attempt may run (None: DJANGO_JOBS["DEFAULT_TIMEOUT"]).
    timeout: float | None = None
    # A cron expression or interval: the task also runs as a recurring job.
    schedule: str = ""
    # IANA time zone the schedule is read in (empty: settings.TIME_ZONE).
    timezone: str = ""

    def using(
        self,
        *,
        max_attempts: int | None = None,
        timeout: float | None = None,
        **changes: Any,
    ) -> JobsTask:
        """Django's ``using()``, which also takes ``max_attempts`` and ``timeout``."""
        task = Task.using(self, **changes)
        extra = {
            name: value
            for name, value in (("max_attempts", max_attempts), ("timeout", timeout))
            if value is not None
        }
        return replace(task, **extra) if extra else task


def job_options(task: Task) -> dict[str, Any]:
    """The ``enqueue()`` options a task's fields stand for."""
    return {
        "queue": task.queue_name,
        "priority": task.priority,
        "max_attempts": getattr(task, "max_attempts", None),
        "timeout": getattr(task, "timeout", None),
    }


def validate(task: Task) -> None:
    """Check the options with the rules jobs follow; raise ``InvalidTask`` with the reason."""
    from ..validation import (
        clean_max_attempts,
        clean_queue,
        clean_schedule,
        clean_seconds,
        clean_timezone,
    )

    try:
        clean_queue(task.queue_name)
        clean_max_attempts(getattr(task, "max_attempts", None))
        clean_seconds("timeout", getattr(task, "timeout", None))
        clean_schedule(getattr(task, "schedule", ""), clean_timezone(getattr(task, "timezone", "")))
    except ValueError as exc:
        raise InvalidTask(str(exc)) from None
