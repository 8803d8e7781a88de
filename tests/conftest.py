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
def runjobs(worker_env, manage_cmd, tmp_path):
    """Start ``runjobs`` subprocesses; any still alive at the end of the test is killed."""
    import subprocess

    started = []

    def start(*args, env=None):
        log = open(tmp_path / f"worker-{len(started)}.log", "wb")
        proc = subprocess.Popen(
            [*manage_cmd, "runjobs", "--no-sync", *args],
            env={**worker_env, **(env or {})},
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


def _server_up(vendor):
    import subprocess

    if vendor == "postgresql":
        command = ["pg_isready", "-h", "127.0.0.1", "-p", "5432", "-q"]
    else:
        command = ["mysqladmin", "-h127.0.0.1", "-uroot", "status"]
    return subprocess.run(command, capture_output=True).returncode == 0


def _cluster():
    return sorted(os.listdir("/etc/postgresql"))[-1]


def _stop_server(vendor):
    import subprocess

    if vendor == "postgresql":
        cmd = ["pg_ctlcluster", "--skip-systemctl-redirect", _cluster(), "main", "stop"]
        cmd += ["-m", "fast"]
    else:
        cmd = ["mysqladmin", "-h127.0.0.1", "-uroot", "shutdown"]
    subprocess.run(cmd, check=True, capture_output=True)


def _start_server(vendor, timeout=60.0):
    import subprocess
    import time

    if not _server_up(vendor):
        if vendor == "postgresql":
            cmd = ["pg_ctlcluster", "--skip-systemctl-redirect", _cluster(), "main", "start"]
        else:
            cmd = ["start-stop-daemon", "--start", "--oknodo", "--background"]
            cmd += ["--exec", "/usr/sbin/mariadbd"]
        subprocess.run(cmd, capture_output=True)
    deadline = time.monotonic() + timeout
    while not _server_up(vendor):
        if time.monotonic() > deadline:
            raise RuntimeError(f"the {vendor} server did not come back")
        time.sleep(0.2)


@pytest.fixture
def restart_database(vendor):
    """Restart the database server; it is running again afterwards, whatever happens."""
    import time

    if vendor not in ("postgresql", "mysql"):
        pytest.skip("needs a database server to restart")

    def restart(down_for=0.5):
        try:
            _stop_server(vendor)
            time.sleep(down_for)
        finally:
            _start_server(vendor)
            connection.close()  # this process's connection died with the server

    yield restart
    _start_server(vendor)
    connection.close()


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
