"""Taking due jobs for one worker; each engine says how its database claims a batch.

PostgreSQL claims a batch and writes its history rows in one statement
(``postgresql``), SQLite lets ``UPDATE ... RETURNING`` decide ownership
(``sqlite``), and the plain engine, MySQL's and MariaDB's, locks the batch with
``select_for_update(skip_locked=True)`` and updates it in the same
transaction (``claim_locking``). The history row of each attempt is written
in the claim transaction; its unique (job, slot, attempt) makes a second run
of the same slot impossible.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from django.db import connections, transaction

from .. import dead, dependencies, faults
from ..claimed import Claimed
from ..conf import jobs_settings
from ..models import TRANSITION_FIELDS, Job, JobHistory, JobStatus, RunStatus, Worker
from . import for_alias, rows
from .completion import save_history

# The partial index on pending jobs that every claim reads (models.Job.Meta).
CLAIM_INDEX = "django_jobs_claim_idx"

logger = logging.getLogger("django_jobs.worker")


def claim(
    worker: Worker, queues: Sequence[str] | None, limit: int, now: datetime, using: str
) -> list[Claimed]:
    """Mark up to ``limit`` due jobs as running for ``worker``; each with its attempt's row."""
    if limit <= 0:
        return []
    try:
        batch = for_alias(using).claim(worker, queues, limit, now)
    except Exception as exc:
        if not faults.refused(exc, using):
            raise
        return claim_one_by_one(worker, queues, limit, now, using)
    return after_claim(batch, now, using)


def claim_one_by_one(
    worker: Worker, queues: Sequence[str] | None, limit: int, now: datetime, using: str
) -> list[Claimed]:
    """Claim due jobs one at a time; a job the database refuses to start fails alone.

    The batch claim failed on the values of one of its rows (a row edited by
    hand whose attempt is already in history, ``data`` that MariaDB's JSON
    check now refuses): each job is claimed in a savepoint of its own, and
    the one refused is failed with what the database said.
    """
    history = _history_maker(worker, now)
    batch = []
    with transaction.atomic(using=using):
        due = Job.objects.using(using).due(now).filter(limit="")
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
            job.claim(worker.pk, now)
            batch.append(Claimed(job, row))
    return after_claim(batch, now, using)


def _refuse(job: Job, exc: Exception, now: datetime, using: str) -> None:
    """Fail a job the database refused to start; clear its ``data`` if that is what it refuses."""
    error = f"the database refused to start this job: {faults.describe(exc)}"
    logger.error("the database refused to start a job job=%s: %s", job.pk, error)
    job.refuse(now, error)
    engine, pending = for_alias(using), {"status": JobStatus.PENDING}
    try:
        with transaction.atomic(using=using):
            engine.update_rows(Job, [job], TRANSITION_FIELDS, fence=pending)
            dependencies.settle_jobs([job], using, now)
    except Exception as again:
        if not faults.refused(again, using):
            raise
        job.last_error = f"{error}; data is not valid JSON: {str(job.data)[:1000]!r}"
        job.data = None
        with transaction.atomic(using=using):
            engine.update_rows(Job, [job], [*TRANSITION_FIELDS, "data"], fence=pending)
            dependencies.settle_jobs([job], using, now)
    dead.announce([job])


def insert_history(batch: list[Claimed], using: str) -> None:
    """Write the history rows of a claimed batch: one multi-row INSERT where the database
    returns ids, ``bulk_create`` elsewhere."""
    history = [claimed.run for claimed in batch if claimed.run is not None]
    if not history:
        return
    names = [f.name for f in JobHistory._meta.concrete_fields if not f.primary_key]
    values = rows.writer(JobHistory, names, connections[using])
    ids = for_alias(using).insert_returning_ids(JobHistory, names, [values(r) for r in history])
    if ids is None:
        JobHistory.objects.using(using).bulk_create(history)
        return
    for row, pk in zip(history, ids, strict=True):
        row.pk = pk
        row._state.adding = False


def after_claim(batch: list[Claimed], now: datetime, using: str) -> list[Claimed]:
    """Order claimed jobs and skip the slots past their misfire grace; the rest run."""
    if not batch:
        return []
    batch.sort(key=lambda claimed: (-claimed.job.priority, claimed.job.next_run_at, claimed.job.pk))
    runnable, missed = _split_missed(batch, now)
    if missed:
        _skip_missed(missed, now, using)
    return runnable


def rows_to_claimed(
    found: Sequence[Sequence], worker: Worker, now: datetime, using: str
) -> list[Claimed]:
    """Claimed jobs from their rows: every job column, then the id of its history row."""
    convert = rows.reader(Job, connections[using])
    load = rows.loader(Job, using)
    history = _history_maker(worker, now)
    batch = []
    for row in found:
        job = load(convert(row[:-1]))
        batch.append(Claimed(job, history(job, row[-1])))
    return batch


def _history_maker(worker: Worker, now: datetime) -> Callable[[Job, int | None], JobHistory | None]:
    """A function giving a claimed job the history row of its attempt (written, or to be)."""
    if not jobs_settings.ENABLE_HISTORY:
        return lambda job, history_id: None
    # The rows of one claim differ only in their job's columns.
    template = rows.instance(
        JobHistory, status=RunStatus.RUNNING, worker=worker.name, started_at=now
    )
    clone = rows.cloner(JobHistory)

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


def claim_locking(
    worker: Worker,
    queues: Sequence[str] | None,
    limit: int,
    now: datetime,
    using: str,
    limited: tuple[str, str] | None = None,
) -> list[Claimed]:
    """Lock due rows with ``SKIP LOCKED`` and mark them running, in the caller's transaction.

    Jobs without a limit, or with ``limited`` = (limit, key) only those of that
    limit's key (``limits.claim``, under the key's lock).
    """
    name, key = limited or ("", "")
    due = Job.objects.using(using).due(now).filter(limit=name)
    if limited:
        due = due.filter(limit_key=key).exclude(limit="")  # the limited index's condition
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
        job.claim(worker.pk, now)
    return [Claimed(job, history(job, None)) for job in jobs]


def _mark_running(ids: list[int], worker: Worker, now: datetime, using: str) -> None:
    """The rows' side of ``Job.claim`` (the claim statements of the engines write the same)."""
    Job.objects.using(using).filter(pk__in=ids).update(
        status=JobStatus.RUNNING,
        worker=worker,
        attempts=_plus_one(),
        started_at=now,
        last_run_at=now,
        updated_at=now,
        progress=None,
        progress_message="",
        progress_at=None,
    )


def _plus_one():
    from django.db.models import F

    return F("attempts") + 1


def _split_missed(batch: list[Claimed], now: datetime) -> tuple[list[Claimed], list[Claimed]]:
    """Separate recurring slots older than their misfire grace: they do not run."""
    default = jobs_settings.MISFIRE_GRACE
    runnable, missed = [], []
    for claimed in batch:
        job = claimed.job
        grace = job.misfire_grace if job.misfire_grace is not None else default
        late = job.is_recurring and job.attempts == 1 and grace is not None
        if late and job.scheduled_for and now - job.scheduled_for > timedelta(seconds=grace):
            missed.append(claimed)
        else:
            runnable.append(claimed)
    return runnable, missed


def _skip_missed(missed: list[Claimed], now: datetime, using: str) -> None:
    """Record skipped slots in history and move their jobs to the next slot."""
    with transaction.atomic(using=using):
        history = []
        for claimed in missed:
            if claimed.run is not None:
                claimed.run.miss(now)
                history.append(claimed.run)
            claimed.job.miss(now)
        if history:
            save_history(history, using)
        jobs = [claimed.job for claimed in missed]
        for_alias(using).update_rows(Job, jobs, TRANSITION_FIELDS)
