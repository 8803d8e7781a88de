"""PostgreSQL: one statement a cycle, prepared statements, COPY, LISTEN/NOTIFY.

Data-modifying CTEs let one statement claim a batch and write its history
rows, write a batch of outcomes, or both: no BEGIN/COMMIT round trips, and no
lock held across one. ``FOR UPDATE SKIP LOCKED`` keeps workers from waiting on
each other.

Django's psycopg cursors bind parameters on the client, so PostgreSQL parses
and analyses every claim and completion again from its text. A
server-side-binding cursor with ``prepare=True`` does that once per
connection, and its parameters and rows travel in binary, which both sides
encode and decode faster than text. With psycopg 2, or with the
``PREPARED_STATEMENTS`` setting off (PgBouncer in transaction mode before
1.21), the ordinary cursor runs it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Model
from django.utils import timezone

from ..claimed import Claimed
from ..conf import jobs_settings
from ..models import CANCELLED, TRANSITION_FIELDS, Job, JobHistory, JobStatus, RunStatus, Worker
from ..outcomes import KEPT, KEPT_UNLESS_FAILED, Finished, settle_tentatively
from . import base, claiming, completion, conditions, rows
from .completion import HISTORY_FIELDS
from .notify import CHANNEL
from .one_row import insert_one


class Engine(base.Engine):
    def __init__(self, alias: str) -> None:
        super().__init__(alias)
        self._finish_sql: str | None = None
        self._waking_sqls: dict[str, str] = {}  # an insert -> it and a NOTIFY

    def fetch_all(self, sql: str, params: Sequence[Any]) -> list[tuple]:
        return fetch_all(self.connection, sql, params)

    def update_builder(self) -> rows.UpdateBuilder:
        return _update_sql

    def insert_returning_ids(
        self, model: type[Model], fields: Sequence[str], values: Sequence[Sequence[Any]]
    ) -> list[int] | None:
        return rows.insert_returning(self.connection, model, fields, values, cast=True)

    @property
    def has_copy(self) -> bool:
        from django.db.backends.postgresql.psycopg_any import is_psycopg3

        return is_psycopg3

    def copy_lines(
        self, model: type[Model], fields: Sequence[str], lines: Sequence[str]
    ) -> list[int]:
        """COPY is several times faster than any INSERT for thousands of rows.

        Formatting the text of rows that share most of it once costs less than
        handing the driver every value of every row. Reserving the ids first
        gives the caller the same answer RETURNING would.
        """
        connection = self.connection
        qn = connection.ops.quote_name
        meta = model._meta
        names = [meta.pk.column, *(meta.get_field(f).column for f in fields)]
        with connection.cursor() as cursor:
            # One array, not a row an id: the driver parses it in C. Ascending,
            # so the rows keep the caller's order.
            cursor.execute(
                "SELECT array_agg(id ORDER BY id) FROM (SELECT nextval("
                "pg_get_serial_sequence(%s, %s)) AS id FROM generate_series(1, %s)) AS reserved",
                [meta.db_table, meta.pk.column, len(lines)],
            )
            ids = cursor.fetchone()[0]
            copy = f"COPY {qn(meta.db_table)} ({', '.join(qn(c) for c in names)}) FROM STDIN"
            with cursor.cursor.copy(copy) as out:
                out.write("".join([f"{pk}\t{line}\n" for pk, line in zip(ids, lines, strict=True)]))
        return ids

    def insert_job(self, job: Job) -> bool:
        """Insert the job and wake the workers in one prepared statement (if it is due:
        a job waiting for its dependencies has no due time yet)."""
        connection = self.connection
        due = job.next_run_at is not None and job.next_run_at <= timezone.now()
        wake = self.notifies() and due
        sql, params = insert_one(connection, Job, job, cast=True)
        if wake:
            sql = self._waking(sql)
            params += [CHANNEL, job.queue]
        rows.mark_saved(job, self.fetch_all(sql, params)[0][0], self.alias)
        return True

    def _waking(self, insert: str) -> str:
        sql = self._waking_sqls.get(insert)
        if sql is None:
            sql = f"WITH added AS ({insert}) SELECT id, pg_notify(%s, %s) FROM added"
            self._waking_sqls[insert] = sql
        return sql

    def table_estimate(self, model: type[Model]) -> int | None:
        sql = "SELECT reltuples::bigint FROM pg_class WHERE oid = to_regclass(%s)"
        return self.count_from_statistics(sql, model._meta.db_table)

    def name_search_index(self, table: str, name: str) -> tuple[str, str] | None:
        # What Django's istartswith writes, UPPER("name"::text) LIKE UPPER(...), is an
        # index range only with pattern operators (unless the collation is C).
        qn = self.connection.ops.quote_name
        return (
            f"CREATE INDEX IF NOT EXISTS {qn(name)} ON {qn(table)} "
            f"((UPPER({qn('name')}::text)) text_pattern_ops)",
            f"DROP INDEX IF EXISTS {qn(name)}",
        )

    def notifies(self) -> bool:
        return bool(jobs_settings.NOTIFY)

    def notify(self, payloads: Iterable[str]) -> None:
        with self.connection.cursor() as cursor:
            for payload in payloads:
                cursor.execute("SELECT pg_notify(%s, %s)", [CHANNEL, payload])

    def claim(
        self, worker: Worker, queues: Sequence[str] | None, limit: int, now: datetime
    ) -> list[Claimed]:
        # One statement claims and writes the history rows: no BEGIN/COMMIT round trips.
        connection = self.connection
        ctes, args, select = claim_ctes(worker, queues, limit, now, connection)
        found = self.fetch_all(f"WITH RECURSIVE {ctes} {select}", args)
        return claiming.rows_to_claimed(found, worker, now, self.alias)

    def limit_groups(
        self, queues: Sequence[str] | None, now: datetime, count: int
    ) -> list[tuple[str, str, int]]:
        # One index probe a group, however many jobs wait in it; running counts included.
        sql, params = limit_groups_sql(queues, now, count, self.connection)
        return [(name, key, running) for name, key, running in self.fetch_all(sql, params)]

    def claim_limited(
        self,
        worker: Worker,
        queues: Sequence[str] | None,
        limit: str,
        key: str,
        count: int,
        now: datetime,
    ) -> list[Claimed]:
        # Pick, mark running and write history in one statement, as the plain claim does.
        ctes, args, select = claim_ctes(worker, queues, count, now, self.connection, (limit, key))
        found = self.fetch_all(f"WITH {ctes} {select}", args)
        return claiming.rows_to_claimed(found, worker, now, self.alias)

    def finish(self, worker: Worker, by_id: dict[int, Finished], now: datetime) -> list[Finished]:
        """Lock what this worker still holds, update jobs and history, in one statement."""
        ctes, params = finish_ctes(worker, by_id, now, self.connection)
        done = dict(self.fetch_all(f"WITH {ctes} SELECT id, cancel_requested FROM done", params))
        applied = completion.applied_outcomes(by_id, done, now)
        return completion.finish_left_out(worker, by_id, applied, now, self.alias)

    def finish_and_claim(
        self,
        worker: Worker,
        by_id: dict[int, Finished],
        queues: Sequence[str] | None,
        limit: int,
        now: datetime,
    ) -> tuple[list[Finished], list[Claimed]]:
        """Outcomes and the claim in one statement (data-modifying CTEs)."""
        finishing, finish_params = finish_ctes(worker, by_id, now, self.connection)
        claiming_, claim_params, select = claim_ctes(worker, queues, limit, now, self.connection)
        # One row even when nothing was claimed, carrying what the completion wrote.
        # Every row repeats it: as text, so it is decoded once, not once a row.
        sql = (
            f"WITH RECURSIVE {finishing}, {claiming_}, "
            f"outcome AS (SELECT coalesce(json_agg(json_build_array(id, cancel_requested)), "
            f"'[]'::json)::text AS written FROM done) "
            f"SELECT outcome.written, batch.* FROM outcome LEFT JOIN ({select}) AS batch ON true"
        )
        found = self.fetch_all(sql, [*finish_params, *claim_params])
        written = {pk: cancelled for pk, cancelled in json.loads(found[0][0])}
        applied = completion.applied_outcomes(by_id, written, now)
        left_out = len(applied) < len(by_id)
        applied = completion.finish_left_out(worker, by_id, applied, now, self.alias)
        claimed = [row[1:] for row in found if row[1] is not None]
        jobs = claiming.rows_to_claimed(claimed, worker, now, self.alias)
        if left_out and len(jobs) < limit:
            # Finishing jobs that others wait for may have released some: take them now
            # rather than a poll later (a chain would wait a poll interval a link).
            jobs += self.claim(worker, queues, limit - len(jobs), now)
        return applied, jobs


def claim_ctes(
    worker: Worker,
    queues: Sequence[str] | None,
    limit: int,
    now: datetime,
    connection,
    limited: tuple[str, str] | None = None,
) -> tuple[str, list, str]:
    """The claim as CTEs (``levels``, ``picked``, ``claimed``, ``hist``) and the
    SELECT of its rows; the statement starts ``WITH RECURSIVE``.

    With ``limited`` = (limit, key), only that group's jobs, read in claim
    order straight from the limited index (``limits.claim``, under the key's lock).

    The claim index leads with priority, so one scan for the most urgent due
    jobs would step over every not-yet-due job of a higher priority (100,000
    of them cost 4 ms a claim). ``levels`` walks the priorities that have
    pending jobs, highest first, one index probe each, and ``picked`` takes
    due jobs a priority at a time; it stops as soon as it has ``limit``.
    A materialised CTE runs the locking pick exactly once; inside IN (...)
    the planner may re-run it and take more rows than LIMIT.

    The picked rows are updated through the primary key (``= ANY(ARRAY(...))``)
    and the status is rechecked as ``(...) IS TRUE``, which no index serves:
    without statistics (a table that grew from empty, not yet analyzed) the
    planner takes ``status = 'pending'`` for a few rows and would read every
    pending entry of the status index, dead ones included, on every claim.
    """
    qn = connection.ops.quote_name
    fields = Job._meta.concrete_fields
    table = qn(Job._meta.db_table)
    # Statuses are written into the text, not bound: a prepared statement's
    # generic plan can use the partial index only when it sees 'pending'.
    # Limited jobs are not in the claim index: ``limits.claim`` takes them.
    priority, pk, at = qn("priority"), qn("id"), qn("next_run_at")
    due, args = conditions.due(qn, queues, now)
    returning = ", ".join(f"{table}.{qn(f.column)}" for f in fields)
    if limited:
        where = [
            conditions.pending_limited(qn),
            *due,
            f"{qn('limit')} = %s",
            f"{qn('limit_key')} = %s",
        ]
        args += [*limited, limit]
        ctes = (
            f"picked AS MATERIALIZED (SELECT {pk} FROM {table} WHERE {' AND '.join(where)} "
            f"ORDER BY {priority} DESC, {at}, {pk} LIMIT %s FOR UPDATE SKIP LOCKED), "
        )
    else:
        pending = f"{qn('status')} = '{JobStatus.PENDING}' AND {qn('limit')} = ''"
        where = [pending, f"{priority} = levels.p", *due]
        highest = f"SELECT {priority} FROM {table} WHERE {pending}"
        args += [limit, limit]  # the pick's LIMIT, per priority and in all
        ctes = (
            f"levels (p) AS (({highest} ORDER BY {priority} DESC LIMIT 1) UNION ALL "
            f"SELECT ({highest} AND {priority} < levels.p ORDER BY {priority} DESC LIMIT 1) "
            f"FROM levels WHERE levels.p IS NOT NULL), "
            f"picked AS MATERIALIZED (SELECT due.{pk} FROM levels CROSS JOIN LATERAL "
            f"(SELECT {pk} FROM {table} WHERE {' AND '.join(where)} "
            f"ORDER BY {at}, {pk} LIMIT %s FOR UPDATE SKIP LOCKED) AS due LIMIT %s), "
        )
    ctes += (
        f"claimed AS (UPDATE {table} SET {qn('status')} = '{JobStatus.RUNNING}', "
        f"{qn('worker_id')} = %s, "
        f"{qn('attempts')} = {qn('attempts')} + 1, {qn('started_at')} = %s, "
        f"{qn('progress')} = NULL, {qn('progress_message')} = '', {qn('progress_at')} = NULL, "
        f"{qn('last_run_at')} = %s, {qn('updated_at')} = %s "
        f"WHERE {table}.{pk} = ANY(ARRAY(SELECT {pk} FROM picked)) "
        f"AND ({table}.{qn('status')} = '{JobStatus.PENDING}') IS TRUE "
        f"RETURNING {returning})"
    )
    args += [worker.pk, now, now, now]
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


def limit_groups_sql(
    queues: Sequence[str] | None, now: datetime, count: int, connection
) -> tuple[str, list]:
    """The (limit, key) groups with due jobs, most urgent first, as a loose index scan,
    each with its running jobs.

    Grouping the due limited jobs reads every one of them on every claim, so
    thousands of jobs waiting on a full limit would slow the whole worker.
    ``groups`` walks the limited index instead, one probe to the next
    (limit, key) each; ``top`` reads each group's most urgent due job from the
    same index and stops there.
    """
    qn = connection.ops.quote_name
    table = qn(Job._meta.db_table)
    name, key, priority, at = qn("limit"), qn("limit_key"), qn("priority"), qn("next_run_at")
    limited = conditions.pending_limited(qn)
    first = f"SELECT {name}, {key} FROM {table} WHERE {limited}"
    due, params = conditions.due(qn, queues, now)
    where = [limited, f"{name} = g.name", f"{key} = g.key", *due]
    sql = (
        f"WITH RECURSIVE g (name, key) AS (({first} ORDER BY {name}, {key} LIMIT 1) "
        f"UNION ALL SELECT n.name, n.key FROM g CROSS JOIN LATERAL "
        f"({first} AND ({name}, {key}) > (g.name, g.key) ORDER BY {name}, {key} LIMIT 1) "
        f"AS n (name, key)) "
        f"SELECT g.name, g.key, (SELECT count(*) FROM {table} WHERE "
        f"{qn('status')} = '{JobStatus.RUNNING}' AND {name} = g.name AND {key} = g.key) "
        f"FROM g CROSS JOIN LATERAL "
        f"(SELECT {priority}, {at} FROM {table} WHERE {' AND '.join(where)} "
        f"ORDER BY {priority} DESC, {at} LIMIT 1) AS top "
        f"ORDER BY top.{priority} DESC, top.{at}, g.name, g.key LIMIT %s"
    )
    return sql, [*params, count]


def finish_ctes(
    worker: Worker, by_id: dict[int, Finished], now: datetime, connection
) -> tuple[str, list]:
    """The completion as CTEs (``v``, ``owned``, ``done``, ``done_history``).

    Transitions are computed as if nobody asked to cancel; the statement
    applies the cancel rule itself for rows whose ``cancel_requested`` is set,
    so no lock is held across a round trip, and ``applied_outcomes`` then
    applies it to those jobs in memory.
    """
    for item in by_id.values():
        settle_tentatively(item, now)
    job_values = rows.writer(Job, TRANSITION_FIELDS, connection)
    hist_values = rows.writer(JobHistory, HISTORY_FIELDS, connection)
    empty_history = [None] * len(HISTORY_FIELDS)
    table = []
    for item in by_id.values():
        job, row = item.job, item.run
        if row is not None:
            row.finish(item.history_status, item.outcome)
        table.append(
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
    arrays = [list(column) for column in zip(*table, strict=True)]
    return _finish_sql(connection), [*arrays, worker.pk]


_finish_sqls: dict[str, str] = {}  # per alias


def _finish_sql(connection) -> str:
    """The completion CTEs' text: the same for every batch, so built once."""
    found = _finish_sqls.get(connection.alias)
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
        """A cancelled attempt's row: as ``Job.cancel`` writes it (``outcomes.cancel_after``)."""
        col = qn(field.column)
        if field.name in CANCELLED:
            constant = _literal(CANCELLED[field.name])
            return f"{col} = CASE WHEN o.cancel_requested THEN {constant} ELSE v.{col} END"
        if field.name == KEPT_UNLESS_FAILED:
            return f"{col} = CASE WHEN o.cancel_requested AND v.ok THEN j.{col} ELSE v.{col} END"
        if field.name in KEPT:
            return f"{col} = CASE WHEN o.cancel_requested THEN j.{col} ELSE v.{col} END"
        return f"{col} = v.{col}"  # updated_at: now, either way

    def hist_set(field) -> str:
        col = qn(field.column)
        if field.name == "status":
            when = "d.cancel_requested AND NOT v.ok"
            return (
                f"{col} = CASE WHEN {when} THEN '{RunStatus.CANCELLED}' ELSE v.h_{field.column} END"
            )
        return f"{col} = v.h_{field.column}"

    sql = _finish_sqls[connection.alias] = (
        f"v AS (SELECT * FROM unnest({unnest}) AS u({', '.join(names)})), "
        # The batch's rows by primary key, whatever the statistics say (see claim_ctes).
        f"owned AS MATERIALIZED (SELECT j.id, j.cancel_requested FROM {job_table} j "
        f"WHERE j.id = ANY(ARRAY(SELECT id FROM v)) AND (j.worker_id = %s) IS TRUE "
        f"AND (j.status = '{JobStatus.RUNNING}') IS TRUE "
        # Jobs others wait for are left to completion.finish_left_out, which settles them.
        f"AND NOT j.has_dependents FOR UPDATE OF j), "
        f"done AS (UPDATE {job_table} AS j SET {', '.join(job_set(f) for f in job_fields)} "
        f"FROM v JOIN owned o ON o.id = v.id WHERE j.id = v.id "
        f"RETURNING j.id, o.cancel_requested), "
        f"done_history AS (UPDATE {hist_table} AS h "
        f"SET {', '.join(hist_set(f) for f in hist_fields)} "
        # By primary key too: a history analyzed while small would be scanned once a row.
        f"FROM v JOIN done d ON d.id = v.id "
        f"WHERE h.id = v.hid AND h.id = ANY(ARRAY(SELECT hid FROM v)))"
    )
    return sql


def _literal(value: object) -> str:
    """A constant of the cancel definition as SQL (statuses, NULL, booleans)."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    return f"'{value}'"


def _update_sql(connection, table, columns, fields, values, fenced) -> tuple[str, list[Any]]:
    qn = connection.ops.quote_name
    width = len(columns)
    # Casting the first row types the whole VALUES list.
    first = "(" + ", ".join(f"%s::{f.db_type(connection)}" for f in fields) + ")"
    rest = ["(" + ", ".join(["%s"] * width) + ")"] * (len(values) - 1)
    listed = ", ".join([first, *rest])
    names = ", ".join(qn(c) for c in columns)
    assign = ", ".join(f"{qn(c)} = v.{qn(c)}" for c in columns[1:])
    key = f"{qn(table)}.{qn(columns[0])}"
    # The keys again, as an array the planner sees: joined on v alone, a table
    # analyzed while empty and refilled was read whole through its primary key.
    sql = (
        f"UPDATE {qn(table)} SET {assign} FROM (VALUES {listed}) AS v({names}) "
        f"WHERE {key} = v.{qn(columns[0])} AND {key} = ANY(%s::{fields[0].db_type(connection)}[])"
        + "".join(f" AND {qn(table)}.{qn(c)} = %s" for c in fenced)
    )
    return sql, [*(value for row in values for value in row), [row[0] for row in values]]


def fetch_all(connection: BaseDatabaseWrapper, sql: str, params: Sequence[Any]) -> list[tuple]:
    """Execute ``sql`` (``%s`` placeholders) as a prepared statement where possible."""
    rows = _prepared(connection, sql, params)
    if rows is not None:
        return rows
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _prepared(connection: BaseDatabaseWrapper, sql: str, params: Sequence[Any]) -> list | None:
    connection.ensure_connection()
    raw = connection.connection
    try:
        import psycopg
    except ImportError:
        return None
    if not isinstance(raw, psycopg.Connection) or not jobs_settings.PREPARED_STATEMENTS:
        return None
    if raw.prepare_threshold is None:
        # Django turns preparation off, and psycopg then ignores prepare=True.
        # A threshold nobody reaches prepares only what asks for it explicitly.
        raw.prepare_threshold = 2**31 - 1
    if raw.adapters.get_loader(_JSONB_OID, Format.BINARY) is not _JsonbAsText:
        # Rows come back in binary: PostgreSQL writes and psycopg reads binary
        # timestamps and arrays several times faster than their text. Django
        # reads jsonb as text; in binary that is a version byte, then the text.
        raw.adapters.register_loader(_JSONB_OID, _JsonbAsText)
    with connection.wrap_database_errors:
        with psycopg.Cursor(raw) as cursor:
            # %b: parameters go in binary too (arrays of timestamps above all).
            cursor.execute(sql.replace("%s", "%b"), params, prepare=True, binary=True)
            return cursor.fetchall()


try:
    from psycopg.adapt import Loader
    from psycopg.postgres import types as _pg_types
    from psycopg.pq import Format

    _JSONB_OID = _pg_types["jsonb"].oid

    class _JsonbAsText(Loader):
        format = Format.BINARY

        def load(self, data) -> str:
            return bytes(data[1:]).decode()

except ImportError:  # psycopg 2, or no PostgreSQL driver at all
    pass
