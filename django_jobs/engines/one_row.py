"""``INSERT`` of one new object, ``RETURNING`` its id: the statement ``enqueue()`` runs.

A job has 38 columns and most of them hold their field's default. Each
parameter costs the driver more than the database spends on its column (about
1,700 CPU instructions a parameter with psycopg, a quarter of enqueue's own
Python), so columns holding their static default are written into the
statement as literals and only the others travel as parameters. Each
combination of defaulted columns is one statement, built once and prepared
once per connection; in practice a project has a handful.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum
from operator import ne
from typing import Any

from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Field, Model

from . import rows

# (model, vendor, cast) -> (the literal candidates, a reader of their values, their defaults)
_plans: dict[tuple, tuple[list[Field], Callable[[Any], tuple], tuple]] = {}
# (model, vendor, cast, which candidates differ) -> (statement, fields sent as parameters)
_statements: dict[tuple, tuple[str, list[str]]] = {}


def insert_one(
    connection: BaseDatabaseWrapper, model: type[Model], obj: Model, cast: bool
) -> tuple[str, list[Any]]:
    """The statement inserting ``obj`` (every field but the primary key) and its parameters.

    ``cast``: each parameter is cast to its column's type (PostgreSQL binds
    them untyped). Values are taken as valid, as ``rows.writer`` takes them.
    """
    plan_key = (model, connection.vendor, cast)
    plan = _plans.get(plan_key)
    if plan is None:
        plan = _plans[plan_key] = _plan(model)
    candidates, read, defaults = plan
    differs = tuple(map(ne, read(obj), defaults))
    key = (*plan_key, differs)
    built = _statements.get(key)
    if built is None:
        kept = [
            (f, d)
            for f, d, changed in zip(candidates, defaults, differs, strict=True)
            if not changed
        ]
        built = _statements[key] = _statement(connection, model, cast, kept)
    sql, sent = built
    return sql, rows.writer(model, sent, connection)(obj)


def _candidates(model: type[Model]) -> list[Field]:
    """Fields whose default is a constant a literal can spell: ``None`` for a nullable
    field without a default, otherwise a plain string, number or boolean."""
    found = []
    for field in model._meta.concrete_fields:
        if field.primary_key:
            continue
        default = _default(field)
        if default is None and field.null:
            found.append(field)
        elif isinstance(default, (str, int, float)) and "%" not in str(default):
            # "%" would need escaping from the driver's placeholder syntax.
            found.append(field)
    return found


def _default(field: Field) -> Any:
    if not field.has_default():
        return None
    if callable(field.default):
        return _NOT_CONSTANT
    default = field.get_default()
    return default.value if isinstance(default, Enum) else default


_NOT_CONSTANT = object()


def _plan(model: type[Model]) -> tuple[list[Field], Callable[[Any], tuple], tuple]:
    fields = _candidates(model)
    read = rows.tuple_reader([field.attname for field in fields])
    return fields, read, tuple(_default(field) for field in fields)


def _statement(
    connection: BaseDatabaseWrapper, model: type[Model], cast: bool, kept: list[tuple[Field, Any]]
) -> tuple[str, list[str]]:
    """``kept``: the (field, default) pairs whose value is the default, spelled as literals."""
    meta = model._meta
    qn = connection.ops.quote_name
    literal = {field.name: _literal(connection, default) for field, default in kept}
    fields = [field for field in meta.concrete_fields if not field.primary_key]
    sent = [field.name for field in fields if field.name not in literal]
    marks = [
        literal[field.name]
        if field.name in literal
        else f"%s::{field.db_type(connection)}"
        if cast
        else "%s"
        for field in fields
    ]
    sql = (
        f"INSERT INTO {qn(meta.db_table)} ({', '.join(qn(str(f.column)) for f in fields)}) "
        f"VALUES ({', '.join(marks)}) RETURNING {qn(str(meta.pk.column))}"
    )
    return sql, sent


def _literal(connection: BaseDatabaseWrapper, value: Any) -> str:
    if value is None:
        return "NULL"
    # The database's own spelling of a constant, as its migrations write defaults
    # (not entered: SQLite refuses a schema editor inside a transaction).
    connection.ensure_connection()
    quoted = connection.schema_editor(collect_sql=True).quote_value(value)
    return quoted.decode() if isinstance(quoted, bytes) else quoted  # mysqlclient: bytes
