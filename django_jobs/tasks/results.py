"""Jobs read as Django ``TaskResult``s: statuses, errors, attempts and return values.

=============================================  ==========================
job                                            ``TaskResult.status``
=============================================  ==========================
pending, never run                             READY
pending after a failed attempt (a retry)       READY (``errors`` grows)
running                                        RUNNING
completed                                      SUCCESSFUL
failed (its attempts used up)                  FAILED
cancelled                                      FAILED (last error: ``TaskCancelled``)
=============================================  ==========================

A recurring task's result is its current occurrence: back to READY with no
attempts once it moves on to its next slot.
"""

from __future__ import annotations

import builtins
import re
from datetime import datetime
from typing import Any

from django.utils import timezone

from .compat import (
    TASK_MAX_PRIORITY,
    TASK_MIN_PRIORITY,
    InvalidTask,
    Task,
    TaskError,
    TaskResult,
    TaskResultDoesNotExist,
    TaskResultStatus,
)
from .handlers import from_data, task_for

CANCELLED_PATH = "django_jobs.tasks.exceptions.TaskCancelled"
NO_EXCEPTION_PATH = "django_jobs.tasks.exceptions.AttemptFailed"

STATUSES = {
    "pending": TaskResultStatus.READY,
    "running": TaskResultStatus.RUNNING,
    "completed": TaskResultStatus.SUCCESSFUL,
    "failed": TaskResultStatus.FAILED,
    "cancelled": TaskResultStatus.FAILED,
}


def load(result_id: Any, using: str | None = None) -> TaskResult:
    """The result of the job ``result_id``; raises ``TaskResultDoesNotExist``."""
    from ..models import Job

    try:
        pk = int(result_id)
    except (TypeError, ValueError):
        raise TaskResultDoesNotExist(f"no task result with id {result_id!r}") from None
    jobs = Job.objects.using(using) if using else Job.objects
    job = jobs.filter(pk=pk).first()
    task = task_for(job.handler) if job is not None else None
    if task is None:
        raise TaskResultDoesNotExist(f"no task result with id {result_id!r}")
    return from_job(job, task, attempts_of(job))


def attempts_of(job: Any) -> list[Any]:
    """The history rows of the job's current occurrence, oldest attempt first."""
    rows = job.history.all()
    if job.is_recurring:
        rows = rows.filter(scheduled_for=job.scheduled_for)
    return list(rows.order_by("attempt", "id"))


def from_job(job: Any, task: Task, rows: list[Any]) -> TaskResult:
    args, kwargs, alias = from_data(job.data, task.backend)
    status = STATUSES[job.status]
    errors = [error_of(row.error) for row in rows if row.error]
    if not errors and job.last_error and status != TaskResultStatus.SUCCESSFUL:
        errors.append(error_of(job.last_error))  # history is off, or was pruned
    if job.status == "cancelled":
        errors.append(TaskError(exception_class_path=CANCELLED_PATH, traceback="cancelled"))
    finished = rows[-1].completed_at if rows else None
    if job.status in ("completed", "failed", "cancelled"):
        finished = finished or job.updated_at
    else:
        finished = None
    result = TaskResult(
        task=_task_of(job, task),
        id=str(job.pk),
        status=status,
        enqueued_at=job.created_at,
        started_at=rows[0].started_at if rows else None,
        finished_at=finished,
        last_attempted_at=rows[-1].started_at if rows else None,
        args=args,
        kwargs=kwargs,
        backend=alias,
        errors=errors,
        # One entry an attempt; without history rows the workers are not known.
        worker_ids=[row.worker for row in rows] or [""] * job.attempts,
    )
    if status == TaskResultStatus.SUCCESSFUL and rows:
        object.__setattr__(result, "_return_value", rows[-1].result)
    return result


def _task_of(job: Any, task: Task) -> Task:
    """The task as this job was enqueued: its queue, priority and ``run_after``."""
    priority = max(TASK_MIN_PRIORITY, min(TASK_MAX_PRIORITY, job.priority))
    run_after = (
        job.scheduled_for if job.scheduled_for and job.scheduled_for > job.created_at else None
    )
    if job.is_recurring:
        run_after = None
    if (job.queue, priority, run_after) == (task.queue_name, task.priority, task.run_after):
        return task
    try:
        return task.using(queue_name=job.queue, priority=priority, run_after=run_after)
    except InvalidTask:
        # A queue the backend no longer lists (the row was edited): keep the task's own.
        return task


def enqueued(job: Any, task: Task, args: Any, kwargs: Any, alias: str) -> TaskResult:
    """The result of a job just created from ``task``; ``args`` and ``kwargs`` are normalised."""
    return _built(
        task=task,
        id=str(job.pk),
        status=TaskResultStatus.READY,
        enqueued_at=job.created_at,
        started_at=None,
        finished_at=None,
        last_attempted_at=None,
        args=args,
        kwargs=kwargs,
        backend=alias,
        errors=[],
        worker_ids=[],
        _return_value=None,
    )


_set = object.__setattr__


def _built(
    *,
    task: Task,
    id: str,
    status: Any,
    enqueued_at: datetime | None,
    started_at: datetime | None,
    finished_at: datetime | None,
    last_attempted_at: datetime | None,
    args: Any,
    kwargs: Any,
    backend: str,
    errors: list[Any],
    worker_ids: list[str],
    _return_value: Any,
) -> TaskResult:
    """A ``TaskResult`` from every one of its fields, without ``__init__``'s normalising.

    For arguments already normalised (a call just turned into data, or stored
    JSON): normalising them again is most of the cost of building a result,
    which happens twice an attempt (``task_started``, ``task_finished``).
    """
    result = TaskResult.__new__(TaskResult)
    _set(result, "task", task)
    _set(result, "id", id)
    _set(result, "status", status)
    _set(result, "enqueued_at", enqueued_at)
    _set(result, "started_at", started_at)
    _set(result, "finished_at", finished_at)
    _set(result, "last_attempted_at", last_attempted_at)
    _set(result, "args", args)
    _set(result, "kwargs", kwargs)
    _set(result, "backend", backend)
    _set(result, "errors", errors)
    _set(result, "worker_ids", worker_ids)
    _set(result, "_return_value", _return_value)
    return result


def snapshot(
    task: Task,
    job_id: int,
    args: Any,
    kwargs: Any,
    alias: str,
    attempt: int,
    *,
    status: Any = TaskResultStatus.RUNNING,
    worker: str = "",
    started_at: datetime | None = None,
    return_value: Any = None,
    error: str = "",
) -> TaskResult:
    """A result built without reading the database, for ``task_started`` and ``task_finished``.

    Status, arguments, attempts and the attempt's own outcome are right; earlier
    attempts' errors and workers are not read: ``refresh()`` reads them. The
    arguments come from stored JSON, so they need none of ``__init__``'s
    normalising: this is sent for every attempt and builds the result directly.
    """
    now = timezone.now()
    finished = status in (TaskResultStatus.SUCCESSFUL, TaskResultStatus.FAILED)
    return _built(
        task=task,
        id=str(job_id),
        status=status,
        enqueued_at=None,
        started_at=started_at or now,
        finished_at=now if finished else None,
        last_attempted_at=started_at or now,
        args=args,
        kwargs=kwargs,
        backend=alias,
        errors=[error_of(error)] if error else [],
        worker_ids=[""] * max(0, attempt - 1) + [worker],
        _return_value=return_value if status == TaskResultStatus.SUCCESSFUL else None,
    )


def error_of(text: str) -> TaskError:
    """A stored error (``Name: message``, a blank line, the traceback) as a ``TaskError``."""
    head, _, detail = text.partition("\n\n")
    return TaskError(exception_class_path=exception_path(head, detail), traceback=detail or text)


def exception_path(head: str, detail: str) -> str:
    """The exception's dotted path, read from the last line of its traceback that names it.

    Python's traceback prints ``module.QualName: message`` for exceptions outside
    ``builtins``; the stored head line has the bare class name.
    """
    name = head.split(":", 1)[0]
    if not name.isidentifier():
        return NO_EXCEPTION_PATH
    pattern = re.compile(rf"^((?:\w+\.)*){re.escape(name)}(?::|$)")
    for line in reversed(detail.splitlines()):
        match = pattern.match(line)
        if match and match.group(1):
            return f"{match.group(1)}{name}"
        if match:
            break
    found = getattr(builtins, name, None)
    if isinstance(found, type) and issubclass(found, BaseException):
        return f"builtins.{name}"
    return NO_EXCEPTION_PATH
