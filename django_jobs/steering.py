"""Steering existing jobs: trigger, cancel, retry, delete, pause and resume,
and dead jobs in bulk: requeue and purge.

The Python API, the REST API, the admin and the dashboard all call these, and
ask ``may`` / ``refused_fields`` before offering a button or a form field, so
"may this job be edited, triggered, cancelled, retried or deleted now" has one
answer: the ``ALLOWED`` table. The runner switch lives on
``models.Runner``; ``django_jobs.runner`` is its Python API.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import router, transaction
from django.utils import timezone

from . import dependencies, signals
from .dead import DeadSelection
from .engines import notify
from .exceptions import JobStateError
from .models import FINISHED, Job, JobStatus
from .unique import keeping_unique

# What may be done to a job, by its status -----------------------------------------
# A running job belongs to its worker: it cannot be edited, triggered or deleted
# until it stops (cancel asks it to stop). Conditional updates below filter on
# these same statuses, so a job that changes state meanwhile is refused, not lost.

NOT_RUNNING = frozenset({JobStatus.PENDING, *FINISHED})
ALLOWED: dict[str, frozenset[str]] = {
    "edit": NOT_RUNNING,
    "trigger": NOT_RUNNING,
    "cancel": frozenset({JobStatus.PENDING, JobStatus.RUNNING}),
    "retry": frozenset({JobStatus.FAILED}),
    "delete": NOT_RUNNING,
}
REASONS: dict[str, str] = {
    "edit": "it is running; edit it once it stops",
    "trigger": "it is running",
    "cancel": "it has finished",
    "retry": "only failed jobs are retried",
    "delete": "it is running; cancel it and delete it once it stops",
}
# Fields that only some statuses take on top of "edit": a finished job is run
# again by trigger or retry, not by moving its run_at.
FIELD_ALLOWED: dict[str, frozenset[str]] = {"run_at": frozenset({JobStatus.PENDING})}
FIELD_REASONS: dict[str, str] = {"run_at": "trigger or retry it to run it again"}


def _status_of(job: Job | str) -> str:
    return job.status if isinstance(job, Job) else job


def may(verb: str, job: Job | str) -> bool:
    """Whether ``verb`` (a key of ``ALLOWED`` or ``PAUSING``) may be done to a job now."""
    if verb in PAUSING:
        return isinstance(job, Job) and PAUSING[verb](job)
    return _status_of(job) in ALLOWED[verb]


# Pausing depends on the kind of job and its flag, whatever its status.
PAUSING = {
    "pause": lambda job: job.is_recurring and not job.paused,
    "resume": lambda job: job.is_recurring and job.paused,
}


def allowed_verbs(job: Job | str) -> list[str]:
    """Every verb the job's status allows, in the table's order (for buttons and menus)."""
    return [verb for verb in ALLOWED if may(verb, job)]


def refusal(verb: str, job: Job, reason: str | None = None) -> JobStateError:
    return JobStateError(
        f"cannot {verb} job {job.pk}: {reason or REASONS[verb]} (status {job.status})"
    )


def check(verb: str, job: Job) -> None:
    """Raise ``JobStateError`` unless ``verb`` may be done to ``job`` now."""
    if not may(verb, job):
        raise refusal(verb, job)


def refused_fields(job: Job | str, fields: Iterable[str]) -> set[str]:
    """Which of ``fields`` a job in this status may not change now."""
    if not may("edit", job):
        return set(fields)
    status = _status_of(job)
    return {f for f in fields if f in FIELD_ALLOWED and status not in FIELD_ALLOWED[f]}


def check_changes(job: Job, fields: Iterable[str]) -> None:
    """Raise ``JobStateError`` if the job's status refuses a change to any of ``fields``."""
    refused = sorted(refused_fields(job, fields))
    if not refused:
        return
    if not may("edit", job):
        raise refusal("edit", job)
    raise refusal(f"change {', '.join(refused)} of", job, FIELD_REASONS[refused[0]])


# Steering ------------------------------------------------------------------------


def trigger(job: Job | int, *, now: datetime | None = None) -> Job:
    """Run a job as soon as a worker is free, bypassing its schedule.

    A recurring job keeps its schedule: its next slot afterwards is the one it
    had. A failed, completed or cancelled job runs again with fresh attempts.
    A paused recurring job runs once and stays paused: its handler runs with its
    data as a new one-time job (named "<name> (run now)"), which is returned.
    A job waiting for dependencies stops waiting and runs now.
    """
    now = now or timezone.now()
    pk = job_pk(job)
    paused = Job.objects.filter(pk=pk, paused=True, status__in=ALLOWED["trigger"]).first()
    if paused is not None:
        return _run_once(paused)
    with keeping_unique(pk, router.db_for_write(Job)):
        updated = Job.objects.filter(pk=pk, status__in=ALLOWED["trigger"]).update(
            **Job.requeued(now)
        )
    if not updated:
        _raise_state(pk, "trigger")
    fresh = Job.objects.get(pk=pk)
    notify.job_available({fresh.queue})
    return fresh


def _run_once(job: Job) -> Job:
    """One run of a paused recurring job, as a one-time job; the paused one keeps its slot."""
    from .creating import enqueue

    return enqueue(
        job.handler,
        job.data,
        name=f"{job.name} (run now)"[: Job._meta.get_field("name").max_length],
        queue=job.queue,
        priority=job.priority,
        timeout=job.timeout,
        max_attempts=job.max_attempts,
    )


def cancel(job: Job | int, *, now: datetime | None = None) -> Job:
    """Cancel a pending job, or ask a running one to stop (its ``ctx`` sees it).

    A cancelled job is neither retried nor rescheduled; the jobs waiting for it
    are settled with it (``dependencies``).
    """
    now = now or timezone.now()
    pk = job_pk(job)
    using = router.db_for_write(Job)
    for _ in range(3):  # the job may be claimed between the two updates
        with transaction.atomic(using=using):
            cancelled = None
            pending = Job.objects.using(using).filter(pk=pk, status=JobStatus.PENDING)
            if pending.update(**Job.cancelled(now)):
                cancelled = Job.objects.using(using).get(pk=pk)
                dependencies.settle_jobs([cancelled], using, now)
        if cancelled is not None:
            signals.job_cancelled.send_robust(sender=Job, job=cancelled)
            return cancelled
        if Job.objects.filter(pk=pk, status=JobStatus.RUNNING).update(**Job.asked_to_cancel(now)):
            break
        current = Job.objects.filter(pk=pk).values_list("status", flat=True).first()
        if current is None or not may("cancel", current):
            _raise_state(pk, "cancel", f"it is {current}")
    return Job.objects.get(pk=pk)


def retry(job: Job | int, *, now: datetime | None = None) -> Job:
    """Run a failed job again with its attempts reset."""
    now = now or timezone.now()
    pk = job_pk(job)
    with keeping_unique(pk, router.db_for_write(Job)):
        retried = Job.objects.filter(pk=pk, status__in=ALLOWED["retry"]).update(**Job.requeued(now))
    if not retried:
        _raise_state(pk, "retry")
    fresh = Job.objects.get(pk=pk)
    notify.job_available({fresh.queue})
    return fresh


def delete(job: Job | int) -> None:
    """Delete a job and its history; a running job cannot be deleted (cancel it first).

    Jobs still waiting for it are settled as if it had been cancelled.
    """
    pk = job_pk(job)
    using = router.db_for_write(Job)
    with transaction.atomic(using=using):
        locked = lock_job(pk, using)
        check("delete", locked)
        if locked.has_dependents and not locked.is_finished:
            # Its dependents would wait forever: they end as if it had been cancelled.
            dependencies.settle({locked.pk: "deleted"}, using, timezone.now())
        locked.delete()


def pause(job: Job | int, *, now: datetime | None = None) -> Job:
    """Stop a recurring job from firing; it keeps its schedule until ``resume``.

    A run in progress finishes; the job then waits, paused, at its next slot.
    Pausing a paused job changes nothing. One-time jobs are cancelled, not paused.
    """
    now = now or timezone.now()
    pk = job_pk(job)
    if not Job.objects.filter(pk=pk).exclude(schedule="").update(paused=True, updated_at=now):
        _raise_state(pk, "pause", "only recurring jobs are paused")
    return Job.objects.get(pk=pk)


def resume(job: Job | int, *, now: datetime | None = None) -> Job:
    """Let a paused recurring job fire again from its next slot after now.

    The slots that passed while it was paused are skipped, not caught up.
    """
    now = now or timezone.now()
    pk = job_pk(job)
    using = router.db_for_write(Job)
    with transaction.atomic(using=using):
        locked = lock_job(pk, using)
        if not locked.is_recurring:
            _raise_state(pk, "resume", "only recurring jobs are paused")
        fields = ["paused", "updated_at"]
        locked.paused = False
        locked.updated_at = now
        if locked.status == JobStatus.PENDING and locked.next_run_at and locked.next_run_at < now:
            locked.next_run_at = locked.scheduled_for = locked.next_slot(now)
            fields += ["next_run_at", "scheduled_for"]
        locked.save(update_fields=fields)
    notify.job_available({locked.queue})
    return locked


# Dead jobs in bulk -------------------------------------------------------------------
# A requeue is a retry and a purge a delete, of each selected dead job: the same
# table allows them, and every write is conditional on the job still being dead,
# so two requeues of one selection at once requeue each job once between them.


@dataclass
class Requeued:
    """How many dead jobs were requeued, and which were not because of a unique key."""

    count: int = 0
    # Dead jobs whose unique key a live job holds now: they stay dead.
    held_keys: list[int] = field(default_factory=list)


def requeue_dead(
    selection: DeadSelection, *, now: datetime | None = None, batch_size: int = 500
) -> Requeued:
    """Retry every selected dead job: due now, attempts reset (as ``retry`` does).

    Batches of ``batch_size`` commit one by one, so a large requeue holds no
    long lock; a job requeued by someone else meanwhile is not counted again.
    """
    now = now or timezone.now()
    using = router.db_for_write(Job)
    done = Requeued()
    queues: set[str] = set()
    for batch in _dead_batches(selection, using, batch_size, "queue", "unique_key"):
        rerun = selection.queryset(using).filter(status__in=ALLOWED["retry"])
        plain = [pk for pk, _, key in batch if key is None]
        if plain:
            done.count += rerun.filter(pk__in=plain).update(**Job.requeued(now))
        for pk, _, key in batch:
            if key is None:
                continue
            try:
                with keeping_unique(pk, using):
                    done.count += rerun.filter(pk=pk).update(**Job.requeued(now))
            except JobStateError:
                done.held_keys.append(pk)
        queues.update(queue for _, queue, _ in batch)
    if done.count:
        notify.job_available(queues)
    return done


def purge_dead(
    selection: DeadSelection, *, batch_size: int = 500, max_batches: int | None = None
) -> int:
    """Delete every selected dead job with its history; returns how many were deleted.

    Each batch locks the rows that are still dead before deleting them, so a job
    requeued meanwhile is kept. ``max_batches`` stops early (pruning does a few at a time).
    """
    using = router.db_for_write(Job)
    deleted = 0
    for done, batch in enumerate(_dead_batches(selection, using, batch_size)):
        if max_batches is not None and done >= max_batches:
            break
        with transaction.atomic(using=using):
            still_dead = list(
                selection.queryset(using)
                .filter(pk__in=[pk for (pk,) in batch], status__in=ALLOWED["delete"])
                .select_for_update()
                .values_list("pk", flat=True)
            )
            if still_dead:
                _, by_model = Job.objects.using(using).filter(pk__in=still_dead).delete()
                deleted += by_model.get(Job._meta.label, 0)
    return deleted


def _dead_batches(
    selection: DeadSelection, using: str, size: int, *columns: str
) -> Iterable[list[tuple[Any, ...]]]:
    """The selected dead jobs' ids (and ``columns``), oldest first, ``size`` at a time."""
    after = 0
    while True:
        batch = list(
            selection.queryset(using)
            .filter(pk__gt=after)
            .order_by("pk")
            .values_list("pk", *columns)[:size]
        )
        if not batch:
            return
        yield batch
        after = batch[-1][0]


def lock_job(pk: int, using: str) -> Job:
    """The job's row, locked until the transaction ends."""
    locked = Job.objects.using(using).select_for_update().filter(pk=pk).first()
    if locked is None:
        raise Job.DoesNotExist(f"job {pk} does not exist")
    return locked


def job_pk(job: Job | int) -> int:
    return job.pk if isinstance(job, Job) else int(job)


def _raise_state(pk: int, verb: str, reason: str | None = None) -> None:
    job = Job.objects.filter(pk=pk).only("status").first()
    if job is None:
        raise Job.DoesNotExist(f"job {pk} does not exist")
    raise refusal(verb, job, reason)
