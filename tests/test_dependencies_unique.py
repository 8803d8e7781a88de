"""``enqueue_many`` items with both a unique key and dependencies (or dependents)."""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connection  # noqa: F401  (the skipif reads it)
from django.utils import timezone

from django_jobs import enqueue, enqueue_many, steering
from django_jobs.exceptions import DuplicateJob
from django_jobs.models import Job, JobDependency, JobHistory, JobStatus
from tests.races import race

pytestmark = pytest.mark.django_db(transaction=True)

LATER = timedelta(hours=1)


def drain():
    call_command("runjobs", "--once", "--no-sync", verbosity=0)


def fresh(job):
    return Job.objects.get(pk=job.pk)


def links():
    return sorted(JobDependency.objects.values_list("job_id", "depends_on_id"))


def test_a_taken_key_is_the_live_job_and_its_dependents_wait_for_it():
    holder = enqueue("echo", {"held": 1}, unique_key="invoice-42", run_at=timezone.now() + LATER)
    root, child = enqueue_many(
        [
            {"handler": "echo", "data": {"new": 1}, "unique_key": "invoice-42", "ref": "root"},
            {"handler": "dependency_results", "depends_on": ["root"]},
        ]
    )
    assert root.pk == holder.pk and root.data == {"held": 1}
    assert Job.objects.count() == 2
    assert links() == [(child.pk, holder.pk)]
    assert fresh(child).waiting_on == 1 and fresh(child).next_run_at is None
    assert fresh(holder).has_dependents
    steering.trigger(holder)
    drain()
    drain()
    assert fresh(child).status == JobStatus.COMPLETED
    assert JobHistory.objects.get(job=child).result == {str(holder.pk): {"held": 1}}


def test_enqueue_with_a_key_and_dependencies_waits_and_a_duplicate_is_the_live_job():
    a = enqueue("echo")
    keyed = enqueue("echo", unique_key="k", depends_on=[a])
    assert fresh(keyed).waiting_on == 1 and fresh(keyed).next_run_at is None
    again = enqueue("echo", unique_key="k", depends_on=[a])
    assert again.pk == keyed.pk and links() == [(keyed.pk, a.pk)]
    drain()
    drain()
    assert fresh(keyed).status == JobStatus.COMPLETED


def test_a_new_key_is_created_with_its_own_dependencies_and_dependents():
    a, keyed, child = enqueue_many(
        [
            {"handler": "echo", "ref": "a"},
            {"handler": "echo", "unique_key": "k", "ref": "keyed", "depends_on": ["a"]},
            {"handler": "echo", "depends_on": ["keyed", "a"]},
        ]
    )
    assert fresh(keyed).unique_key == "k" and fresh(keyed).waiting_on == 1
    assert fresh(child).waiting_on == 2
    assert links() == sorted([(keyed.pk, a.pk), (child.pk, keyed.pk), (child.pk, a.pk)])
    for _ in range(3):
        drain()
    assert set(Job.objects.values_list("status", flat=True)) == {JobStatus.COMPLETED}


def test_a_taken_keys_own_dependencies_are_not_added_to_the_live_job():
    holder = enqueue("echo", unique_key="k", run_at=timezone.now() + LATER)
    _, found = enqueue_many(
        [
            {"handler": "echo", "ref": "a"},
            {"handler": "echo", "unique_key": "k", "depends_on": ["a"]},
        ]
    )
    assert found.pk == holder.pk
    assert links() == [] and fresh(holder).waiting_on == 0


def test_a_key_given_twice_is_one_job_and_a_dependent_of_both_waits_once():
    first, second, child = enqueue_many(
        [
            {"handler": "echo", "unique_key": "k", "ref": "x"},
            {"handler": "echo", "unique_key": "k", "ref": "y"},
            {"handler": "echo", "depends_on": ["x", "y"]},
        ]
    )
    assert first.pk == second.pk
    assert Job.objects.count() == 2
    assert fresh(child).waiting_on == 1 and links() == [(child.pk, first.pk)]
    assert fresh(first).has_dependents
    drain()
    drain()
    assert fresh(child).status == JobStatus.COMPLETED


def test_a_taken_key_named_by_id_and_by_ref_is_waited_for_once():
    holder = enqueue("echo", unique_key="k", run_at=timezone.now() + LATER)
    _, child = enqueue_many(
        [
            {"handler": "echo", "unique_key": "k", "ref": "r"},
            {"handler": "echo", "depends_on": [holder.pk, "r"]},
        ]
    )
    assert fresh(child).waiting_on == 1 and links() == [(child.pk, holder.pk)]
    steering.trigger(holder)
    drain()
    drain()
    assert fresh(child).status == JobStatus.COMPLETED


def test_a_key_whose_job_finished_is_free_again_and_dependents_wait_for_the_new_job():
    done = enqueue("echo", unique_key="k")
    drain()
    new, child = enqueue_many(
        [
            {"handler": "echo", "unique_key": "k", "ref": "r"},
            {"handler": "echo", "depends_on": ["r"]},
        ]
    )
    assert new.pk != done.pk and links() == [(child.pk, new.pk)]


def test_raise_on_a_taken_key_creates_nothing():
    holder = enqueue("echo", unique_key="k", run_at=timezone.now() + LATER)
    before = Job.objects.count()
    with pytest.raises(DuplicateJob) as info:
        enqueue_many(
            [
                {"handler": "echo", "ref": "a"},
                {"handler": "echo", "unique_key": "k", "on_conflict": "raise", "ref": "r"},
                {"handler": "echo", "depends_on": ["r", "a"]},
            ]
        )
    assert info.value.job.pk == holder.pk
    assert Job.objects.count() == before and links() == []
    assert not fresh(holder).has_dependents


# Concurrency: many connections at once ----------------------------------------------

THREADS = 8


def _race(target):
    return race(target, THREADS)


@pytest.mark.skipif("connection.vendor == 'sqlite'", reason="SQLite has one writer at a time")
def test_racing_graphs_share_one_job_per_key_and_every_dependent_waits_for_it():
    def attempt():
        jobs = enqueue_many(
            [
                {"handler": "echo", "unique_key": "b", "ref": "b"},
                {"handler": "echo", "unique_key": "a", "ref": "a", "depends_on": ["b"]},
                {"handler": "echo", "depends_on": ["a", "b"]},
            ]
        )
        return tuple(job.pk for job in jobs)

    results, errors = _race(attempt)
    assert errors == []
    assert len({(b, a) for b, a, _ in results}) == 1
    b, a, _ = results[0]
    children = {child for _, _, child in results}
    assert len(children) == THREADS
    assert Job.objects.count() == THREADS + 2
    assert links() == sorted([(a, b), *((c, a) for c in children), *((c, b) for c in children)])
    assert set(Job.objects.filter(pk__in=children).values_list("waiting_on", flat=True)) == {2}
    for _ in range(3):
        drain()
    assert set(Job.objects.values_list("status", flat=True)) == {JobStatus.COMPLETED}
    assert JobHistory.objects.count() == THREADS + 2
