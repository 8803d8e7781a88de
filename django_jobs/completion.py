"""Writing the outcomes of finished attempts, many in one transaction.

Every write is fenced by ownership: only jobs still ``running`` and held by
this worker are changed. A job that was recovered from this worker (it was
thought dead), deleted or otherwise taken away is left alone, and its
outcome is dropped with a warning rather than overwriting newer state.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction

from . import signals
from .bulk import update_rows
from .conf import jobs_settings
from .execution import Outcome
from .models import TRANSITION_FIELDS, Job, JobHistory, JobStatus, RunStatus, Worker
from .retry import retry_at

logger = logging.getLogger("django_jobs.worker")

HISTORY_FIELDS = ["status", "completed_at", "error", "result", "duration"]


@dataclass
class Finished:
    job: Job
    outcome: Outcome
    history_status: str = ""
    will_retry: bool = False


def finish(worker: Worker, items: Sequence[Finished], now: datetime, using: str) -> list[Finished]:
    """Apply outcomes to their jobs and history rows; returns the ones that were applied."""
    if not items:
        return []
    by_id = {item.job.pk: item for item in items}
    with transaction.atomic(using=using):
        owned = dict(
            Job.objects.using(using)
            .select_for_update()
            .filter(pk__in=list(by_id), worker_id=worker.pk, status=JobStatus.RUNNING)
            .values_list("pk", "cancel_requested")
        )
        applied = [by_id[pk] for pk in by_id if pk in owned]
        for item in applied:
            _transition(item, owned[item.job.pk], now)
        if applied:
            update_rows(Job, [i.job for i in applied], TRANSITION_FIELDS, using)
            _write_history(applied, now, using)
    for pk in set(by_id) - set(owned):
        logger.warning("dropped the outcome of a job this worker no longer holds job=%s", pk)
    _send_signals(applied)
    return applied


def _transition(item: Finished, cancel_requested: bool, now: datetime) -> None:
    job, outcome = item.job, item.outcome
    job.updated_at = now
    if cancel_requested:
        job.mark_cancelled()
        item.history_status = RunStatus.COMPLETED if outcome.ok else RunStatus.CANCELLED
        if not outcome.ok:
            job.last_error = outcome.error
        return
    if outcome.ok:
        job.mark_succeeded(now)
        item.history_status = RunStatus.COMPLETED
        return
    when = retry_at(
        now,
        job.attempts,
        base=float(jobs_settings.RETRY_BACKOFF_BASE),
        cap=float(jobs_settings.RETRY_BACKOFF_MAX),
        jitter=bool(jobs_settings.RETRY_JITTER),
    )
    item.will_retry = job.mark_failed(now, outcome.error, when)
    item.history_status = RunStatus.FAILED


def _write_history(applied: list[Finished], now: datetime, using: str) -> None:
    rows = []
    for item in applied:
        row = getattr(item.job, "run_history", None)
        if row is None:
            continue
        if row.pk is None:  # MySQL does not return ids from a bulk insert
            row.pk = (
                JobHistory.objects.using(using)
                .filter(job_id=row.job_id, scheduled_for=row.scheduled_for, attempt=row.attempt)
                .values_list("pk", flat=True)
                .first()
            )
        row.status = item.history_status
        row.completed_at = item.outcome.finished_at
        row.error = item.outcome.error
        row.result = item.outcome.result
        row.duration = item.outcome.duration_ms
        if row.pk is not None:
            rows.append(row)
    if rows:
        update_rows(JobHistory, rows, HISTORY_FIELDS, using)


def _send_signals(applied: list[Finished]) -> None:
    for item in applied:
        job, outcome = item.job, item.outcome
        attempt = getattr(job, "run_history", None)
        attempt_no = attempt.attempt if attempt is not None else job.attempts
        try:
            if item.history_status == RunStatus.COMPLETED:
                signals.job_succeeded.send_robust(
                    sender=Job,
                    job=job,
                    attempt=attempt_no,
                    result=outcome.result,
                    duration_ms=outcome.duration_ms,
                )
            elif item.history_status == RunStatus.FAILED:
                signals.job_failed.send_robust(
                    sender=Job,
                    job=job,
                    attempt=attempt_no,
                    error=outcome.error,
                    will_retry=item.will_retry,
                )
        except Exception:
            logger.exception("a job signal receiver failed")
