"""``runjobs --reload``: a real worker restarted by Django's autoreloader when code changes."""

import os
import signal
import subprocess
import sys
import time

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from django_jobs import enqueue
from django_jobs.models import Job, JobHistory, JobStatus
from django_jobs.models import Worker as WorkerRow

from .conftest import ROOT

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.subprocess]

SETTINGS = """
from tests.settings import *  # noqa
DJANGO_JOBS = {**DJANGO_JOBS, "HANDLERS": {"version": "reload_handlers.version"}}
LOGGING = {
    **LOGGING,
    "loggers": {
        "django_jobs": {"handlers": ["console"], "level": "INFO"},
        # "File ... first seen": the autoreloader watches it from then on.
        "django.utils.autoreload": {"handlers": ["console"], "level": "DEBUG"},
    },
}
"""

HANDLERS = """
def version(data):
    return {{"version": {version}}}
"""


def write_handlers(path, version):
    path.write_text(HANDLERS.format(version=version))
    later = time.time() + 2 * version  # a newer mtime, whatever the clock's resolution
    os.utime(path, (later, later))


def result_of(job):
    return JobHistory.objects.get(job=job).result


@pytest.fixture
def reloading(worker_env, tmp_path):
    (tmp_path / "reload_settings.py").write_text(SETTINGS)
    write_handlers(tmp_path / "reload_handlers.py", 1)
    env = {
        **worker_env,
        "DJANGO_SETTINGS_MODULE": "reload_settings",
        "PYTHONPATH": f"{tmp_path}{os.pathsep}{ROOT}",
    }
    log = open(tmp_path / "worker.log", "wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "django", "runjobs", "--reload", "--no-sync"],
        env=env,
        cwd=ROOT,
        stdin=subprocess.DEVNULL,  # the autoreloader fiddles with a terminal's echo
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    log.close()
    proc.log_path = tmp_path / "worker.log"
    yield proc
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def test_touching_a_watched_file_restarts_the_worker_with_the_new_code(
    reloading, wait_for, tmp_path, temp_handler
):
    temp_handler("version", lambda data: None)  # only so enqueue here accepts the name
    first = enqueue("version")
    wait_for(lambda: Job.objects.get(pk=first.pk).status == JobStatus.COMPLETED, timeout=60)
    assert result_of(first) == {"version": 1}
    (child,) = WorkerRow.objects.all()
    assert child.pid != reloading.pid  # the autoreloader's child runs the worker
    wait_for(
        lambda: "reload_handlers.py first seen" in reloading.log_path.read_text(),
        timeout=30,
        message="the handlers' module to be watched",
    )
    write_handlers(tmp_path / "reload_handlers.py", 2)

    def restarted():
        rows = list(WorkerRow.objects.all())
        return len(rows) == 1 and rows[0].pid != child.pid and rows[0]

    fresh = wait_for(restarted, timeout=60, message="a new worker process")
    second = enqueue("version")
    wait_for(lambda: Job.objects.get(pk=second.pk).status == JobStatus.COMPLETED, timeout=60)
    assert result_of(second) == {"version": 2}
    # The old child stopped cleanly (its row is gone), and a SIGTERM stops the new one.
    os.kill(fresh.pid, signal.SIGTERM)
    assert reloading.wait(timeout=30) == 0, reloading.log_path.read_text()
    assert not WorkerRow.objects.exists()
    assert reloading.log_path.read_text().count("worker started") == 2


def test_a_job_running_at_a_restart_is_put_back_not_lost(worker_env, reloading, wait_for, tmp_path):
    job = enqueue("sleep", {"seconds": 60, "cooperative": False})
    wait_for(lambda: Job.objects.get(pk=job.pk).status == JobStatus.RUNNING, timeout=60)
    (child,) = WorkerRow.objects.all()
    os.kill(child.pid, signal.SIGINT)  # the child alone: it exits, then the parent exits too
    assert reloading.wait(timeout=30) == 0, reloading.log_path.read_text()
    job.refresh_from_db()
    assert job.status == JobStatus.PENDING and job.worker_id is None
    assert "interrupted" in JobHistory.objects.get(job=job).error
    assert not WorkerRow.objects.exists()


def test_reload_and_once_are_refused_together():
    with pytest.raises(CommandError, match="--reload and --once"):
        call_command("runjobs", "--reload", "--once")
