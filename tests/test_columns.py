"""The fast paths that build model instances without their constructor."""

import pytest
from django.db.models.signals import post_init
from django.utils import timezone

from django_jobs import enqueue
from django_jobs.engines import rows as columns
from django_jobs.models import Job, JobHistory, RunStatus
from django_jobs.worker import WorkerLoop

pytestmark = pytest.mark.django_db(transaction=True)


def _attributes(obj):
    return {k: v for k, v in obj.__dict__.items() if k != "_state"}


def test_loader_builds_what_from_db_builds():
    job = enqueue("echo", {"x": [1, "two"]}, name="loaded")
    names = [f.attname for f in Job._meta.concrete_fields]
    values = list(Job.objects.filter(pk=job.pk).values_list(*names).get())
    loaded = columns.loader(Job, "default")(values)
    expected = Job.from_db("default", names, values)
    assert _attributes(loaded) == _attributes(expected)
    assert (loaded._state.adding, loaded._state.db) == (False, "default")
    assert loaded.data == {"x": [1, "two"]}
    loaded.name = "saved through the loaded instance"
    loaded.save(update_fields=["name"])
    assert Job.objects.get(pk=job.pk).name == "saved through the loaded instance"


def test_clones_are_independent_of_their_template():
    template = columns.instance(JobHistory, status=RunStatus.RUNNING, started_at=timezone.now())
    clone = columns.cloner(JobHistory)
    first, second = clone(template, attempt=7), clone(template, attempt=8)
    assert (first.attempt, second.attempt, template.attempt) == (7, 8, 1)
    assert first._state is not template._state and first._state.adding
    first.status = RunStatus.FAILED
    assert template.status == second.status == RunStatus.RUNNING


def test_init_listeners_see_every_instance_the_worker_builds():
    seen = []

    def listen(sender, instance, **kwargs):
        seen.append((sender, instance.pk if sender is Job else instance.job_id))

    job = enqueue("echo", {"x": 1})
    post_init.connect(listen, sender=Job)
    post_init.connect(listen, sender=JobHistory)
    try:
        WorkerLoop(concurrency=1).run_once()
    finally:
        post_init.disconnect(listen, sender=Job)
        post_init.disconnect(listen, sender=JobHistory)
    assert (Job, job.pk) in seen
    assert (JobHistory, job.pk) in seen
    assert Job.objects.get(pk=job.pk).status == "completed"
