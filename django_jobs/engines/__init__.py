"""Everything that differs between databases, behind one engine per alias.

``for_alias(using)`` returns the engine of the database behind an alias:
``base.Engine`` is plain ORM, and ``postgresql``, ``mysql`` and ``sqlite``
override only what they do better (Django's own ``db/backends`` is the
model). Outside this package no module asks which database it runs on.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

from django.db import connections

if TYPE_CHECKING:
    from .base import Engine

# The module of each database that has one; any other gets the plain ORM engine.
_MODULES = {"postgresql": "postgresql", "mysql": "mysql", "sqlite": "sqlite"}

_engines: dict[tuple[str, str], Engine] = {}


def for_alias(using: str) -> Engine:
    """The engine of database alias ``using``, made once per alias and database."""
    vendor = connections[using].vendor
    engine = _engines.get((using, vendor))
    if engine is None:
        module = _MODULES.get(vendor)
        cls = import_module(f"{__name__}.{module}" if module else f"{__name__}.base").Engine
        engine = _engines[(using, vendor)] = cls(using)
    return engine
