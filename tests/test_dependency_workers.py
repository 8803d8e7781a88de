"""Dependencies under real ``runjobs`` processes finishing dependencies at the same moment."""

import random
import signal
from collections import Counter

import pytest
from django.conf import settings

from django_jobs import enqueue_many
from django_jobs.models import FINISHED, Job, JobDependency, JobHistory, JobStatus
from django_jobs.models import Worker as WorkerRow

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.subprocess]


def build_graph(rng: random.Random) -> list[dict]:
    """Three layers that fan out and in, a fan-in of every first-layer job, and a failure."""
    specs = []
    first = [f"a{i}" for i in range(40)]
    for ref in first:
        specs.append({"handler": "stamp", "ref": ref, "data": {"seconds": rng.random() / 50}})
    second = [f"b{i}" for i in range(30)]
    for ref in second:
        specs.append({"handler": "stamp", "ref": ref, "depends_on": rng.sample(first, 4)})
    for i in range(10):
        specs.append({"handler": "stamp", "ref": f"c{i}", "depends_on": rng.sample(second, 6)})
    specs.append({"handler": "stamp", "ref": "all", "depends_on": first})
    specs.append({"handler": "fail", "ref": "bad", "max_attempts": 1})
    specs.append({"handler": "stamp", "ref": "doomed", "depends_on": ["bad", "a0"]})
    specs.append({"handler": "stamp", "ref": "after", "depends_on": ["doomed"]})
    specs.append(
        {"handler": "stamp", "ref": "anyway", "depends_on": ["bad", "b0"]}
        | {"on_dependency_failure": "run"}
    )
    return specs


def test_several_workers_release_each_dependent_once_after_all_its_dependencies(runjobs, wait_for):
    workers = [runjobs("--concurrency", "4", "--batch-size", "8") for _ in range(3)]
    wait_for(lambda: WorkerRow.objects.count() == 3, message="three workers registered")
    specs = build_graph(random.Random(15))
    jobs = enqueue_many(specs)
    by_ref = {spec["ref"]: job.pk for spec, job in zip(specs, jobs, strict=True)}

    def finished():
        return Job.objects.filter(status__in=FINISHED).count() == len(jobs)

    wait_for(finished, timeout=120, message="every job finished")
    statuses = dict(Job.objects.values_list("pk", "status"))
    assert statuses[by_ref["bad"]] == JobStatus.FAILED
    assert statuses[by_ref["doomed"]] == JobStatus.CANCELLED
    assert statuses[by_ref["after"]] == JobStatus.CANCELLED
    cancelled = {by_ref["doomed"], by_ref["after"], by_ref["bad"]}
    assert all(statuses[pk] == JobStatus.COMPLETED for pk in set(statuses) - cancelled)

    # Each job that ran, ran once: released exactly once, never claimed twice.
    runs = Counter(JobHistory.objects.values_list("job_id", flat=True))
    assert set(runs) == set(statuses) - {by_ref["doomed"], by_ref["after"]}
    assert set(runs.values()) == {1}

    # No dependent started before every one of its dependencies had ended.
    results = dict(JobHistory.objects.values_list("job_id", "result"))
    waits: dict[int, list[int]] = {}
    for job_id, dep in JobDependency.objects.values_list("job_id", "depends_on_id"):
        waits.setdefault(job_id, []).append(dep)
    for job_id, deps in waits.items():
        if job_id not in results:
            continue
        ran = [dep for dep in deps if statuses[dep] == JobStatus.COMPLETED]
        assert results[job_id]["deps"] == sorted(ran)
        assert all(results[job_id]["start"] >= results[dep]["end"] for dep in ran)
    assert all(w.poll() is None for w in workers)
    assert not JobDependency.objects.filter(settled=False).exists()
    assert not Job.objects.filter(waiting_on__gt=0, status=JobStatus.PENDING).exists()


def test_a_dependency_put_back_for_good_by_a_stopping_worker_cancels_its_dependent(
    runjobs, wait_for
):
    from django_jobs import enqueue

    dep = enqueue("sleep", {"seconds": 30, "cooperative": False}, max_attempts=1)
    waiting = enqueue("echo", depends_on=[dep])
    worker = runjobs()
    wait_for(lambda: Job.objects.filter(pk=dep.pk, status=JobStatus.RUNNING).exists())
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(timeout=settings.DJANGO_JOBS["SHUTDOWN_GRACE"] + 15) == 0
    assert Job.objects.get(pk=dep.pk).status == JobStatus.FAILED
    waiting = Job.objects.get(pk=waiting.pk)
    assert waiting.status == JobStatus.CANCELLED
    assert f"job {dep.pk}" in waiting.last_error
