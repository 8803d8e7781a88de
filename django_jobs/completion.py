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

from django.db import connections, transaction

from . import columns, faults, signals
from .bulk import update_rows
from .execution import Outcome
from .models import TRANSITION_FIELDS, Job, JobHistory, JobStatus, RunStatus, Worker
from .retry import retry_at_configured
from .statements import fetch_all

logger = logging.getLogger("django_jobs.worker")

HISTORY_FIELDS = ["status", "completed_at", "error", "result", "duration"]


@dataclass
class Finished:
    job: Job
    outcome: Outcome
    history_status: str = ""
    will_retry: bool = False
    # The attempt's number: the job's own count changes with its transition.
    attempt: int = 0

    def __post_init__(self) -> None:
        if not self.attempt:
            self.attempt = self.job.attempts


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
        if connections[using].vendor == "postgresql":
            applied = _finish_in_one_statement(worker, by_id, now, using)
        else:
            with transaction.atomic(using=using):
                applied = finish_in_transaction(worker, by_id, now, using)
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
    _reload(worker, by_id, using)
    applied: list[Finished] = []
    for pk, item in by_id.items():
        try:
            with transaction.atomic(using=using):
                applied += finish_in_transaction(worker, {pk: item}, now, using)
        except Exception as exc:
            if faults.classify(exc, using) is faults.Fault.OUTAGE:
                raise
            _reload(worker, {pk: item}, using)
            if _write_refusal(worker, item, exc, now, using):
                applied.append(item)
    return after_finish(by_id, applied)


def _reload(worker: Worker, by_id: dict[int, Finished], using: str) -> None:
    """Replace each item's job by its row as stored, keeping the attempt's history row."""
    rows = Job.objects.using(using).filter(
        pk__in=list(by_id), worker_id=worker.pk, status=JobStatus.RUNNING
    )
    for job in rows:
        item = by_id[job.pk]
        job.run_history = getattr(item.job, "run_history", None)  # type: ignore[attr-defined]
        item.job = job


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
    if not owned.select_for_update().exists():
        return False
    job.mark_failed(now, item.outcome.error, None)
    job.updated_at = now
    item.will_retry, item.history_status = False, RunStatus.FAILED
    fields = list(TRANSITION_FIELDS)
    if clear_data:
        job.data = None
        fields.append("data")
    attnames = [Job._meta.get_field(name).attname for name in fields]
    owned.update(**{attname: getattr(job, attname) for attname in attnames})
    row = getattr(job, "run_history", None)
    if row is not None:
        _fill_history(row, item)
        save_history([row], using)
    return True


def after_finish(by_id: dict[int, Finished], applied: list[Finished]) -> list[Finished]:
    for pk in set(by_id) - {item.job.pk for item in applied}:
        logger.warning("dropped the outcome of a job this worker no longer holds job=%s", pk)
    _send_signals(applied)
    return applied


def finish_in_transaction(
    worker: Worker, by_id: dict[int, Finished], now: datetime, using: str
) -> list[Finished]:
    """SQLite, MySQL: lock what this worker still holds and write it (caller's transaction)."""
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
        save_history(_history_rows(applied), using)
    return applied


# Fields a cancelled job changes (mark_cancelled); it keeps its other values.
_CANCEL_SETS = {"status", "next_run_at", "worker", "started_at", "cancel_requested", "updated_at"}


def _finish_in_one_statement(
    worker: Worker, by_id: dict[int, Finished], now: datetime, using: str
) -> list[Finished]:
    """PostgreSQL: lock what this worker still holds, update jobs and history, in one statement."""
    connection = connections[using]
    ctes, params = finish_ctes(worker, by_id, now, connection)
    sql = f"WITH {ctes} SELECT id, cancel_requested FROM done"
    done = dict(fetch_all(connection, sql, params))
    return applied_outcomes(by_id, done)


def applied_outcomes(by_id: dict[int, Finished], done: dict[int, bool]) -> list[Finished]:
    """The outcomes the statement wrote (``done``: id -> cancel requested), fixed for cancels."""
    applied = [item for pk, item in by_id.items() if pk in done]
    for item in applied:
        if done[item.job.pk]:
            _apply_cancel(item)
    return applied


def finish_ctes(
    worker: Worker, by_id: dict[int, Finished], now: datetime, connection
) -> tuple[str, list]:
    """PostgreSQL: the completion as CTEs (``v``, ``owned``, ``done``, ``done_history``).

    Transitions are computed as if nobody asked to cancel; the statement
    applies the cancel rule itself for rows whose ``cancel_requested`` is set,
    so no lock is held across a round trip.
    """
    for item in by_id.values():
        _transition(item, False, now)
    job_values = columns.writer(Job, TRANSITION_FIELDS, connection)
    hist_values = columns.writer(JobHistory, HISTORY_FIELDS, connection)
    empty_history = [None] * len(HISTORY_FIELDS)
    rows = []
    for item in by_id.values():
        job, row = item.job, getattr(item.job, "run_history", None)
        if row is not None:
            _fill_history(row, item)
        rows.append(
            [
                job.pk,
                *job_values(job),
                row.pk if row is not None else None,
                *(hist_values(row) if row is not None else empty_history),
                item.outcome.ok,
            ]
        )
    # One array a column, unnested: the statement's text does not depend on the
    # batch size, so it is prepared (parsed) once per connection.
    arrays = [list(column) for column in zip(*rows, strict=True)]
    return _finish_sql(connection), [*arrays, worker.pk]


_finish_sqls: dict[str, str] = {}


def _finish_sql(connection) -> str:
    """The completion CTEs' text: the same for every batch, so built once."""
    found = _finish_sqls.get(connection.vendor)
    if found is not None:
        return found
    qn = connection.ops.quote_name
    job_fields = [Job._meta.get_field(name) for name in TRANSITION_FIELDS]
    hist_fields = [JobHistory._meta.get_field(name) for name in HISTORY_FIELDS]
    names = [
        "id",
        *(f.column for f in job_fields),
        "hid",
        *(f"h_{f.column}" for f in hist_fields),
        "ok",
    ]
    casts = [
        "bigint",
        *(f.db_type(connection) for f in job_fields),
        "bigint",
        *(f.db_type(connection) for f in hist_fields),
        "boolean",
    ]
    unnest = ", ".join(f"%s::{cast}[]" for cast in casts)
    job_table, hist_table = qn(Job._meta.db_table), qn(JobHistory._meta.db_table)

    def job_set(field) -> str:
        col = qn(field.column)
        if field.name == "status":
            cancelled = f"'{JobStatus.CANCELLED}'"
            return f"{col} = CASE WHEN o.cancel_requested THEN {cancelled} ELSE v.{col} END"
        if field.name == "next_run_at":
            return f"{col} = CASE WHEN o.cancel_requested THEN NULL ELSE v.{col} END"
        if field.name == "last_error":
            return f"{col} = CASE WHEN o.cancel_requested AND v.ok THEN j.{col} ELSE v.{col} END"
        if field.name in _CANCEL_SETS:
            return f"{col} = v.{col}"
        return f"{col} = CASE WHEN o.cancel_requested THEN j.{col} ELSE v.{col} END"

    def hist_set(field) -> str:
        col = qn(field.column)
        if field.name == "status":
            when = "d.cancel_requested AND NOT v.ok"
            return (
                f"{col} = CASE WHEN {when} THEN '{RunStatus.CANCELLED}' ELSE v.h_{field.column} END"
            )
        return f"{col} = v.h_{field.column}"

    sql = _finish_sqls[connection.vendor] = (
        f"v AS (SELECT * FROM unnest({unnest}) AS u({', '.join(names)})), "
        f"owned AS MATERIALIZED (SELECT j.id, j.cancel_requested FROM {job_table} j "
        f"JOIN v ON v.id = j.id WHERE j.worker_id = %s AND j.status = '{JobStatus.RUNNING}' "
        f"FOR UPDATE OF j), "
        f"done AS (UPDATE {job_table} AS j SET {', '.join(job_set(f) for f in job_fields)} "
        f"FROM v JOIN owned o ON o.id = v.id WHERE j.id = v.id "
        f"RETURNING j.id, o.cancel_requested), "
        f"done_history AS (UPDATE {hist_table} AS h "
        f"SET {', '.join(hist_set(f) for f in hist_fields)} "
        f"FROM v JOIN done d ON d.id = v.id WHERE h.id = v.hid)"
    )
    return sql


def _apply_cancel(item: Finished) -> None:
    """Somebody cancelled the running job: it ends cancelled, neither retried nor rescheduled."""
    job, outcome = item.job, item.outcome
    job.mark_cancelled()
    item.will_retry = False
    item.history_status = RunStatus.COMPLETED if outcome.ok else RunStatus.CANCELLED
    if not outcome.ok:
        job.last_error = outcome.error
    row = getattr(job, "run_history", None)
    if row is not None:
        row.status = item.history_status


def _transition(item: Finished, cancel_requested: bool, now: datetime) -> None:
    job, outcome = item.job, item.outcome
    job.updated_at = now
    if cancel_requested:
        _apply_cancel(item)
        return
    if outcome.ok:
        job.mark_succeeded(now)
        item.history_status = RunStatus.COMPLETED
        return
    when = retry_at_configured(now, job.attempts)
    item.will_retry = job.mark_failed(now, outcome.error, when)
    item.history_status = RunStatus.FAILED


def _fill_history(row: JobHistory, item: Finished) -> None:
    outcome = item.outcome
    row.status = item.history_status
    row.completed_at = outcome.finished_at
    row.error = f"{outcome.error}\n\n{outcome.note}" if outcome.note else outcome.error
    if outcome.note and not outcome.error:
        row.error = outcome.note
    row.result = outcome.result
    row.duration = outcome.duration_ms


def _history_rows(applied: list[Finished]) -> list[JobHistory]:
    rows = []
    for item in applied:
        row = getattr(item.job, "run_history", None)
        if row is not None:
            _fill_history(row, item)
            rows.append(row)
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
    update_rows(JobHistory, [row for row in rows if row.pk is not None], HISTORY_FIELDS, using)


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
                if job.status == JobStatus.FAILED:  # no retries left, not recurring
                    signals.job_dead.send_robust(
                        sender=Job, job=job, attempt=attempt_no, error=outcome.error
                    )
            if job.status == JobStatus.CANCELLED:
                signals.job_cancelled.send_robust(sender=Job, job=job)
        except Exception:
            logger.exception("a job signal receiver failed")
