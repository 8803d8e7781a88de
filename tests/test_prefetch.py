"""How much a worker of short jobs claims ahead of its free threads, and when it stops."""

import time

import pytest

from django_jobs import enqueue, enqueue_many
from django_jobs.models import Job, JobStatus
from django_jobs.worker import WorkerLoop
from django_jobs.worker.slots import PREFETCH_ROUNDS, PREFETCH_STALL_SECONDS

pytestmark = pytest.mark.django_db(transaction=True)

CONCURRENCY = 3


def held() -> int:
    return Job.objects.filter(status=JobStatus.RUNNING).count()


def drive(worker: WorkerLoop, seconds: float, watch=None) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        worker.loop()
        if watch is not None:
            watch(held())
        time.sleep(0.01)


@pytest.fixture
def worker():
    worker = WorkerLoop(concurrency=CONCURRENCY, batch_size=100, listen=False)
    worker.start()
    yield worker
    worker.stop()
    worker.shutdown(grace=10)


def warm_up(worker: WorkerLoop) -> None:
    """A few no-op jobs, so the worker knows its jobs are short."""
    enqueue_many([{}] * 4, handler="noop")
    drive(worker, 0.3)
    assert Job.objects.filter(status=JobStatus.COMPLETED).count() == 4


def test_long_jobs_are_claimed_only_for_free_threads(worker):
    enqueue_many([{"data": {"seconds": 0.5}}] * 10, handler="sleep")
    worker.loop()
    assert held() == CONCURRENCY


def test_short_jobs_are_claimed_rounds_ahead_then_not_behind_a_stalled_one(worker):
    warm_up(worker)
    stuck = enqueue("sleep", {"seconds": PREFETCH_STALL_SECONDS + 1.0})
    enqueue_many([{}] * 100, handler="noop")

    worker.loop()
    # The pool's threads and five rounds of them queued, in one round trip
    # (a few may have finished already).
    claimed = Job.objects.filter(pk__gte=stuck.pk, attempts=1).count()
    assert claimed == CONCURRENCY + PREFETCH_ROUNDS * CONCURRENCY

    # The stuck job outlives the stall limit; the other threads keep draining,
    # but claims are for free threads now, not rounds ahead.
    drive(worker, PREFETCH_STALL_SECONDS + 0.1)
    assert Job.objects.get(pk=stuck.pk).status == JobStatus.RUNNING
    enqueue_many([{}] * 100, handler="noop")
    seen = []
    drive(worker, 0.3, watch=seen.append)
    assert Job.objects.get(pk=stuck.pk).status == JobStatus.RUNNING
    assert max(seen) <= CONCURRENCY
    assert Job.objects.filter(status=JobStatus.COMPLETED, handler="noop").count() > 4 + 100

    # Once it ends, the worker claims ahead again.
    drive(worker, 1.0)
    assert Job.objects.get(pk=stuck.pk).status == JobStatus.COMPLETED
    enqueue_many([{}] * 100, handler="noop")
    seen.clear()
    drive(worker, 0.3, watch=seen.append)
    assert max(seen) > CONCURRENCY
