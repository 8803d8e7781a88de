"""Unique jobs: at most one live (pending or running) job holds a unique key.

The database enforces it (the partial unique constraint on ``Job``, or
MySQL's generated column from migration 0007). Creating a unique job never
asks first: it inserts in a savepoint and, when the constraint refuses,
fetches the live holder. So concurrent enqueues from any number of
processes end with one live job, and the caller's transaction survives.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any

from django.db import IntegrityError, connections, transaction

from .engines import for_alias
from .exceptions import DuplicateJob, JobStateError
from .models import Job

# A holder can finish between the refused insert and the look-up; then the key
# is free and the insert is tried again. Each round needs a job to finish.
ROUNDS = 5


def insert_unique(job: Job, using: str, on_conflict: str = "return") -> tuple[Job, bool]:
    """Insert ``job`` (its ``unique_key`` set), or find the live job holding the key.

    Returns ``(job, created)``; raises ``DuplicateJob`` when ``on_conflict`` is
    ``"raise"`` and another live job holds the key.
    """
    found, created, _ = insert_or_find(job, using, on_conflict)
    return found, created


def insert_or_find(job: Job, using: str, on_conflict: str = "return") -> tuple[Job, bool, bool]:
    """``insert_unique``, and whether the insert also woke the workers: ``(job, created, woke)``.

    Inside a transaction the insert runs in a savepoint, so a refusal leaves the
    caller's transaction usable; in autocommit the statement is a transaction of
    its own and needs none (BEGIN and COMMIT would be two more round trips).
    """
    engine = for_alias(using)
    refused: IntegrityError | None = None
    for _ in range(ROUNDS):
        try:
            with _guarded(using):
                woke = bool(engine.insert_job(job))
            return job, True, woke
        except IntegrityError as exc:
            refused = exc
            job.pk = None
            job._state.adding = True
        holder = live_holder(job.unique_key, using)
        if holder is not None:
            if on_conflict == "raise":
                raise DuplicateJob(str(job.unique_key), holder) from None
            return holder, False, False
    assert refused is not None
    raise refused  # another constraint refused the row, not the key


def _guarded(using: str) -> AbstractContextManager[Any]:
    """A savepoint inside the caller's transaction; nothing in autocommit."""
    if connections[using].in_atomic_block:
        return transaction.atomic(using=using)
    return nullcontext()


def live_holder(unique_key: str | None, using: str) -> Job | None:
    """The live job holding ``unique_key``, read past any older snapshot."""
    live = Job.objects.using(using).live().filter(unique_key=unique_key)
    holder = live.first()
    if holder is None:
        # Under REPEATABLE READ (MySQL) a plain read may predate the holder's
        # commit; a locking read sees the newest committed row.
        with transaction.atomic(using=using):
            holder = live.select_for_update().first()
    return holder


@contextmanager
def keeping_unique(pk: int, using: str) -> Iterator[None]:
    """Turn a finished job live again (retry, trigger) unless its key is taken meanwhile."""
    try:
        with transaction.atomic(using=using):
            yield
    except IntegrityError:
        key = Job.objects.using(using).filter(pk=pk).values_list("unique_key", flat=True).first()
        holder = live_holder(key, using) if key is not None else None
        if holder is None:
            raise
        raise JobStateError(
            f"job {pk} cannot run again: job {holder.pk} already holds its unique key {key!r}"
        ) from None
