"""Updating many rows with different values in one statement, per database.

Django's ``bulk_update`` builds a ``CASE WHEN`` expression per field and row,
which costs more Python time than the database spends on the statement. A
``VALUES`` list joined on the primary key is what every engine runs fastest.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from django.db import connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Model

from . import columns

# How COPY's text format spells NULL.
NULL = "\\N"


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
    database's work; MySQL (no ``INSERT ... RETURNING``) gets None. Thousands
    of rows on PostgreSQL go faster through ``copy_lines``.
    """
    connection = connections[using]
    if connection.vendor not in ("postgresql", "sqlite"):
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


def copy_lines(
    model: type[Model], fields: Sequence[str], lines: Sequence[str], using: str
) -> list[int]:
    """Insert rows given as lines of COPY text (see ``copy_fields``); their new ids, in order.

    Only where ``has_copy``. COPY is several times faster than any INSERT for
    thousands of rows, and formatting the text of rows that share most of it
    once costs less than handing the driver every value of every row.
    Reserving the ids first gives the caller the same answer RETURNING would.
    """
    connection = connections[using]
    qn = connection.ops.quote_name
    meta = model._meta
    names = [meta.pk.column, *(meta.get_field(f).column for f in fields)]
    with connection.cursor() as cursor:
        # One array, not a row an id: the driver parses it in C. Ascending,
        # so the rows keep the caller's order.
        cursor.execute(
            "SELECT array_agg(id ORDER BY id) FROM (SELECT nextval(pg_get_serial_sequence(%s, %s)) "
            "AS id FROM generate_series(1, %s)) AS reserved",
            [meta.db_table, meta.pk.column, len(lines)],
        )
        ids = cursor.fetchone()[0]
        copy = f"COPY {qn(meta.db_table)} ({', '.join(qn(c) for c in names)}) FROM STDIN"
        with cursor.cursor.copy(copy) as out:
            out.write("".join([f"{pk}\t{line}\n" for pk, line in zip(ids, lines, strict=True)]))
    return ids


def has_copy(connection: BaseDatabaseWrapper) -> bool:
    """PostgreSQL through psycopg 3, whose COPY API ``copy_lines`` uses."""
    if connection.vendor != "postgresql":
        return False
    from django.db.backends.postgresql.psycopg_any import is_psycopg3

    return is_psycopg3


def copy_fields(values: Iterable[Any]) -> list[str]:
    """Driver-ready values as fields of COPY's text format (a line joins them with tabs)."""
    return [_copy_field(value) for value in values]


def copy_escape(text: str) -> str:
    """Text as one field of COPY's text format."""
    if "\\" in text or "\t" in text or "\n" in text or "\r" in text:
        text = (
            text.replace("\\", "\\\\")
            .replace("\t", "\\t")
            .replace("\n", "\\n")
            .replace("\r", "\\r")
        )
    return text


def _copy_field(value: Any) -> str:
    if value is None:
        return NULL
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, datetime):
        return value.isoformat()
    return copy_escape(str(value))
