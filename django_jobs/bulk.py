"""Updating many rows with different values in one statement, per database.

Django's ``bulk_update`` builds a ``CASE WHEN`` expression per field and row,
which costs more Python time than the database spends on the statement. A
``VALUES`` list joined on the primary key is what every engine runs fastest.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import connections
from django.db.models import Model

from . import columns


def update_rows(
    model: type[Model], objs: Sequence[Model], fields: Sequence[str], using: str
) -> None:
    """Write ``fields`` of each object to its row, matched by primary key."""
    if not objs:
        return
    connection = connections[using]
    meta = model._meta
    pk = meta.pk
    targets = [meta.get_field(name) for name in fields]
    values = columns.writer(model, [pk.name, *fields], connection)
    rows = [values(obj) for obj in objs]
    names = [pk.column, *(f.column for f in targets)]
    sql, params = _SQL[connection.vendor](connection, meta.db_table, names, [pk, *targets], rows)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def _postgresql(connection, table, columns, fields, rows) -> tuple[str, list[Any]]:
    qn = connection.ops.quote_name
    width = len(columns)
    # Casting the first row types the whole VALUES list.
    first = "(" + ", ".join(f"%s::{f.db_type(connection)}" for f in fields) + ")"
    rest = ["(" + ", ".join(["%s"] * width) + ")"] * (len(rows) - 1)
    values = ", ".join([first, *rest])
    names = ", ".join(qn(c) for c in columns)
    assign = ", ".join(f"{qn(c)} = v.{qn(c)}" for c in columns[1:])
    sql = (
        f"UPDATE {qn(table)} SET {assign} FROM (VALUES {values}) AS v({names}) "
        f"WHERE {qn(table)}.{qn(columns[0])} = v.{qn(columns[0])}"
    )
    return sql, [value for row in rows for value in row]


def _sqlite(connection, table, columns, fields, rows) -> tuple[str, list[Any]]:
    qn = connection.ops.quote_name
    width = len(columns)
    values = ", ".join(["(" + ", ".join(["%s"] * width) + ")"] * len(rows))
    names = ", ".join(qn(c) for c in columns)
    assign = ", ".join(f"{qn(c)} = v.{qn(c)}" for c in columns[1:])
    sql = (
        f"WITH v({names}) AS (VALUES {values}) "
        f"UPDATE {qn(table)} SET {assign} FROM v "
        f"WHERE {qn(table)}.{qn(columns[0])} = v.{qn(columns[0])}"
    )
    return sql, [value for row in rows for value in row]


def _mysql(connection, table, columns, fields, rows) -> tuple[str, list[Any]]:
    qn = connection.ops.quote_name
    first = "SELECT " + ", ".join(f"%s AS {qn(c)}" for c in columns)
    rest = ["SELECT " + ", ".join(["%s"] * len(columns))] * (len(rows) - 1)
    derived = " UNION ALL ".join([first, *rest])
    assign = ", ".join(f"t.{qn(c)} = v.{qn(c)}" for c in columns[1:])
    sql = (
        f"UPDATE {qn(table)} AS t JOIN ({derived}) AS v "
        f"ON t.{qn(columns[0])} = v.{qn(columns[0])} SET {assign}"
    )
    return sql, [value for row in rows for value in row]


_SQL = {"postgresql": _postgresql, "sqlite": _sqlite, "mysql": _mysql}


def insert_returning_ids(
    model: type[Model], fields: Sequence[str], rows: Sequence[Sequence[Any]], using: str
) -> list[int] | None:
    """Insert rows of already-prepared values; the new ids in order, or None where unsupported.

    Used where ``bulk_create``'s per-value compilation costs more than the
    database's work; MySQL (no ``INSERT ... RETURNING``) gets None.
    """
    connection = connections[using]
    if connection.vendor == "postgresql":
        ids = _copy_with_reserved_ids(connection, model, fields, rows)
        if ids is not None:
            return ids
    elif connection.vendor != "sqlite":
        return None
    qn = connection.ops.quote_name
    meta = model._meta
    targets = [meta.get_field(name) for name in fields]
    casts = [
        f"::{f.db_type(connection)}" if connection.vendor == "postgresql" else "" for f in targets
    ]
    row_sql = "(" + ", ".join(f"%s{cast}" for cast in casts) + ")"
    # SQLite allows at most 32,766 parameters in one statement.
    chunk = max(1, min(1000, 30000 // len(targets)))
    columns = ", ".join(qn(f.column) for f in targets)
    ids: list[int] = []
    with connection.cursor() as cursor:
        for start in range(0, len(rows), chunk):
            part = rows[start : start + chunk]
            sql = (
                f"INSERT INTO {qn(meta.db_table)} ({columns}) VALUES "
                f"{', '.join([row_sql] * len(part))} RETURNING {qn(meta.pk.column)}"
            )
            cursor.execute(sql, [value for row in part for value in row])
            ids.extend(row[0] for row in cursor.fetchall())
    return ids


def _copy_with_reserved_ids(connection, model, fields, rows) -> list[int] | None:
    """PostgreSQL: reserve ids from the sequence, then stream the rows with COPY.

    COPY is several times faster than any INSERT for thousands of rows;
    reserving the ids first gives the caller the same answer RETURNING would.
    """
    qn = connection.ops.quote_name
    meta = model._meta
    with connection.cursor() as cursor:
        raw = getattr(cursor, "cursor", None)
        if not hasattr(raw, "copy"):  # psycopg2: no COPY API of this shape
            return None
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
            [meta.db_table, meta.pk.column, len(rows)],
        )
        ids = [row[0] for row in cursor.fetchall()]
        columns = ", ".join(
            qn(c) for c in [meta.pk.column, *(meta.get_field(f).column for f in fields)]
        )
        with raw.copy(f"COPY {qn(meta.db_table)} ({columns}) FROM STDIN") as copy:
            for pk, row in zip(ids, rows, strict=True):
                copy.write_row([pk, *row])
    return ids
