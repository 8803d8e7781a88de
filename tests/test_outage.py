"""Database outages: nothing is lost or stuck, and no transaction outlives a claim.

Tests that restart the database server carry the ``outage`` marker; they run on
a private PostgreSQL or MariaDB server of their own, started in a temporary
folder and removed afterwards (the ``private_database`` fixture), so the servers
everything else uses are never restarted.
"""

import time
from collections import Counter

import pytest
from django.db import OperationalError, connection

from django_jobs import enqueue, enqueue_many
from django_jobs.models import Job, JobHistory, JobStatus, RunStatus
from django_jobs.worker import WorkerLoop

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_worker_that_cannot_write_its_heartbeat_stops_claiming(monkeypatch):
    from django_jobs.worker import liveness

    job = enqueue("noop")
    worker = WorkerLoop(listen=False)
    worker.start()
    try:

        def cannot_write(*args):
            raise OperationalError("heartbeat refused")

        with monkeypatch.context() as patched:
            patched.setattr(liveness, "heartbeat", cannot_write)
            worker.upkeep.next_round = 0.0
            assert worker.loop() == 0
            assert not worker.guard.healthy
            assert Job.objects.get(pk=job.pk).status == JobStatus.PENDING
        worker.upkeep.next_round = 0.0
        assert worker.loop() == 1  # healthy again as soon as the heartbeat is written
        assert worker.guard.healthy
    finally:
        worker.shutdown(grace=None)
    assert Job.objects.get(pk=job.pk).status == JobStatus.COMPLETED


def _open_transactions(vendor):
    """Transactions other sessions hold open on the server, or None if it cannot tell."""
    with connection.cursor() as cursor:
        if vendor == "postgresql":
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND pid <> pg_backend_pid() AND state LIKE 'idle in transaction%%'"
            )
        elif vendor == "mysql":
            # Only this database's sessions: other databases on the server are not ours.
            cursor.execute(
                "SELECT count(*) FROM information_schema.innodb_trx t "
                "JOIN information_schema.processlist p ON p.id = t.trx_mysql_thread_id "
                "WHERE p.db = DATABASE() AND t.trx_mysql_thread_id <> CONNECTION_ID()"
            )
        else:
            return None
        return cursor.fetchone()[0]


@pytest.mark.subprocess
def test_no_claim_transaction_stays_open_while_a_handler_runs(runjobs, wait_for, vendor):
    job = enqueue("sleep", {"seconds": 3, "cooperative": False})
    runjobs()
    wait_for(lambda: Job.objects.filter(pk=job.pk, status=JobStatus.RUNNING).exists())
    time.sleep(0.3)  # well inside the handler's three seconds
    open_now = _open_transactions(vendor)
    if open_now is not None:
        assert open_now == 0
    # On any database: the job's row can be written by somebody else at once,
    # which a transaction holding it since the claim would not allow.
    started = time.monotonic()
    Job.objects.filter(pk=job.pk).update(priority=5)
    assert time.monotonic() - started < 1.0
    wait_for(lambda: Job.objects.get(pk=job.pk).status == JobStatus.COMPLETED, timeout=15)


@pytest.mark.outage
@pytest.mark.subprocess
def test_database_restart_under_busy_workers_loses_and_strands_nothing(
    runjobs, wait_for, restart_database, tmp_path
):
    out = tmp_path / "runs.txt"
    total = 3000
    enqueue_many(
        [{"handler": "record", "data": {"path": str(out), "key": i}} for i in range(total)]
    )
    workers = [runjobs("-v", "0", "--concurrency", "4") for _ in range(2)]
    wait_for(lambda: out.exists() and len(out.read_text().splitlines()) > total // 5, timeout=60)
    restart_database(down_for=1.0)
    wait_for(
        lambda: Job.objects.filter(status=JobStatus.COMPLETED).count() == total,
        timeout=120,
        message="every job to complete after the restart",
    )
    assert all(worker.poll() is None for worker in workers), "workers reconnect, not die"
    assert not Job.objects.exclude(status=JobStatus.COMPLETED).exists()
    assert not JobHistory.objects.filter(status=RunStatus.RUNNING).exists()
    runs = Counter(line.split()[0] for line in out.read_text().splitlines())
    assert set(runs) == {str(i) for i in range(total)}
    _assert_reruns_are_visible_attempts(runs)


def _assert_reruns_are_visible_attempts(runs):
    """A job ran more than once only through a recorded failed attempt; one row per attempt."""
    ran_again = {int(key) for key, n in runs.items() if n > 1}
    by_key = {
        job.data["key"]: job
        for job in Job.objects.filter(attempts__gt=1).only("pk", "data", "attempts")
    }
    for key in ran_again:
        job = by_key.get(key)
        assert job is not None, f"job {key} ran {runs[str(key)]} times in one attempt"
        assert job.attempts >= runs[str(key)]
        failed = JobHistory.objects.filter(job=job, status=RunStatus.FAILED)
        assert failed.count() == job.attempts - 1
    history = Counter(JobHistory.objects.values_list("job_id", "attempt"))
    assert all(n == 1 for n in history.values())
    assert sum(history.values()) == sum(Job.objects.values_list("attempts", flat=True))


def test_a_claim_committed_while_the_connection_dropped_is_not_stranded():
    """The worker never heard its claim commit; once reconnected it fails and retries it."""
    job = enqueue("noop", max_attempts=3)
    worker = WorkerLoop(listen=False)
    worker.start()
    try:
        Job.objects.filter(pk=job.pk).update(status="running", worker=worker.row, attempts=1)
        JobHistory.objects.create(
            job=job, status="running", attempt=1, scheduled_for=job.scheduled_for
        )
        worker.guard.lost_connection = True  # as after a database error
        worker.upkeep.next_round = 0.0
        worker.loop()
    finally:
        worker.shutdown(grace=None)
    job.refresh_from_db()
    assert job.status == JobStatus.PENDING
    assert "never started it" in job.last_error
    assert JobHistory.objects.get(job=job, attempt=1).status == RunStatus.FAILED
