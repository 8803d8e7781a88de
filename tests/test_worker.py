"""The worker against the configured database: outcomes, retries, history, steering."""

from datetime import timedelta

import pytest
from django.test import override_settings
from django.utils import timezone

from django_jobs import enqueue, runner, schedule, steering
from django_jobs.models import Job, JobHistory, JobStatus, RunStatus
from django_jobs.models import Worker as WorkerRow
from django_jobs.worker import WorkerLoop

pytestmark = pytest.mark.django_db(transaction=True)


def run(now=None, **kwargs):
    return WorkerLoop(listen=False, **kwargs).run_once(now=now)


def test_one_time_job_completes_with_result_in_history():
    job = enqueue("add", {"a": 2, "b": 3}, name="sum")
    assert run() == 1
    job.refresh_from_db()
    assert job.status == JobStatus.COMPLETED
    assert job.attempts == 1
    assert job.next_run_at is None
    assert job.last_run_at is not None
    assert job.worker_id is None
    (entry,) = JobHistory.objects.filter(job=job)
    assert entry.status == RunStatus.COMPLETED
    assert entry.result == {"sum": 5}
    assert entry.attempt == 1
    assert entry.completed_at >= entry.started_at
    assert entry.duration is not None and entry.duration >= 0
    assert entry.scheduled_for == job.scheduled_for


def test_job_not_due_yet_is_left_alone():
    later = timezone.now() + timedelta(hours=1)
    job = enqueue("noop", run_at=later)
    assert run() == 0
    job.refresh_from_db()
    assert job.status == JobStatus.PENDING
    assert run(now=later) == 1
    job.refresh_from_db()
    assert job.status == JobStatus.COMPLETED


def test_handler_gets_ctx_when_it_takes_two_arguments():
    job = enqueue("with_ctx")
    run()
    assert JobHistory.objects.get(job=job).result == {"job_id": job.pk, "attempt": 1}


def test_async_handler_runs():
    job = enqueue("async_echo", {"x": 1})
    run()
    job.refresh_from_db()
    assert job.status == JobStatus.COMPLETED
    assert JobHistory.objects.get(job=job).result == {"async": {"x": 1}}


def test_failure_is_retried_with_backoff_then_fails():
    job = enqueue("fail", {"n": 1}, max_attempts=2)
    start = timezone.now()
    run(now=start)
    job.refresh_from_db()
    assert job.status == JobStatus.PENDING
    assert job.attempts == 1
    assert "RuntimeError: boom" in job.last_error
    assert "Traceback" in job.last_error
    assert job.next_run_at > start  # backed off, not due again at once
    assert run(now=start) == 0
    run(now=job.next_run_at)
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED
    assert job.attempts == 2
    rows = list(JobHistory.objects.filter(job=job).order_by("attempt"))
    assert [(r.status, r.attempt) for r in rows] == [("failed", 1), ("failed", 2)]
    assert "RuntimeError: boom" in rows[1].error


def test_flaky_job_succeeds_on_a_later_attempt():
    job = enqueue("flaky", {"succeed_on": 2}, max_attempts=3)
    run()
    job.refresh_from_db()
    run(now=job.next_run_at)
    job.refresh_from_db()
    assert job.status == JobStatus.COMPLETED
    assert job.last_error == ""
    assert JobHistory.objects.filter(job=job, status="completed").get().result == {"attempt": 2}


def test_recurring_job_returns_to_pending_at_next_slot():
    job = schedule("every-minute", "noop", "* * * * *")
    slot = job.next_run_at
    run(now=slot)
    job.refresh_from_db()
    assert job.status == JobStatus.PENDING
    assert job.attempts == 0
    assert job.next_run_at == slot + timedelta(minutes=1)
    assert JobHistory.objects.get(job=job).scheduled_for == slot


def test_missed_slots_are_coalesced_into_one_run():
    job = schedule("five-minutes", "noop", "*/5 * * * *")
    slot = job.next_run_at
    much_later = slot + timedelta(hours=3, minutes=2)
    assert run(now=much_later) == 1
    job.refresh_from_db()
    assert job.next_run_at == slot + timedelta(hours=3, minutes=5)
    assert JobHistory.objects.filter(job=job).count() == 1


def test_interval_slots_do_not_drift():
    job = schedule("ten-seconds", "noop", "10s")
    first = job.next_run_at
    run(now=first + timedelta(seconds=3))  # ran late
    job.refresh_from_db()
    assert job.next_run_at == first + timedelta(seconds=10)


def test_recurring_job_that_exhausts_retries_waits_for_next_slot():
    job = schedule("nightly", "fail", "0 3 * * *", max_attempts=1)
    slot = job.next_run_at
    run(now=slot)
    job.refresh_from_db()
    assert job.status == JobStatus.PENDING
    assert job.next_run_at == slot + timedelta(days=1)
    assert job.consecutive_failures == 1
    assert "RuntimeError" in job.last_error
    assert JobHistory.objects.get(job=job).status == RunStatus.FAILED


def test_unknown_handler_in_a_row_fails_clearly_and_worker_goes_on():
    bad = Job.objects.create(name="x", handler="gone", next_run_at=timezone.now(), max_attempts=1)
    good = enqueue("noop")
    assert run() == 2
    bad.refresh_from_db()
    good.refresh_from_db()
    assert bad.status == JobStatus.FAILED
    assert "no handler is registered under the name 'gone'" in bad.last_error
    assert good.status == JobStatus.COMPLETED


@pytest.mark.parametrize("handler", ["exits", "interrupts"])
def test_handler_raising_base_exception_costs_only_its_attempt(handler):
    bad = enqueue(handler, max_attempts=1)
    good = enqueue("noop")
    run()
    bad.refresh_from_db()
    good.refresh_from_db()
    assert bad.status == JobStatus.FAILED
    assert good.status == JobStatus.COMPLETED


def test_result_that_is_not_json_is_stored_as_text():
    job = enqueue("unserialisable")
    run()
    job.refresh_from_db()
    assert job.status == JobStatus.COMPLETED
    result = JobHistory.objects.get(job=job).result
    assert result["repr"].startswith("<object object")
    assert "not JSON-serialisable" in result["note"]


def test_higher_priority_runs_first():
    low = enqueue("noop", name="low", priority=0)
    high = enqueue("noop", name="high", priority=10)
    run(concurrency=1, batch_size=1)
    order = list(JobHistory.objects.order_by("started_at", "id").values_list("job_id", flat=True))
    assert order == [high.pk, low.pk]


def test_queues_restrict_what_a_worker_takes():
    mail = enqueue("noop", queue="mail")
    other = enqueue("noop", queue="reports")
    run(queues=["mail"])
    mail.refresh_from_db()
    other.refresh_from_db()
    assert mail.status == JobStatus.COMPLETED
    assert other.status == JobStatus.PENDING


def test_history_can_be_turned_off():
    with override_settings(DJANGO_JOBS={"ENABLE_HISTORY": False}):
        job = enqueue("noop")
        run()
    job.refresh_from_db()
    assert job.status == JobStatus.COMPLETED
    assert not JobHistory.objects.exists()


def test_stopped_runner_claims_nothing_until_started():
    job = enqueue("noop")
    runner.stop()
    assert run() == 0
    job.refresh_from_db()
    assert job.status == JobStatus.PENDING
    runner.start()
    assert run() == 1


def test_timeout_fails_the_attempt_and_the_worker_goes_on():
    slow = enqueue("sleep", {"seconds": 5, "cooperative": False}, timeout=0.3, max_attempts=1)
    fast = enqueue("noop")
    run()
    slow.refresh_from_db()
    fast.refresh_from_db()
    assert slow.status == JobStatus.FAILED
    assert "TimeoutError" in slow.last_error
    assert fast.status == JobStatus.COMPLETED


def test_worker_row_is_removed_after_a_run():
    enqueue("noop")
    run()
    assert not WorkerRow.objects.exists()


def test_jobs_of_a_dead_worker_are_recovered_and_retried():
    job = enqueue("noop", max_attempts=3)
    dead = WorkerRow.objects.create(name="ghost", hostname="h", pid=1)
    WorkerRow.objects.filter(pk=dead.pk).update(
        last_heartbeat=timezone.now() - timedelta(minutes=5)
    )
    Job.objects.filter(pk=job.pk).update(status="running", worker=dead, attempts=1)
    JobHistory.objects.create(job=job, status="running", attempt=1, scheduled_for=job.scheduled_for)
    from django_jobs.worker.liveness import recover_lost

    assert recover_lost() == 1
    job.refresh_from_db()
    assert job.status == JobStatus.PENDING
    assert "worker lost" in job.last_error
    entry = JobHistory.objects.get(job=job, attempt=1)
    assert entry.status == RunStatus.FAILED
    assert "worker lost" in entry.error
    assert not WorkerRow.objects.filter(pk=dead.pk).exists()
    run(now=job.next_run_at)
    job.refresh_from_db()
    assert job.status == JobStatus.COMPLETED
    assert job.attempts == 2


def test_live_worker_jobs_are_not_recovered():
    job = enqueue("noop")
    alive = WorkerRow.objects.create(name="alive", hostname="h", pid=1)
    Job.objects.filter(pk=job.pk).update(status="running", worker=alive, attempts=1)
    from django_jobs.worker.liveness import recover_lost

    assert recover_lost() == 0
    job.refresh_from_db()
    assert job.status == JobStatus.RUNNING


def test_outcome_of_a_job_taken_away_is_dropped_not_written():
    """A worker thought dead must not overwrite what others did with its job since."""
    from django_jobs.engines import claiming
    from django_jobs.engines.completion import Finished, finish
    from django_jobs.outcomes import Outcome

    job = enqueue("noop")
    me = WorkerRow.objects.create(name="me", hostname="h", pid=1)
    (claimed,) = claiming.claim(me, None, 10, timezone.now(), "default")
    Job.objects.filter(pk=job.pk).update(status="pending", worker=None)  # recovered meanwhile
    now = timezone.now()
    outcome = Outcome(job.pk, True, now, now, 1)
    applied = finish(me, [Finished(claimed.job, outcome, run=claimed.run)], now, "default")
    assert applied == []
    job.refresh_from_db()
    assert job.status == JobStatus.PENDING


def test_misfire_grace_skips_stale_slots_and_counts_them():
    with override_settings(DJANGO_JOBS={"MISFIRE_GRACE": 60}):
        job = schedule("hourly", "noop", "0 * * * *")
        slot = job.next_run_at
        run(now=slot + timedelta(minutes=30))
    job.refresh_from_db()
    assert job.missed_runs == 1
    assert job.next_run_at == slot + timedelta(hours=1)
    (entry,) = JobHistory.objects.filter(job=job)
    assert entry.status == RunStatus.MISSED


def test_per_job_misfire_grace_overrides_setting():
    job = schedule("hourly", "noop", "0 * * * *", misfire_grace=3600)
    slot = job.next_run_at
    with override_settings(DJANGO_JOBS={"MISFIRE_GRACE": 60}):
        run(now=slot + timedelta(minutes=30))
    assert JobHistory.objects.get(job=job).status == RunStatus.COMPLETED


def test_max_jobs_bounds_what_a_worker_claims():
    for _ in range(5):
        enqueue("noop")
    worker = WorkerLoop(listen=False, max_jobs=2)
    assert worker.run_once() == 2
    assert Job.objects.filter(status="completed").count() == 2


def _run_in_background(**kwargs):
    import threading

    worker = WorkerLoop(listen=False, **kwargs)
    thread = threading.Thread(target=worker.run_once)
    thread.start()
    return thread


def _wait_for(condition, timeout=10.0):
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.02)
    raise AssertionError("condition not reached in time")


@pytest.mark.parametrize("recurring", [False, True])
def test_cancelling_a_running_job_stops_it_cooperatively_without_retry(recurring):
    data = {"seconds": 10}
    if recurring:
        job = schedule("long", "sleep", "1s", data)
        Job.objects.filter(pk=job.pk).update(next_run_at=timezone.now())
    else:
        job = enqueue("sleep", data)
    thread = _run_in_background()
    _wait_for(lambda: Job.objects.get(pk=job.pk).status == JobStatus.RUNNING)
    steering.cancel(job)
    thread.join(timeout=15)
    assert not thread.is_alive()
    job.refresh_from_db()
    assert job.status == JobStatus.CANCELLED
    assert job.next_run_at is None
    entry = JobHistory.objects.get(job=job)
    assert entry.status == RunStatus.COMPLETED  # the handler saw ctx.cancelled and returned
    assert entry.result == {"stopped": "cancelled"}


def test_cancelled_running_job_that_fails_is_not_retried():
    job = enqueue("sleep", {"seconds": 10, "fail_when_cancelled": True}, max_attempts=5)
    thread = _run_in_background()
    _wait_for(lambda: Job.objects.get(pk=job.pk).status == JobStatus.RUNNING)
    steering.cancel(job)
    thread.join(timeout=15)
    job.refresh_from_db()
    assert job.status == JobStatus.CANCELLED
    assert "cancelled while running" in job.last_error
    assert JobHistory.objects.get(job=job).status == RunStatus.CANCELLED
