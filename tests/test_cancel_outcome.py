"""A running job cancelled before its attempt ends: the row and the job signals carry agree.

On every database the attempt's outcome is written as a cancel (neither
retried nor rescheduled), and the job handed to ``job_succeeded`` /
``job_failed`` / ``job_cancelled`` receivers holds what its row holds.
"""

from datetime import timedelta

import pytest
from django.utils import timezone

from django_jobs import enqueue, schedule, signals
from django_jobs.engines import claiming
from django_jobs.engines.completion import Finished, finish
from django_jobs.models import TRANSITION_FIELDS, Job, JobHistory, JobStatus, RunStatus
from django_jobs.models import Worker as WorkerRow
from django_jobs.outcomes import Outcome
from django_jobs.steering import cancel

pytestmark = pytest.mark.django_db(transaction=True)


def _values(job: Job) -> dict:
    return {
        name: getattr(job, Job._meta.get_field(name).attname)
        for name in TRANSITION_FIELDS
        if name != "updated_at"
    }


@pytest.fixture
def heard():
    jobs = []

    def receiver(sender, job, **kwargs):
        jobs.append(_values(job))

    for signal in (signals.job_succeeded, signals.job_failed, signals.job_cancelled):
        signal.connect(receiver, dispatch_uid=f"heard-{signal}")
    yield jobs
    for signal in (signals.job_succeeded, signals.job_failed, signals.job_cancelled):
        signal.disconnect(dispatch_uid=f"heard-{signal}")


def _run_cancelled(job: Job, ok: bool, heard: list) -> Job:
    """Claim ``job``, cancel it while it runs, then end its attempt with ``ok``."""
    me = WorkerRow.objects.create(name="me", hostname="h", pid=1)
    (claimed,) = claiming.claim(me, None, 10, timezone.now(), "default")
    cancel(job.pk)
    now = timezone.now()
    outcome = Outcome(
        job.pk, ok, now, now, 1, result=None if not ok else 7, error="" if ok else "E"
    )
    (applied,) = finish(me, [Finished(claimed.job, outcome, run=claimed.run)], now, "default")
    row = Job.objects.get(pk=job.pk)
    assert _values(applied.job) == _values(row)
    assert heard and all(values == _values(row) for values in heard)
    return row


def _with_past_failure(job: Job) -> Job:
    """A job whose row remembers an earlier failed attempt."""
    Job.objects.filter(pk=job.pk).update(
        last_error="an earlier attempt failed", consecutive_failures=2
    )
    return job


@pytest.mark.parametrize("ok", [True, False], ids=["succeeds", "fails"])
def test_a_cancelled_one_time_job_is_the_same_in_the_row_and_in_the_signals(ok, heard):
    job = _with_past_failure(enqueue("noop", max_attempts=3))
    row = _run_cancelled(job, ok, heard)
    assert row.status == JobStatus.CANCELLED
    assert row.next_run_at is None and row.worker_id is None and not row.cancel_requested
    assert row.last_error == ("an earlier attempt failed" if ok else "E")
    run = JobHistory.objects.get(job=job)
    assert run.status == (RunStatus.COMPLETED if ok else RunStatus.CANCELLED)


@pytest.mark.parametrize("ok", [True, False], ids=["succeeds", "fails"])
def test_a_cancelled_recurring_job_keeps_its_slot_in_the_row_and_in_the_signals(ok, heard):
    job = _with_past_failure(schedule("nightly", "noop", "0 3 * * *"))
    slot = timezone.now() - timedelta(seconds=1)
    Job.objects.filter(pk=job.pk).update(next_run_at=slot, scheduled_for=slot)
    row = _run_cancelled(job, ok, heard)
    assert row.status == JobStatus.CANCELLED
    assert row.scheduled_for == slot and row.attempts == 1
    assert row.consecutive_failures == 2
