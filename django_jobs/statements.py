"""Running the worker's hot statements as prepared statements on PostgreSQL.

Django's psycopg cursors bind parameters on the client, so PostgreSQL parses
and analyses every claim and completion again from its text. A
server-side-binding cursor with ``prepare=True`` does that once per
connection, and its parameters and rows travel in binary, which both sides
encode and decode faster than text. With psycopg 2, or with the
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
