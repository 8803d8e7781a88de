"""Database quirks live in ``django_jobs.engines``: nothing else asks which database it is."""

import re
from pathlib import Path

from django.db import connection

import django_jobs
from django_jobs import engines
from django_jobs.engines import base

PACKAGE = Path(django_jobs.__file__).parent
# Migrations describe schema per database (generated columns, MySQL's indexes).
OUTSIDE = [PACKAGE / "engines", PACKAGE / "migrations"]


def test_no_module_outside_the_engines_checks_the_database_vendor():
    asking = [
        f"{path.relative_to(PACKAGE)}:{number}"
        for path in sorted(PACKAGE.rglob("*.py"))
        if not any(path.is_relative_to(folder) for folder in OUTSIDE)
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if re.search(r"\.vendor\b", line)
    ]
    assert asking == []


def test_each_alias_gets_the_engine_of_its_database_once():
    engine = engines.for_alias("default")
    assert engine is engines.for_alias("default")
    assert engine.alias == "default"
    assert isinstance(engine, base.Engine)
    module = {"postgresql": "postgresql", "mysql": "mysql", "sqlite": "sqlite"}[connection.vendor]
    assert type(engine).__module__ == f"django_jobs.engines.{module}"
