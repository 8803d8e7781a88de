"""Settings and helpers shared by every system under test.

Each system reads its own database name from ``BENCH_DB`` (PostgreSQL on
``BENCH_PGHOST``), or a SQLite file from ``BENCH_SQLITE``.
"""

import os
import time

PGHOST = os.environ.get("BENCH_PGHOST", "127.0.0.1")
PGPORT = os.environ.get("BENCH_PGPORT", "5432")
PGUSER = os.environ.get("BENCH_PGUSER", "postgres")
DB_NAME = os.environ.get("BENCH_DB", "bench_default")
SQLITE = os.environ.get("BENCH_SQLITE", "")
LATENCY_FILE = os.environ.get("BENCH_LATENCY_FILE", "")


def django_databases() -> dict:
    if SQLITE:
        return {
            "default": {
                "ENGINE": "django.db.backends.sqlite3",
                "NAME": SQLITE,
                # As the README recommends for a worker sharing the file.
                "OPTIONS": {
                    "timeout": 20,
                    "transaction_mode": "IMMEDIATE",
                    "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
                },
            }
        }
    return {
        "default": {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": DB_NAME,
            "USER": PGUSER,
            "HOST": PGHOST,
            "PORT": PGPORT,
        }
    }


def django_base(apps: list[str]) -> dict:
    """The few settings a worker-only Django project needs."""
    return {
        "SECRET_KEY": "bench-only",
        "DEBUG": False,
        "USE_TZ": True,
        "TIME_ZONE": "UTC",
        "DATABASES": django_databases(),
        "INSTALLED_APPS": ["django.contrib.contenttypes", "django.contrib.auth", *apps],
        "DEFAULT_AUTO_FIELD": "django.db.models.BigAutoField",
    }


def record_start(i) -> None:
    """Note when a latency probe's handler starts; drain jobs carry no ``i`` and skip this."""
    if i is None or not LATENCY_FILE:
        return
    started = time.time()
    with open(LATENCY_FILE, "a") as out:
        out.write(f"{i} {started!r}\n")
