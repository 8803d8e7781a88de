"""Moving column values between model instances and raw SQL, without per-value dispatch.

The worker's statements carry every column of dozens of jobs a round trip.
Asking each field to prepare or convert each value (``get_db_prep_save``,
``get_db_converters``) costs more Python time than the database spends on the
statement, so the work a field would do is worked out once per model, column
list and database, and applied in a plain loop. It covers what these models
hold: JSON, datetimes and plain values the database driver takes as they are.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import DateTimeField, JSONField, Model
from django.db.models.base import ModelState
from django.db.models.signals import post_init, pre_init

_JSON, _DATETIME, _PLAIN = 0, 1, 2

_layouts: dict[tuple, list[tuple[str, int]]] = {}
_defaults: dict[type[Model], list[tuple[str, Any]]] = {}
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
        layout = _layouts[key] = [(field.attname, _kind(field)) for field in fields]
    adapt_dt = connection.ops.adapt_datetimefield_value

    def values(obj: Any) -> list[Any]:
        row = []
        for attname, kind in layout:
            value = getattr(obj, attname)
            if value is not None and kind != _PLAIN:
                value = json.dumps(value) if kind == _JSON else adapt_dt(value)
            row.append(value)
        return row

    return values


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

    Fields left out get their static default; those with a callable default
    are left ``None`` for the caller to set.
    """
    defaults = _defaults.get(model)
    if defaults is None:
        defaults = _defaults[model] = [
            (f.attname, None if callable(f.default) else f.get_default())
            for f in model._meta.concrete_fields
        ]
    return model(*[values.get(attname, default) for attname, default in defaults])


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
