"""Taking due jobs for one worker: the one place that knows each database's quirks.

PostgreSQL and SQLite claim a batch in one ``UPDATE ... WHERE id IN (SELECT
... LIMIT n) RETURNING``: on PostgreSQL the sub-select locks with ``FOR UPDATE
SKIP LOCKED`` so workers never wait on each other; SQLite has one writer at a
time and the ``status = 'pending'`` condition decides ownership. MySQL and
MariaDB lack ``UPDATE ... RETURNING``: they lock the batch with
``select_for_update(skip_locked=True)`` and update it in the same transaction.
The history row of each attempt is written in the claim transaction; its
unique (job, slot, attempt) makes a second run of the same slot impossible.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from django.db import connections, transaction

from .conf import jobs_settings
from .models import TRANSITION_FIELDS, Job, JobHistory, JobStatus, RunStatus, Worker


def claim(
    worker: Worker, queues: Sequence[str] | None, limit: int, now: datetime, using: str
) -> list[Job]:
    """Mark up to ``limit`` due jobs as running for ``worker`` and return them."""
    if limit <= 0:
        return []
    with transaction.atomic(using=using):
        if connections[using].vendor in ("postgresql", "sqlite"):
            jobs = _claim_returning(worker, queues, limit, now, using)
        else:
            jobs = _claim_locking(worker, queues, limit, now, using)
        if not jobs:
            return []
        jobs.sort(key=lambda job: (-job.priority, job.next_run_at, job.pk))
        runnable, missed = _split_missed(jobs, now)
        _write_history(worker, runnable, missed, now, using)
        if missed:
            Job.objects.using(using).bulk_update(missed, TRANSITION_FIELDS)
    return runnable


def _claim_returning(
    worker: Worker, queues: Sequence[str] | None, limit: int, now: datetime, using: str
) -> list[Job]:
    connection = connections[using]
    qn = connection.ops.quote_name
    fields = Job._meta.concrete_fields
    columns = ", ".join(qn(f.column) for f in fields)
    table = qn(Job._meta.db_table)
    conv = connection.ops.adapt_datetimefield_value
    params: list = [JobStatus.RUNNING, worker.pk, conv(now), conv(now), conv(now)]
    where = [f"{qn('status')} = %s", f"{qn('next_run_at')} <= %s"]
    sub_params: list = [JobStatus.PENDING, conv(now)]
    if queues:
        where.append(f"{qn('queue')} IN ({', '.join(['%s'] * len(queues))})")
        sub_params.extend(queues)
    order = f"ORDER BY {qn('priority')} DESC, {qn('next_run_at')}, {qn('id')} LIMIT %s"
    pick = f"SELECT {qn('id')} FROM {table} WHERE {' AND '.join(where)} {order}"
    assign = (
        f"SET {qn('status')} = %s, {qn('worker_id')} = %s, "
        f"{qn('attempts')} = {qn('attempts')} + 1, {qn('started_at')} = %s, "
        f"{qn('last_run_at')} = %s, {qn('updated_at')} = %s"
    )
    if connection.vendor == "postgresql":
        # A materialised CTE runs the locking pick exactly once; inside IN (...)
        # the planner may re-run it and take more rows than LIMIT.
        returning = ", ".join(f"{table}.{qn(f.column)}" for f in fields)
        sql = (
            f"WITH picked AS MATERIALIZED ({pick} FOR UPDATE SKIP LOCKED) "
            f"UPDATE {table} {assign} FROM picked WHERE {table}.{qn('id')} = picked.{qn('id')} "
            f"AND {table}.{qn('status')} = %s RETURNING {returning}"
        )
        args = [*sub_params, limit, *params, JobStatus.PENDING]
    else:
        sql = (
            f"UPDATE {table} {assign} WHERE {qn('id')} IN ({pick}) "
            f"AND {qn('status')} = %s RETURNING {columns}"
        )
        args = [*params, *sub_params, limit, JobStatus.PENDING]
    with connection.cursor() as cursor:
        cursor.execute(sql, args)
        rows = cursor.fetchall()
    return [
        Job.from_db(using, [f.attname for f in fields], _convert(row, connection)) for row in rows
    ]


def _convert(row: Sequence, connection) -> list:
    """Apply the converters the ORM would, since this row came from raw SQL."""
    values = list(row)
    for i, field in enumerate(Job._meta.concrete_fields):
        col = field.get_col(Job._meta.db_table)
        for func in connection.ops.get_db_converters(col) + field.get_db_converters(connection):
            values[i] = func(values[i], col, connection)
    return values


def _claim_locking(
    worker: Worker, queues: Sequence[str] | None, limit: int, now: datetime, using: str
) -> list[Job]:
    due = Job.objects.using(using).due(now)
    if queues:
        due = due.filter(queue__in=queues)
    jobs = list(due.select_for_update(skip_locked=True)[:limit])
    if not jobs:
        return []
    Job.objects.using(using).filter(pk__in=[job.pk for job in jobs]).update(
        status=JobStatus.RUNNING,
        worker=worker,
        attempts=_plus_one(),
        started_at=now,
        last_run_at=now,
        updated_at=now,
    )
    for job in jobs:
        job.status = JobStatus.RUNNING
        job.worker_id = worker.pk
        job.attempts += 1
        job.started_at = job.last_run_at = job.updated_at = now
    return jobs


def _plus_one():
    from django.db.models import F

    return F("attempts") + 1


def _split_missed(jobs: list[Job], now: datetime) -> tuple[list[Job], list[Job]]:
    """Separate recurring slots older than their misfire grace: they do not run."""
    default = jobs_settings.MISFIRE_GRACE
    runnable, missed = [], []
    for job in jobs:
        grace = job.misfire_grace if job.misfire_grace is not None else default
        late = job.is_recurring and job.attempts == 1 and grace is not None
        if late and job.scheduled_for and now - job.scheduled_for > timedelta(seconds=grace):
            missed.append(job)
        else:
            runnable.append(job)
    return runnable, missed


def _write_history(
    worker: Worker, runnable: list[Job], missed: list[Job], now: datetime, using: str
) -> None:
    rows = []
    for job in runnable:
        job.run_history = None
        if jobs_settings.ENABLE_HISTORY:
            job.run_history = _history_row(job, worker, now, RunStatus.RUNNING)
            rows.append(job.run_history)
    for job in missed:
        row = _history_row(job, worker, now, RunStatus.MISSED)
        row.completed_at = now
        row.error = f"slot {job.scheduled_for.isoformat()} missed its misfire grace"
        row.duration = 0
        rows.append(row)
        job.mark_missed(now)
        job.updated_at = now
    if rows:
        JobHistory.objects.using(using).bulk_create(rows)


def _history_row(job: Job, worker: Worker, now: datetime, status: str) -> JobHistory:
    return JobHistory(
        job_id=job.pk,
        status=status,
        attempt=job.attempts,
        scheduled_for=job.scheduled_for,
        worker=worker.name,
        started_at=now,
    )
