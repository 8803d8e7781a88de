"""LISTEN/NOTIFY wake-ups on PostgreSQL: an idle worker starts a new job without waiting a poll."""

import threading
import time

import pytest
from django.conf import settings
from django.db import connection, transaction
from django.test import override_settings

from django_jobs import enqueue, enqueue_many
from django_jobs.engines import notify
from django_jobs.models import Job, JobStatus
from django_jobs.worker import WorkerLoop

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="LISTEN/NOTIFY is PostgreSQL's"),
]

LONG_POLL = 60.0  # far longer than any wait below: only a notification can wake the worker


# Upkeep rounds (each HEARTBEAT_INTERVAL) wake an idle worker too: rare here.
QUIET = {**settings.DJANGO_JOBS, "WORKER_TIMEOUT": 300.0, "HEARTBEAT_INTERVAL": 60.0}


@pytest.fixture
def idle_worker():
    with override_settings(DJANGO_JOBS=QUIET):
        worker = WorkerLoop(poll_interval=LONG_POLL, listen=True)
        thread = threading.Thread(target=worker.run, daemon=True)
        thread.start()
        _wait(lambda: worker._listener is not None and worker._listener.listening.is_set())
        time.sleep(0.2)  # let the first loop finish and go idle
        yield worker
        worker.stop()
        thread.join(timeout=30)


def _wait(condition, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return False


def _done(job):
    return Job.objects.filter(pk=job.pk, status=JobStatus.COMPLETED).exists()


def test_enqueue_wakes_an_idle_worker(idle_worker):
    job = enqueue("noop")
    assert _wait(lambda: _done(job))


def test_notification_is_sent_when_the_transaction_commits(idle_worker):
    with transaction.atomic():
        job = enqueue("noop")
        time.sleep(0.3)
        assert not _done(job)  # not visible, not announced before commit
    assert _wait(lambda: _done(job))


def test_bulk_enqueue_wakes_the_worker(idle_worker):
    jobs = enqueue_many([{"handler": "noop"}] * 50)
    assert _wait(lambda: Job.objects.filter(status=JobStatus.COMPLETED).count() == len(jobs))


def test_notifications_can_be_turned_off():
    with override_settings(DJANGO_JOBS={"NOTIFY": False}):
        assert not notify.enabled()
        worker = WorkerLoop(poll_interval=LONG_POLL, listen=True)
        worker.start()
        try:
            assert worker._listener is None
        finally:
            worker.shutdown(grace=0)
