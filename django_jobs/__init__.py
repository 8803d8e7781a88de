"""django-jobs: background jobs and schedules for Django.

Importing this package does not import models, so ``@handler`` can be used
at module import time anywhere.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from asgiref.sync import sync_to_async

from .exceptions import Discard, RetryAfter, Snooze
from .registry import JobHandler, create_job_handler, handler

if TYPE_CHECKING:
    from .models import Job
    from .steering import Requeued

__all__ = [
    "Discard",
    "JobHandler",
    "RetryAfter",
    "Snooze",
    "aenqueue",
    "aschedule",
    "cancel",
    "create_job_handler",
    "enqueue",
    "enqueue_many",
    "handler",
    "purge_dead",
    "requeue_dead",
    "schedule",
    "trigger",
]


def enqueue(
    handler_name: str,
    data: Any = None,
    *,
    name: str | None = None,
    run_at: datetime | None = None,
    max_attempts: int | None = None,
    queue: str | None = None,
    priority: int | None = None,
    timeout: float | None = None,
    misfire_grace: float | None = None,
    allow_overlap: bool = False,
    unique_key: str | None = None,
    on_conflict: str = "return",
    limit: str | None = None,
    limit_key: str | None = None,
    depends_on: Iterable[Job | int] | None = None,
    on_dependency_failure: str | None = None,
    webhooks: Iterable[str] | None = None,
) -> Job:
    """Create a one-time job; see ``django_jobs.creating.enqueue``. This signature is
    the one list of its options (``aenqueue`` is this function, run async).

    ``run_at``: when it is due (default now); ``max_attempts``: default
    ``DEFAULT_MAX_ATTEMPTS``; ``queue``: default ``DEFAULT_QUEUE``; higher
    ``priority`` runs first; ``timeout``: seconds a run may take;
    ``unique_key``: while a live job holds it, that job is returned
    (``on_conflict="raise"``: ``DuplicateJob``); ``limit``: a limit of
    ``LIMITS`` (default: the handler's), ``limit_key`` the key it is counted by;
    ``depends_on``: jobs or ids it waits for (``on_dependency_failure``:
    ``"cancel"``, the default, or ``"run"`` when one of them fails for good or
    is cancelled); ``webhooks``: endpoints of ``WEBHOOKS`` its events go to
    besides those whose filters match it.
    """
    from .creating import enqueue as _enqueue

    return _enqueue(
        handler_name,
        data,
        name=name,
        run_at=run_at,
        max_attempts=max_attempts,
        queue=queue,
        priority=priority,
        timeout=timeout,
        misfire_grace=misfire_grace,
        allow_overlap=allow_overlap,
        unique_key=unique_key,
        on_conflict=on_conflict,
        limit=limit,
        limit_key=limit_key,
        depends_on=depends_on,
        on_dependency_failure=on_dependency_failure,
        webhooks=webhooks,
    )


def enqueue_many(jobs: Any, **defaults: Any) -> list[Job]:
    """Create many one-time jobs in a few statements; see ``django_jobs.creating.enqueue_many``."""
    from .creating import enqueue_many as _enqueue_many

    return _enqueue_many(jobs, **defaults)


def schedule(name: str, handler_name: str, expression: str, data: Any = None, **kwargs: Any) -> Job:
    """Create or update, by name, a recurring job; see ``django_jobs.creating.schedule``."""
    from .creating import schedule as _schedule

    return _schedule(name, handler_name, expression, data, **kwargs)


# The async doors are ``enqueue`` and ``schedule`` themselves, run in Django's
# thread-sensitive executor: their options have one list, and a new one reaches both.
aenqueue = sync_to_async(enqueue)
aenqueue.__doc__ = """``enqueue`` for async code (an async view, a consumer), with the same options.

It runs in Django's thread-sensitive executor, on the connection the
request's other database calls use; in autocommit the job exists when
this returns. Inside ``transaction.atomic()`` (sync code reached through
``sync_to_async``) call ``enqueue`` itself.
"""
aschedule = sync_to_async(schedule)
aschedule.__doc__ = """``schedule`` for async code; it runs like ``aenqueue``."""


def trigger(job: Any) -> Job:
    """Run a job as soon as a worker is free; see ``django_jobs.steering.trigger``."""
    from .steering import trigger as _trigger

    return _trigger(job)


def cancel(job: Any) -> Job:
    """Cancel a job; see ``django_jobs.steering.cancel``."""
    from .steering import cancel as _cancel

    return _cancel(job)


def requeue_dead(
    ids: Any = None,
    *,
    all: bool = False,
    handler: str | None = None,
    error_type: str | None = None,
    died_after: datetime | None = None,
    died_before: datetime | None = None,
) -> Requeued:
    """Run dead jobs again with fresh attempts: ``ids`` (jobs or ids), or ``all=True``
    with optional filters; see ``django_jobs.steering.requeue_dead``.

    ``error_type`` is the exception class of the last failure (``"ValueError"``);
    ``died_after`` / ``died_before`` bound when the job died. Returns how many were
    requeued (``.count``) and which stay dead because a live job holds their unique
    key (``.held_keys``).
    """
    from .dead import select
    from .steering import requeue_dead as _requeue

    return _requeue(
        select(
            ids,
            all=all,
            handler=handler,
            error_type=error_type,
            died_after=died_after,
            died_before=died_before,
        )
    )


def purge_dead(
    ids: Any = None,
    *,
    all: bool = False,
    handler: str | None = None,
    error_type: str | None = None,
    died_after: datetime | None = None,
    died_before: datetime | None = None,
) -> int:
    """Delete dead jobs and their history, selected as for ``requeue_dead``; returns how many."""
    from .dead import select
    from .steering import purge_dead as _purge

    return _purge(
        select(
            ids,
            all=all,
            handler=handler,
            error_type=error_type,
            died_after=died_after,
            died_before=died_before,
        )
    )
