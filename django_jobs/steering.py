"""Steering existing jobs: trigger, cancel, retry, delete, and the runner switch.

The Python API, the REST API, the admin and the dashboard all call these, so
"may this job be cancelled now" has one answer.
"""

from __future__ import annotations

from datetime import datetime

from django.db import router, transaction
from django.utils import timezone

from . import notify, signals
from .conf import jobs_settings
from .exceptions import JobStateError
from .models import Job, JobStatus, Runner


def trigger(job: Job | int, *, now: datetime | None = None) -> Job:
    """Run a job as soon as a worker is free, bypassing its schedule.

    A recurring job keeps its schedule: its next slot afterwards is the one it
    had. A failed, completed or cancelled job runs again with fresh attempts.
    """
    now = now or timezone.now()
    pk = job_pk(job)
    updated = (
        Job.objects.filter(pk=pk)
        .exclude(status=JobStatus.RUNNING)
        .update(
            status=JobStatus.PENDING,
            next_run_at=now,
            scheduled_for=now,
            attempts=0,
            cancel_requested=False,
            updated_at=now,
        )
    )
    if not updated:
        _raise_state(pk, "trigger", "it is running")
    fresh = Job.objects.get(pk=pk)
    notify.job_available({fresh.queue})
    return fresh


def cancel(job: Job | int, *, now: datetime | None = None) -> Job:
    """Cancel a pending job, or ask a running one to stop (its ``ctx`` sees it).

    A cancelled job is neither retried nor rescheduled.
    """
    now = now or timezone.now()
    pk = job_pk(job)
    for _ in range(3):  # the job may be claimed between the two updates
        if Job.objects.filter(pk=pk, status=JobStatus.PENDING).update(
            status=JobStatus.CANCELLED, next_run_at=None, updated_at=now
        ):
            cancelled = Job.objects.get(pk=pk)
            signals.job_cancelled.send_robust(sender=Job, job=cancelled)
            return cancelled
        if Job.objects.filter(pk=pk, status=JobStatus.RUNNING).update(
            cancel_requested=True, updated_at=now
        ):
            break
        current = Job.objects.filter(pk=pk).values_list("status", flat=True).first()
        if current is None or current in (
            JobStatus.COMPLETED,
            JobStatus.FAILED,
            JobStatus.CANCELLED,
        ):
            _raise_state(pk, "cancel", f"it is {current}")
    return Job.objects.get(pk=pk)


def retry(job: Job | int, *, now: datetime | None = None) -> Job:
    """Run a failed job again with its attempts reset."""
    now = now or timezone.now()
    pk = job_pk(job)
    if not Job.objects.filter(pk=pk, status=JobStatus.FAILED).update(
        status=JobStatus.PENDING,
        attempts=0,
        next_run_at=now,
        scheduled_for=now,
        updated_at=now,
    ):
        _raise_state(pk, "retry", "only failed jobs are retried")
    fresh = Job.objects.get(pk=pk)
    notify.job_available({fresh.queue})
    return fresh


def delete(job: Job | int) -> None:
    """Delete a job and its history; a running job cannot be deleted (cancel it first)."""
    pk = job_pk(job)
    using = router.db_for_write(Job)
    with transaction.atomic(using=using):
        locked = lock_job(pk, using)
        if locked.status == JobStatus.RUNNING:
            raise JobStateError(f"job {pk} is running; cancel it and delete it once it stops")
        locked.delete()


def lock_job(pk: int, using: str) -> Job:
    """The job's row, locked until the transaction ends."""
    locked = Job.objects.using(using).select_for_update().filter(pk=pk).first()
    if locked is None:
        raise Job.DoesNotExist(f"job {pk} does not exist")
    return locked


def job_pk(job: Job | int) -> int:
    return job.pk if isinstance(job, Job) else int(job)


def _raise_state(pk: int, verb: str, reason: str) -> None:
    if not Job.objects.filter(pk=pk).exists():
        raise Job.DoesNotExist(f"job {pk} does not exist")
    status = Job.objects.filter(pk=pk).values_list("status", flat=True).first()
    raise JobStateError(f"cannot {verb} job {pk}: {reason} (status {status})")


# The runner switch -------------------------------------------------------------


def runner_running() -> bool:
    """Whether workers may take jobs; AUTO_START until somebody switched it."""
    value = Runner.objects.filter(pk=Runner.SINGLETON_ID).values_list("running", flat=True).first()
    return bool(jobs_settings.AUTO_START) if value is None else value


def set_runner(running: bool) -> bool:
    Runner.objects.update_or_create(pk=Runner.SINGLETON_ID, defaults={"running": running})
    if running:
        notify.job_available(None)
    return running
