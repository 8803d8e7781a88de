"""Unique keys for tasks: ``@task(unique_key=...)`` and ``.using(unique_key=...)``."""

import pytest
from django.db import transaction

from django_jobs.tasks import discovery

if not discovery.framework_installed():
    pytest.skip("needs Django 6 or the django_tasks backport", allow_module_level=True)

from django_jobs import enqueue
from django_jobs.exceptions import DuplicateJob, InvalidJob
from django_jobs.models import Job, JobStatus
from django_jobs.tasks.compat import InvalidTask, TaskResultStatus, task, task_enqueued
from django_jobs.worker import WorkerLoop
from tests.taskapp import tasks

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def enqueued_ids():
    received = []

    def capture(sender, task_result, **kwargs):
        received.append(task_result.id)

    task_enqueued.connect(capture, dispatch_uid="test_unique_enqueued", weak=False)
    yield received
    task_enqueued.disconnect(dispatch_uid="test_unique_enqueued")


def run():
    return WorkerLoop(listen=False).run_once()


def test_a_key_made_of_the_arguments_keeps_one_live_job_per_call(enqueued_ids):
    first = tasks.sync_user.enqueue(7, full=True)
    again = tasks.sync_user.enqueue(7, full=True)
    other = tasks.sync_user.enqueue(8, full=True)
    assert again.id == first.id and other.id != first.id
    assert again.status == TaskResultStatus.READY and again.args == [7]
    assert Job.objects.count() == 2
    assert enqueued_ids == [first.id, other.id]  # a duplicate enqueues nothing
    key = Job.objects.get(pk=int(first.id)).unique_key
    assert key.startswith("tests.taskapp.tasks.sync_user:")
    assert Job.objects.get(pk=int(other.id)).unique_key != key


def test_once_the_holder_finishes_the_key_is_free_again():
    first = tasks.sync_user.enqueue(1)
    assert run() == 1
    first.refresh()
    assert first.status == TaskResultStatus.SUCCESSFUL
    second = tasks.sync_user.enqueue(1)
    assert second.id != first.id and second.status == TaskResultStatus.READY


def test_a_duplicate_returns_what_the_holder_became():
    first = tasks.sync_user.enqueue(3)
    Job.objects.filter(pk=int(first.id)).update(status=JobStatus.RUNNING, attempts=1)
    again = tasks.sync_user.enqueue(3)
    assert again.id == first.id and again.status == TaskResultStatus.RUNNING


def test_a_key_from_a_function_of_the_arguments():
    a = tasks.import_feed.enqueue("https://example.com/a", depth=2)
    assert tasks.import_feed.enqueue("https://example.com/a").id == a.id
    assert Job.objects.get(pk=int(a.id)).unique_key == "tests:feed:https://example.com/a"
    # The function returns None: this call has no key.
    local = [tasks.import_feed.enqueue("local:x").id for _ in range(2)]
    assert local[0] != local[1]
    assert Job.objects.count() == 3


def test_on_conflict_raise():
    first = tasks.rebuild_index.enqueue()
    with pytest.raises(DuplicateJob) as raised:
        tasks.rebuild_index.enqueue()
    assert raised.value.unique_key == "tests:rebuild-index"
    assert raised.value.job.pk == int(first.id)
    returned = tasks.rebuild_index.using(on_conflict="return").enqueue()
    assert returned.id == first.id
    assert Job.objects.count() == 1


def test_using_sets_or_drops_a_key():
    keyed = tasks.noop.using(unique_key="tests:one-noop")
    assert keyed.unique_key == "tests:one-noop"
    assert keyed.enqueue(1).id == keyed.enqueue(2).id
    assert tasks.noop.enqueue().id != tasks.noop.enqueue().id
    unkeyed = tasks.sync_user.using(unique_key=False)
    assert unkeyed.enqueue(5).id != unkeyed.enqueue(5).id
    assert Job.objects.count() == 5


def test_a_key_held_by_a_plain_job_raises():
    holder = enqueue("noop", unique_key="tests:shared")
    with pytest.raises(DuplicateJob) as raised:
        tasks.noop.using(unique_key="tests:shared").enqueue()
    assert raised.value.job.pk == holder.pk
    assert Job.objects.count() == 1


def test_a_rolled_back_holder_leaves_the_key_free():
    with pytest.raises(RuntimeError), transaction.atomic():
        tasks.sync_user.enqueue(9)
        assert tasks.sync_user.enqueue(9).id  # the same job, inside the transaction
        raise RuntimeError("roll back")
    assert not Job.objects.exists()
    assert Job.objects.get(pk=int(tasks.sync_user.enqueue(9).id)).status == JobStatus.PENDING


@pytest.mark.parametrize(
    "options, message",
    [
        ({"unique_key": ""}, "unique_key"),
        ({"unique_key": "x" * 201}, "unique_key"),
        ({"unique_key": 5}, "unique_key"),
        ({"on_conflict": "ignore"}, "on_conflict"),
    ],
)
def test_bad_unique_options_are_refused_at_decoration(options, message):
    def invalid():
        pass

    invalid.__module__, invalid.__qualname__ = "tests.taskapp.invalid_unique", "invalid"
    with pytest.raises(InvalidTask, match=message):
        task(invalid, **options)
    with pytest.raises(InvalidTask, match=message):
        tasks.noop.using(**options)


def test_a_bad_key_from_the_function_refuses_the_call():
    with pytest.raises(InvalidJob, match="unique_key"):
        tasks.noop.using(unique_key=lambda *args: "").enqueue()
    assert not Job.objects.exists()


def test_the_key_shows_in_the_api(admin_client):
    result = tasks.rebuild_index.enqueue()
    body = admin_client.get(f"/api/jobs/{result.id}").json()
    assert body["unique_key"] == "tests:rebuild-index"
