"""Overlap: a recurring job's next slot waits for its running run unless it allows overlap."""

from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction

from django_jobs import schedule
from django_jobs.models import Job, JobHistory, JobStatus, RunStatus
from django_jobs.worker import WorkerLoop

pytestmark = pytest.mark.django_db(transaction=True)

LONG = {"seconds": 30, "cooperative": True}


def start_worker():
    worker = WorkerLoop(listen=False, concurrency=4)
    worker.start()
    return worker


def test_without_overlap_the_next_slot_waits_for_the_running_one():
    job = schedule("slow", "sleep", "10s", LONG)
    first = job.next_run_at
    worker = start_worker()
    try:
        assert worker.loop(first) == 1
        assert worker.loop(first + timedelta(seconds=10)) == 0  # still running: no second run
        assert Job.objects.get(pk=job.pk).status == JobStatus.RUNNING
    finally:
        worker.shutdown(grace=0)


def test_with_overlap_each_slot_gets_its_own_run_while_earlier_ones_go_on():
    job = schedule("slow-overlap", "sleep", "10s", LONG, allow_overlap=True)
    first = job.next_run_at
    second = first + timedelta(seconds=10)
    worker = start_worker()
    try:
        assert worker.loop(first) == 1
        job.refresh_from_db()
        assert job.status == JobStatus.PENDING  # free for its next slot at once
        assert job.next_run_at == second
        assert worker.loop(second) == 1
        runs = list(Job.objects.filter(key__startswith=f"run:{job.pk}:").order_by("id"))
        assert [run.scheduled_for for run in runs] == [first, second]
        assert all(run.status == JobStatus.RUNNING and not run.schedule for run in runs)
        for entry in worker.slots:
            entry.ctx._cancel.set()  # the sleep handler returns early when told
    finally:
        worker.shutdown(grace=None)
    rows = JobHistory.objects.filter(job__in=runs).order_by("scheduled_for")
    assert [(r.scheduled_for, r.attempt) for r in rows] == [(first, 1), (second, 1)]
    assert not JobHistory.objects.filter(job=job).exists()  # attempts live on the runs


def test_overlapping_run_is_retried_as_its_own_job():
    job = schedule("flaky-overlap", "fail", "10s", allow_overlap=True, max_attempts=2)
    slot = job.next_run_at
    WorkerLoop(listen=False).run_once(now=slot)
    (run,) = Job.objects.filter(key__startswith=f"run:{job.pk}:")
    assert run.status == JobStatus.PENDING and run.attempts == 1
    WorkerLoop(listen=False).run_once(now=run.next_run_at)
    run.refresh_from_db()
    assert run.status == JobStatus.FAILED
    rows = JobHistory.objects.filter(job=run).order_by("attempt")
    assert [(r.attempt, r.status, r.scheduled_for) for r in rows] == [
        (1, RunStatus.FAILED, slot),
        (2, RunStatus.FAILED, slot),
    ]


def test_one_run_per_slot_is_enforced_by_the_database():
    job = schedule("unique-overlap", "noop", "10s", allow_overlap=True)
    slot = job.next_run_at
    WorkerLoop(listen=False).run_once(now=slot)
    (run,) = Job.objects.filter(key__startswith=f"run:{job.pk}:")
    with pytest.raises(IntegrityError), transaction.atomic():
        Job.objects.create(name="again", handler="noop", key=run.key, next_run_at=slot)


def test_overlap_with_history_off_still_runs_each_slot_once():
    from django.test import override_settings

    job = schedule("quiet-overlap", "noop", "10s", allow_overlap=True)
    slot = job.next_run_at
    with override_settings(DJANGO_JOBS={"ENABLE_HISTORY": False}):
        WorkerLoop(listen=False).run_once(now=slot)
        WorkerLoop(listen=False).run_once(now=slot)
    (run,) = Job.objects.filter(key__startswith=f"run:{job.pk}:")
    assert run.status == JobStatus.COMPLETED
    assert not JobHistory.objects.exists()
