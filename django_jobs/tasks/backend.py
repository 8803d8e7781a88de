"""``JobsBackend``: Django's tasks framework on django-jobs.

``TASKS = {"default": {"BACKEND": "django_jobs.tasks.JobsBackend"}}``. A task
becomes a one-time job (its handler the task's module path, its ``data`` the
call's arguments) and runs under ``runjobs`` with retries, history, the admin
and the API; its ``TaskResult`` is read back from the job and its history.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import router

from ..exceptions import DuplicateJob, InvalidJob
from .compat import BaseTaskBackend, Task, TaskResult, task_enqueued
from .handlers import refused, register, to_data
from .options import JobsTask, job_options, unique_key_for, validate
from .results import enqueued
from .sending import worth_sending

VALID_TASKS_KEPT = 1000

_creating_module: Any = None


def _creating() -> Any:
    """``django_jobs.creating``, imported once: it needs the models, and a backend
    can be made while apps still load (a ``@task`` in a models module)."""
    global _creating_module
    if _creating_module is None:
        from .. import creating

        _creating_module = creating
    return _creating_module


class JobsBackend(BaseTaskBackend):
    task_class = JobsTask

    supports_defer = True
    supports_async_task = True
    supports_get_result = True
    supports_priority = True

    def __init__(self, alias: str, params: dict[str, Any]) -> None:
        super().__init__(alias, params)
        from . import receivers

        receivers.connect()
        # Tasks this backend found valid. A task is immutable and the backend is
        # made again when TASKS changes, so enqueue() need not check it again:
        # Django's checks (``inspect.signature`` among them) cost as much as
        # the rest of an enqueue's Python.
        self._valid: set[Task] = set()

    def validate_task(self, task: Task) -> None:
        """Django's checks, then ours; a valid task is registered as a handler."""
        super().validate_task(task)
        validate(task)
        register(task)
        if getattr(task, "schedule", ""):
            _declare_schedule(task)
        if len(self._valid) >= VALID_TASKS_KEPT:  # using(run_after=...) makes one per call
            self._valid.clear()
        self._valid.add(task)

    def _check(self, task: Task) -> None:
        try:
            if task in self._valid:
                return
        except TypeError:  # a field that cannot be hashed: check it every time
            pass
        self.validate_task(task)

    def enqueue(self, task: Task, args: Any, kwargs: Any) -> TaskResult:
        """Create the job; inside ``atomic()`` it exists once the transaction commits.

        A task with a ``unique_key`` held by a live job makes no job: the
        holder's result comes back (``on_conflict="return"``) or
        ``DuplicateJob`` is raised (``"raise"``, or a holder that is no task).
        """
        self._check(task)
        data = to_data(args, kwargs, self.alias)
        options = job_options(task)
        if getattr(task, "unique_key", None) is not None:
            unique_key = unique_key_for(task, args, kwargs, data)
            if unique_key is not None:
                return self._enqueue_unique(task, data, unique_key, options)
        try:
            job = _creating().enqueue(task.module_path, data, run_at=task.run_after, **options)
        except InvalidJob as exc:
            raise refused(exc) from None
        result = enqueued(job, task, data["args"], data["kwargs"], self.alias)
        if worth_sending(task_enqueued, logging.DEBUG):
            task_enqueued.send(type(self), task_result=result)
        return result

    def _enqueue_unique(
        self, task: Task, data: dict[str, Any], unique_key: str, options: dict[str, Any]
    ) -> TaskResult:
        from ..creating import build_job, save_new_unique
        from .handlers import task_for
        from .results import attempts_of, from_job

        try:
            job = build_job(task.module_path, data, run_at=task.run_after, **options)
        except InvalidJob as exc:
            raise refused(exc) from None
        job, created = save_new_unique(job, unique_key, getattr(task, "on_conflict", "return"))
        if created:
            result = enqueued(job, task, data["args"], data["kwargs"], self.alias)
            if worth_sending(task_enqueued, logging.DEBUG):
                task_enqueued.send(type(self), task_result=result)
            return result
        holder_task = task_for(job.handler)
        if holder_task is None:  # a plain job holds the key: no TaskResult can stand for it
            raise DuplicateJob(unique_key, job)
        return from_job(job, holder_task, attempts_of(job))

    def check(self, **kwargs: Any) -> list[Any]:
        """Django's checks of the backend, and that django_jobs is an installed app."""
        from django.apps import apps
        from django.core import checks

        errors = list(super().check(**kwargs))
        if not apps.is_installed("django_jobs"):
            errors.append(
                checks.Error(
                    f"TASKS[{self.alias!r}] uses JobsBackend, but django_jobs is not installed.",
                    hint="Add 'django_jobs' to INSTALLED_APPS.",
                    id="django_jobs.E101",
                )
            )
        return errors

    def get_result(self, result_id: str) -> TaskResult:
        """The task's result read from its job; an unknown id raises ``TaskResultDoesNotExist``."""
        from ..models import Job
        from .results import load

        return load(result_id, using=router.db_for_read(Job))


def _declare_schedule(task: Task) -> None:
    """Add a recurring task to the schedules ``runjobs`` creates or updates when it starts.

    The first task seen for a function wins, as for the handler (``using()``
    copies may carry another queue or priority).
    """
    from .discovery import scheduled

    path = task.module_path
    known = scheduled.get(path)
    if known is not None and known[0] is task.func:
        return
    options = {key: value for key, value in job_options(task).items() if value is not None}
    spec = {
        "handler": path,
        "schedule": task.schedule,
        "timezone": getattr(task, "timezone", ""),
        "data": {"args": [], "kwargs": {}, "backend": task.backend},
        **options,
    }
    scheduled[path] = (task.func, spec)
