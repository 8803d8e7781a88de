"""MySQL and MariaDB: no ``UPDATE ... RETURNING``, so the plain engine claims and inserts.

The claim locks its batch with ``select_for_update(skip_locked=True)`` and
updates it in the same transaction (the base engine). What differs is how
many rows are updated at once, and where the row estimate is kept.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Model

from . import base, rows


class Engine(base.Engine):
    def update_builder(self) -> rows.UpdateBuilder:
        return _update_sql

    def table_estimate(self, model: type[Model]) -> int | None:
        sql = (
            "SELECT table_rows FROM information_schema.tables "
            "WHERE table_schema = DATABASE() AND table_name = %s"
        )
        return self.count_from_statistics(sql, model._meta.db_table)


def _update_sql(connection, table, columns, fields, values, fenced) -> tuple[str, list[Any]]:
    """A derived table of ``SELECT ... UNION ALL`` joined on the primary key."""
    qn = connection.ops.quote_name
    first = "SELECT " + ", ".join(f"%s AS {qn(c)}" for c in columns)
    rest = ["SELECT " + ", ".join(["%s"] * len(columns))] * (len(values) - 1)
    derived = " UNION ALL ".join([first, *rest])
    assign = ", ".join(f"t.{qn(c)} = v.{qn(c)}" for c in columns[1:])
    sql = (
        f"UPDATE {qn(table)} AS t JOIN ({derived}) AS v "
        f"ON t.{qn(columns[0])} = v.{qn(columns[0])} SET {assign}"
    )
    if fenced:
        sql += " WHERE " + " AND ".join(f"t.{qn(c)} = %s" for c in fenced)
    return sql, [value for row in values for value in row]
