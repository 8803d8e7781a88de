"""Dead jobs in Python: what is dead, requeueing, purging, and their selections."""

import threading
from datetime import timedelta

import pytest
from django.db import connection  # noqa: F401 - read by skipif
from django.utils import timezone

import django_jobs
from django_jobs import enqueue, schedule
from django_jobs.dead import DeadSelection, select
from django_jobs.errors import error_type_of
from django_jobs.exceptions import InvalidJob
from django_jobs.models import Job, JobHistory, JobStatus
from django_jobs.steering import purge_dead, requeue_dead
from django_jobs.worker import WorkerLoop
from tests.races import race

pytestmark = pytest.mark.django_db(transaction=True)


def dead_job(handler="echo", error="ValueError: bad\n\nTraceback ...", died=None, **fields):
    """A job as the worker leaves one that failed for good."""
    job = Job.objects.create(
        name="job",
        handler=handler,
        status=JobStatus.FAILED,
        attempts=3,
        last_error=error,
        **fields,
    )
    if died is not None:
        Job.objects.filter(pk=job.pk).update(updated_at=died)
    return job


def test_a_one_time_job_out_of_attempts_is_dead_with_its_error_type():
    job = enqueue("fail", {"n": 1}, max_attempts=1)
    recurring = schedule("every", "fail", "1h")
    Job.objects.filter(pk=recurring.pk).update(next_run_at=timezone.now())
    WorkerLoop(listen=False).run_once()
    assert list(Job.objects.dead()) == [Job.objects.get(pk=job.pk)]
    dead = Job.objects.get(pk=job.pk)
    assert error_type_of(dead.last_error) == "RuntimeError"
    assert dead.history.count() == 1


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("ValueError: x", "ValueError"),
        ("ValueError: \n\nTraceback", "ValueError"),
        ("mod.sub.Err: x", "mod.sub.Err"),
        ("the worker w1 stopped: gone", ""),
        ("", ""),
        ("no colon at all", ""),
    ],
)
def test_error_type_is_the_class_before_the_first_colon(text, kind):
    assert error_type_of(text) == kind


def test_requeue_by_ids_resets_attempts_and_is_due_now():
    one, two = dead_job(), dead_job()
    other = dead_job()
    before = timezone.now()
    done = django_jobs.requeue_dead([one, two.pk])
    assert done.count == 2 and done.held_keys == []
    for job in Job.objects.filter(pk__in=[one.pk, two.pk]):
        assert job.status == JobStatus.PENDING
        assert job.attempts == 0
        assert job.next_run_at >= before
    assert Job.objects.get(pk=other.pk).status == JobStatus.FAILED
    # Requeued jobs are not dead any more: a second requeue finds nothing.
    assert django_jobs.requeue_dead([one, two]).count == 0


def test_requeue_all_matching_filters():
    now = timezone.now()
    match = dead_job(handler="add", error="KeyError: 'x'", died=now - timedelta(hours=2))
    dead_job(handler="echo", error="KeyError: 'x'", died=now - timedelta(hours=2))
    dead_job(handler="add", error="ValueError: y", died=now - timedelta(hours=2))
    dead_job(handler="add", error="KeyError: 'x'", died=now - timedelta(days=3))
    dead_job(handler="add", error="KeyErrorish: no", died=now - timedelta(hours=2))
    done = django_jobs.requeue_dead(
        all=True,
        handler="add",
        error_type="KeyError",
        died_after=now - timedelta(days=1),
        died_before=now,
    )
    assert done.count == 1
    assert list(Job.objects.pending().values_list("pk", flat=True)) == [match.pk]


def test_requeue_leaves_live_and_other_finished_jobs_alone():
    pending = enqueue("echo")
    completed = Job.objects.create(name="c", handler="echo", status=JobStatus.COMPLETED)
    recurring_failed = Job.objects.create(
        name="r", handler="echo", schedule="1h", status=JobStatus.FAILED
    )
    dead = dead_job()
    assert django_jobs.requeue_dead(all=True).count == 1
    assert Job.objects.get(pk=dead.pk).status == JobStatus.PENDING
    assert Job.objects.get(pk=completed.pk).status == JobStatus.COMPLETED
    assert Job.objects.get(pk=recurring_failed.pk).status == JobStatus.FAILED
    assert Job.objects.get(pk=pending.pk).attempts == 0


def test_requeue_skips_a_dead_job_whose_unique_key_a_live_job_holds():
    held = dead_job(unique_key="invoice-1")
    free = dead_job(unique_key="invoice-2")
    plain = dead_job()
    holder = enqueue("echo", unique_key="invoice-1")
    done = django_jobs.requeue_dead(all=True)
    assert done.count == 2
    assert done.held_keys == [held.pk]
    assert Job.objects.get(pk=held.pk).status == JobStatus.FAILED
    assert Job.objects.get(pk=free.pk).status == JobStatus.PENDING
    assert Job.objects.get(pk=plain.pk).status == JobStatus.PENDING
    assert Job.objects.get(pk=holder.pk).status == JobStatus.PENDING


def test_requeue_in_small_batches_requeues_every_one():
    jobs = [dead_job() for _ in range(7)]
    assert requeue_dead(DeadSelection(), batch_size=2).count == 7
    assert Job.objects.filter(pk__in=[j.pk for j in jobs], status="pending").count() == 7


def test_a_requeued_job_runs_again_and_can_succeed():
    job = dead_job(handler="echo")
    django_jobs.requeue_dead([job])
    WorkerLoop(listen=False).run_once()
    assert Job.objects.get(pk=job.pk).status == JobStatus.COMPLETED


def test_purge_deletes_dead_jobs_and_their_history_and_says_how_many():
    job = enqueue("fail", max_attempts=1)
    WorkerLoop(listen=False).run_once()
    kept = dead_job(handler="add")
    completed = Job.objects.create(name="c", handler="echo", status=JobStatus.COMPLETED)
    assert JobHistory.objects.filter(job_id=job.pk).exists()
    assert django_jobs.purge_dead(all=True, handler="fail") == 1
    assert not Job.objects.filter(pk=job.pk).exists()
    assert not JobHistory.objects.filter(job_id=job.pk).exists()
    assert set(Job.objects.values_list("pk", flat=True)) == {kept.pk, completed.pk}
    assert django_jobs.purge_dead([kept.pk, completed.pk]) == 1
    assert purge_dead(DeadSelection(), batch_size=1) == 0


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({}, "ids"),
        ({"ids": [1], "all": True}, "ids"),
        ({"ids": [1], "handler": "echo"}, "ids"),
        ({"ids": ["1"]}, "ids"),
        ({"ids": [True]}, "ids"),
        ({"all": True, "error_type": "Value Error"}, "error_type"),
        ({"all": True, "error_type": "x" * 201}, "error_type"),
        ({"all": True, "died_after": timezone.now().replace(tzinfo=None)}, "died_after"),
    ],
)
def test_a_selection_that_names_nothing_clearly_is_refused(kwargs, field):
    dead_job()
    with pytest.raises(InvalidJob) as refused:
        select(**kwargs)
    assert refused.value.field == field
    with pytest.raises(InvalidJob):
        django_jobs.requeue_dead(**kwargs)
    with pytest.raises(InvalidJob):
        django_jobs.purge_dead(**kwargs)
    assert Job.objects.dead().count() == 1


# Concurrency ------------------------------------------------------------------------

THREADS = 4


def _race(target):
    return race(target, THREADS)


@pytest.mark.skipif("connection.vendor == 'sqlite'", reason="SQLite has one writer at a time")
def test_requeues_of_one_selection_at_once_requeue_each_job_once():
    jobs = [dead_job(unique_key=f"k{n}" if n % 5 == 0 else None) for n in range(60)]
    results, errors = _race(
        lambda: requeue_dead(select(all=True, handler="echo"), batch_size=7).count
    )
    assert errors == []
    assert sum(results) == len(jobs)
    assert Job.objects.filter(status="pending", attempts=0).count() == len(jobs)


@pytest.mark.skipif("connection.vendor == 'sqlite'", reason="SQLite has one writer at a time")
def test_purges_and_requeues_at_once_lose_no_live_job():
    jobs = [dead_job() for _ in range(40)]
    ids = [job.pk for job in jobs]
    turns = iter(range(THREADS))
    lock = threading.Lock()

    def requeue_or_purge():
        with lock:
            turn = next(turns)
        if turn % 2:
            return ("purged", purge_dead(select(ids), batch_size=5))
        return ("requeued", requeue_dead(select(ids), batch_size=5).count)

    results, errors = _race(requeue_or_purge)
    assert errors == []
    requeued = sum(n for what, n in results if what == "requeued")
    purged = sum(n for what, n in results if what == "purged")
    assert requeued + purged == len(jobs)
    assert Job.objects.filter(status="pending").count() == requeued
    assert Job.objects.count() == requeued
