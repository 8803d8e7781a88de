"""Overlapping runs of recurring jobs that allow them.

A recurring job is one row, and a running row cannot be claimed again: that
is what keeps the runs of one job from overlapping. A job with
``allow_overlap`` instead hands each claimed slot to a one-time child job and
goes straight back to ``pending`` for its next slot, so the next slot fires
on time even while earlier runs go on. The child runs, retries and is
recovered after a crash like any one-time job; its history rows are its own.
Its key, ``run:<job id>:<slot>``, is unique: the database refuses a second
run of one slot.
"""

from __future__ import annotations

from datetime import datetime

from django.db import transaction

from ..claimed import Claimed
from ..engines import for_alias
from ..engines.completion import owned_by
from ..models import TRANSITION_FIELDS, Job, JobHistory, JobStatus, Worker


def overlaps(job: Job) -> bool:
    return job.is_recurring and job.allow_overlap


def child_key(job: Job) -> str:
    slot = job.scheduled_for.isoformat() if job.scheduled_for else ""
    return f"run:{job.pk}:{slot}"


def spawn_runs(worker: Worker, batch: list[Claimed], now: datetime, using: str) -> list[Claimed]:
    """Swap each claimed job that allows overlap for a child run; returns the runs to execute."""
    if not any(overlaps(claimed.job) for claimed in batch):
        return batch
    runs = []
    with transaction.atomic(using=using):
        for claimed in batch:
            if not overlaps(claimed.job):
                runs.append(claimed)
                continue
            child = _spawn(worker, claimed, now, using)
            if child is not None:
                runs.append(child)
    return runs


def _spawn(worker: Worker, claimed: Claimed, now: datetime, using: str) -> Claimed | None:
    """The child run of the claimed slot (None when the slot already had one); the job moves on."""
    job = claimed.job
    child = None
    if not Job.objects.using(using).filter(key=child_key(job)).exists():
        child = _create_child(worker, job, now, using)
    run = _hand_over_history(claimed, child, using)
    job.hand_over(now)
    for_alias(using).update_rows(Job, [job], TRANSITION_FIELDS, fence=owned_by(worker))
    return None if child is None else Claimed(child, run)


def _create_child(worker: Worker, job: Job, now: datetime, using: str) -> Job:
    return Job.objects.using(using).create(
        name=job.name,
        handler=job.handler,
        data=job.data,
        key=child_key(job),
        queue=job.queue,
        priority=job.priority,
        max_attempts=job.max_attempts,
        timeout=job.timeout,
        # The run counts against its job's limit, as the claim that started it counted it.
        limit=job.limit,
        limit_key=job.limit_key,
        status=JobStatus.RUNNING,
        worker_id=worker.pk,
        attempts=1,
        next_run_at=job.scheduled_for or now,
        scheduled_for=job.scheduled_for,
        started_at=now,
        last_run_at=now,
        created_at=now,
    )


def _hand_over_history(claimed: Claimed, child: Job | None, using: str) -> JobHistory | None:
    """The attempt the claim wrote for the job belongs to the child's first attempt."""
    row = claimed.run
    if row is None:
        return None
    written = JobHistory.objects.using(using).filter(
        job_id=claimed.job.pk, scheduled_for=row.scheduled_for, attempt=row.attempt
    )
    if child is None:
        written.delete()
        return None
    written.update(job_id=child.pk, attempt=1)
    row.job_id, row.attempt = child.pk, 1
    return row
