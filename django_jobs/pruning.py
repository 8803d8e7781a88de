"""Deleting old history and finished one-time jobs in small batches.

Each batch is its own short transaction over finished rows only, so pruning
never holds a lock a claim needs. Recurring jobs are never pruned. Dead jobs
(``Job.objects.dead()``) have a retention of their own, ``DEAD_RETENTION_DAYS``:
they and their whole history stay until it has passed, whatever the age of
other rows, and then go through ``steering.purge_dead``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import router, transaction
from django.utils import timezone

from . import steering
from .conf import jobs_settings
from .dead import DeadSelection
from .models import DEAD, FINISHED, Job, JobHistory
from .schedules.durations import parse_duration

# A century is far beyond any retention, and keeps ``now - age`` a valid datetime.
MAX_AGE = timedelta(days=36500)


@dataclass
class Pruned:
    history: int = 0
    jobs: int = 0
    dead: int = 0


def parse_age(text: str) -> timedelta:
    """``30d``, ``12h``, ``90m``, ``45s``, or a bare number of days (a ValueError if not)."""
    return parse_duration(
        text.strip() if isinstance(text, str) else text,
        what="age",
        expected=f"expected an age like 30d, 12h or 90m, got {text!r}",
        default_unit="d",
        maximum=MAX_AGE,
    )


def prune(
    older_than: timedelta | None,
    *,
    dead_older_than: timedelta | None = None,
    now: datetime | None = None,
    batch_size: int = 1000,
    max_batches: int | None = None,
    dry_run: bool = False,
) -> Pruned:
    """Delete history rows started and one-time jobs finished before ``now - older_than``,
    and dead jobs that died before ``now - dead_older_than``; None keeps those rows.

    The history of a dead job is kept with it, so its runs can be read until it goes.
    """
    now = now or timezone.now()
    result = Pruned()
    if older_than is not None:
        cutoff = now - older_than
        history = JobHistory.objects.filter(
            started_at__lt=cutoff, completed_at__isnull=False
        ).exclude(job_id__in=Job.objects.dead().values("pk"))
        jobs = Job.objects.filter(schedule="", status__in=FINISHED, updated_at__lt=cutoff).exclude(
            DEAD
        )
        if dry_run:
            result.history, result.jobs = history.count(), jobs.count()
        else:
            result.history = _in_batches(JobHistory, history, batch_size, max_batches)
            result.jobs = _in_batches(Job, jobs, batch_size, max_batches)
    if dead_older_than is not None:
        dead = DeadSelection(died_before=now - dead_older_than)
        if dry_run:
            result.dead = dead.queryset().count()
        else:
            result.dead = steering.purge_dead(dead, batch_size=batch_size, max_batches=max_batches)
    return result


def retention() -> tuple[timedelta | None, timedelta | None]:
    """``RETENTION_DAYS`` and ``DEAD_RETENTION_DAYS`` as ages (None: keep forever)."""
    days = jobs_settings.RETENTION_DAYS
    dead_days = jobs_settings.DEAD_RETENTION_DAYS
    return (
        None if days is None else timedelta(days=float(days)),
        None if dead_days is None else timedelta(days=float(dead_days)),
    )


def prune_configured(*, batch_size: int = 500, max_batches: int | None = 2) -> Pruned:
    """What a worker prunes now and then: a few batches past each configured retention."""
    older_than, dead_older_than = retention()
    if older_than is None and dead_older_than is None:
        return Pruned()
    return prune(
        older_than, dead_older_than=dead_older_than, batch_size=batch_size, max_batches=max_batches
    )


def _in_batches(model, queryset, batch_size: int, max_batches: int | None) -> int:
    using = router.db_for_write(model)
    deleted = batches = 0
    while max_batches is None or batches < max_batches:
        ids = list(queryset.order_by("pk").values_list("pk", flat=True)[:batch_size])
        if not ids:
            break
        with transaction.atomic(using=using):
            if model is Job:
                JobHistory.objects.using(using).filter(job_id__in=ids).delete()
            count = (
                model.objects.using(using).filter(pk__in=ids).delete()[1].get(model._meta.label, 0)
            )
        deleted += count
        batches += 1
    return deleted
