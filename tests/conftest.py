import os
import signal
import sys
from pathlib import Path

import pytest
from django.db import connection

from django_jobs.registry import registry

ROOT = Path(__file__).resolve().parent.parent

# A suite started in the background of a shell without job control (``cmd &``
# in a script, ``nohup``) inherits SIGINT ignored, and so would every server and
# worker the tests start: the tests that press Ctrl-C on them would wait in vain.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


def _worker_env():
    """Environment for a ``runjobs`` subprocess pointed at the test's database, now."""
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
def worker_env():
    return _worker_env()


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


# Real worker processes and database servers --------------------------------


@pytest.fixture
def wait_for():
    """Poll ``condition`` until it is true or ``timeout`` seconds pass; returns its last value."""
    import time

    def wait(condition, timeout=30.0, interval=0.05, message="condition"):
        deadline = time.monotonic() + timeout
        while True:
            value = condition()
            if value:
                return value
            if time.monotonic() >= deadline:
                raise AssertionError(f"timed out after {timeout}s waiting for {message}")
            time.sleep(interval)

    return wait


@pytest.fixture
def runjobs(manage_cmd, tmp_path):
    """Start ``runjobs`` subprocesses; any still alive at the end of the test is killed.

    Each worker gets the database the test uses when it starts the worker (a
    private server's, with ``restart_database``).
    """
    import subprocess

    started = []

    def start(*args, env=None):
        log = open(tmp_path / f"worker-{len(started)}.log", "wb")
        proc = subprocess.Popen(
            [*manage_cmd, "runjobs", "--no-sync", *args],
            env={**_worker_env(), **(env or {})},
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )
        proc.log_path = log.name
        log.close()
        started.append(proc)
        return proc

    yield start
    for proc in started:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


@pytest.fixture
def private_database(vendor, django_db_blocker):
    """Point the test's database at a private server of the same vendor, migrated.

    For tests that stop and start a server: they restart this one, never the
    shared servers. Stopped and removed afterwards, whatever happens.
    """
    from django.core.management import call_command

    from tests.servers import SERVERS

    if vendor not in SERVERS:
        pytest.skip("needs PostgreSQL or MariaDB")
    if not SERVERS[vendor].available():
        pytest.skip(f"no {vendor} server binaries to start a private server with")
    server = SERVERS[vendor]()
    settings = connection.settings_dict  # the dict every thread's connection reads
    saved = dict(settings)
    try:
        server.create()
        server.start()
        server.create_database()
        connection.close()
        settings.update(server.settings())
        with django_db_blocker.unblock():
            call_command("migrate", verbosity=0, run_syncdb=True)
        yield server
    finally:
        connection.close()
        settings.clear()
        settings.update(saved)
        server.destroy()


@pytest.fixture
def restart_database(private_database):
    """Restart the test's private database server; it is running again afterwards."""
    import time

    def restart(down_for=0.5):
        try:
            private_database.stop()
            time.sleep(down_for)
        finally:
            private_database.start()
            connection.close()  # this process's connection died with the server

    return restart


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """Before the test database is dropped, end sessions that stray threads left on it."""
    yield
    with django_db_blocker.unblock():
        _end_other_sessions()


def _end_other_sessions():
    from django.db import connection as conn

    name = conn.settings_dict["NAME"]
    with conn.cursor() as cursor:
        if conn.vendor == "postgresql":
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = %s AND pid <> pg_backend_pid()",
                [name],
            )
        elif conn.vendor == "mysql":
            cursor.execute(
                "SELECT id FROM information_schema.processlist "
                "WHERE db = %s AND id <> CONNECTION_ID()",
                [name],
            )
            for (pid,) in cursor.fetchall():
                cursor.execute(f"KILL {int(pid)}")
