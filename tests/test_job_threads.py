"""The worker's thread pool: queued calls can be withdrawn, running ones cannot, none is lost."""

import threading
import time

import pytest

from django_jobs import enqueue, enqueue_many
from django_jobs.models import Job, JobHistory, JobStatus, RunStatus
from django_jobs.signals import job_started
from django_jobs.worker import WorkerLoop
from django_jobs.worker.threads import JobThreads


def one_busy_thread():
    """A pool of one thread, held by a first call until ``release`` is set; a second queued."""
    pool = JobThreads(1, name="django-jobs-test")
    started, release, ran = threading.Event(), threading.Event(), []

    def first():
        started.set()
        release.wait(5)
        ran.append("first")

    running = pool.submit(first)
    queued = pool.submit(lambda: ran.append("second"))
    assert started.wait(5)
    return pool, running, queued, release, ran


def test_a_queued_call_withdrawn_never_runs_and_a_running_one_cannot_be():
    pool, running, queued, release, ran = one_busy_thread()
    assert queued.cancel() and queued.cancel()  # withdrawn, and it stays withdrawn
    assert not running.cancel()
    release.set()
    pool.shutdown(wait=True)
    assert ran == ["first"]


def test_shutdown_withdraws_the_queued_calls_and_lets_the_running_one_end():
    pool, _, queued, release, ran = one_busy_thread()
    pool.shutdown(wait=False, cancel_futures=True)
    assert queued.cancel()  # already withdrawn by the shutdown
    with pytest.raises(RuntimeError):
        pool.submit(lambda: ran.append("late"))
    release.set()
    pool.shutdown(wait=True)
    assert ran == ["first"]


def test_threads_start_as_calls_arrive_up_to_the_size_named_and_daemon_as_asked():
    pool = JobThreads(3, name="django-jobs-test", daemon=True)
    release = threading.Event()
    seen: list[threading.Thread] = []
    lock = threading.Lock()

    def call():
        with lock:
            seen.append(threading.current_thread())
        release.wait(5)

    for _ in range(2):
        pool.submit(call)
    deadline = time.monotonic() + 5
    while len(seen) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(set(seen)) == 2  # two calls, two threads: neither waited for the other
    for _ in range(5):
        pool.submit(call)
    release.set()
    pool.shutdown(wait=True)
    assert len(seen) == 7
    assert len(set(seen)) == 3
    assert all(t.name.startswith("django-jobs-test_") and t.daemon for t in seen)
    with pytest.raises(ValueError):
        JobThreads(0)


@pytest.mark.django_db(transaction=True)
def test_a_stopped_worker_gives_back_the_jobs_still_queued_in_its_pool():
    """One thread, one long job running, short ones queued behind it in the pool."""
    worker = WorkerLoop(concurrency=1, batch_size=100, listen=False)
    worker.start()
    try:
        enqueue_many([{}] * 3, handler="noop")
        deadline = time.monotonic() + 10
        while Job.objects.filter(status=JobStatus.COMPLETED).count() < 3:
            assert time.monotonic() < deadline
            worker.loop()
            time.sleep(0.01)
        long = enqueue("sleep", {"seconds": 2, "cooperative": False})
        short = enqueue_many([{}] * 3, handler="noop")
        started = threading.Event()

        def on_start(sender, job, **kwargs):
            if job.pk == long.pk:
                started.set()

        job_started.connect(on_start, weak=False)
        try:
            worker.loop()  # recent jobs are short: it claims rounds ahead of its one thread
            assert Job.objects.filter(status=JobStatus.RUNNING).count() == 4
            assert started.wait(10)
        finally:
            job_started.disconnect(on_start)
    finally:
        worker.stop()
        worker.shutdown(grace=0.2)
    long.refresh_from_db()
    assert long.status == JobStatus.PENDING and long.attempts == 1  # interrupted, retried
    assert JobHistory.objects.get(job=long).status == RunStatus.FAILED
    for job in short:
        job.refresh_from_db()
        # Never started: the attempt is given back and leaves no history row.
        assert (job.status, job.attempts) == (JobStatus.PENDING, 0)
        assert not JobHistory.objects.filter(job=job).exists()
