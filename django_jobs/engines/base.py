"""The engine every database starts from: plain ORM, one transaction where it matters.

A database module (``postgresql``, ``mysql``, ``sqlite``) subclasses
``Engine`` and overrides only what it does better or differently. The rest of
the package asks ``engines.for_alias(using)`` and never which database it is.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.db import connections, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Count, Max, Min, Model

from . import claiming, completion, rows

if TYPE_CHECKING:
    from ..claimed import Claimed
    from ..models import Job, Worker
    from ..outcomes import Finished


class Engine:
    """What the worker, the creating functions and the admin need from one database alias."""

    def __init__(self, alias: str) -> None:
        self.alias = alias

    @property
    def connection(self) -> BaseDatabaseWrapper:
        """This thread's connection (connections are per thread; engines are shared)."""
        return connections[self.alias]

    # Statements -----------------------------------------------------------------

    def fetch_all(self, sql: str, params: Sequence[Any]) -> list[tuple]:
        """Execute ``sql`` (``%s`` placeholders) and return every row."""
        with self.connection.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchall()

    # Rows -----------------------------------------------------------------------

    def update_rows(
        self,
        model: type[Model],
        objs: Sequence[Model],
        fields: Sequence[str],
        fence: Mapping[str, Any] | None = None,
    ) -> int:
        """Write ``fields`` of each object to its row, matched by primary key: how many were.

        The one way many transitions are saved. ``fence`` (field -> value)
        writes only the rows that still hold those values (a worker's own
        running jobs, say).
        """
        if not objs:
            return 0
        build = self.update_builder()
        if build is not None:
            return rows.update_by_values(self.connection, model, objs, fields, build, fence)
        fenced = model._default_manager.using(self.alias).filter(**(fence or {}))
        return fenced.bulk_update(objs, list(fields))

    def update_builder(self) -> rows.UpdateBuilder | None:
        """The one-statement ``UPDATE`` this database spells, or None: ``bulk_update``."""
        return None

    def insert_returning_ids(
        self, model: type[Model], fields: Sequence[str], rows: Sequence[Sequence[Any]]
    ) -> list[int] | None:
        """Insert rows of already-prepared values; the new ids in order, or None where unsupported.

        Used where ``bulk_create``'s per-value compilation costs more than the
        database's work; without ``INSERT ... RETURNING`` the answer is None
        and the caller uses ``bulk_create``.
        """
        return None

    @property
    def has_copy(self) -> bool:
        """Whether ``copy_lines`` is available (PostgreSQL through psycopg 3)."""
        return False

    def copy_lines(
        self, model: type[Model], fields: Sequence[str], lines: Sequence[str]
    ) -> list[int]:
        """Insert rows given as lines of COPY text; their new ids, in order (``has_copy``)."""
        raise NotImplementedError("this database has no COPY")

    def insert_job(self, job: Job) -> bool:
        """Insert one new job; True when that also woke the listening workers."""
        job.save(force_insert=True, using=self.alias)
        return False

    def table_estimate(self, model: type[Model]) -> int | None:
        """The row count the database keeps in its statistics, or None when it has none."""
        return None

    def name_search_index(self, table: str, name: str) -> tuple[str, str] | None:
        """SQL creating and dropping an index for ``name__istartswith``, where the
        name's own index cannot serve it (None: the name's index does)."""
        return None

    def count_from_statistics(self, sql: str, table: str) -> int | None:
        """The count ``sql`` reads for ``table`` from the statistics; None unless positive."""
        with self.connection.cursor() as cursor:
            cursor.execute(sql, [table])
            row = cursor.fetchone()
        if not row or row[0] is None or row[0] <= 0:
            return None
        return int(row[0])

    # Wake-ups -------------------------------------------------------------------

    def notifies(self) -> bool:
        """Whether workers can be woken by the database (otherwise they poll)."""
        return False

    def notify(self, payloads: Iterable[str]) -> None:
        """Wake the workers listening for the queues ``payloads``; elsewhere nothing."""

    def local_wakeups(self) -> bool:
        """Whether workers on this machine are woken by a datagram (``engines.local``).

        Where the database wakes its workers itself, they need none.
        """
        return not self.notifies()

    def local_identity(self) -> str | None:
        """This database as every process on the machine names it; None: none can share it.

        Workers listen for wake-ups in a directory named after it. Two
        spellings of one server (``localhost``, ``127.0.0.1``) are two names:
        such workers are not woken, and poll.
        """
        settings = self.connection.settings_dict
        host, port = settings.get("HOST") or "", settings.get("PORT") or ""
        return f"{self.connection.vendor}://{host}:{port}/{settings.get('NAME')}"

    # Claiming and finishing -----------------------------------------------------

    def claim(
        self, worker: Worker, queues: Sequence[str] | None, limit: int, now: datetime
    ) -> list[Claimed]:
        """Mark up to ``limit`` due jobs as running for ``worker`` (with their history rows)."""
        with transaction.atomic(using=self.alias):
            return self.claim_in_transaction(worker, queues, limit, now)

    def claim_in_transaction(
        self, worker: Worker, queues: Sequence[str] | None, limit: int, now: datetime
    ) -> list[Claimed]:
        """The claim and its history rows, inside the caller's transaction."""
        batch = self.claim_rows(worker, queues, limit, now)
        claiming.insert_history(batch, self.alias)
        return batch

    def claim_rows(
        self, worker: Worker, queues: Sequence[str] | None, limit: int, now: datetime
    ) -> list[Claimed]:
        """Lock due rows with ``SKIP LOCKED`` and mark them running (caller's transaction)."""
        return claiming.claim_locking(worker, queues, limit, now, self.alias)

    def lock_limit(self, limit: str, key: str, now: datetime) -> bool:
        """Lock the ``LimitKey`` row of (limit, key) until the transaction ends.

        False when another claimer holds it (``SKIP LOCKED``): that worker is
        claiming the key's jobs, this one goes on with the next key. The row is
        made the first time its key is claimed.
        """
        from ..models import LimitKey

        rows = LimitKey.objects.using(self.alias).filter(limit=limit, key=key)
        locking = rows.select_for_update(skip_locked=True).values_list("pk", flat=True)
        if list(locking[:1]):
            return True
        if rows.exists():
            return False
        LimitKey.objects.using(self.alias).bulk_create(
            [LimitKey(limit=limit, key=key, claimed_at=now)], ignore_conflicts=True
        )
        return bool(list(locking[:1]))

    def limit_groups(
        self, queues: Sequence[str] | None, now: datetime, count: int
    ) -> list[tuple[str, str, int]]:
        """Up to ``count`` (limit, key) groups with due jobs, the most urgent job's first,
        each with its running jobs.

        Groups every due limited job: its cost grows with the jobs waiting,
        which a loose index scan avoids (``postgresql``, ``sqlite``). MySQL and
        MariaDB have no partial indexes, so no index of pending limited jobs by
        key; and given one (the claim index with ``limit_key`` added), MariaDB
        10.11 reads a subquery's bound taken from the outer row (``limit_key >
        g.key``) as a filter, not as a range: SQLite's walk, run there, read each
        limit's jobs from the start at every step, slower than grouping them.
        """
        from ..models import Job, JobStatus

        due = Job.objects.using(self.alias).filter(
            status=JobStatus.PENDING, paused=False, next_run_at__lte=now
        )
        if queues:
            due = due.filter(queue__in=queues)
        groups = (
            due.exclude(limit="")
            .values_list("limit", "limit_key")
            .annotate(top=Max("priority"), first=Min("next_run_at"))
            .order_by("-top", "first", "limit", "limit_key")[:count]
        )
        found = [(name, key) for name, key, _, _ in groups]
        running = self.running_limited({name for name, _ in found}) if found else {}
        return [(name, key, running.get((name, key), 0)) for name, key in found]

    def running_limited(self, names: set[str] | None = None) -> dict[tuple[str, str], int]:
        """Running limited jobs by (limit, key), of the limits ``names`` or of all."""
        from ..models import Job, JobStatus

        rows = Job.objects.using(self.alias).filter(status=JobStatus.RUNNING).exclude(limit="")
        if names is not None:
            rows = rows.filter(limit__in=names)
        counts = rows.values_list("limit", "limit_key").annotate(n=Count("id")).order_by()
        return {(name, key): n for name, key, n in counts}

    def claim_limited(
        self,
        worker: Worker,
        queues: Sequence[str] | None,
        limit: str,
        key: str,
        count: int,
        now: datetime,
    ) -> list[Claimed]:
        """Claim up to ``count`` due jobs of (limit, key), under its lock (caller's transaction)."""
        batch = claiming.claim_locking(worker, queues, count, now, self.alias, (limit, key))
        claiming.insert_history(batch, self.alias)
        return batch

    def finish(self, worker: Worker, by_id: dict[int, Finished], now: datetime) -> list[Finished]:
        """Write the outcomes of jobs this worker still holds; the ones written."""
        with transaction.atomic(using=self.alias):
            return completion.finish_in_transaction(worker, by_id, now, self.alias)

    def finish_and_claim(
        self,
        worker: Worker,
        by_id: dict[int, Finished],
        queues: Sequence[str] | None,
        limit: int,
        now: datetime,
    ) -> tuple[list[Finished], list[Claimed]]:
        """Write outcomes and claim the next batch in one transaction: both or neither."""
        with transaction.atomic(using=self.alias):
            applied = completion.finish_in_transaction(worker, by_id, now, self.alias)
            batch = self.claim_in_transaction(worker, queues, limit, now)
        return applied, batch
