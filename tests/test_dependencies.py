"""Dependencies: jobs wait for others, released by the transaction that finishes the last."""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from django_jobs import enqueue, enqueue_many, steering
from django_jobs.exceptions import InvalidJob
from django_jobs.models import Job, JobDependency, JobHistory, JobStatus
from django_jobs.testing import run_jobs

pytestmark = pytest.mark.django_db(transaction=True)


def drain():
    call_command("runjobs", "--once", "--no-sync", verbosity=0)


def status(job):
    return Job.objects.values_list("status", flat=True).get(pk=job.pk)


def fresh(job):
    return Job.objects.get(pk=job.pk)


def test_a_dependent_waits_and_is_not_due():
    a = enqueue("echo", {"a": 1})
    b = enqueue("dependency_results", depends_on=[a])
    b = fresh(b)
    assert b.status == JobStatus.PENDING
    assert b.next_run_at is None
    assert b.waiting_on == 1
    assert list(Job.objects.due()) == [fresh(a)]
    assert list(Job.objects.waiting()) == [b]
    assert fresh(a).has_dependents


def test_the_last_dependency_releases_it_and_its_handler_gets_the_results():
    a = enqueue("echo", {"a": 1})
    b = enqueue("echo", {"b": 2})
    c = enqueue("dependency_results", depends_on=[a, b.pk])
    drain()
    assert status(c) == JobStatus.COMPLETED
    run = JobHistory.objects.get(job=c)
    assert run.result == {str(a.pk): {"a": 1}, str(b.pk): {"b": 2}}


def test_a_dependent_starts_after_its_dependencies_ended():
    a = enqueue("stamp", {"seconds": 0.05})
    b = enqueue("stamp", {"seconds": 0.1})
    c = enqueue("stamp", depends_on=[a, b])
    drain()
    results = dict(JobHistory.objects.values_list("job_id", "result"))
    assert results[c.pk]["deps"] == sorted([a.pk, b.pk])
    assert results[c.pk]["start"] >= max(results[a.pk]["end"], results[b.pk]["end"])


def test_a_chain_runs_in_order():
    first = enqueue("echo", {"n": 0})
    jobs = [first]
    for n in range(1, 5):
        jobs.append(enqueue("echo", {"n": n}, depends_on=[jobs[-1]]))
    drain()
    runs = list(JobHistory.objects.filter(job__in=jobs).order_by("started_at", "id"))
    assert [run.job_id for run in runs] == [job.pk for job in jobs]
    assert all(status(job) == JobStatus.COMPLETED for job in jobs)


def test_a_completed_dependency_counts_at_once():
    a = enqueue("echo", {"a": 1})
    drain()
    b = enqueue("dependency_results", depends_on=[a])
    assert b.waiting_on == 0
    assert b.next_run_at is not None
    drain()
    assert JobHistory.objects.get(job=b).result == {str(a.pk): {"a": 1}}


def test_a_failed_dependency_cancels_the_dependent_with_a_reason_and_cascades():
    a = enqueue("fail", max_attempts=1)
    b = enqueue("echo", depends_on=[a])
    c = enqueue("echo", depends_on=[b])
    runs_anyway = enqueue("dependency_results", depends_on=[b], on_dependency_failure="run")
    drain()
    assert status(a) == JobStatus.FAILED
    b, c = fresh(b), fresh(c)
    assert b.status == JobStatus.CANCELLED
    assert f"job {a.pk}" in b.last_error and "failed" in b.last_error
    assert c.status == JobStatus.CANCELLED
    assert f"job {b.pk}" in c.last_error and "cancelled" in c.last_error
    # The one that runs anyway ran, without results from the cancelled one.
    assert status(runs_anyway) == JobStatus.COMPLETED
    assert JobHistory.objects.get(job=runs_anyway).result == {}
    assert not JobHistory.objects.filter(job__in=[b, c]).exists()


def test_a_dependent_that_runs_anyway_waits_for_its_other_dependencies():
    failing = enqueue("fail", max_attempts=1)
    later = enqueue("echo", {"x": 1}, run_at=timezone.now() + timedelta(hours=1))
    d = enqueue("dependency_results", depends_on=[failing, later], on_dependency_failure="run")
    drain()
    d = fresh(d)
    assert d.status == JobStatus.PENDING and d.waiting_on == 1 and d.next_run_at is None
    steering.trigger(later)
    drain()
    assert status(d) == JobStatus.COMPLETED
    assert JobHistory.objects.get(job=d).result == {str(later.pk): {"x": 1}}


def test_cancelling_a_dependency_cancels_its_dependents():
    a = enqueue("echo", run_at=timezone.now() + timedelta(hours=1))
    b = enqueue("echo", depends_on=[a])
    steering.cancel(a)
    b = fresh(b)
    assert b.status == JobStatus.CANCELLED
    assert f"job {a.pk}" in b.last_error and "was cancelled" in b.last_error


def test_deleting_a_dependency_cancels_its_dependents():
    a = enqueue("echo", run_at=timezone.now() + timedelta(hours=1))
    b = enqueue("echo", depends_on=[a])
    steering.delete(a)
    b = fresh(b)
    assert b.status == JobStatus.CANCELLED
    assert "was deleted" in b.last_error
    assert not JobDependency.objects.filter(job=b).exists()


def test_a_dependency_failing_while_the_dependent_is_created_is_settled_at_creation():
    a = enqueue("fail", max_attempts=1)
    drain()
    b = enqueue("echo", depends_on=[a])
    assert b.status == JobStatus.CANCELLED
    c = enqueue("echo", depends_on=[a], on_dependency_failure="run")
    assert c.waiting_on == 0 and c.next_run_at is not None


@pytest.mark.parametrize(
    ("depends_on", "message"),
    [
        ([999999], "no such job: 999999"),
        (["x"], "is not a job or a job id"),
        ("12", "must be a list"),
        ([True], "is not a job or a job id"),
    ],
)
def test_bad_dependencies_are_refused_and_nothing_is_created(depends_on, message):
    before = Job.objects.count()
    with pytest.raises(InvalidJob) as info:
        enqueue("echo", depends_on=depends_on)
    assert info.value.field == "depends_on"
    assert message in info.value.message
    assert Job.objects.count() == before


def test_a_recurring_dependency_is_refused():
    from django_jobs import schedule

    nightly = schedule("nightly", "noop", "0 3 * * *")
    with pytest.raises(InvalidJob, match="recurring"):
        enqueue("echo", depends_on=[nightly])
    assert not JobDependency.objects.exists()
    assert not fresh(nightly).has_dependents


def test_a_bad_failure_mode_is_refused():
    a = enqueue("echo")
    with pytest.raises(InvalidJob) as info:
        enqueue("echo", depends_on=[a], on_dependency_failure="ignore")
    assert info.value.field == "on_dependency_failure"


def test_enqueue_many_builds_a_graph_in_one_call():
    jobs = enqueue_many(
        [
            {"handler": "echo", "data": {"n": 1}, "ref": "a"},
            {"handler": "echo", "data": {"n": 2}, "ref": "b"},
            {"handler": "dependency_results", "depends_on": ["a", "b"], "ref": "c"},
            {"handler": "dependency_results", "depends_on": ["c"]},
        ]
    )
    a, b, c, d = (fresh(job) for job in jobs)
    assert (a.waiting_on, b.waiting_on, c.waiting_on, d.waiting_on) == (0, 0, 2, 1)
    assert a.has_dependents and b.has_dependents and c.has_dependents and not d.has_dependents
    drain()
    assert JobHistory.objects.get(job=c).result == {str(a.pk): {"n": 1}, str(b.pk): {"n": 2}}
    assert JobHistory.objects.get(job=d).result == {
        str(c.pk): {str(a.pk): {"n": 1}, str(b.pk): {"n": 2}}
    }


def test_enqueue_many_refuses_a_cycle_or_a_later_ref_and_creates_nothing():
    with pytest.raises(InvalidJob, match="not the ref of an earlier job"):
        enqueue_many(
            [
                {"handler": "echo", "ref": "a", "depends_on": ["b"]},
                {"handler": "echo", "ref": "b", "depends_on": ["a"]},
            ]
        )
    with pytest.raises(InvalidJob, match="not the ref of an earlier job"):
        enqueue_many([{"handler": "echo", "ref": "a", "depends_on": ["a"]}])
    with pytest.raises(InvalidJob, match="no such job"):
        enqueue_many([{"handler": "echo", "ref": "a"}, {"handler": "echo", "depends_on": [10**9]}])
    assert Job.objects.count() == 0


def test_enqueue_many_fans_out_from_one_existing_job_and_in_to_one():
    root = enqueue("echo", {"root": True})
    specs = [{"data": {"i": i}} for i in range(300)]
    leaves = enqueue_many(specs, handler="echo", depends_on=[root])
    assert all(job.waiting_on == 1 for job in leaves)
    join = enqueue("dependency_results", depends_on=leaves)
    assert fresh(join).waiting_on == 300
    run_jobs()
    run_jobs()
    run_jobs()
    assert Job.objects.filter(status=JobStatus.COMPLETED).count() == 302
    result = JobHistory.objects.get(job=join).result
    assert len(result) == 300 and result[str(leaves[7].pk)] == {"i": 7}


def test_inside_atomic_a_graph_exists_when_it_commits():
    with transaction.atomic():
        a = enqueue("echo")
        b = enqueue("echo", depends_on=[a])
    assert fresh(b).waiting_on == 1


def test_trigger_runs_a_waiting_job_now():
    a = enqueue("echo", run_at=timezone.now() + timedelta(hours=1))
    b = enqueue("echo", depends_on=[a])
    steering.trigger(b)
    b = fresh(b)
    assert b.waiting_on == 0 and b.next_run_at is not None
    drain()
    assert status(b) == JobStatus.COMPLETED
    # a finishing later does not count it down again, or release it twice.
    steering.trigger(a)
    drain()
    assert JobHistory.objects.filter(job=b).count() == 1


def test_jobs_without_dependents_complete_with_the_same_statements():
    """A job outside any graph pays nothing: its completion reads no link."""
    enqueue_many([{}] * 5, handler="noop")
    with CaptureQueriesContext(connection) as queries:
        run_jobs()
    assert Job.objects.filter(status=JobStatus.COMPLETED).count() == 5
    assert not [q for q in queries if JobDependency._meta.db_table in q["sql"]]


def test_a_job_in_a_graph_cannot_become_recurring():
    from django_jobs import creating

    a = enqueue("echo", run_at=timezone.now() + timedelta(hours=1))
    b = enqueue("echo", depends_on=[a])
    for job in (a, b):
        with pytest.raises(InvalidJob) as info:
            creating.update(job, schedule="5m")
        assert info.value.field == "schedule"
    assert Job.objects.recurring().count() == 0


def test_editing_run_at_of_a_waiting_job_keeps_it_waiting():
    from django_jobs import creating

    a = enqueue("echo", run_at=timezone.now() + timedelta(hours=1))
    b = enqueue("echo", depends_on=[a])
    later = timezone.now() + timedelta(hours=2)
    creating.update(b, run_at=later)
    b = fresh(b)
    assert b.next_run_at is None and b.scheduled_for == later
    steering.trigger(a)
    drain()
    # Released at its run_at, which is later than the moment its dependency completed.
    assert fresh(b).next_run_at == later


def test_an_enqueue_without_dependencies_reads_no_link():
    with CaptureQueriesContext(connection) as queries:
        enqueue("echo")
        enqueue_many([{}] * 3, handler="echo")
    assert not [q for q in queries if JobDependency._meta.db_table in q["sql"]]
    assert not [q for q in queries if "FOR UPDATE" in q["sql"]]


def test_a_graph_is_inserted_once_where_bulk_inserts_return_no_ids(monkeypatch):
    """MySQL returns no ids from a bulk insert: the graph's jobs are then inserted one by one,
    each once (a second insert of rows the bulk insert had written made twins)."""
    from django_jobs.engines import for_alias

    engine = type(for_alias(connection.alias))
    monkeypatch.setattr(engine, "has_copy", property(lambda self: False))
    monkeypatch.setattr(engine, "insert_returning_ids", lambda self, model, fields, values: None)
    features = connection.features
    monkeypatch.delitem(features.__dict__, "can_return_rows_from_bulk_insert", raising=False)
    monkeypatch.setattr(type(features), "can_return_rows_from_bulk_insert", False)
    jobs = enqueue_many(
        [
            {"handler": "echo", "data": 1, "ref": "a"},
            {"handler": "echo", "data": 2, "ref": "b"},
            {"handler": "echo", "data": 3, "depends_on": ["a", "b"]},
        ]
    )
    assert Job.objects.count() == 3
    assert all(job.pk for job in jobs)
    assert sorted(JobDependency.objects.values_list("depends_on_id", flat=True)) == sorted(
        job.pk for job in jobs[:2]
    )
    run_jobs()
    assert set(Job.objects.values_list("status", flat=True)) == {JobStatus.COMPLETED}
