"""Writing the outcomes of finished attempts, many in one transaction.

Every write is fenced by ownership: only jobs still ``running`` and held by
this worker are changed. A job that was recovered from this worker (it was
thought dead), deleted or otherwise taken away is left alone, and its
outcome is dropped with a warning rather than overwriting newer state.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime

from django.db import transaction

from .. import dependencies, faults, signals
from ..models import FINISHED, TRANSITION_FIELDS, Job, JobHistory, JobStatus, RunStatus, Worker
from ..outcomes import Finished, Outcome, cancel_after, fill_history, settle
from . import for_alias

logger = logging.getLogger("django_jobs.worker")

HISTORY_FIELDS = ["status", "completed_at", "error", "result", "duration"]
# Times one outcome's transaction is tried when the database chose it as a deadlock's victim.
LOCK_RETRIES = 3


def finish(worker: Worker, items: Sequence[Finished], now: datetime, using: str) -> list[Finished]:
    """Apply outcomes to their jobs and history rows; returns the ones that were applied.

    When the batch fails for any reason but a lost connection (a refused
    value; on MariaDB an outcome too large for a packet ends with "server has
    gone away" while the connection stays usable), it is written row by row,
    and an outcome whose own write still fails that way fails its job
    (``finish_one_by_one``).
    """
    if not items:
        return []
    by_id = {item.job.pk: item for item in items}
    try:
        applied = for_alias(using).finish(worker, by_id, now)
    except Exception as exc:
        if faults.classify(exc, using) is faults.Fault.OUTAGE:
            raise
        return finish_one_by_one(worker, items, now, using)
    return after_finish(by_id, applied)


def finish_one_by_one(
    worker: Worker, items: Sequence[Finished], now: datetime, using: str
) -> list[Finished]:
    """Write each outcome in a transaction of its own; a refused one fails its job.

    The jobs are read again first: the failed batch changed them in memory
    only, and each transition must start from the row as it is.
    """
    by_id = {item.job.pk: item for item in items}
    return after_finish(by_id, _write_one_by_one(worker, by_id, now, using))


def _write_one_by_one(
    worker: Worker, by_id: dict[int, Finished], now: datetime, using: str
) -> list[Finished]:
    _reload(worker, by_id, using)
    applied: list[Finished] = []
    for pk, item in by_id.items():
        for tries_left in reversed(range(LOCK_RETRIES)):
            try:
                with transaction.atomic(using=using):
                    applied += finish_in_transaction(worker, {pk: item}, now, using)
                break
            except Exception as exc:
                kind = faults.classify(exc, using)
                if kind is faults.Fault.OUTAGE:
                    raise
                _reload(worker, {pk: item}, using)
                # A deadlock (two jobs settling the dependents they share) is tried again.
                if kind is faults.Fault.OTHER and tries_left:
                    continue
                if _write_refusal(worker, item, exc, now, using):
                    applied.append(item)
                break
    return applied


def _reload(worker: Worker, by_id: dict[int, Finished], using: str) -> None:
    """Replace each item's job by its row as stored (the item keeps its history row)."""
    rows = Job.objects.using(using).filter(
        pk__in=list(by_id), worker_id=worker.pk, status=JobStatus.RUNNING
    )
    for job in rows:
        by_id[job.pk].job = job


def _write_refusal(worker: Worker, item: Finished, exc: Exception, now: datetime, using: str):
    """Fail the attempt whose outcome the database refused, saying what it refused.

    The job is not retried: its handler would most likely produce the same
    output again. Where even that write is refused (a row whose ``data`` the
    database's own check now rejects), its ``data`` is cleared as well.
    """
    refusal = f"the database refused this attempt's outcome: {faults.describe(exc)}"
    outcome = item.outcome
    item.outcome = Outcome(
        outcome.job_id,
        False,
        outcome.started_at,
        outcome.finished_at,
        outcome.duration_ms,
        error=refusal,
    )
    for clear_data in (False, True):
        try:
            with transaction.atomic(using=using):
                return _write_failure(worker, item, now, using, clear_data)
        except Exception as again:
            if faults.classify(again, using) is faults.Fault.OUTAGE or clear_data:
                raise
    return False


def _write_failure(worker: Worker, item: Finished, now: datetime, using: str, clear_data: bool):
    job = item.job
    owned = Job.objects.using(using).filter(
        pk=job.pk, worker_id=worker.pk, status=JobStatus.RUNNING
    )
    flag = owned.select_for_update().values_list("has_dependents", flat=True).first()
    if flag is None:
        return False
    job.has_dependents = flag
    job.fail(now, item.outcome.error, None)
    item.will_retry, item.history_status = False, RunStatus.FAILED
    fields = list(TRANSITION_FIELDS)
    if clear_data:
        job.data = None
        fields.append("data")
    for_alias(using).update_rows(Job, [job], fields, fence=owned_by(worker))
    dependencies.settle_jobs([job], using, now)
    fill_history(item)
    if item.run is not None:
        save_history([item.run], using)
    return True


def owned_by(worker: Worker) -> dict[str, object]:
    """The condition every write of an attempt's outcome is fenced by."""
    return {"worker": worker.pk, "status": JobStatus.RUNNING}


def after_finish(by_id: dict[int, Finished], applied: list[Finished]) -> list[Finished]:
    for pk in set(by_id) - {item.job.pk for item in applied}:
        logger.warning("dropped the outcome of a job this worker no longer holds job=%s", pk)
    _send_signals(applied)
    return applied


def finish_in_transaction(
    worker: Worker, by_id: dict[int, Finished], now: datetime, using: str
) -> list[Finished]:
    """Lock what this worker still holds and write it, in the caller's transaction."""
    rows = list(
        Job.objects.using(using)
        .select_for_update()
        .filter(pk__in=list(by_id), worker_id=worker.pk, status=JobStatus.RUNNING)
        .values_list("pk", "cancel_requested", "has_dependents")
    )
    owned = {pk: cancel for pk, cancel, _ in rows}
    waited_for = {pk for pk, _, flagged in rows if flagged}
    applied = [by_id[pk] for pk in by_id if pk in owned]
    for item in applied:
        settle(item, owned[item.job.pk], now)
    if applied:
        for_alias(using).update_rows(Job, [i.job for i in applied], TRANSITION_FIELDS)
        save_history(_history_rows(applied), using)
    ended = {i.job.pk: i.job.status for i in applied if i.job.pk in waited_for}
    ended = {pk: status for pk, status in ended.items() if status in FINISHED}
    if ended:
        dependencies.settle(ended, using, now)
    return applied


def finish_left_out(
    worker: Worker, by_id: dict[int, Finished], applied: list[Finished], now: datetime, using: str
) -> list[Finished]:
    """PostgreSQL: finish what the one statement left out, in a transaction; all applied.

    The statement skips jobs that others wait for (their flag read under its
    lock): ``finish_in_transaction`` writes them and settles their dependents.
    It also skips jobs this worker no longer holds, which stay dropped.
    """
    written = {item.job.pk for item in applied}
    left = {pk: item for pk, item in by_id.items() if pk not in written}
    if not left:
        return applied
    _reload(worker, left, using)
    try:
        with transaction.atomic(using=using):
            return applied + finish_in_transaction(worker, left, now, using)
    except Exception as exc:
        if faults.classify(exc, using) is faults.Fault.OUTAGE:
            raise
        return applied + _write_one_by_one(worker, left, now, using)


def applied_outcomes(
    by_id: dict[int, Finished], done: dict[int, bool], now: datetime
) -> list[Finished]:
    """The outcomes a statement wrote (``done``: id -> cancel requested), fixed for cancels."""
    applied = [item for pk, item in by_id.items() if pk in done]
    for item in applied:
        if done[item.job.pk]:
            cancel_after(item, now)
    return applied


def _history_rows(applied: list[Finished]) -> list[JobHistory]:
    rows = []
    for item in applied:
        fill_history(item)
        if item.run is not None:
            rows.append(item.run)
    return rows


def save_history(rows: list[JobHistory], using: str) -> None:
    """Write the outcome fields of attempts' history rows, in one statement."""
    for row in rows:
        if row.pk is None:  # MySQL does not return ids from a bulk insert
            row.pk = (
                JobHistory.objects.using(using)
                .filter(job_id=row.job_id, scheduled_for=row.scheduled_for, attempt=row.attempt)
                .values_list("pk", flat=True)
                .first()
            )
    written = [row for row in rows if row.pk is not None]
    for_alias(using).update_rows(JobHistory, written, HISTORY_FIELDS)


def _send_signals(applied: list[Finished]) -> None:
    for item in applied:
        job, outcome, run = item.job, item.outcome, item.run
        attempt_no = run.attempt if run is not None else job.attempts
        try:
            if item.history_status == RunStatus.COMPLETED:
                signals.job_succeeded.send_robust(
                    sender=Job,
                    job=job,
                    attempt=attempt_no,
                    result=outcome.result,
                    duration_ms=outcome.duration_ms,
                    run=run,
                )
            elif item.history_status == RunStatus.FAILED:
                signals.job_failed.send_robust(
                    sender=Job,
                    job=job,
                    attempt=attempt_no,
                    error=outcome.error,
                    will_retry=item.will_retry,
                    run=run,
                )
                if job.is_dead:  # no retries left, not recurring
                    signals.job_dead.send_robust(
                        sender=Job, job=job, attempt=attempt_no, error=outcome.error, run=run
                    )
            if job.status == JobStatus.CANCELLED:
                signals.job_cancelled.send_robust(sender=Job, job=job, run=run)
        except Exception:
            logger.exception("a job signal receiver failed")
