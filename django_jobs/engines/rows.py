"""Moving column values between model instances and raw SQL, without per-value dispatch.

Every engine builds its statements from these pieces.

The worker's statements carry every column of dozens of jobs a round trip.
Asking each field to prepare or convert each value (``get_db_prep_save``,
``get_db_converters``) costs more Python time than the database spends on the
statement, so the work a field would do is worked out once per model, column
list and database, and applied in a plain loop. It covers what these models
hold: JSON, datetimes and plain values the database driver takes as they are.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from operator import attrgetter
from typing import Any

from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import DateTimeField, JSONField, Model
from django.db.models.base import ModelState
from django.db.models.signals import post_init, pre_init

_JSON, _DATETIME, _PLAIN = 0, 1, 2

_layouts: dict[tuple, tuple[Callable[[Any], tuple], list[int], list[int]]] = {}
_defaults: dict[type[Model], dict[str, Any]] = {}
_steps: dict[tuple, list[tuple[int, Any, list]]] = {}


def writer(
    model: type[Model], names: Sequence[str], connection: BaseDatabaseWrapper
) -> Callable[[Any], list[Any]]:
    """A function giving an object's values of the fields ``names``, ready for the driver.

    The values are taken as valid (the callers validated them on the way in):
    JSON is encoded and datetimes are adapted as the field would; the rest
    passes through. Get a new one for each batch: it holds ``connection``.
    """
    key = (model, tuple(names), connection.vendor)
    layout = _layouts.get(key)
    if layout is None:
        fields = [model._meta.get_field(name) for name in names]
        attnames = [field.attname for field in fields]
        # attrgetter reads every attribute in C; only JSON and datetimes need Python.
        read = tuple_reader(attnames)
        json_at = [i for i, field in enumerate(fields) if _kind(field) == _JSON]
        datetime_at = [i for i, field in enumerate(fields) if _kind(field) == _DATETIME]
        layout = _layouts[key] = (read, json_at, datetime_at)
    read, json_at, datetime_at = layout
    adapt_dt = connection.ops.adapt_datetimefield_value

    def values(obj: Any) -> list[Any]:
        row = list(read(obj))
        for i in json_at:
            if row[i] is not None:
                row[i] = json.dumps(row[i])
        instant = adapted = None  # a new job holds one instant in several columns
        for i in datetime_at:
            value = row[i]
            if value is not None:
                if value is not instant:
                    instant, adapted = value, adapt_dt(value)
                row[i] = adapted
        return row

    return values


def tuple_reader(attnames: Sequence[str]) -> Callable[[Any], tuple]:
    """A function giving an object's ``attnames`` as a tuple, read in C by ``attrgetter``
    (which, given one name, returns the bare value: wrapped here)."""
    if len(attnames) == 1:
        get = attrgetter(attnames[0])
        return lambda obj: (get(obj),)
    return attrgetter(*attnames)


def reader(
    model: type[Model], connection: BaseDatabaseWrapper
) -> Callable[[Sequence[Any]], list[Any]]:
    """A function applying the ORM's converters to a row of every concrete column."""
    key = (model, connection.vendor)
    steps = _steps.get(key)
    if steps is None:
        table = model._meta.db_table
        steps = _steps[key] = []
        for index, field in enumerate(model._meta.concrete_fields):
            col = field.get_col(table)
            funcs = connection.ops.get_db_converters(col) + field.get_db_converters(connection)
            if funcs:
                steps.append((index, col, funcs))

    def convert(row: Sequence[Any]) -> list[Any]:
        values = list(row)
        for index, col, funcs in steps:
            for func in funcs:
                values[index] = func(values[index], col, connection)
        return values

    return convert


def instance(model: type[Model], **values: Any) -> Any:
    """``model(**values)`` through the model's positional fast path: thousands at a time.

    ``values`` are keyed by attribute name (``worker_id``, not ``worker``).
    Fields left out get their static default; those with a callable default
    are left ``None`` for the caller to set.
    """
    defaults = _defaults.get(model)
    if defaults is None:
        defaults = _defaults[model] = {
            f.attname: None if callable(f.default) else f.get_default()
            for f in model._meta.concrete_fields
        }
    if not values.keys() <= defaults.keys():
        unknown = sorted(values.keys() - defaults.keys())
        raise TypeError(f"not attributes of {model.__name__}: {', '.join(unknown)}")
    attributes = {**defaults, **values}
    if _init_listened(model):
        return model(*attributes.values())
    # What the constructor sets, as ``cloner`` does: one job an enqueue() call.
    obj = model.__new__(model)
    attributes["_state"] = ModelState()
    obj.__dict__ = attributes
    return obj


def cloner(model: type[Model]) -> Callable[..., Any]:
    """A function copying an unsaved instance with some attributes changed, without ``__init__``.

    A model's constructor costs more than the database spends inserting the
    row; copying a validated template's attributes is what ``enqueue_many``
    does for thousands of jobs that share everything but their data. When
    something listens to the model's init signals the constructor runs, so
    they are sent as ever.
    """
    if _init_listened(model):
        names = [f.attname for f in model._meta.concrete_fields]

        def construct(template: Any, **changes: Any) -> Any:
            values = {name: getattr(template, name) for name in names}
            return model(**{**values, **changes})

        return construct

    def copy(template: Any, **changes: Any) -> Any:
        obj = model.__new__(model)
        attributes = template.__dict__.copy()
        attributes["_state"] = ModelState()
        attributes.update(changes)
        obj.__dict__ = attributes
        return obj

    return copy


def loader(model: type[Model], using: str) -> Callable[[Sequence[Any]], Any]:
    """``model.from_db`` for converted rows of every concrete column, without ``__init__``.

    As ``cloner``: the attributes are set as the constructor would, and the
    constructor runs instead when something listens to the init signals.
    """
    names = [f.attname for f in model._meta.concrete_fields]
    if _init_listened(model):
        return lambda values: model.from_db(using, names, values)

    def load(values: Sequence[Any]) -> Any:
        obj = model.__new__(model)
        attributes = dict(zip(names, values, strict=True))
        state = attributes["_state"] = ModelState()
        state.adding = False
        state.db = using
        obj.__dict__ = attributes
        return obj

    return load


def _init_listened(model: type[Model]) -> bool:
    return pre_init.has_listeners(model) or post_init.has_listeners(model)


def _kind(field) -> int:
    if isinstance(field, JSONField):
        return _JSON
    return _DATETIME if isinstance(field, DateTimeField) else _PLAIN


# How COPY's text format spells NULL.
NULL = "\\N"


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


# (connection, table, columns, fields, rows, fenced columns) -> (sql, params); the
# statement's parameters are the rows' values, then one for each fenced column.
UpdateBuilder = Callable[
    [BaseDatabaseWrapper, str, list[str], list[Any], list[list[Any]], list[str]], tuple
]


def update_by_values(
    connection: BaseDatabaseWrapper,
    model: type[Model],
    objs: Sequence[Model],
    fields: Sequence[str],
    build: UpdateBuilder,
    fence: Mapping[str, Any] | None = None,
) -> int:
    """Write ``fields`` of each object to its row, matched by primary key, in one statement.

    Django's ``bulk_update`` builds a ``CASE WHEN`` expression per field and
    row, which costs more Python time than the database spends on the
    statement. A ``VALUES`` list joined on the primary key (``build`` spells it
    for one database) is what every engine runs fastest. ``fence`` (field ->
    value) writes only the rows that still hold those values; returns how
    many rows were written.
    """
    if not objs:
        return 0
    meta = model._meta
    pk = meta.pk
    targets = [meta.get_field(name) for name in fields]
    values = writer(model, [pk.name, *fields], connection)
    rows = [values(obj) for obj in objs]
    names = [pk.column, *(f.column for f in targets)]
    fence = fence or {}
    fenced = [meta.get_field(name).column for name in fence]
    sql, params = build(connection, meta.db_table, names, [pk, *targets], rows, fenced)
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, *fence.values()])
        return cursor.rowcount


def insert_names(model: type[Model]) -> list[str]:
    """The fields an ``INSERT`` of a new row names: every concrete one but the primary key."""
    names = _insert_names.get(model)
    if names is None:
        names = _insert_names[model] = [
            f.name for f in model._meta.concrete_fields if not f.primary_key
        ]
    return names


_insert_names: dict[type[Model], list[str]] = {}


def mark_saved(obj: Model, pk: Any, using: str) -> None:
    """What ``save()`` leaves on an object it inserted: its id, and that it is in ``using``."""
    obj.pk = pk
    obj._state.adding = False
    obj._state.db = using


def insert_returning(
    connection: BaseDatabaseWrapper,
    model: type[Model],
    fields: Sequence[str],
    rows: Sequence[Sequence[Any]],
    cast: bool,
) -> list[int]:
    """Multi-row ``INSERT ... RETURNING`` of already-prepared values; the new ids in order.

    ``cast``: each value is cast to its column's type (PostgreSQL).
    """
    qn = connection.ops.quote_name
    meta = model._meta
    targets = [meta.get_field(name) for name in fields]
    casts = [f"::{f.db_type(connection)}" if cast else "" for f in targets]
    row_sql = "(" + ", ".join(f"%s{c}" for c in casts) + ")"
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
