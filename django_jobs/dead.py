"""Dead jobs: which ones a requeue, a purge or a list is about.

What "dead" means is ``Job.objects.dead()`` (a one-time job that failed for
good). A ``DeadSelection`` names some of them, by id or by filters, for
``steering.requeue_dead`` and ``steering.purge_dead``; the REST API, the admin
and the Python API build one and hand it over.

Two facts are read from what a failure already stores, so no column is added:

- the error type is the exception class the job's ``last_error`` begins with
  (the worker writes ``"ValueError: message"`` and then the traceback); an
  error the worker wrote itself (a lost worker, a refused row) has none;
- the instant of death is ``updated_at``, which the failing write sets and
  retention (``DEAD_RETENTION_DAYS``) counts from.

Filtering reads the status index first (dead jobs are failed ones), so the
error type and the instant are matched among failed rows only.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from datetime import timezone as dt_timezone

from django.utils import timezone

from . import signals
from .errors import ERROR_TYPE, has_error_type
from .exceptions import InvalidJob
from .models import Job, JobQuerySet
from .validation import check_storable

ERROR_TYPE_MAX = 200
HANDLER_MAX = 200
# When a dead job died: the failing write sets it.
DIED_AT = "updated_at"


@dataclass(frozen=True)
class DeadSelection:
    """Dead jobs by id (``ids``), or every dead job matching the filters (``ids`` None)."""

    ids: tuple[int, ...] | None = None
    handler: str | None = None
    error_type: str | None = None
    died_after: datetime | None = None
    died_before: datetime | None = None

    def queryset(self, using: str | None = None) -> JobQuerySet:
        jobs = (Job.objects.using(using) if using else Job.objects).dead()
        if self.ids is not None:
            jobs = jobs.filter(pk__in=self.ids)
        if self.handler:
            jobs = jobs.filter(handler=self.handler)
        if self.error_type:
            jobs = jobs.filter(has_error_type(self.error_type))
        if self.died_after is not None:
            jobs = jobs.filter(**{f"{DIED_AT}__gte": self.died_after})
        if self.died_before is not None:
            jobs = jobs.filter(**{f"{DIED_AT}__lt": self.died_before})
        return jobs


def select(
    ids: Iterable[Job | int] | None = None,
    *,
    all: bool = False,
    handler: str | None = None,
    error_type: str | None = None,
    died_after: datetime | None = None,
    died_before: datetime | None = None,
) -> DeadSelection:
    """A checked selection: ``ids``, or ``all=True`` with optional filters.

    Raises ``InvalidJob`` naming the field at fault, so nothing is requeued or
    purged by a call that meant something else (no ids and no ``all``).
    """
    if (ids is None) == (not all):
        raise InvalidJob("ids", "give the ids of dead jobs, or all=True (with filters or not)")
    filters = (handler, error_type, died_after, died_before)
    if ids is not None and any(value is not None for value in filters):
        raise InvalidJob("ids", "filters select with all=True; with ids, give the ids alone")
    if handler is not None:
        check_handler(handler)
    if error_type is not None:
        check_error_type(error_type)
    for field, value in (("died_after", died_after), ("died_before", died_before)):
        if value is not None and timezone.is_naive(value):
            raise InvalidJob(field, f"{field} needs a time zone (an aware datetime)")
    pks = None if ids is None else tuple(_pk(job) for job in ids)
    after, before = (None if v is None else v.astimezone(dt_timezone.utc) for v in filters[2:])
    return DeadSelection(pks, handler or None, error_type or None, after, before)


def check_handler(value: str) -> None:
    if not isinstance(value, str) or not 1 <= len(value) <= HANDLER_MAX:
        raise InvalidJob("handler", f"a handler's name, 1 to {HANDLER_MAX} characters")
    check_storable("handler", value)


def check_error_type(value: str) -> None:
    if not isinstance(value, str) or len(value) > ERROR_TYPE_MAX or not ERROR_TYPE.fullmatch(value):
        raise InvalidJob("error_type", "an exception class name, such as ValueError")


def _pk(job: Job | int) -> int:
    if isinstance(job, Job):
        return int(job.pk)
    if isinstance(job, bool) or not isinstance(job, int):
        raise InvalidJob("ids", f"job ids are whole numbers, got {job!r}")
    return job


def announce_failed(ended: Iterable[tuple[Job, bool]]) -> None:
    """Send ``job_failed`` (then ``job_dead`` where due) for attempts failed outside the
    worker's own completion: a lost worker's, a stopping worker's interrupted ones.

    ``ended`` holds each job with whether it will be retried; called once the
    transitions are written, as the worker's completion sends its own.
    """
    ended = list(ended)
    for job, will_retry in ended:
        signals.job_failed.send_robust(
            sender=Job, job=job, attempt=job.attempts, error=job.last_error, will_retry=will_retry
        )
    announce(job for job, _ in ended)


def announce(jobs: Iterable[Job]) -> None:
    """Send ``job_dead`` for each of ``jobs`` that its last transition left dead.

    Called once the transition is written, by the paths that end attempts outside
    the worker's own completion (a lost worker, a refused start, a shutdown).
    """
    for job in jobs:
        if job.is_dead:
            signals.job_dead.send_robust(
                sender=Job, job=job, attempt=job.attempts, error=job.last_error
            )
