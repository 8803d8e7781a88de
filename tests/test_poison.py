"""Poison jobs: whatever a handler does to its thread, process or connection costs its attempt.

The process pool runs in child processes of the test, started with ``spawn``;
they run the handlers of ``tests/testapp/jobs.py``.
"""

import os
import signal
import sys

import pytest
from django.db import connection

from django_jobs import enqueue
from django_jobs.models import Job, JobHistory, JobStatus, RunStatus
from django_jobs.worker import WorkerLoop

pytestmark = pytest.mark.django_db(transaction=True)


def run(**kwargs):
    worker = WorkerLoop(listen=False, **kwargs)
    worker.run_once()
    return worker


def statuses(*jobs):
    return [Job.objects.get(pk=job.pk).status for job in jobs]


@pytest.mark.parametrize("handler", ["exits", "interrupts"])
def test_base_exception_in_a_child_process_costs_only_its_attempt(handler):
    bad = enqueue(handler, max_attempts=1)
    good = enqueue("noop")
    run(pool="process", concurrency=1)
    assert statuses(bad, good) == [JobStatus.FAILED, JobStatus.COMPLETED]
    bad.refresh_from_db()
    assert ("SystemExit" if handler == "exits" else "KeyboardInterrupt") in bad.last_error


@pytest.mark.parametrize(
    ("handler", "reason"),
    [("hard_exit", "exited with code 7"), ("segfault", "was killed by signal SIGSEGV")],
)
def test_a_handler_that_kills_its_process_fails_its_attempt_and_is_retried(handler, reason):
    bad = enqueue(handler, max_attempts=2)
    good = [enqueue("uses_db") for _ in range(3)]
    worker = WorkerLoop(listen=False, pool="process", concurrency=1)
    worker.run_once()
    bad.refresh_from_db()
    assert bad.status == JobStatus.PENDING  # retried per policy
    assert f"ProcessDied: the process running the job {reason}" in bad.last_error
    assert statuses(*good) == [JobStatus.COMPLETED] * 3
    WorkerLoop(listen=False, pool="process", concurrency=1).run_once(now=bad.next_run_at)
    bad.refresh_from_db()
    assert bad.status == JobStatus.FAILED
    rows = list(JobHistory.objects.filter(job=bad).order_by("attempt"))
    assert [(row.attempt, row.status) for row in rows] == [(1, "failed"), (2, "failed")]


def test_process_timeout_kills_the_child_and_a_fresh_one_runs_the_next_job():
    slow = enqueue("sleep", {"seconds": 60, "cooperative": False}, timeout=0.5, max_attempts=2)
    worker = WorkerLoop(listen=False, pool="process", concurrency=1)
    worker.start()
    try:
        while not Job.objects.filter(pk=slow.pk, status=JobStatus.RUNNING).exists():
            worker.loop()
        (first_child,) = worker._pool.pids()
        while not Job.objects.filter(pk=slow.pk, status=JobStatus.PENDING, attempts=1).exists():
            worker.loop()
            worker._wake.wait(0.05)
        slow.refresh_from_db()
        assert "TimeoutError: the job ran past its timeout of 0.5s" in slow.last_error
        assert "process was killed" in slow.last_error
        after = enqueue("with_ctx")
        while not Job.objects.filter(pk=after.pk, status=JobStatus.COMPLETED).exists():
            worker.loop()
            worker._wake.wait(0.05)
        assert worker.guard.healthy
        assert first_child not in worker._pool.pids()
    finally:
        worker.shutdown(grace=0)
    row = JobHistory.objects.get(job=slow, attempt=1)
    assert row.status == RunStatus.FAILED
    assert "TimeoutError" in row.error


def test_cancelling_a_job_in_the_process_pool_kills_its_process(wait_for):
    from django_jobs import steering

    job = enqueue("sleep", {"seconds": 60, "cooperative": False})
    worker = WorkerLoop(listen=False, pool="process", concurrency=1)
    worker.start()
    try:
        while not Job.objects.filter(pk=job.pk, status=JobStatus.RUNNING).exists():
            worker.loop()
        steering.cancel(job.pk)
        while Job.objects.get(pk=job.pk).status == JobStatus.RUNNING:
            worker.loop()
            worker._wake.wait(0.05)
    finally:
        worker.shutdown(grace=0)
    job.refresh_from_db()
    assert job.status == JobStatus.CANCELLED
    assert JobHistory.objects.get(job=job).status == RunStatus.CANCELLED


@pytest.mark.parametrize("pool", ["thread", "process"])
@pytest.mark.parametrize("handler", ["broken_sql", "open_transaction", "break_connection"])
def test_a_handler_that_breaks_its_connection_costs_only_its_attempt(
    handler, pool, vendor, monkeypatch
):
    if handler == "break_connection" and vendor == "sqlite":
        pytest.skip("SQLite has no server to end the connection")
    # Keep connections between jobs, as production settings usually do, so the
    # next job on the same thread would inherit whatever the poison left.
    monkeypatch.setitem(connection.settings_dict, "CONN_MAX_AGE", None)
    bad = enqueue(handler, max_attempts=1, priority=10)
    after = [enqueue("uses_db") for _ in range(3)]
    run(pool=pool, concurrency=1)
    expected = JobStatus.FAILED if handler == "broken_sql" else JobStatus.COMPLETED
    assert statuses(bad) == [expected]
    assert statuses(*after) == [JobStatus.COMPLETED] * 3
    if handler == "open_transaction":
        # What the handler wrote in its never-closed transaction was rolled back.
        assert Job.objects.filter(name="x").count() == 0


@pytest.mark.skipif(sys.platform != "linux", reason="uses /proc and prctl")
def test_thread_pool_hard_exit_is_a_crash_recovered_like_kill_9(runjobs, wait_for):
    """``os._exit`` in a thread takes the worker with it; another worker recovers the job."""
    bad = enqueue("hard_exit", max_attempts=1)
    first = runjobs("--concurrency", "1")
    assert first.wait(timeout=60) == 7
    bad.refresh_from_db()
    assert bad.status == JobStatus.RUNNING  # nobody has noticed yet
    good = enqueue("noop")
    runjobs("--concurrency", "2")
    wait_for(
        lambda: statuses(bad, good) == [JobStatus.FAILED, JobStatus.COMPLETED],
        timeout=30,
        message="recovery of the crashed worker's job",
    )
    bad.refresh_from_db()
    assert "worker lost" in bad.last_error
    assert JobHistory.objects.get(job=bad).status == RunStatus.FAILED


def test_process_pool_survives_a_child_killed_from_outside(tmp_path):
    import os

    started = tmp_path / "pid"
    worker = WorkerLoop(listen=False, pool="process", concurrency=1)
    try:
        worker.start()
        warm = enqueue("noop")  # the child is up once it has run a job
        while Job.objects.get(pk=warm.pk).status != JobStatus.COMPLETED:
            worker.loop()
            worker._wake.wait(0.05)
        job = enqueue("mark_then_sleep", {"path": str(started)}, max_attempts=1)
        # Kill the child only once the handler runs in it: "running" in the
        # database is written at the claim, before the child takes the job.
        while not started.exists() or not started.read_text():
            worker.loop()
            worker._wake.wait(0.05)
        pid = int(started.read_text())
        assert worker._pool.pids() == [pid]
        os.kill(pid, signal.SIGKILL)
        while Job.objects.get(pk=job.pk).status == JobStatus.RUNNING:
            worker.loop()
            worker._wake.wait(0.05)
        done = enqueue("noop")
        while Job.objects.get(pk=done.pk).status != JobStatus.COMPLETED:
            worker.loop()
            worker._wake.wait(0.05)
    finally:
        worker.shutdown(grace=0)
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED
    assert "was killed by signal SIGKILL" in job.last_error


def test_stopping_the_process_pool_ends_every_slot_and_child(wait_for):
    from django_jobs.worker.pool import ProcessPool

    pool = ProcessPool(2)
    wait_for(lambda: len(pool.pids()) == 2, timeout=60)
    children = pool.pids()
    pool.shutdown(wait=False, cancel_futures=True)
    for thread in pool._threads:
        thread.join(10)
        assert not thread.is_alive(), "a slot thread still waits for work after shutdown"
    assert not pool.pids()
    assert not [pid for pid in children if os.path.exists(f"/proc/{pid}")]
