"""``task_finished`` from the worker's own signals, sent once the outcome is written.

A failed attempt that will be retried does not finish the task (it is READY
again), so only the last attempt sends ``task_finished``. A cancelled task
finishes FAILED, once, whatever its running attempt did.
"""

from __future__ import annotations

import logging
from typing import Any

from .. import signals
from .compat import TaskError, TaskResultStatus, task_finished
from .handlers import from_data, late_imports, task_for
from .sending import worth_sending

CANCELLED = "cancelled"  # JobStatus.CANCELLED, without importing models before apps are ready


def connect() -> None:
    signals.job_succeeded.connect(_succeeded, dispatch_uid="django_jobs.tasks.succeeded")
    signals.job_failed.connect(_failed, dispatch_uid="django_jobs.tasks.failed")
    signals.job_cancelled.connect(_cancelled, dispatch_uid="django_jobs.tasks.cancelled")


def _succeeded(sender: Any, job: Any, attempt: int, result: Any = None, **kwargs: Any) -> None:
    if job.status != CANCELLED:  # job_cancelled follows
        run = kwargs.get("run")
        _finished(job, attempt, TaskResultStatus.SUCCESSFUL, run, return_value=result)


def _failed(
    sender: Any, job: Any, attempt: int, error: str = "", will_retry: bool = False, **kwargs: Any
) -> None:
    if not will_retry and job.status != CANCELLED:
        _finished(job, attempt, TaskResultStatus.FAILED, kwargs.get("run"), error=error)


def _cancelled(sender: Any, job: Any, **kwargs: Any) -> None:
    _finished(job, job.attempts, TaskResultStatus.FAILED, kwargs.get("run"), cancelled=True)


def _finished(
    job: Any, attempt: int, status: Any, row: Any, cancelled: bool = False, **outcome: Any
) -> None:
    """``row``: the attempt's history row, when kept (the worker's signals carry it as ``run``)."""
    task = task_for(job.handler)
    level = logging.ERROR if status == TaskResultStatus.FAILED else logging.INFO
    if task is None or not worth_sending(task_finished, level):
        return
    sender, snapshot = late_imports()
    try:
        args, kwargs, alias = from_data(job.data, task.backend)
    except ValueError:
        args, kwargs, alias = [], {}, task.backend
    result = snapshot(
        task,
        job.pk,
        args,
        kwargs,
        alias,
        attempt,
        status=status,
        worker=row.worker if row is not None else "",
        started_at=row.started_at if row is not None else None,
        **outcome,
    )
    if cancelled:
        from .results import CANCELLED_PATH

        result.errors.append(TaskError(exception_class_path=CANCELLED_PATH, traceback="cancelled"))
    task_finished.send_robust(sender=sender, task_result=result)
