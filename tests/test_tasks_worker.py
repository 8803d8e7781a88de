"""Tasks run by the worker: results, errors, retries, context, signals, queues, schedules."""

import sys
from datetime import timedelta

import pytest
from django.test import override_settings
from django.utils import timezone

from django_jobs.tasks import discovery

if not discovery.framework_installed():
    pytest.skip("needs Django 6 or the django_tasks backport", allow_module_level=True)

from django_jobs import steering
from django_jobs.creating import sync_declared
from django_jobs.models import Job, JobHistory, JobStatus
from django_jobs.tasks.compat import (
    TaskResultStatus,
    task,
    task_backends,
    task_finished,
    task_started,
)
from django_jobs.worker import WorkerLoop
from tests.taskapp import tasks

pytestmark = pytest.mark.django_db(transaction=True)


def run(now=None, **kwargs):
    return WorkerLoop(listen=False, **kwargs).run_once(now=now)


def later(seconds=60):
    return timezone.now() + timedelta(seconds=seconds)


@pytest.fixture
def task_signals():
    received = []

    def capture(signal_name):
        def receiver(sender, task_result, **kwargs):
            received.append((signal_name, sender, task_result.id, task_result.status))

        return receiver

    started, finished = capture("started"), capture("finished")
    task_started.connect(started, dispatch_uid="test_started", weak=False)
    task_finished.connect(finished, dispatch_uid="test_finished", weak=False)
    yield received
    task_started.disconnect(dispatch_uid="test_started")
    task_finished.disconnect(dispatch_uid="test_finished")


def test_run_enqueued_task():
    result = tasks.calculate.enqueue(2, 3, times=4)
    assert run() == 1
    assert result.status == TaskResultStatus.READY  # a result is a snapshot until refreshed
    result.refresh()
    assert result.status == TaskResultStatus.SUCCESSFUL and result.is_finished
    assert result.return_value == 20
    assert result.attempts == 1 and result.errors == []
    (row,) = JobHistory.objects.filter(job_id=int(result.id))
    assert result.worker_ids == [row.worker] and row.worker
    assert result.enqueued_at <= result.started_at <= result.finished_at
    assert result.last_attempted_at == result.started_at
    assert Job.objects.get(pk=int(result.id)).status == JobStatus.COMPLETED


def test_async_task_runs():
    result = tasks.async_calculate.enqueue(5, 6)
    run()
    result.refresh()
    assert (result.status, result.return_value) == (TaskResultStatus.SUCCESSFUL, 11)


def test_failing_task_is_retried_then_failed():
    result = tasks.failing.enqueue()
    run()
    result.refresh()
    # A failed attempt with retries left: ready again, its error kept.
    assert result.status == TaskResultStatus.READY
    assert result.attempts == 1 and len(result.errors) == 1
    run(now=later())
    run(now=later(120))
    result.refresh()
    assert result.status == TaskResultStatus.FAILED
    assert result.attempts == 3 and len(result.errors) == 3
    with pytest.raises(ValueError, match="Task failed"):
        result.return_value  # noqa: B018
    error = result.errors[-1]
    assert error.exception_class_path == "builtins.ValueError"
    assert error.exception_class is ValueError
    assert error.traceback.startswith("Traceback (most recent call last):")
    assert error.traceback.endswith("ValueError: this task failed on purpose\n")
    assert result.last_attempted_at > result.started_at  # the third attempt, not the first
    assert result.finished_at >= result.started_at


def test_max_attempts_option_and_a_custom_exception():
    result = tasks.once.enqueue()
    run()
    result.refresh()
    assert result.status == TaskResultStatus.FAILED and result.attempts == 1
    assert result.errors[0].exception_class is RuntimeError

    custom = tasks.failing_custom.using(max_attempts=1).enqueue()
    run()
    custom.refresh()
    (error,) = custom.errors
    assert error.exception_class_path == "tests.taskapp.tasks.CustomError"
    assert error.exception_class is tasks.CustomError
    assert error.traceback.endswith("CustomError: a custom\nmulti-line message\n")


def test_a_return_value_json_cannot_hold_fails_the_attempt():
    result = tasks.complex_return_value.using(max_attempts=1).enqueue()
    run()
    result.refresh()
    assert result.status == TaskResultStatus.FAILED
    assert result.errors[0].exception_class is TypeError
    assert "Unsupported type" in result.errors[0].traceback


def test_context_holds_the_attempt_and_the_stored_result():
    result = tasks.context_task.enqueue("hello")
    run()
    result.refresh()
    assert result.return_value == {
        "label": "hello",
        "attempt": 1,
        "id": result.id,
        "status": "RUNNING",
        "workers": 1,
    }


def test_context_attempt_counts_retries():
    result = tasks.flaky.enqueue()
    run()
    run(now=later())
    result.refresh()
    assert result.status == TaskResultStatus.SUCCESSFUL
    assert result.return_value == {"attempt": 2, "errors": 1}
    assert result.attempts == 2 and len(result.errors) == 1


def test_async_task_with_context():
    result = tasks.async_context.enqueue()
    run()
    result.refresh()
    assert result.return_value == 1


def test_started_and_finished_signals(task_signals):
    from django_jobs.tasks import JobsBackend

    ok = tasks.noop.enqueue()
    bad = tasks.once.enqueue()
    run()
    assert sorted(task_signals) == sorted(
        [
            ("started", JobsBackend, ok.id, TaskResultStatus.RUNNING),
            ("finished", JobsBackend, ok.id, TaskResultStatus.SUCCESSFUL),
            ("started", JobsBackend, bad.id, TaskResultStatus.RUNNING),
            ("finished", JobsBackend, bad.id, TaskResultStatus.FAILED),
        ]
    )


def test_a_retried_attempt_does_not_finish_the_task(task_signals):
    result = tasks.flaky.enqueue()
    run()
    assert [s[0] for s in task_signals] == ["started"]
    run(now=later())
    assert [(s[0], s[3]) for s in task_signals] == [
        ("started", TaskResultStatus.RUNNING),
        ("started", TaskResultStatus.RUNNING),
        ("finished", TaskResultStatus.SUCCESSFUL),
    ]
    assert {s[2] for s in task_signals} == {result.id}


def test_finished_signal_carries_the_outcome():
    seen = []

    def receiver(sender, task_result, **kwargs):
        seen.append(task_result)

    task_finished.connect(receiver, dispatch_uid="test_outcome", weak=False)
    try:
        tasks.calculate.enqueue(1, 2)
        tasks.once.enqueue()
        run(concurrency=1)
    finally:
        task_finished.disconnect(dispatch_uid="test_outcome")
    by_status = {r.status: r for r in seen}
    assert by_status[TaskResultStatus.SUCCESSFUL].return_value == 3
    failed = by_status[TaskResultStatus.FAILED]
    assert failed.errors[0].exception_class is RuntimeError
    assert failed.attempts == 1 and failed.worker_ids[0]


def test_a_cancelled_task_reads_as_failed():
    result = tasks.noop.using(run_after=later()).enqueue()
    steering.cancel(int(result.id))
    result.refresh()
    assert result.status == TaskResultStatus.FAILED
    (error,) = result.errors
    assert error.exception_class_path == "django_jobs.tasks.exceptions.TaskCancelled"
    assert error.exception_class.__name__ == "TaskCancelled"
    assert result.finished_at is not None


def test_queues_and_priority_order():
    mail = tasks.send_mail.enqueue("a@example.com")
    plain = tasks.noop.enqueue()
    assert run(queues=["mail"]) == 1
    assert task_backends["default"].get_result(mail.id).status == TaskResultStatus.SUCCESSFUL
    assert task_backends["default"].get_result(plain.id).status == TaskResultStatus.READY

    low = tasks.noop.using(priority=-10).enqueue()
    high = tasks.noop.using(priority=10).enqueue()
    run(concurrency=1, batch_size=1)
    order = list(
        JobHistory.objects.filter(job_id__in=[int(r.id) for r in (plain, low, high)])
        .order_by("id")
        .values_list("job_id", flat=True)
    )
    assert order == [int(high.id), int(plain.id), int(low.id)]


def test_deferred_task_runs_when_due():
    when = later(3600)
    result = tasks.noop.using(run_after=when).enqueue()
    assert run() == 0
    assert run(now=when) == 1
    result.refresh()
    assert result.status == TaskResultStatus.SUCCESSFUL


def test_a_job_naming_an_unregistered_task_fails_without_importing_it():
    job = Job.objects.create(
        name="gone",
        handler="tests.taskapp.trap.vanished",
        data={"args": [], "kwargs": {}},
        max_attempts=1,
        next_run_at=timezone.now(),
        scheduled_for=timezone.now(),
    )
    run()
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED
    assert "no handler is registered under the name 'tests.taskapp.trap.vanished'" in (
        job.last_error
    )
    assert "tests.taskapp.trap" not in sys.modules


def test_bad_task_data_fails_with_the_reason(temp_handler):
    job = Job.objects.create(
        name="bad",
        handler="tests.taskapp.tasks.noop",
        data=[1, 2],
        max_attempts=1,
        next_run_at=timezone.now(),
        scheduled_for=timezone.now(),
    )
    run()
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED
    assert 'a task\'s data must be {"args": [...], "kwargs": {...}}' in job.last_error


@pytest.fixture
def nightly():
    def nightly_report():
        return "done"

    nightly_report.__module__, nightly_report.__qualname__ = "tests.taskapp.nightly", "nightly"
    yield task(nightly_report, schedule="0 3 * * *", timezone="Europe/Paris", max_attempts=2)
    discovery.scheduled.pop("tests.taskapp.nightly.nightly", None)
    from django_jobs.registry import registry

    registry.unregister("tests.taskapp.nightly.nightly")


def test_a_scheduled_task_becomes_a_recurring_job(nightly):
    (job,) = [j for j in sync_declared() if j.handler == nightly.module_path]
    assert (job.name, job.schedule) == (nightly.module_path, "0 3 * * *")
    assert job.timezone == "Europe/Paris"
    assert job.max_attempts == 2 and job.data == {"args": [], "kwargs": {}, "backend": "default"}
    slot = job.next_run_at
    assert run(now=slot) == 1
    result = task_backends["default"].get_result(str(job.pk))
    assert result.status == TaskResultStatus.READY  # on to its next slot
    assert result.attempts == 0
    assert JobHistory.objects.get(job=job).result == "done"
    # Syncing again updates the same job.
    assert [j.pk for j in sync_declared() if j.handler == nightly.module_path] == [job.pk]


def test_a_declared_schedule_is_checked(nightly):
    from django_jobs.creating import declared_schedules

    assert nightly.module_path in declared_schedules(validate=True)


@override_settings(DJANGO_JOBS={"ENABLE_HISTORY": False, "POLL_INTERVAL": 0.05})
def test_without_history_a_result_still_reads_right():
    result = tasks.calculate.enqueue(1, 1)
    run()
    result.refresh()
    assert result.status == TaskResultStatus.SUCCESSFUL and result.attempts == 1
    assert result.return_value is None  # return values live in the history


@pytest.mark.subprocess
def test_runjobs_discovers_tasks_modules(worker_env, manage_cmd):
    import subprocess

    result = tasks.calculate.enqueue(20, 22)
    proc = subprocess.run(
        [*manage_cmd, "runjobs", "--once", "--no-sync"],
        env=worker_env,
        capture_output=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr.decode()
    result.refresh()
    assert (result.status, result.return_value) == (TaskResultStatus.SUCCESSFUL, 42)


def test_task_jobs_show_in_the_api_the_admin_and_the_dashboard(admin_client):
    from django.urls import reverse

    result = tasks.calculate.enqueue(1, 2)
    run()
    body = admin_client.get(f"/api/jobs/{result.id}").json()
    assert body["handler"] == "tests.taskapp.tasks.calculate"
    assert body["data"] == {"args": [1, 2], "kwargs": {}, "backend": "default"}
    assert body["status"] == "completed"
    handlers = {h["name"] for h in admin_client.get("/api/jobs/handlers").json()}
    assert "tests.taskapp.tasks.calculate" in handlers
    page = admin_client.get(reverse("admin:django_jobs_job_change", args=[int(result.id)]))
    assert page.status_code == 200
    assert b"tests.taskapp.tasks.calculate" in page.content
    listed = admin_client.get(
        reverse("django_jobs_dashboard:jobs"), {"handler": "tests.taskapp.tasks.calculate"}
    )
    assert [job.pk for job in listed.context["rows"]] == [int(result.id)]
    detail = admin_client.get(reverse("django_jobs_dashboard:job", args=[int(result.id)]))
    assert detail.status_code == 200 and len(detail.context["runs"]) == 1


def test_a_failed_task_retried_through_steering_runs_again():
    result = tasks.once.enqueue()
    run()
    result.refresh()
    assert result.status == TaskResultStatus.FAILED
    steering.retry(int(result.id))
    result.refresh()
    assert result.status == TaskResultStatus.READY


def test_a_cancelled_pending_task_finishes_failed(task_signals):
    result = tasks.noop.using(run_after=later()).enqueue()
    seen = []
    task_finished.connect(
        lambda sender, task_result, **kw: seen.append(task_result),
        weak=False,
        dispatch_uid="test_cancel_seen",
    )
    try:
        steering.cancel(int(result.id))
    finally:
        task_finished.disconnect(dispatch_uid="test_cancel_seen")
    assert [(s[0], s[3]) for s in task_signals] == [("finished", TaskResultStatus.FAILED)]
    assert seen[0].errors[-1].exception_class_path == ("django_jobs.tasks.exceptions.TaskCancelled")


def test_a_task_cancelled_while_running_finishes_once(task_signals, wait_for):
    import threading

    result = tasks.slow.enqueue(1.0)
    worker = threading.Thread(target=run)
    worker.start()
    try:
        wait_for(lambda: Job.objects.filter(pk=int(result.id), status=JobStatus.RUNNING).exists())
        steering.cancel(int(result.id))
    finally:
        worker.join(30)
    result.refresh()
    assert result.status == TaskResultStatus.FAILED
    finished = [s for s in task_signals if s[0] == "finished"]
    assert finished == [("finished", finished[0][1], result.id, TaskResultStatus.FAILED)]


def test_a_timed_out_attempt_reads_as_a_timeout_error():
    result = tasks.slow.using(timeout=0.3, max_attempts=1).enqueue(1.5)
    run()
    result.refresh()
    assert result.status == TaskResultStatus.FAILED
    (error,) = result.errors
    assert error.exception_class is TimeoutError
    assert "ran past its timeout of 0.3s" in error.traceback


@pytest.mark.parametrize(
    "stored",
    [
        "interrupted: the worker stopped before the job finished",
        "worker lost: no heartbeat from w1 for 60s while the job was running",
    ],
)
def test_an_attempt_that_ended_without_an_exception_names_attempt_failed(stored):
    from django_jobs.tasks.results import error_of

    error = error_of(stored)
    assert error.exception_class_path == "django_jobs.tasks.exceptions.AttemptFailed"
    assert error.traceback == stored


def test_the_frameworks_own_logging_still_logs_when_its_logger_is_on(caplog):
    import logging

    from django_jobs.tasks.compat import framework_signals

    name = framework_signals.logger.name
    ok = tasks.noop.enqueue()
    bad = tasks.once.enqueue()
    with caplog.at_level(logging.DEBUG, logger=name):
        later_ok = tasks.noop.enqueue()
        run()
    lines = [(r.levelno, r.getMessage()) for r in caplog.records if r.name == name]
    assert (
        logging.DEBUG,
        f"Task id={later_ok.id} path={later_ok.task.module_path} enqueued backend=default",
    ) in lines
    for result, state, level in [(ok, "SUCCESSFUL", logging.INFO), (bad, "FAILED", logging.ERROR)]:
        path = result.task.module_path
        assert (logging.INFO, f"Task id={result.id} path={path} state=RUNNING") in lines
        assert (level, f"Task id={result.id} path={path} state={state}") in lines


def test_a_failed_task_is_logged_by_the_framework_at_its_default_levels(caplog):
    from django_jobs.tasks.compat import framework_signals

    bad = tasks.once.enqueue()
    run()
    name = framework_signals.logger.name
    failed = [r for r in caplog.records if r.name == name and "state=FAILED" in r.getMessage()]
    assert [r.getMessage() for r in failed] == [
        f"Task id={bad.id} path={bad.task.module_path} state=FAILED"
    ]
