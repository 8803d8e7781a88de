"""JobsBackend through Django's own API: enqueue, results, defer, priority, queues, transactions.

Modelled on the behaviours the database backend of the django-tasks backport checks.
"""

from datetime import timedelta

import pytest
from asgiref.sync import async_to_sync
from django.db import connection, connections, transaction
from django.test import override_settings
from django.utils import timezone

from django_jobs.tasks import discovery

if not discovery.framework_installed():
    pytest.skip("needs Django 6 or the django_tasks backport", allow_module_level=True)

from django_jobs.models import Job, JobStatus
from django_jobs.registry import registry
from django_jobs.tasks import JobsBackend, JobsTask
from django_jobs.tasks.compat import (
    InvalidTask,
    TaskResultDoesNotExist,
    TaskResultStatus,
    task,
    task_backends,
    task_enqueued,
)
from tests.taskapp import tasks

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def enqueued_signals():
    received = []

    def capture(sender, task_result, **kwargs):
        received.append((sender, task_result))

    task_enqueued.connect(capture, dispatch_uid="test_enqueued", weak=False)
    yield received
    task_enqueued.disconnect(dispatch_uid="test_enqueued")


def test_the_configured_backend_is_ours():
    backend = task_backends["default"]
    assert isinstance(backend, JobsBackend)
    assert backend.supports_defer and backend.supports_priority
    assert backend.supports_get_result and backend.supports_async_task
    assert isinstance(tasks.calculate, JobsTask)


@pytest.mark.parametrize("the_task", [tasks.calculate, tasks.async_calculate])
def test_enqueue_creates_a_ready_job(the_task, enqueued_signals):
    result = the_task.enqueue(1, b=2)
    assert result.status == TaskResultStatus.READY
    assert not result.is_finished
    assert result.started_at is None and result.finished_at is None
    assert result.last_attempted_at is None
    assert result.enqueued_at is not None
    assert result.attempts == 0 and result.worker_ids == [] and result.errors == []
    assert result.args == [1] and result.kwargs == {"b": 2}
    assert result.task == the_task and result.backend == "default"
    with pytest.raises(ValueError, match="Task has not finished yet"):
        result.return_value  # noqa: B018
    job = Job.objects.get(pk=int(result.id))
    assert job.handler == the_task.module_path == f"tests.taskapp.tasks.{the_task.name}"
    assert job.data == {"args": [1], "kwargs": {"b": 2}, "backend": "default"}
    assert job.status == JobStatus.PENDING and job.queue == "default"
    assert enqueued_signals == [(JobsBackend, result)]


def test_aenqueue_and_aget_result(enqueued_signals):
    async def scenario():
        result = await tasks.async_calculate.aenqueue(2, 3)
        again = await task_backends["default"].aget_result(result.id)
        mine = await tasks.async_calculate.aget_result(result.id)
        return result, again, mine

    result, again, mine = async_to_sync(scenario)()
    assert result.status == TaskResultStatus.READY
    assert again == result and mine.args == [2, 3]
    assert enqueued_signals == [(JobsBackend, result)]


def test_get_result_reads_the_job_back():
    result = tasks.calculate.enqueue(4, 5, times=2)
    fetched = task_backends["default"].get_result(result.id)
    assert fetched == result
    assert fetched.task.func is tasks.calculate.func
    assert tasks.calculate.get_result(result.id).kwargs == {"times": 2}


@pytest.mark.parametrize("bad_id", ["123456789", "not-a-number", "", "1.5"])
def test_unknown_result_ids_raise(bad_id):
    with pytest.raises(TaskResultDoesNotExist):
        task_backends["default"].get_result(bad_id)


def test_unknown_result_ids_raise_async():
    with pytest.raises(TaskResultDoesNotExist):
        async_to_sync(task_backends["default"].aget_result)("987654321")


def test_a_plain_job_is_not_a_task_result():
    from django_jobs import enqueue

    job = enqueue("noop")
    with pytest.raises(TaskResultDoesNotExist):
        task_backends["default"].get_result(str(job.pk))


def test_refresh_sees_what_the_job_became():
    result = tasks.calculate.enqueue(1, 1)
    Job.objects.filter(pk=int(result.id)).update(status=JobStatus.RUNNING, attempts=1)
    assert result.status == TaskResultStatus.READY
    result.refresh()
    assert result.status == TaskResultStatus.RUNNING


@pytest.mark.parametrize(
    "args",
    [(object(),), (timezone.now(),), ({1, 2},), (float("nan"),)],
    ids=["object", "datetime", "set", "nan"],
)
def test_arguments_json_cannot_hold_are_refused(args):
    with pytest.raises((TypeError, ValueError)):
        tasks.noop.enqueue(*args)
    with pytest.raises((TypeError, ValueError)):
        tasks.noop.enqueue(value=args[0])
    assert not Job.objects.exists()


def test_json_like_arguments_are_normalised():
    result = tasks.noop.enqueue((1, 2), b"bytes", {"k": (3,)})
    assert result.args == [[1, 2], "bytes", {"k": [3]}]
    assert Job.objects.get().data["args"] == [[1, 2], "bytes", {"k": [3]}]


def test_run_after_defers_the_job():
    later = timezone.now() + timedelta(hours=2)
    result = tasks.noop.using(run_after=later).enqueue()
    job = Job.objects.get(pk=int(result.id))
    assert job.next_run_at == later
    assert Job.objects.due().count() == 0
    assert task_backends["default"].get_result(result.id).task.run_after == later


def test_run_after_must_be_aware():
    with pytest.raises(InvalidTask, match="aware"):
        tasks.noop.using(run_after=timezone.now().replace(tzinfo=None))


def test_priority_maps_onto_the_jobs_priority():
    high = tasks.noop.using(priority=100).enqueue()
    low = tasks.noop.using(priority=-100).enqueue()
    middle = tasks.noop.enqueue()
    assert Job.objects.get(pk=int(high.id)).priority == 100
    assert Job.objects.get(pk=int(low.id)).priority == -100
    assert [job.pk for job in Job.objects.due()] == [int(r.id) for r in (high, middle, low)]
    assert task_backends["default"].get_result(high.id).task.priority == 100


@pytest.mark.parametrize("priority", [101, -101, 1.5])
def test_priority_out_of_djangos_range_is_refused(priority):
    with pytest.raises(InvalidTask, match="priority"):
        tasks.noop.using(priority=priority)


def test_a_job_priority_beyond_djangos_range_reads_back_clamped():
    result = tasks.noop.enqueue()
    Job.objects.filter(pk=int(result.id)).update(priority=5000)
    assert task_backends["default"].get_result(result.id).task.priority == 100


def test_queue_name_becomes_the_jobs_queue():
    result = tasks.send_mail.enqueue("a@example.com")
    job = Job.objects.get(pk=int(result.id))
    assert (job.queue, job.priority) == ("mail", 50)
    assert result.task.queue_name == "mail"


def test_queue_not_in_queues_is_refused():
    with pytest.raises(InvalidTask, match="Queue 'unknown' is not valid for backend"):
        tasks.noop.using(queue_name="unknown")
    assert not Job.objects.exists()


def test_an_empty_queues_list_allows_any_queue_our_names_allow():
    other = tasks.noop.using(backend="other", queue_name="anything")
    result = other.enqueue()
    assert Job.objects.get(pk=int(result.id)).queue == "anything"
    assert result.backend == "other"
    assert task_backends["other"].get_result(result.id).backend == "other"
    with pytest.raises(InvalidTask, match="queue"):
        tasks.noop.using(backend="other", queue_name="a,b")


def test_aenqueue_checks_the_queue():
    with pytest.raises(InvalidTask, match="Queue 'nope' is not valid"):
        async_to_sync(tasks.noop.using(queue_name="nope").aenqueue)()


def test_options_beyond_djangos_reach_the_job():
    result = tasks.once.enqueue()
    job = Job.objects.get(pk=int(result.id))
    assert (job.max_attempts, job.timeout) == (1, 30.0)
    changed = tasks.once.using(max_attempts=7, timeout=2.5, priority=3)
    assert (changed.max_attempts, changed.timeout, changed.priority) == (7, 2.5, 3)
    job = Job.objects.get(pk=int(changed.enqueue().id))
    assert (job.max_attempts, job.timeout, job.priority) == (7, 2.5, 3)


@pytest.mark.parametrize(
    "options, message",
    [
        ({"max_attempts": 0}, "max_attempts"),
        ({"timeout": -1}, "timeout"),
        ({"schedule": "61 * * * *"}, "minute"),
        ({"schedule": "5m", "timezone": "Mars/Olympus"}, "zone"),
    ],
)
def test_bad_options_are_refused_at_decoration(options, message):
    def invalid():
        pass

    invalid.__module__, invalid.__qualname__ = "tests.taskapp.invalid", "invalid"
    with pytest.raises(InvalidTask, match=message):
        task(invalid, **options)
    assert "tests.taskapp.invalid.invalid" not in registry


def test_tasks_are_registered_under_their_module_path():
    entry = registry.get("tests.taskapp.tasks.calculate")
    assert entry.description == "Add two numbers."
    # using() copies do not replace the registered task
    tasks.calculate.using(priority=5)
    from django_jobs.tasks.handlers import task_for

    assert task_for("tests.taskapp.tasks.calculate") is tasks.calculate


def test_a_task_name_taken_by_a_plain_handler_is_refused(temp_handler):
    from django_jobs.exceptions import HandlerAlreadyRegistered

    def taken():
        pass

    taken.__module__, taken.__qualname__ = "tests.taskapp.taken", "taken"
    temp_handler("tests.taskapp.taken.taken", lambda data: None)
    with pytest.raises(HandlerAlreadyRegistered):
        task(taken)


def test_enqueued_inside_atomic_exists_only_after_commit():
    with transaction.atomic():
        result = tasks.noop.enqueue()
        assert Job.objects.filter(pk=int(result.id)).exists()
        if connection.vendor != "sqlite":  # SQLite's writer lock blocks other readers' view
            assert _count_in_another_connection() == 0
    assert _count_in_another_connection() == 1


def test_enqueued_inside_a_rolled_back_atomic_never_exists():
    with pytest.raises(RuntimeError), transaction.atomic():
        result = tasks.noop.enqueue()
        raise RuntimeError("roll back")
    assert not Job.objects.exists()
    with pytest.raises(TaskResultDoesNotExist):
        task_backends["default"].get_result(result.id)


def _count_in_another_connection():
    other = connections.create_connection("default")
    try:
        with other.cursor() as cursor:
            cursor.execute(f"SELECT COUNT(*) FROM {Job._meta.db_table}")
            return cursor.fetchone()[0]
    finally:
        other.close()


def test_backend_checks_pass():
    assert list(task_backends["default"].check()) == []


def test_backend_check_wants_the_app_installed():
    with override_settings(INSTALLED_APPS=["django.contrib.contenttypes"]):
        (error,) = task_backends["default"].check()
    assert error.id == "django_jobs.E101"
    assert "django_jobs" in error.hint


@override_settings(TASKS={"default": {"BACKEND": "django_jobs.tasks.JobsBackend"}})
def test_default_queues_is_only_default():
    with pytest.raises(InvalidTask, match="Queue 'mail'"):
        tasks.noop.using(queue_name="mail")


def test_a_result_built_at_enqueue_has_every_field_django_declares():
    from dataclasses import fields

    from django_jobs.tasks.compat import TaskResult

    result = tasks.calculate.enqueue(1, 2)
    for field in fields(TaskResult):
        getattr(result, field.name)
    assert result == task_backends["default"].get_result(result.id)


def test_a_task_valid_at_definition_is_checked_again_under_new_settings():
    mail = tasks.send_mail.using(priority=1)
    with override_settings(TASKS={"default": {"BACKEND": "django_jobs.tasks.JobsBackend"}}):
        with pytest.raises(InvalidTask, match="Queue 'mail'"):
            mail.enqueue("a@example.com")
    assert not Job.objects.exists()


def test_nul_characters_in_arguments_are_refused():
    with pytest.raises(ValueError, match="task arguments refused"):
        tasks.noop.enqueue("a\x00b")
    assert not Job.objects.exists()
