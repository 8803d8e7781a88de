"""Values the database refuses cost one job, never the worker.

A handler's output or error, or a row edited by hand, can hold what a
database will not store (NUL, lone surrogates, a duplicate attempt). Such a
value fails its own job with a clear ``last_error``; the other jobs of the
same batch finish and the worker never spins.
"""

import logging
import subprocess
import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from django_jobs import enqueue
from django_jobs.engines.completion import Finished, finish
from django_jobs.models import Job, JobHistory, JobStatus, RunStatus
from django_jobs.outcomes import Outcome
from django_jobs.worker import WorkerLoop

pytestmark = pytest.mark.django_db(transaction=True)

NUL, SURROGATE = 0, 0xD800


def emit(codes, how="return", **options):
    return enqueue("emit", {"codes": codes, "how": how}, **options)


def run_once_within(seconds=60.0, **kwargs):
    """``WorkerLoop.run_once`` in a thread; fails the test if it has not returned in time."""
    worker = WorkerLoop(listen=False, **kwargs)
    errors = []

    def target():
        try:
            worker.run_once()
        except BaseException as exc:  # the test reports it below
            errors.append(exc)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), "run_once did not finish: the worker spins"
    assert not errors, f"the worker raised {errors[0]!r}"
    return worker


@pytest.mark.subprocess
@pytest.mark.parametrize(
    ("codes", "how"),
    [
        ([98, NUL, 97], "raise"),
        ([97, NUL, 98], "return"),
        ([SURROGATE], "return"),
        ([SURROGATE], "raise"),
        ([NUL, SURROGATE], "key"),
    ],
)
def test_runjobs_once_finishes_whatever_a_handler_returns_or_raises(
    codes, how, worker_env, manage_cmd
):
    ordinary = [enqueue("echo", n) for n in range(3)]
    bad = emit(codes, how, max_attempts=1)
    more = [enqueue("echo", n) for n in range(3)]
    proc = subprocess.run(
        [*manage_cmd, "runjobs", "--once", "--no-sync", "--no-listen"],
        env=worker_env,
        capture_output=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")[-3000:]
    innocent = Job.objects.filter(pk__in=[j.pk for j in ordinary + more])
    assert set(innocent.values_list("status", flat=True)) == {JobStatus.COMPLETED}
    bad.refresh_from_db()
    row = JobHistory.objects.get(job=bad)
    assert bad.worker_id is None
    if how == "raise":
        assert bad.status == JobStatus.FAILED
        assert bad.last_error.startswith("ValueError: ")
        assert "\ufffd" in bad.last_error
    else:
        assert bad.status == JobStatus.COMPLETED
        assert "\ufffd" in str(row.result)
    # Nothing the database would refuse was kept, and history says what was replaced.
    assert "\x00" not in bad.last_error + row.error + str(row.result)
    assert "replaced" in row.error


def test_output_is_made_storable_with_a_note_in_history():
    job = emit([104, NUL, 105, SURROGATE, 33])
    run_once_within()
    row = JobHistory.objects.get(job=job)
    assert row.status == RunStatus.COMPLETED
    assert row.result == {"text": "h\ufffdi\ufffd!"}
    assert "NUL" in row.error and "surrogate" in row.error and "replaced" in row.error
    assert Job.objects.get(pk=job.pk).status == JobStatus.COMPLETED


def test_an_outcome_the_database_refuses_fails_only_its_job():
    """The batch is written row by row: one refused value costs one job."""
    jobs = [enqueue("noop") for _ in range(4)]
    worker = WorkerLoop(listen=False)
    worker.start()
    try:
        claimed = _claim(worker, 4)
        now = timezone.now()
        items = []
        for job, run in ((each.job, each.run) for each in claimed):
            # A lone surrogate no database driver can encode, as a handler's error text.
            error = "RuntimeError: broken \ud800 text" if job.pk == jobs[1].pk else ""
            outcome = Outcome(job.pk, not error, now, now, 1, result=None, error=error)
            items.append(Finished(job, outcome, run=run))
        applied = finish(worker.row, items, now, worker.using)
    finally:
        worker.shutdown(grace=0)
    assert {item.job.pk for item in applied} == {job.pk for job in jobs}
    refused = Job.objects.get(pk=jobs[1].pk)
    assert refused.status == JobStatus.FAILED
    assert refused.worker_id is None
    assert "the database refused" in refused.last_error
    assert "\ud800" not in refused.last_error
    assert JobHistory.objects.get(job=refused).status == RunStatus.FAILED
    others = Job.objects.filter(pk__in=[jobs[0].pk, jobs[2].pk, jobs[3].pk])
    assert set(others.values_list("status", flat=True)) == {JobStatus.COMPLETED}


def _claim(worker, count):
    from django_jobs.engines import claiming

    return claiming.claim(worker.row, None, count, timezone.now(), worker.using)


def _reset_by_hand(job):
    """Set a finished job back to pending and its attempts to 0, as a hand edit would."""
    table = connection.ops.quote_name(Job._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET status = %s, next_run_at = %s, attempts = 0 WHERE id = %s",
            [JobStatus.PENDING, timezone.now(), job.pk],
        )


def test_a_completed_job_set_back_to_pending_by_hand_costs_only_itself():
    done = enqueue("noop", max_attempts=1)
    run_once_within()
    assert Job.objects.get(pk=done.pk).status == JobStatus.COMPLETED
    _reset_by_hand(done)
    others = [enqueue("echo", n) for n in range(5)]
    run_once_within()
    assert set(
        Job.objects.filter(pk__in=[j.pk for j in others]).values_list("status", flat=True)
    ) == {JobStatus.COMPLETED}
    done.refresh_from_db()
    assert done.status == JobStatus.FAILED
    assert "the database refused to start" in done.last_error
    assert "one_run_per_slot" in done.last_error or "UNIQUE" in done.last_error.upper()
    # Its first, real run is still the only one in history.
    assert list(JobHistory.objects.filter(job=done).values_list("status", flat=True)) == [
        RunStatus.COMPLETED
    ]


def test_the_hand_edited_row_does_not_stop_claims_within_a_busy_cycle():
    """The same row claimed together with outcomes being written (one statement on PostgreSQL)."""
    done = enqueue("noop")
    run_once_within()
    first = [enqueue("sleep", {"seconds": 0.2}) for _ in range(3)]
    worker = WorkerLoop(listen=False, concurrency=3, batch_size=3)
    worker.start()
    try:
        while Job.objects.filter(pk__in=[j.pk for j in first], status="pending").exists():
            worker.loop()
        _reset_by_hand(done)
        later = [enqueue("noop") for _ in range(3)]
        deadline = timezone.now() + timedelta(seconds=30)
        pks = [j.pk for j in [*first, *later]]
        while Job.objects.filter(pk__in=pks).exclude(status="completed").exists():
            assert timezone.now() < deadline, "the worker stopped claiming"
            worker.loop()
            worker._wake.wait(0.05)
    finally:
        worker.shutdown(grace=0)
    assert Job.objects.get(pk=done.pk).status == JobStatus.FAILED


def test_interrupted_attempts_never_exceed_max_attempts():
    job = enqueue("sleep", {"seconds": 30, "cooperative": False}, max_attempts=1)
    queued = enqueue("noop", max_attempts=1)
    worker = WorkerLoop(listen=False, concurrency=1)
    worker.start()
    try:
        while not Job.objects.filter(pk=job.pk, status=JobStatus.RUNNING).exists():
            worker.loop()
        # The one thread is busy: claim the next job too, so it waits unstarted.
        worker.slots.recent_ms = 1.0
        while not Job.objects.filter(pk=queued.pk, status=JobStatus.RUNNING).exists():
            worker.loop()
    finally:
        worker.shutdown(grace=0.2)
    job.refresh_from_db()
    # A started attempt counts: with max_attempts=1 it is not run a second time.
    assert job.status == JobStatus.FAILED
    assert job.attempts == 1
    assert "interrupted" in job.last_error
    row = JobHistory.objects.get(job=job)
    assert (row.attempt, row.status) == (1, RunStatus.FAILED)
    # A claimed job that never started does not count; it runs again as attempt 1.
    queued.refresh_from_db()
    assert (queued.status, queued.attempts) == (JobStatus.PENDING, 0)
    assert not JobHistory.objects.filter(job=queued).exists()
    run_once_within()
    queued.refresh_from_db()
    assert queued.status == JobStatus.COMPLETED
    assert list(JobHistory.objects.filter(job=queued).values_list("attempt", flat=True)) == [1]


def test_failed_attempt_log_line_says_what_failed_and_whether_it_is_retried(caplog):
    job = enqueue("fail", {"x": 1}, max_attempts=2, name="boomer")
    with caplog.at_level(logging.WARNING, logger="django_jobs.worker"):
        run_once_within()
    (record,) = [r for r in caplog.records if r.getMessage().startswith("job failed")]
    message = record.getMessage()
    assert "error=RuntimeError: boom: {'x': 1}" in message
    assert "will_retry=True" in message
    assert record.job_id == job.pk
    assert record.job_name == "boomer"
    assert record.handler == "fail"
    assert (record.attempt, record.max_attempts) == (1, 2)
    assert record.error_type == "RuntimeError"
    assert record.will_retry is True


@pytest.fixture
def history_table_gone():
    """Rename the history table away: every claim then fails, and not for a lost connection."""
    table = JobHistory._meta.db_table
    qn = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(f"ALTER TABLE {qn(table)} RENAME TO {qn(table + '_away')}")
    yield
    connection.close()
    with connection.cursor() as cursor:
        cursor.execute(f"ALTER TABLE {qn(table + '_away')} RENAME TO {qn(table)}")


@pytest.mark.subprocess
def test_a_worker_failing_for_another_reason_than_an_outage_stops_and_says_why(
    history_table_gone, worker_env, manage_cmd
):
    job = enqueue("noop")
    env = {**worker_env, "DJANGO_JOBS_TEST_EXTRA": '{"STALL_TIMEOUT": 1}'}
    started = timezone.now()
    proc = subprocess.run(
        [*manage_cmd, "runjobs", "--no-sync", "--no-listen"],
        env=env,
        capture_output=True,
        timeout=60,
    )
    assert timezone.now() - started < timedelta(seconds=30)
    stderr = proc.stderr.decode(errors="replace")
    assert proc.returncode == 1, stderr[-3000:]
    assert "worker halted" in stderr
    assert "for a reason other than a lost connection" in stderr
    assert "the worker stops claiming" in stderr
    assert Job.objects.get(pk=job.pk).status == JobStatus.PENDING
