import os
import sys
from pathlib import Path

import pytest
from django.db import connection

from django_jobs.registry import registry

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def worker_env():
    """Environment for a ``runjobs`` subprocess pointed at the test database."""
    settings = connection.settings_dict
    engine = settings["ENGINE"]
    name = settings["NAME"]
    host = settings["HOST"] or "127.0.0.1"
    if engine.endswith("sqlite3"):
        url = f"sqlite:///{name}"
    elif engine.endswith("postgresql"):
        user = settings["USER"] or "postgres"
        url = f"postgres://{user}@{host}:{settings['PORT'] or 5432}/{name}"
    else:
        auth = f"{settings['USER']}:{settings['PASSWORD'] or ''}"
        url = f"mysql://{auth}@{host}:{settings['PORT'] or 3306}/{name}"
    env = dict(os.environ)
    env.update(
        DATABASE_URL=url,
        DJANGO_SETTINGS_MODULE="tests.settings",
        PYTHONPATH=str(ROOT),
        PYTHONUNBUFFERED="1",
    )
    return env


@pytest.fixture
def manage_cmd():
    return [sys.executable, "-m", "django"]


@pytest.fixture
def temp_handler():
    """Register handlers for one test and remove them afterwards."""
    added = []

    def register(name, fn):
        registry.register(name, fn)
        added.append(name)
        return fn

    yield register
    for name in added:
        registry.unregister(name)


@pytest.fixture
def vendor():
    return connection.vendor
