"""``job_dead`` is sent once wherever a job dies, and only for dead jobs."""

import pytest
from django.db import connection
from django.utils import timezone

from django_jobs import enqueue, schedule, signals
from django_jobs.models import Job, JobStatus
from django_jobs.worker import WorkerLoop

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def deaths():
    seen = []

    def receiver(sender, job, attempt, error, **kwargs):
        seen.append((job.pk, attempt, error.split("\n")[0], job.status))

    signals.job_dead.connect(receiver)
    yield seen
    signals.job_dead.disconnect(receiver)


def test_a_job_out_of_attempts_dies_once(deaths):
    job = enqueue("fail", {"n": 1}, max_attempts=2)
    WorkerLoop(listen=False).run_once()
    assert deaths == []
    Job.objects.filter(pk=job.pk).update(next_run_at=timezone.now())
    WorkerLoop(listen=False).run_once()
    assert deaths == [(job.pk, 2, "RuntimeError: boom: {'n': 1}", JobStatus.FAILED)]


def test_a_job_the_database_refuses_to_start_dies(deaths):
    done = enqueue("noop", max_attempts=1)
    WorkerLoop(listen=False).run_once()
    table = connection.ops.quote_name(Job._meta.db_table)
    with connection.cursor() as cursor:  # back to pending by hand: its slot's run exists
        cursor.execute(
            f"UPDATE {table} SET status = %s, next_run_at = %s, attempts = 0 WHERE id = %s",
            [JobStatus.PENDING, timezone.now(), done.pk],
        )
    WorkerLoop(listen=False).run_once()
    assert [(pk, status) for pk, _, _, status in deaths] == [(done.pk, JobStatus.FAILED)]
    assert deaths[0][2].startswith("the database refused to start this job")
    assert Job.objects.dead().filter(pk=done.pk).exists()


def test_a_recurring_job_never_dies(deaths):
    job = schedule("every", "noop", "1h")
    Job.objects.filter(pk=job.pk).update(schedule="not a schedule", next_run_at=timezone.now())
    WorkerLoop(listen=False).run_once()
    assert Job.objects.get(pk=job.pk).status == JobStatus.FAILED
    assert not Job.objects.dead().exists()
    assert deaths == []


def _held_by_a_vanished_worker():
    """Two running jobs of a worker silent for an hour: one on its last attempt, one not."""
    from datetime import timedelta

    from django_jobs.models import Worker as WorkerRow

    gone = WorkerRow.objects.create(
        name="gone", hostname="h", pid=1, last_heartbeat=timezone.now() - timedelta(hours=1)
    )
    last = enqueue("echo", max_attempts=1)
    more = enqueue("echo", max_attempts=2)
    Job.objects.filter(pk__in=[last.pk, more.pk]).update(
        status=JobStatus.RUNNING, worker=gone, attempts=1, next_run_at=None
    )
    return last, more


def test_a_job_whose_worker_vanished_dies_when_out_of_attempts(deaths):
    from django_jobs.worker.liveness import recover_lost

    last, more = _held_by_a_vanished_worker()
    assert recover_lost() == 2
    assert [(pk, attempt) for pk, attempt, _, _ in deaths] == [(last.pk, 1)]
    assert Job.objects.get(pk=more.pk).status == JobStatus.PENDING


def test_attempts_failed_by_the_recovery_of_a_vanished_worker_send_job_failed(deaths):
    """A lost attempt is a failed attempt: job_failed (and so webhooks) hear of it."""
    from django_jobs.worker.liveness import recover_lost

    failures = []

    def receiver(sender, job, attempt, error, will_retry, **kwargs):
        failures.append((job.pk, attempt, error.startswith("worker lost"), will_retry))

    last, more = _held_by_a_vanished_worker()
    signals.job_failed.connect(receiver)
    try:
        assert recover_lost() == 2
    finally:
        signals.job_failed.disconnect(receiver)
    assert sorted(failures) == [(last.pk, 1, True, False), (more.pk, 1, True, True)]
    assert [pk for pk, *_ in deaths] == [last.pk]  # after its job_failed


def test_a_stopping_worker_announces_the_attempts_it_interrupts(deaths):
    import threading

    from django_jobs.registry import handler

    started, release = threading.Event(), threading.Event()

    @handler("interruptible")
    def interruptible(data, ctx):
        started.set()
        release.wait(5)

    failures = []

    def receiver(sender, job, attempt, error, will_retry, **kwargs):
        failures.append((job.pk, error.startswith("interrupted"), will_retry))

    job = enqueue("interruptible", max_attempts=1)
    worker = WorkerLoop(listen=False, shutdown_grace=0)
    worker.start()
    signals.job_failed.connect(receiver)
    try:
        worker.loop()
        assert started.wait(5)
        worker.shutdown(grace=0)
    finally:
        release.set()
        signals.job_failed.disconnect(receiver)
    assert failures == [(job.pk, True, False)]
    assert [pk for pk, *_ in deaths] == [job.pk]
