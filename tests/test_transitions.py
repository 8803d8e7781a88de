"""The transition table, without a database: each transition's effect on a job in memory."""

from datetime import datetime, timedelta, timezone

import pytest

from django_jobs.models import CANCELLED, TRANSITION_FIELDS, Job, JobHistory, JobStatus, RunStatus
from django_jobs.outcomes import (
    KEPT,
    KEPT_UNLESS_FAILED,
    Finished,
    Outcome,
    cancel_after,
    settle,
    settle_tentatively,
)

T0 = datetime(2030, 1, 1, tzinfo=timezone.utc)
LATER = T0 + timedelta(seconds=5)


def one_time(**values) -> Job:
    return Job(pk=1, name="j", handler="noop", next_run_at=T0, scheduled_for=T0, **values)


def hourly(**values) -> Job:
    return one_time(schedule="0 * * * *", created_at=T0, **values)


def running(job: Job) -> Job:
    job.claim(7, T0)
    return job


def test_claim_takes_an_attempt_for_the_worker():
    job = running(one_time())
    assert (job.status, job.worker_id, job.attempts) == (JobStatus.RUNNING, 7, 1)
    assert job.started_at == job.last_run_at == job.updated_at == T0


def test_success_completes_a_one_time_job_and_clears_its_error():
    job = running(one_time(last_error="earlier", consecutive_failures=2))
    job.succeed(LATER)
    assert (job.status, job.next_run_at, job.last_error) == (JobStatus.COMPLETED, None, "")
    assert (job.worker_id, job.started_at, job.updated_at) == (None, None, LATER)
    assert job.consecutive_failures == 0


def test_success_moves_a_recurring_job_to_its_next_slot():
    job = running(hourly())
    job.succeed(LATER)
    slot = T0 + timedelta(hours=1)
    assert (job.status, job.attempts, job.next_run_at, job.scheduled_for) == (
        JobStatus.PENDING,
        0,
        slot,
        slot,
    )


def test_failure_with_attempts_left_is_retried_at_the_given_time():
    job = running(one_time(max_attempts=2))
    assert job.fail(LATER, "E", LATER + timedelta(seconds=10)) is True
    assert (job.status, job.next_run_at, job.last_error) == (
        JobStatus.PENDING,
        LATER + timedelta(seconds=10),
        "E",
    )


@pytest.mark.parametrize("retry_at", [None, LATER], ids=["without retry", "no attempts left"])
def test_failure_without_retry_fails_a_one_time_job(retry_at):
    job = running(one_time(max_attempts=1))
    assert job.fail(LATER, "E", retry_at) is False
    assert (job.status, job.next_run_at) == (JobStatus.FAILED, None)


def test_failure_for_good_of_a_recurring_job_counts_and_waits_for_the_next_slot():
    job = running(hourly(max_attempts=1))
    assert job.fail(LATER, "E", LATER) is False
    assert (job.status, job.consecutive_failures) == (JobStatus.PENDING, 1)
    assert job.next_run_at == T0 + timedelta(hours=1)


def test_a_lost_attempt_fails_like_any_other():
    job = running(one_time(max_attempts=2))
    assert job.lose(LATER, "worker lost", LATER) is True
    assert (job.status, job.last_error, job.worker_id) == (JobStatus.PENDING, "worker lost", None)


def test_a_refused_job_fails_for_good_even_when_recurring():
    job = hourly()
    job.refuse(LATER, "refused")
    assert (job.status, job.next_run_at, job.last_error) == (JobStatus.FAILED, None, "refused")


def test_cancel_writes_exactly_its_definition_and_keeps_the_rest():
    job = running(hourly(last_error="earlier", consecutive_failures=2))
    before = {name: getattr(job, name) for name in KEPT}
    job.cancel(LATER)
    assert job.status == JobStatus.CANCELLED and job.next_run_at is None
    assert (job.worker_id, job.started_at, job.cancel_requested) == (None, None, False)
    assert {name: getattr(job, name) for name in KEPT} == before
    assert Job.cancelled(LATER) == {**CANCELLED, "updated_at": LATER}


def test_the_cancel_definition_and_the_kept_fields_cover_every_transition_field():
    assert set(CANCELLED) | set(KEPT) | {"updated_at"} == set(TRANSITION_FIELDS)
    assert not set(CANCELLED) & set(KEPT)
    assert KEPT_UNLESS_FAILED in KEPT


def test_requeue_makes_a_job_due_now_with_fresh_attempts():
    job = one_time(status=JobStatus.FAILED, attempts=3, cancel_requested=True)
    job.requeue(LATER)
    assert (job.status, job.attempts, job.next_run_at, job.scheduled_for) == (
        JobStatus.PENDING,
        0,
        LATER,
        LATER,
    )
    assert job.cancel_requested is False and job.updated_at == LATER


def test_hand_over_moves_the_job_on_and_frees_it():
    job = running(hourly(allow_overlap=True))
    job.hand_over(LATER)
    assert (job.status, job.worker_id, job.attempts) == (JobStatus.PENDING, None, 0)
    assert job.scheduled_for == T0 + timedelta(hours=1)


def test_a_missed_slot_is_counted_and_skipped():
    job = running(hourly())
    job.miss(LATER)
    assert (job.status, job.missed_runs, job.next_run_at) == (
        JobStatus.PENDING,
        1,
        T0 + timedelta(hours=1),
    )


def test_give_back_returns_the_attempt():
    job = running(one_time())
    job.give_back(LATER)
    assert (job.status, job.attempts, job.worker_id) == (JobStatus.PENDING, 0, None)


def _finished(job: Job, ok: bool) -> Finished:
    run = JobHistory(job_id=job.pk, attempt=job.attempts, status=RunStatus.RUNNING)
    outcome = Outcome(
        job.pk, ok, T0, LATER, 5000, result=1 if ok else None, error="" if ok else "E"
    )
    return Finished(job, outcome, run=run)


@pytest.mark.parametrize(
    ("ok", "cancel", "status", "history", "retry"),
    [
        (True, False, JobStatus.COMPLETED, RunStatus.COMPLETED, False),
        (False, False, JobStatus.PENDING, RunStatus.FAILED, True),
        (True, True, JobStatus.CANCELLED, RunStatus.COMPLETED, False),
        (False, True, JobStatus.CANCELLED, RunStatus.CANCELLED, False),
    ],
)
def test_what_happens_after_an_outcome(ok, cancel, status, history, retry):
    item = _finished(running(one_time(max_attempts=3, last_error="earlier")), ok)
    settle(item, cancel, LATER)
    assert (item.job.status, item.history_status, item.will_retry) == (status, history, retry)
    assert item.job.last_error == ("" if ok and not cancel else "earlier" if ok else "E")


@pytest.mark.parametrize("ok", [True, False])
def test_a_tentative_outcome_then_a_cancel_is_the_cancel_alone(ok):
    direct = _finished(running(hourly(last_error="earlier", consecutive_failures=2)), ok)
    settle(direct, True, LATER)
    tentative = _finished(running(hourly(last_error="earlier", consecutive_failures=2)), ok)
    settle_tentatively(tentative, LATER)
    cancel_after(tentative, LATER)
    for name in TRANSITION_FIELDS:
        attname = Job._meta.get_field(name).attname
        assert getattr(tentative.job, attname) == getattr(direct.job, attname), name
    assert tentative.history_status == direct.history_status
    assert tentative.run.status == direct.history_status
