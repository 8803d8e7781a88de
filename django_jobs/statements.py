"""Running the worker's hot statements as prepared statements on PostgreSQL.

Django's psycopg cursors bind parameters on the client, so PostgreSQL plans
every claim and completion again; the plan of the claim's CTEs costs more
than running it. A server-side-binding cursor with ``prepare=True`` plans each
statement once per connection. With psycopg 2, or with the
``PREPARED_STATEMENTS`` setting off (PgBouncer in transaction mode before
1.21), the ordinary cursor runs it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db.backends.base.base import BaseDatabaseWrapper

from .conf import jobs_settings


def fetch_all(connection: BaseDatabaseWrapper, sql: str, params: Sequence[Any]) -> list[tuple]:
    """Execute ``sql`` (``%s`` placeholders) and return every row."""
    if connection.vendor == "postgresql":
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
    with connection.wrap_database_errors:
        with psycopg.Cursor(raw) as cursor:
            cursor.execute(sql, params, prepare=True)
            return cursor.fetchall()
