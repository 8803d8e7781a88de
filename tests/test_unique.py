"""Unique jobs: one live job per unique key, enforced by the database."""

import subprocess

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import IntegrityError, connection, transaction
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

from django_jobs import enqueue, enqueue_many, steering
from django_jobs.exceptions import DuplicateJob, InvalidJob, JobStateError
from django_jobs.models import Job, JobStatus
from tests.races import race

pytestmark = pytest.mark.django_db(transaction=True)


def drain():
    call_command("runjobs", "--once", "--no-sync", verbosity=0)


def test_a_second_enqueue_returns_the_live_job():
    first = enqueue("echo", {"n": 1}, unique_key="invoice-42")
    second = enqueue("echo", {"n": 2}, unique_key="invoice-42")
    assert second.pk == first.pk
    assert second.data == {"n": 1}
    assert Job.objects.filter(unique_key="invoice-42").count() == 1


def test_on_conflict_raise_names_the_holder():
    first = enqueue("echo", unique_key="k")
    with pytest.raises(DuplicateJob) as info:
        enqueue("echo", unique_key="k", on_conflict="raise")
    assert info.value.job.pk == first.pk
    assert info.value.unique_key == "k"
    assert isinstance(info.value, JobStateError)
    assert Job.objects.count() == 1


def test_different_keys_and_no_key_do_not_collide():
    a = enqueue("echo", unique_key="a")
    b = enqueue("echo", unique_key="b")
    c, d = enqueue("echo"), enqueue("echo")
    assert len({a.pk, b.pk, c.pk, d.pk}) == 4


@pytest.mark.parametrize("finish", ["complete", "fail", "cancel"])
def test_a_finished_job_frees_its_key(finish):
    handler = "fail" if finish == "fail" else "echo"
    first = enqueue(handler, {}, unique_key="k", max_attempts=1)
    if finish == "cancel":
        steering.cancel(first)
    else:
        drain()
    first.refresh_from_db()
    assert first.status in (JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED)
    second = enqueue("echo", unique_key="k")
    assert second.pk != first.pk
    assert enqueue("echo", unique_key="k").pk == second.pk


def test_a_running_job_holds_its_key():
    job = enqueue("echo", unique_key="k")
    Job.objects.filter(pk=job.pk).update(status=JobStatus.RUNNING)
    assert enqueue("echo", unique_key="k").pk == job.pk


def test_the_database_refuses_a_second_live_row_written_directly():
    enqueue("echo", unique_key="k")
    clone = Job.objects.get()
    clone.pk = None
    with pytest.raises(IntegrityError), transaction.atomic():
        clone.save(force_insert=True)
    clone.pk = None
    clone.status = JobStatus.COMPLETED
    clone.next_run_at = None
    clone.save(force_insert=True)  # a finished row may share the key
    assert Job.objects.filter(unique_key="k").count() == 2


def test_the_callers_transaction_survives_a_duplicate():
    with transaction.atomic():
        first = enqueue("echo", unique_key="k")
        other = enqueue("echo", name="other")
        assert enqueue("echo", unique_key="k").pk == first.pk
        with pytest.raises(DuplicateJob):
            enqueue("echo", unique_key="k", on_conflict="raise")
        later = enqueue("echo", name="later")
    assert set(Job.objects.values_list("pk", flat=True)) == {first.pk, other.pk, later.pk}


def test_a_duplicate_sends_no_enqueued_signal():
    from django_jobs.signals import job_enqueued

    seen = []

    def receiver(job, **kwargs):
        seen.append(job.pk)

    job_enqueued.connect(receiver)
    try:
        first = enqueue("echo", unique_key="k")
        enqueue("echo", unique_key="k")
    finally:
        job_enqueued.disconnect(receiver)
    assert seen == [first.pk]


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"unique_key": ""}, "unique_key"),
        ({"unique_key": "x" * 201}, "unique_key"),
        ({"unique_key": 42}, "unique_key"),
        ({"unique_key": "k", "on_conflict": "ignore"}, "on_conflict"),
    ],
)
def test_bad_unique_input_is_refused(kwargs, field):
    with pytest.raises(InvalidJob) as info:
        enqueue("echo", **kwargs)
    assert info.value.field == field
    assert not Job.objects.exists()


def test_enqueue_many_resolves_duplicates_to_one_job():
    held = enqueue("echo", {"held": True}, unique_key="held")
    jobs = enqueue_many(
        [
            {"handler": "echo", "data": 1, "unique_key": "a"},
            {"handler": "echo", "data": 2},
            {"handler": "echo", "data": 3, "unique_key": "a"},
            {"handler": "echo", "data": 4, "unique_key": "held"},
            {"handler": "echo", "data": 5, "unique_key": "b"},
        ]
    )
    assert [j.data for j in jobs] == [1, 2, 1, {"held": True}, 5]
    assert jobs[0].pk == jobs[2].pk
    assert jobs[3].pk == held.pk
    assert Job.objects.count() == 4
    assert all(j.pk for j in jobs)


def test_enqueue_many_raise_creates_nothing():
    enqueue("echo", unique_key="a")
    with pytest.raises(DuplicateJob):
        enqueue_many(
            [
                {"handler": "echo", "data": 1},
                {"handler": "echo", "unique_key": "a", "on_conflict": "raise"},
            ]
        )
    assert Job.objects.count() == 1


def test_retrying_a_job_whose_key_is_taken_again_is_refused():
    dead = enqueue("fail", {}, unique_key="k", max_attempts=1)
    drain()
    live = enqueue("echo", unique_key="k")
    with pytest.raises(JobStateError, match=f"job {live.pk} already holds"):
        steering.retry(dead)
    with pytest.raises(JobStateError):
        steering.trigger(dead)
    dead.refresh_from_db()
    assert dead.status == JobStatus.FAILED


def test_a_job_without_a_key_costs_no_extra_statement():
    # Django's cursor, so that every statement is counted (prepared ones bypass it).
    unprepared = {**getattr(settings, "DJANGO_JOBS", {}), "PREPARED_STATEMENTS": False}
    with override_settings(DJANGO_JOBS=unprepared):
        enqueue("echo")  # warm caches
        with CaptureQueriesContext(connection) as plain:
            enqueue("echo")
        with CaptureQueriesContext(connection) as many:
            enqueue_many([{"handler": "echo", "data": i} for i in range(50)])
    assert len(plain) == 1
    assert plain.captured_queries[0]["sql"].lstrip().upper().startswith(("INSERT", "WITH"))
    # Nothing looks a key up: the key column appears only in what inserts the rows.
    for query in many.captured_queries:
        if "unique_key" in query["sql"]:
            assert query["sql"].lstrip().upper().startswith(("INSERT", "COPY", "WITH")), query


# Concurrency: many connections at once ----------------------------------------------

THREADS = 8


def _race(target):
    return race(target, THREADS)


@pytest.mark.skipif("connection.vendor == 'sqlite'", reason="SQLite has one writer at a time")
def test_threads_racing_on_one_key_make_one_job():
    results, errors = _race(lambda: enqueue("echo", unique_key="race").pk)
    assert errors == []
    assert len(set(results)) == 1
    assert Job.objects.filter(unique_key="race").count() == 1


@pytest.mark.skipif("connection.vendor == 'sqlite'", reason="SQLite has one writer at a time")
def test_threads_racing_with_raise_one_wins():
    def attempt():
        try:
            return enqueue("echo", unique_key="race", on_conflict="raise").pk
        except DuplicateJob as exc:
            return ("dup", exc.job.pk)

    results, errors = _race(attempt)
    assert errors == []
    created = [r for r in results if not isinstance(r, tuple)]
    assert len(created) == 1
    assert {r[1] for r in results if isinstance(r, tuple)} == set(created)


@pytest.mark.skipif("connection.vendor == 'sqlite'", reason="SQLite has one writer at a time")
def test_threads_racing_in_transactions_and_bulk():
    def attempt():
        with transaction.atomic():
            jobs = enqueue_many([{"handler": "echo", "unique_key": f"k{i}"} for i in range(5)])
        return tuple(j.pk for j in jobs)

    results, errors = _race(attempt)
    assert errors == []
    assert len(set(results)) == 1
    assert Job.objects.count() == 5


PROCESS_SCRIPT = """
import django, sys
django.setup()
from django_jobs import enqueue
print(enqueue("echo", unique_key="proc").pk)
"""


def test_processes_racing_on_one_key_make_one_job(worker_env, manage_cmd):
    procs = [
        subprocess.Popen(
            [manage_cmd[0], "-c", PROCESS_SCRIPT],
            env=worker_env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    outputs = [proc.communicate(timeout=120) for proc in procs]
    assert all(proc.returncode == 0 for proc in procs), outputs
    assert len({out.strip() for out, _ in outputs}) == 1
    assert Job.objects.filter(unique_key="proc").count() == 1
