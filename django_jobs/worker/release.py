"""Putting back the jobs a stopping worker still holds.

An attempt that started counts: it is failed as interrupted, and the job
runs again only if it has attempts left (a job with ``max_attempts=1`` runs
at most once). A claimed job that never started gives its attempt back, and
its history row is removed.
"""

from __future__ import annotations

import logging
from datetime import datetime

from django.db import transaction

from .. import dependencies
from ..dead import announce_failed
from ..engines import for_alias
from ..models import TRANSITION_FIELDS, Job, JobHistory, Worker
from .slots import InFlight, Slots

logger = logging.getLogger("django_jobs.worker")

INTERRUPTED = "interrupted: the worker stopped before the job finished"


def put_back(slots: Slots, row: Worker | None, now: datetime, using: str) -> None:
    """Release every job still in ``slots`` (abandoned ones already have their outcome)."""
    left = [entry for entry in slots if not entry.abandoned]
    if not left or row is None:
        return
    released = [_release(entry, now, using) for entry in left]
    jobs = [job for job, _ in released]
    with transaction.atomic(using=using):
        for_alias(using).update_rows(Job, jobs, TRANSITION_FIELDS, fence={"worker": row.pk})
        # A job out of attempts ended: the jobs waiting for it hear of it now.
        ended = [job.pk for job in jobs if job.is_finished]
        if ended:
            dependencies.settle_rows(ended, using, now)
    # A job given back never started: it failed nothing and cannot have died.
    announce_failed((job, will_retry) for job, will_retry in released if will_retry is not None)
    slots.clear()
    logger.warning("put back unfinished jobs count=%d", len(jobs))


def _release(entry: InFlight, now: datetime, using: str) -> tuple[Job, bool | None]:
    """The job's transition in memory, and its history row's, written at once; whether a
    started attempt is retried (None: it never started)."""
    started = entry.future is None or not entry.future.cancel()
    job, run = entry.claimed.job, entry.claimed.run
    if run is not None:
        written = JobHistory.objects.using(using).filter(
            job_id=job.pk, attempt=run.attempt, scheduled_for=run.scheduled_for
        )
        if started:
            written.update(**JobHistory.failed(now, INTERRUPTED))
        else:
            written.delete()
    if not started:
        job.give_back(now)
        return job, None
    return job, job.fail(now, INTERRUPTED, now)
