"""Deleting old history and finished one-time jobs in small batches.

Each batch is its own short transaction over finished rows only, so pruning
never holds a lock a claim needs. Recurring jobs are never pruned.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import router, transaction
from django.utils import timezone

from .models import FINISHED, Job, JobHistory
from .schedules.durations import parse_duration

# A century is far beyond any retention, and keeps ``now - age`` a valid datetime.
MAX_AGE = timedelta(days=36500)


@dataclass
class Pruned:
    history: int = 0
    jobs: int = 0


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
    older_than: timedelta,
    *,
    now: datetime | None = None,
    batch_size: int = 1000,
    max_batches: int | None = None,
    dry_run: bool = False,
) -> Pruned:
    """Delete history rows started and one-time jobs finished before ``now - older_than``."""
    cutoff = (now or timezone.now()) - older_than
    history = JobHistory.objects.filter(started_at__lt=cutoff, completed_at__isnull=False)
    jobs = Job.objects.filter(schedule="", status__in=FINISHED, updated_at__lt=cutoff)
    if dry_run:
        return Pruned(history=history.count(), jobs=jobs.count())
    result = Pruned()
    result.history = _in_batches(JobHistory, history, batch_size, max_batches)
    result.jobs = _in_batches(Job, jobs, batch_size, max_batches)
    return result


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
