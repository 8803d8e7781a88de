"""Real ``runjobs`` processes against the configured database: sharing, crashes and signals."""

import signal
import time
from collections import Counter

import pytest
from django.conf import settings

from django_jobs import enqueue, enqueue_many
from django_jobs.models import Job, JobHistory, JobStatus, RunStatus
from django_jobs.models import Worker as WorkerRow

from . import procfs

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.subprocess]

WORKER_TIMEOUT = settings.DJANGO_JOBS["WORKER_TIMEOUT"]


def counts():
    return Counter(Job.objects.values_list("status", flat=True))


def lines(path):
    return path.read_text().split() if path.exists() else []


def test_several_workers_never_run_a_job_twice(runjobs, wait_for, tmp_path):
    out = tmp_path / "runs.txt"
    total = 600
    workers = [runjobs("--concurrency", "4", "--batch-size", "8") for _ in range(3)]
    # All three poll before the jobs arrive, so they compete for every batch. Each job takes
    # a few milliseconds: no-op jobs can all be done by whichever worker claims first before
    # the others' next poll (SQLite's write lock, unlike a row lock, does not queue waiters
    # fairly, so a busy worker can take it again and again).
    wait_for(lambda: WorkerRow.objects.count() == 3, message="three workers registered")
    enqueue_many(
        [
            {"handler": "record", "data": {"path": str(out), "key": i, "seconds": 0.005}}
            for i in range(total)
        ]
    )
    wait_for(lambda: counts()[JobStatus.COMPLETED] == total, timeout=120, message="all jobs done")
    keys = [line for line in out.read_text().splitlines()]
    assert len(keys) == total
    assert len({line.split()[0] for line in keys}) == total
    pids = {line.split()[1] for line in keys}
    assert len(pids) > 1, "the work should be shared"
    assert JobHistory.objects.count() == total
    assert all(w.poll() is None for w in workers)


def test_kill_9_mid_job_is_recovered_by_another_worker_and_retried(runjobs, wait_for):
    job = enqueue("sleep", {"seconds": 1, "cooperative": False}, max_attempts=3)
    victim = runjobs()
    wait_for(lambda: Job.objects.filter(pk=job.pk, status=JobStatus.RUNNING).exists())
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    killed_at = time.monotonic()
    runjobs()
    wait_for(
        lambda: Job.objects.get(pk=job.pk).status == JobStatus.COMPLETED,
        timeout=WORKER_TIMEOUT + 15,
        message="the job to be recovered and run again",
    )
    first, second = JobHistory.objects.filter(job=job).order_by("attempt")
    assert (first.attempt, first.status) == (1, RunStatus.FAILED)
    assert "worker lost" in first.error
    assert (second.attempt, second.status) == (2, RunStatus.COMPLETED)
    # Recovered within WORKER_TIMEOUT of the last heartbeat, plus a heartbeat, a
    # poll and the retry backoff (at most RETRY_BACKOFF_MAX) to start again.
    recovered_in = (second.started_at - first.started_at).total_seconds()
    assert recovered_in < WORKER_TIMEOUT + 4, recovered_in
    assert time.monotonic() - killed_at < WORKER_TIMEOUT + 10


def test_sigterm_finishes_in_flight_jobs_then_puts_back_what_outlives_the_grace(runjobs, wait_for):
    short = enqueue("sleep", {"seconds": 1, "cooperative": False})
    long = enqueue("sleep", {"seconds": 60, "cooperative": False})
    worker = runjobs("--concurrency", "2")
    wait_for(lambda: counts()[JobStatus.RUNNING] == 2, message="both jobs running")
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(timeout=settings.DJANGO_JOBS["SHUTDOWN_GRACE"] + 15) == 0
    short.refresh_from_db()
    long.refresh_from_db()
    assert short.status == JobStatus.COMPLETED
    assert long.status == JobStatus.PENDING  # put back for the next worker, not lost
    assert long.worker_id is None
    row = JobHistory.objects.get(job=long)
    assert row.status == RunStatus.FAILED
    assert "interrupted" in row.error
    assert not WorkerRow.objects.exists()


def test_a_second_signal_exits_at_once(runjobs, wait_for):
    job = enqueue("sleep", {"seconds": 60, "cooperative": False})
    worker = runjobs()
    wait_for(lambda: Job.objects.filter(pk=job.pk, status=JobStatus.RUNNING).exists())
    worker.send_signal(signal.SIGTERM)
    time.sleep(0.2)  # let the first signal be handled before the second arrives
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(timeout=5) == 1
    # Left running: the next worker recovers it once the heartbeat is stale.
    assert Job.objects.get(pk=job.pk).status == JobStatus.RUNNING


@pytest.mark.parametrize("pool", ["thread", "process"])
def test_max_jobs_exits_0_after_finishing_in_flight_jobs(runjobs, pool):
    jobs = [enqueue("sleep", {"seconds": 0.5}) for _ in range(6)]
    worker = runjobs("--max-jobs", "3", "--concurrency", "3", "--pool", pool)
    assert worker.wait(timeout=60) == 0, _log(worker)
    statuses = Counter(
        Job.objects.filter(pk__in=[j.pk for j in jobs]).values_list("status", flat=True)
    )
    assert statuses == {JobStatus.COMPLETED: 3, JobStatus.PENDING: 3}
    assert set(JobHistory.objects.values_list("status", flat=True)) == {RunStatus.COMPLETED}


def test_max_memory_retires_the_worker_cleanly(runjobs):
    job = enqueue("noop")
    worker = runjobs("--max-memory", "1")  # any Python process is above 1 MB
    assert worker.wait(timeout=60) == 0, _log(worker)
    assert Job.objects.get(pk=job.pk).status in (JobStatus.COMPLETED, JobStatus.PENDING)
    assert not Job.objects.filter(status=JobStatus.RUNNING).exists()


def test_process_pool_worker_killed_takes_its_children_with_it(runjobs, wait_for):
    job = enqueue("sleep", {"seconds": 60, "cooperative": False})
    worker = runjobs("--pool", "process", "--concurrency", "2")
    wait_for(lambda: Job.objects.filter(pk=job.pk, status=JobStatus.RUNNING).exists())
    children = procfs.children(worker.pid)
    assert len(children) >= 2
    worker.send_signal(signal.SIGKILL)
    worker.wait()

    def gone():
        return not any(procfs.alive(pid) for pid in children)

    wait_for(gone, timeout=10, message="children gone")


def test_process_pool_hard_timeout_in_a_real_worker(runjobs, wait_for):
    slow = enqueue("sleep", {"seconds": 60, "cooperative": False}, timeout=1, max_attempts=2)
    fast = [enqueue("noop") for _ in range(5)]
    worker = runjobs("--pool", "process", "--concurrency", "2")
    wait_for(
        lambda: Job.objects.get(pk=slow.pk).status == JobStatus.FAILED,
        timeout=60,
        message="both attempts to time out",
    )
    assert Job.objects.filter(pk__in=[j.pk for j in fast], status="completed").count() == 5
    rows = JobHistory.objects.filter(job=slow).order_by("attempt")
    assert [(r.attempt, r.status) for r in rows] == [(1, "failed"), (2, "failed")]
    assert all("process was killed" in r.error for r in rows)
    assert worker.poll() is None  # still serving


def _log(worker) -> str:
    """The worker's output, for the failure message."""
    with open(worker.log_path) as log:
        return log.read()[-4000:]
