"""SQLite: one writer at a time, ``UPDATE ... RETURNING`` decides who owns a job.

The claim is ``UPDATE ... WHERE id IN (SELECT ... LIMIT n) AND status =
'pending' RETURNING``; bulk writes join a ``VALUES`` list on the primary key.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from django.db.models import Model

from ..claimed import Claimed
from ..models import Job, JobStatus, LimitKey, Worker
from . import base, claiming, conditions, rows
from .claiming import CLAIM_INDEX
from .one_row import insert_one


class Engine(base.Engine):
    def insert_job(self, job: Job) -> bool:
        """One ``INSERT ... RETURNING`` (see ``one_row``)."""
        sql, params = insert_one(self.connection, Job, job, cast=False)
        rows.mark_saved(job, self.fetch_all(sql, params)[0][0], self.alias)
        return False

    def update_builder(self) -> rows.UpdateBuilder:
        return _update_sql

    def insert_returning_ids(
        self, model: type[Model], fields: Sequence[str], values: Sequence[Sequence[Any]]
    ) -> list[int] | None:
        return rows.insert_returning(self.connection, model, fields, values, cast=False)

    def local_identity(self) -> str | None:
        """The file's real path; an in-memory database is this process's alone."""
        name = str(self.connection.settings_dict.get("NAME") or "")
        if not name or name == ":memory:" or "mode=memory" in name:
            return None
        if name.startswith("file:"):
            name = name[len("file:") :].split("?", 1)[0]
        return "sqlite://" + os.path.realpath(name)

    def claim_rows(
        self, worker: Worker, queues: Sequence[str] | None, limit: int, now: datetime
    ) -> list[Claimed]:
        sql, args = _claim_sql(worker, queues, limit, now, self.connection)
        found = self.fetch_all(sql, args)
        return claiming.rows_to_claimed(found, worker, now, self.alias)

    def limit_groups(
        self, queues: Sequence[str] | None, now: datetime, count: int
    ) -> list[tuple[str, str, int]]:
        # One index probe a group, however many jobs wait in it; running counts included.
        sql, params = _limit_groups_sql(queues, now, count, self.connection)
        return [(name, key, running) for name, key, running in self.fetch_all(sql, params)]

    def lock_limit(self, limit: str, key: str, now: datetime) -> bool:
        """One writer at a time: writing the row is the lock, and nobody is skipped."""
        rows = LimitKey.objects.using(self.alias).filter(limit=limit, key=key)
        if not rows.update(claimed_at=now):
            LimitKey.objects.using(self.alias).bulk_create(
                [LimitKey(limit=limit, key=key, claimed_at=now)], ignore_conflicts=True
            )
        return True


def _claim_sql(
    worker: Worker, queues: Sequence[str] | None, limit: int, now: datetime, connection
) -> tuple[str, list]:
    """One writer at a time: ``status = 'pending'`` in the UPDATE decides ownership.

    SQLite uses a partial index only for a query that repeats its condition
    literally, and without statistics it picks the status index and sorts
    every pending row for each claim; the pick names the claim index.
    """
    qn = connection.ops.quote_name
    table = qn(Job._meta.db_table)
    columns = ", ".join(qn(f.column) for f in Job._meta.concrete_fields)
    at = connection.ops.adapt_datetimefield_value(now)
    pending = f"{qn('status')} = '{JobStatus.PENDING}'"
    # Limited jobs are not in the claim index: ``limits.claim`` takes them.
    due, pick_args = conditions.due(qn, queues, at)
    where = [pending, f"{qn('limit')} = ''", *due]
    pick = (
        f"SELECT {qn('id')} FROM {table} INDEXED BY {qn(CLAIM_INDEX)} "
        f"WHERE {' AND '.join(where)} "
        f"ORDER BY {qn('priority')} DESC, {qn('next_run_at')}, {qn('id')} LIMIT %s"
    )
    sql = (
        f"UPDATE {table} SET {qn('status')} = %s, {qn('worker_id')} = %s, "
        f"{qn('attempts')} = {qn('attempts')} + 1, {qn('started_at')} = %s, "
        f"{qn('progress')} = NULL, {qn('progress_message')} = '', {qn('progress_at')} = NULL, "
        f"{qn('last_run_at')} = %s, {qn('updated_at')} = %s "
        f"WHERE {qn('id')} IN ({pick}) AND {pending} RETURNING {columns}, NULL"
    )
    args = [JobStatus.RUNNING, worker.pk, at, at, at, *pick_args, limit]
    return sql, args


def _limit_groups_sql(
    queues: Sequence[str] | None, now: datetime, count: int, connection
) -> tuple[str, list]:
    """The (limit, key) groups with due jobs, most urgent first, as a loose index scan.

    Grouping the due limited jobs reads every one of them on every claim.
    ``g`` steps through the limited index from one (limit, key) to the next
    instead, and each group's most urgent due job is read from the same index.
    SQLite has no LATERAL, and a scalar subquery gives one column: each value
    is its own probe, all of them through the index.
    """
    qn = connection.ops.quote_name
    table = qn(Job._meta.db_table)
    name, key, priority, at = qn("limit"), qn("limit_key"), qn("priority"), qn("next_run_at")
    limited = conditions.pending_limited(qn)
    source = f"{table} INDEXED BY {qn(conditions.LIMITED_INDEX)} WHERE {limited}"
    by_group = f"ORDER BY {name}, {key} LIMIT 1"

    def after(column: str) -> str:
        """The next group's ``column``: a later key of this limit, else the next limit's first.

        Apart, not as one row-value comparison, which SQLite's index range
        reads by its first column only: every job of the limit's key again.
        """
        later_key = f"{name} = g.name AND {key} > g.key ORDER BY {key} LIMIT 1"
        next_limit = f"{name} > g.name {by_group}"
        return (
            f"coalesce((SELECT {column} FROM {source} AND {later_key}), "
            f"(SELECT {column} FROM {source} AND {next_limit}))"
        )

    due, due_params = conditions.due(qn, queues, connection.ops.adapt_datetimefield_value(now))
    top = f"FROM {source} AND {name} = g.name AND {key} = g.key AND {' AND '.join(due)} "
    top += f"ORDER BY {priority} DESC, {at} LIMIT 1"
    sql = (
        f"WITH RECURSIVE g (name, key) AS (SELECT * FROM (SELECT {name}, {key} FROM {source} "
        f"{by_group}) UNION ALL SELECT {after(name)}, {after(key)} FROM g "
        f"WHERE g.name IS NOT NULL) "
        f"SELECT name, key, running FROM (SELECT g.name, g.key, "
        f"(SELECT {priority} {top}) AS top, (SELECT {at} {top}) AS first, "
        f"(SELECT count(*) FROM {table} WHERE {qn('status')} = '{JobStatus.RUNNING}' "
        f"AND {name} = g.name AND {key} = g.key) AS running "
        f"FROM g WHERE g.name IS NOT NULL) WHERE top IS NOT NULL "
        f"ORDER BY top DESC, first, name, key LIMIT %s"
    )
    return sql, [*due_params, *due_params, count]


def _update_sql(connection, table, columns, fields, values, fenced) -> tuple[str, list[Any]]:
    qn = connection.ops.quote_name
    width = len(columns)
    listed = ", ".join(["(" + ", ".join(["%s"] * width) + ")"] * len(values))
    names = ", ".join(qn(c) for c in columns)
    assign = ", ".join(f"{qn(c)} = v.{qn(c)}" for c in columns[1:])
    sql = (
        f"WITH v({names}) AS (VALUES {listed}) "
        f"UPDATE {qn(table)} SET {assign} FROM v "
        f"WHERE {qn(table)}.{qn(columns[0])} = v.{qn(columns[0])}"
        + "".join(f" AND {qn(table)}.{qn(c)} = %s" for c in fenced)
    )
    return sql, [value for row in values for value in row]
