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

from .engines import for_alias
from .engines.completion import owned_by
from .models import TRANSITION_FIELDS, Job, JobHistory, JobStatus, Worker


def overlaps(job: Job) -> bool:
    return job.is_recurring and job.allow_overlap


def child_key(job: Job) -> str:
    slot = job.scheduled_for.isoformat() if job.scheduled_for else ""
    return f"run:{job.pk}:{slot}"


def spawn_runs(worker: Worker, jobs: list[Job], now: datetime, using: str) -> list[Job]:
    """Swap each claimed job that allows overlap for a child run; returns the jobs to execute."""
    if not any(overlaps(job) for job in jobs):
        return jobs
    runs = []
    with transaction.atomic(using=using):
        for job in jobs:
            if not overlaps(job):
                runs.append(job)
                continue
            child = _spawn(worker, job, now, using)
            if child is not None:
                runs.append(child)
    return runs


def _spawn(worker: Worker, job: Job, now: datetime, using: str) -> Job | None:
    child = Job.objects.using(using).filter(key=child_key(job)).first()
    if child is None:
        child = Job.objects.using(using).create(
            name=job.name,
            handler=job.handler,
            data=job.data,
            key=child_key(job),
            queue=job.queue,
            priority=job.priority,
            max_attempts=job.max_attempts,
            timeout=job.timeout,
            status=JobStatus.RUNNING,
            worker_id=worker.pk,
            attempts=1,
            next_run_at=job.scheduled_for or now,
            scheduled_for=job.scheduled_for,
            started_at=now,
            last_run_at=now,
            created_at=now,
        )
        spawned = True
    else:
        spawned = False  # the slot already has its run: only move the job on
    _hand_over_history(job, child if spawned else None, using)
    job.hand_over(now)
    for_alias(using).update_rows(Job, [job], TRANSITION_FIELDS, fence=owned_by(worker))
    return child if spawned else None


def _hand_over_history(job: Job, child: Job | None, using: str) -> None:
    """The attempt the claim wrote for the job belongs to the child's first attempt."""
    row = getattr(job, "run_history", None)
    if row is None:
        return
    written = JobHistory.objects.using(using).filter(
        job_id=job.pk, scheduled_for=row.scheduled_for, attempt=row.attempt
    )
    if child is None:
        written.delete()
        return
    written.update(job_id=child.pk, attempt=1)
    row.job_id, row.attempt = child.pk, 1
    child.run_history = row
