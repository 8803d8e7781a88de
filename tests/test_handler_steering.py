"""Handlers steer their own job: ``RetryAfter``, ``Discard`` and ``Snooze``.

Each test runs the job with a real worker (``run_jobs`` or ``runjobs --once``)
and reads the job and its history rows back from the database.
"""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from django_jobs import Discard, RetryAfter, Snooze, enqueue, schedule, signals
from django_jobs.models import Job, JobHistory, JobStatus, RunStatus
from django_jobs.testing import run_jobs

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def deaths():
    seen = []

    def receiver(sender, job, attempt, error, **kwargs):
        seen.append((job.pk, attempt))

    signals.job_dead.connect(receiver)
    yield seen
    signals.job_dead.disconnect(receiver)


def runs(job):
    return list(
        JobHistory.objects.filter(job=job).order_by("id").values_list("status", "attempt", "error")
    )


def test_retry_after_counts_as_an_attempt_and_waits_exactly_that_long(temp_handler):
    def busy(data):
        raise RetryAfter(120)

    temp_handler("steer_busy", busy)
    job = enqueue("steer_busy", max_attempts=2)
    t0 = timezone.now()
    assert run_jobs(now=t0) == 1
    job.refresh_from_db()
    assert (job.status, job.attempts, job.next_run_at) == (
        JobStatus.PENDING,
        1,
        t0 + timedelta(seconds=120),
    )
    assert job.last_error.startswith("RetryAfter: retry after 120 s")
    assert run_jobs(now=t0 + timedelta(seconds=119)) == 0
    assert run_jobs(now=t0 + timedelta(seconds=120)) == 1
    job.refresh_from_db()
    # Out of attempts: failed for good, as after any failure.
    assert (job.status, job.attempts, job.next_run_at) == (JobStatus.FAILED, 2, None)
    assert [(s, a) for s, a, _ in runs(job)] == [(RunStatus.FAILED, 1), (RunStatus.FAILED, 2)]


def test_discard_fails_for_good_at_once_and_the_job_dies(temp_handler, deaths):
    def hopeless(data):
        raise Discard("the invoice was deleted")

    temp_handler("steer_hopeless", hopeless)
    job = enqueue("steer_hopeless", max_attempts=5)
    assert run_jobs() == 1
    job.refresh_from_db()
    assert (job.status, job.attempts, job.next_run_at) == (JobStatus.FAILED, 1, None)
    assert job.is_dead and Job.objects.dead().filter(pk=job.pk).exists()
    assert job.last_error.startswith("Discard: the invoice was deleted")
    [(status, attempt, error)] = runs(job)
    assert (status, attempt) == (RunStatus.FAILED, 1)
    assert error.startswith("Discard: the invoice was deleted")
    assert deaths == [(job.pk, 1)]
    assert run_jobs(now=timezone.now() + timedelta(days=1)) == 0


def test_snooze_comes_back_later_without_using_an_attempt(temp_handler):
    calls = []

    def later(data, ctx):
        calls.append(ctx.attempt)
        if len(calls) <= 3:
            raise Snooze(60)
        return {"done": len(calls)}

    temp_handler("steer_later", later)
    job = enqueue("steer_later", max_attempts=1)
    t = timezone.now()
    for _ in range(3):
        assert run_jobs(now=t) == 1
        job.refresh_from_db()
        t += timedelta(seconds=60)
        assert (job.status, job.attempts, job.next_run_at) == (JobStatus.PENDING, 0, t)
        assert job.last_error == ""
        assert run_jobs(now=t - timedelta(seconds=1)) == 0
    assert run_jobs(now=t) == 1
    job.refresh_from_db()
    assert (job.status, job.attempts) == (JobStatus.COMPLETED, 1)
    assert calls == [1, 1, 1, 1]
    assert runs(job) == [
        *[(RunStatus.SNOOZED, 1, "Snooze: snoozed for 60 s")] * 3,
        (RunStatus.COMPLETED, 1, ""),
    ]


def test_async_handlers_steer_too(temp_handler, deaths):
    async def snoozer(data):
        raise Snooze(30, "waiting for the upstream export")

    async def retrier(data):
        raise RetryAfter(5)

    async def discarder(data):
        raise Discard()

    temp_handler("steer_async_snooze", snoozer)
    temp_handler("steer_async_retry", retrier)
    temp_handler("steer_async_discard", discarder)
    snoozed = enqueue("steer_async_snooze")
    retried = enqueue("steer_async_retry")
    discarded = enqueue("steer_async_discard")
    t0 = timezone.now()
    assert run_jobs(now=t0) == 3
    snoozed.refresh_from_db(), retried.refresh_from_db(), discarded.refresh_from_db()
    assert (snoozed.status, snoozed.attempts, snoozed.next_run_at) == (
        JobStatus.PENDING,
        0,
        t0 + timedelta(seconds=30),
    )
    assert runs(snoozed) == [(RunStatus.SNOOZED, 1, "Snooze: waiting for the upstream export")]
    assert (retried.status, retried.attempts, retried.next_run_at) == (
        JobStatus.PENDING,
        1,
        t0 + timedelta(seconds=5),
    )
    assert (discarded.status, discarded.attempts) == (JobStatus.FAILED, 1)
    assert discarded.last_error.startswith("Discard: discarded by its handler")
    assert deaths == [(discarded.pk, 1)]


def test_a_bad_delay_is_an_ordinary_failure(temp_handler):
    def bad(data):
        raise Snooze(data["seconds"])

    temp_handler("steer_bad", bad)
    jobs = [enqueue("steer_bad", {"seconds": s}, max_attempts=1) for s in (0, -5, "soon", 1e12)]
    assert run_jobs() == 4
    for job in jobs:
        job.refresh_from_db()
        assert job.status == JobStatus.FAILED
        assert job.last_error.startswith("ValueError: the delay must be")


def test_a_snoozed_recurring_slot_is_not_missed_when_it_comes_back(temp_handler):
    calls = []

    def tick(data):
        calls.append(1)
        if len(calls) == 1:
            raise Snooze(600)

    temp_handler("steer_tick", tick)
    job = schedule("steer-every-hour", "steer_tick", "1h", misfire_grace=60)
    t0 = job.next_run_at
    assert run_jobs(now=t0) == 1
    job.refresh_from_db()
    assert (job.status, job.attempts, job.next_run_at) == (
        JobStatus.PENDING,
        0,
        t0 + timedelta(seconds=600),
    )
    assert run_jobs(now=t0 + timedelta(seconds=600)) == 1
    job.refresh_from_db()
    assert len(calls) == 2
    assert job.status == JobStatus.PENDING and job.next_run_at > t0 + timedelta(seconds=600)
    assert [s for s, _, _ in runs(job)] == [RunStatus.SNOOZED, RunStatus.COMPLETED]


def test_runjobs_once_applies_the_handlers_delay(temp_handler):
    def busy(data):
        raise RetryAfter(300)

    def later(data):
        raise Snooze(900)

    temp_handler("steer_cmd_retry", busy)
    temp_handler("steer_cmd_snooze", later)
    retried = enqueue("steer_cmd_retry")
    snoozed = enqueue("steer_cmd_snooze")
    before = timezone.now()
    call_command("runjobs", "--once")
    after = timezone.now()
    retried.refresh_from_db(), snoozed.refresh_from_db()
    assert retried.attempts == 1 and snoozed.attempts == 0
    assert before + timedelta(seconds=300) <= retried.next_run_at <= after + timedelta(seconds=300)
    assert before + timedelta(seconds=900) <= snoozed.next_run_at <= after + timedelta(seconds=900)
    [snooze_run] = JobHistory.objects.filter(job=snoozed)
    assert (snooze_run.status, snooze_run.error) == (RunStatus.SNOOZED, "Snooze: snoozed for 900 s")
