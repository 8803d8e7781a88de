"""The signals the worker sends, in the order the table in ``django_jobs.signals`` promises."""

import pytest

from django_jobs import enqueue, signals
from django_jobs.models import Job, JobStatus
from django_jobs.testing import run_jobs
from django_jobs.worker import WorkerLoop

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def events():
    """Every job signal the worker sends, as (signal, job id, attempt, job status in the row)."""
    seen = []

    def receiver(name):
        def receive(sender, job, attempt, **kwargs):
            stored = Job.objects.filter(pk=job.pk).values_list("status", flat=True).first()
            seen.append((name, job.pk, attempt, stored))

        return receive

    receivers = {
        signals.job_started: receiver("started"),
        signals.job_succeeded: receiver("succeeded"),
        signals.job_failed: receiver("failed"),
    }
    for signal, receive in receivers.items():
        signal.connect(receive, weak=False)
    yield seen
    for signal, receive in receivers.items():
        signal.disconnect(receive)


@pytest.mark.parametrize("pool", ["thread", "process"])
def test_job_started_is_sent_when_the_handler_starts_then_its_outcome(events, pool):
    job = enqueue("add", {"a": 1, "b": 2})
    assert WorkerLoop(listen=False, pool=pool, concurrency=1).run_once() == 1
    assert events == [
        ("started", job.pk, 1, JobStatus.RUNNING),
        ("succeeded", job.pk, 1, JobStatus.COMPLETED),
    ]


def test_job_started_is_sent_for_every_attempt(events):
    job = enqueue("flaky", {"succeed_on": 2}, max_attempts=3)
    WorkerLoop(listen=False).run_once()
    job.refresh_from_db()
    WorkerLoop(listen=False).run_once(now=job.next_run_at)
    assert [(name, attempt) for name, _, attempt, _ in events] == [
        ("started", 1),
        ("failed", 1),
        ("started", 2),
        ("succeeded", 2),
    ]


def test_job_started_is_sent_by_the_test_helper(events):
    job = enqueue("noop")
    assert run_jobs() == 1
    assert [(name, pk) for name, pk, _, _ in events] == [
        ("started", job.pk),
        ("succeeded", job.pk),
    ]
