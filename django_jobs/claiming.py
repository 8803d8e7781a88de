"""Taking due jobs for one worker: the one place that knows each database's quirks.

PostgreSQL claims a batch and writes its history rows in one statement: a
``FOR UPDATE SKIP LOCKED`` pick, so workers never wait on each other, feeding
an ``UPDATE ... RETURNING`` and an ``INSERT`` in data-modifying CTEs. SQLite
has one writer at a time: ``UPDATE ... WHERE id IN (SELECT ... LIMIT n) AND
status = 'pending' RETURNING`` decides ownership. MySQL and MariaDB lack
``UPDATE ... RETURNING``: they lock the batch with
``select_for_update(skip_locked=True)`` and update it in the same transaction.
The history row of each attempt is written in the claim transaction; its
unique (job, slot, attempt) makes a second run of the same slot impossible.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from django.db import connections, transaction

from . import columns, faults
from .bulk import insert_returning_ids, update_rows
from .completion import save_history
from .conf import jobs_settings
from .models import TRANSITION_FIELDS, Job, JobHistory, JobStatus, RunStatus, Worker
from .statements import fetch_all

# The partial index on pending jobs that every claim reads (models.Job.Meta).
CLAIM_INDEX = "django_jobs_claim_idx"

logger = logging.getLogger("django_jobs.worker")


def claim(
    worker: Worker, queues: Sequence[str] | None, limit: int, now: datetime, using: str
) -> list[Job]:
    """Mark up to ``limit`` due jobs as running for ``worker`` and return them."""
    if limit <= 0:
        return []
    vendor = connections[using].vendor
    try:
        if vendor == "postgresql":
            # One statement claims and writes the history rows: no BEGIN/COMMIT round trips.
            jobs = _claim_returning(worker, queues, limit, now, using)
        else:
            with transaction.atomic(using=using):
                jobs = claim_in_transaction(worker, queues, limit, now, using)
    except Exception as exc:
        if not faults.refused(exc, using):
            raise
        return claim_one_by_one(worker, queues, limit, now, using)
    return after_claim(jobs, now, using)


def claim_one_by_one(
    worker: Worker, queues: Sequence[str] | None, limit: int, now: datetime, using: str
) -> list[Job]:
    """Claim due jobs one at a time; a job the database refuses to start fails alone.

    The batch claim failed on the values of one of its rows (a row edited by
    hand whose attempt is already in history, ``data`` that MariaDB's JSON
    check now refuses): each job is claimed in a savepoint of its own, and
    the one refused is failed with what the database said.
    """
    history = _history_maker(worker, now)
    jobs = []
    with transaction.atomic(using=using):
        due = Job.objects.using(using).due(now)
        if queues:
            due = due.filter(queue__in=queues)
        for job in due.select_for_update(skip_locked=True)[:limit]:
            try:
                with transaction.atomic(using=using):
                    _mark_running([job.pk], worker, now, using)
                    row = history(job, None)
                    if row is not None:
                        row.attempt = job.attempts + 1
                        row.save(using=using, force_insert=True)
            except Exception as exc:
                if not faults.refused(exc, using):
                    raise
                _refuse(job, exc, now, using)
                continue
            _set_running(job, worker, now)
            job.run_history = row
            jobs.append(job)
    return after_claim(jobs, now, using)


def _refuse(job: Job, exc: Exception, now: datetime, using: str) -> None:
    """Fail a job the database refused to start; clear its ``data`` if that is what it refuses."""
    error = f"the database refused to start this job: {faults.describe(exc)}"
    logger.error("the database refused to start a job job=%s: %s", job.pk, error)
    values = {
        "status": JobStatus.FAILED,
        "next_run_at": None,
        "last_error": error,
        "worker": None,
        "started_at": None,
        "updated_at": now,
    }
    pending = Job.objects.using(using).filter(pk=job.pk, status=JobStatus.PENDING)
    try:
        with transaction.atomic(using=using):
            pending.update(**values)
    except Exception as again:
        if not faults.refused(again, using):
            raise
        values["last_error"] = f"{error}; data is not valid JSON: {str(job.data)[:1000]!r}"
        with transaction.atomic(using=using):
            pending.update(data=None, **values)


def claim_in_transaction(
    worker: Worker, queues: Sequence[str] | None, limit: int, now: datetime, using: str
) -> list[Job]:
    """SQLite, MySQL: the claim and its history rows, inside the caller's transaction."""
    if connections[using].vendor == "sqlite":
        jobs = _claim_returning(worker, queues, limit, now, using)
    else:
        jobs = _claim_locking(worker, queues, limit, now, using)
    if jobs and jobs_settings.ENABLE_HISTORY:
        _insert_history([job.run_history for job in jobs], using)
    return jobs


def _insert_history(rows: list[JobHistory], using: str) -> None:
    """One multi-row INSERT where the database returns ids; ``bulk_create`` elsewhere."""
    names = [f.name for f in JobHistory._meta.concrete_fields if not f.primary_key]
    values = columns.writer(JobHistory, names, connections[using])
    ids = insert_returning_ids(JobHistory, names, [values(row) for row in rows], using)
    if ids is None:
        JobHistory.objects.using(using).bulk_create(rows)
        return
    for row, pk in zip(rows, ids, strict=True):
        row.pk = pk
        row._state.adding = False


def after_claim(jobs: list[Job], now: datetime, using: str) -> list[Job]:
    """Order claimed jobs and skip the slots past their misfire grace; the rest run."""
    if not jobs:
        return []
    jobs.sort(key=lambda job: (-job.priority, job.next_run_at, job.pk))
    runnable, missed = _split_missed(jobs, now)
    if missed:
        _skip_missed(missed, now, using)
    return runnable


def _claim_returning(
    worker: Worker, queues: Sequence[str] | None, limit: int, now: datetime, using: str
) -> list[Job]:
    connection = connections[using]
    if connection.vendor == "postgresql":
        ctes, args, select = claim_ctes(worker, queues, limit, now, connection)
        sql = f"WITH RECURSIVE {ctes} {select}"
    else:
        sql, args = _sqlite_claim(worker, queues, limit, now, connection)
    rows = fetch_all(connection, sql, args)
    return rows_to_jobs(rows, worker, now, using)


def _sqlite_claim(
    worker: Worker, queues: Sequence[str] | None, limit: int, now: datetime, connection
) -> tuple[str, list]:
    """SQLite: one writer at a time; ``status = 'pending'`` in the UPDATE decides ownership.

    SQLite uses a partial index only for a query that repeats its condition
    literally, and without statistics it picks the status index and sorts
    every pending row for each claim; the pick names the claim index.
    """
    qn = connection.ops.quote_name
    table = qn(Job._meta.db_table)
    columns = ", ".join(qn(f.column) for f in Job._meta.concrete_fields)
    at = connection.ops.adapt_datetimefield_value(now)
    pending = f"{qn('status')} = '{JobStatus.PENDING}'"
    where = [pending, f"{qn('next_run_at')} <= %s", f"NOT {qn('paused')}"]
    pick_args: list = [at]
    if queues:
        where.append(f"{qn('queue')} IN ({', '.join(['%s'] * len(queues))})")
        pick_args.extend(queues)
    pick = (
        f"SELECT {qn('id')} FROM {table} INDEXED BY {qn(CLAIM_INDEX)} "
        f"WHERE {' AND '.join(where)} "
        f"ORDER BY {qn('priority')} DESC, {qn('next_run_at')}, {qn('id')} LIMIT %s"
    )
    sql = (
        f"UPDATE {table} SET {qn('status')} = %s, {qn('worker_id')} = %s, "
        f"{qn('attempts')} = {qn('attempts')} + 1, {qn('started_at')} = %s, "
        f"{qn('last_run_at')} = %s, {qn('updated_at')} = %s "
        f"WHERE {qn('id')} IN ({pick}) AND {pending} RETURNING {columns}, NULL"
    )
    args = [JobStatus.RUNNING, worker.pk, at, at, at, *pick_args, limit]
    return sql, args


def claim_ctes(
    worker: Worker, queues: Sequence[str] | None, limit: int, now: datetime, connection
) -> tuple[str, list, str]:
    """PostgreSQL: the claim as CTEs (``levels``, ``picked``, ``claimed``, ``hist``) and the
    SELECT of its rows; the statement starts ``WITH RECURSIVE``.

    The claim index leads with priority, so one scan for the most urgent due
    jobs would step over every not-yet-due job of a higher priority (100,000
    of them cost 4 ms a claim). ``levels`` walks the priorities that have
    pending jobs, highest first, one index probe each, and ``picked`` takes
    due jobs a priority at a time; it stops as soon as it has ``limit``.
    A materialised CTE runs the locking pick exactly once; inside IN (...)
    the planner may re-run it and take more rows than LIMIT.
    """
    qn = connection.ops.quote_name
    fields = Job._meta.concrete_fields
    table = qn(Job._meta.db_table)
    # Statuses are written into the text, not bound: a prepared statement's
    # generic plan can use the partial index only when it sees 'pending'.
    pending = f"{qn('status')} = '{JobStatus.PENDING}'"
    priority, pk = qn("priority"), qn("id")
    where = [pending, f"{priority} = levels.p", f"{qn('next_run_at')} <= %s", f"NOT {qn('paused')}"]
    args: list = [now]
    if queues:
        where.append(f"{qn('queue')} IN ({', '.join(['%s'] * len(queues))})")
        args.extend(queues)
    highest = f"SELECT {priority} FROM {table} WHERE {pending}"
    returning = ", ".join(f"{table}.{qn(f.column)}" for f in fields)
    ctes = (
        f"levels (p) AS (({highest} ORDER BY {priority} DESC LIMIT 1) UNION ALL "
        f"SELECT ({highest} AND {priority} < levels.p ORDER BY {priority} DESC LIMIT 1) "
        f"FROM levels WHERE levels.p IS NOT NULL), "
        f"picked AS MATERIALIZED (SELECT due.{pk} FROM levels CROSS JOIN LATERAL "
        f"(SELECT {pk} FROM {table} WHERE {' AND '.join(where)} "
        f"ORDER BY {qn('next_run_at')}, {pk} LIMIT %s FOR UPDATE SKIP LOCKED) AS due LIMIT %s), "
        f"claimed AS (UPDATE {table} SET {qn('status')} = '{JobStatus.RUNNING}', "
        f"{qn('worker_id')} = %s, "
        f"{qn('attempts')} = {qn('attempts')} + 1, {qn('started_at')} = %s, "
        f"{qn('last_run_at')} = %s, {qn('updated_at')} = %s FROM picked "
        f"WHERE {table}.{pk} = picked.{pk} "
        f"AND {table}.{qn('status')} = '{JobStatus.PENDING}' "
        f"RETURNING {returning})"
    )
    args += [limit, limit, worker.pk, now, now, now]  # the pick's LIMIT, per priority and in all
    selected = ", ".join(f"claimed.{qn(f.column)}" for f in fields)
    if not jobs_settings.ENABLE_HISTORY:
        return ctes, args, f"SELECT {selected}, NULL FROM claimed"
    history = qn(JobHistory._meta.db_table)
    ctes += (
        f", hist AS (INSERT INTO {history} ({qn('job_id')}, {qn('status')}, "
        f"{qn('attempt')}, {qn('scheduled_for')}, {qn('worker')}, {qn('started_at')}, "
        f"{qn('error')}) SELECT {qn('id')}, '{RunStatus.RUNNING}', {qn('attempts')}, "
        f"{qn('scheduled_for')}, "
        f"%s, %s, '' FROM claimed RETURNING {qn('id')}, {qn('job_id')})"
    )
    args += [worker.name, now]
    select = (
        f"SELECT {selected}, hist.{qn('id')} FROM claimed "
        f"LEFT JOIN hist ON hist.{qn('job_id')} = claimed.{qn('id')}"
    )
    return ctes, args, select


def rows_to_jobs(rows: Sequence[Sequence], worker: Worker, now: datetime, using: str) -> list[Job]:
    """Jobs from claimed rows: every job column, then the id of its history row."""
    convert = columns.reader(Job, connections[using])
    load = columns.loader(Job, using)
    history = _history_maker(worker, now)
    jobs = []
    for row in rows:
        job = load(convert(row[:-1]))
        job.run_history = history(job, row[-1])
        jobs.append(job)
    return jobs


def _history_maker(worker: Worker, now: datetime) -> Callable[[Job, int | None], Any]:
    """A function giving a claimed job the history row of its attempt (written, or to be)."""
    if not jobs_settings.ENABLE_HISTORY:
        return lambda job, history_id: None
    # The rows of one claim differ only in their job's columns.
    template = columns.instance(
        JobHistory, status=RunStatus.RUNNING, worker=worker.name, started_at=now
    )
    clone = columns.cloner(JobHistory)

    def history(job: Job, history_id: int | None) -> JobHistory:
        row = clone(
            template,
            id=history_id,
            job_id=job.pk,
            attempt=job.attempts,
            scheduled_for=job.scheduled_for,
        )
        row._state.adding = history_id is None
        return row

    return history


def _claim_locking(
    worker: Worker, queues: Sequence[str] | None, limit: int, now: datetime, using: str
) -> list[Job]:
    due = Job.objects.using(using).due(now)
    if queues:
        due = due.filter(queue__in=queues)
    jobs = list(due.select_for_update(skip_locked=True)[:limit])
    if not jobs:
        return []
    # MariaDB re-checks JSON_VALID(data) on every UPDATE: a row written by hand
    # with the check turned off fails the batch, which ``claim_one_by_one`` retries.
    _mark_running([job.pk for job in jobs], worker, now, using)
    history = _history_maker(worker, now)
    for job in jobs:
        _set_running(job, worker, now)
        job.run_history = history(job, None)
    return jobs


def _set_running(job: Job, worker: Worker, now: datetime) -> None:
    """The claim's changes, on the instance (``_mark_running`` wrote them to the row)."""
    job.status = JobStatus.RUNNING
    job.worker_id = worker.pk
    job.attempts += 1
    job.started_at = job.last_run_at = job.updated_at = now


def _mark_running(ids: list[int], worker: Worker, now: datetime, using: str) -> None:
    Job.objects.using(using).filter(pk__in=ids).update(
        status=JobStatus.RUNNING,
        worker=worker,
        attempts=_plus_one(),
        started_at=now,
        last_run_at=now,
        updated_at=now,
    )


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


def _skip_missed(missed: list[Job], now: datetime, using: str) -> None:
    """Record skipped slots in history and move their jobs to the next slot."""
    with transaction.atomic(using=using):
        rows = []
        for job in missed:
            row = job.run_history
            if row is not None:
                row.status = RunStatus.MISSED
                row.completed_at = now
                row.error = f"slot {job.scheduled_for.isoformat()} missed its misfire grace"
                row.duration = 0
                rows.append(row)
            job.mark_missed(now)
            job.updated_at = now
        if rows:
            save_history(rows, using)
        update_rows(Job, missed, TRANSITION_FIELDS, using)
