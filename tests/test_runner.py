"""``django_jobs.runner``: the runner switch's Python API, and what obeys it."""

from datetime import timedelta

import pytest
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from django_jobs import enqueue, runner
from django_jobs.models import Job, JobStatus, Runner, Worker
from django_jobs.worker import WorkerLoop

pytestmark = pytest.mark.django_db


def worker_row(name, age_seconds):
    return Worker.objects.create(
        name=name,
        hostname="box",
        pid=1,
        queues="default",
        concurrency=2,
        last_heartbeat=timezone.now() - timedelta(seconds=age_seconds),
    )


def test_stop_and_start_switch_every_worker():
    job = enqueue("noop")
    assert runner.stop().running is False
    assert runner.is_running() is False and Runner.objects.get().running is False
    assert WorkerLoop(listen=False).run_once() == 0
    assert Job.objects.get(pk=job.pk).status == JobStatus.PENDING
    assert runner.start().running is True
    assert WorkerLoop(listen=False).run_once() == 1
    assert Job.objects.get(pk=job.pk).status == JobStatus.COMPLETED


def test_status_lists_workers_and_counts_the_live_ones():
    worker_row("fresh", 0)
    worker_row("stale", 600)
    busy = worker_row("busy", 0.5)
    job = enqueue("noop", name="busy job")
    Job.objects.filter(pk=job.pk).update(
        status=JobStatus.RUNNING, worker=busy, started_at=timezone.now(), next_run_at=None
    )
    state = runner.status()
    assert state.running is True
    assert state.live_workers == 2
    by_name = {worker.name: worker for worker in state.workers}
    assert by_name["stale"].alive is False and by_name["fresh"].alive is True
    assert by_name["busy"].running_jobs[0]["name"] == "busy job"
    assert by_name["busy"].concurrency == 2 and by_name["busy"].queues == ["default"]


def test_runner_enabled_is_the_switch_until_somebody_uses_it():
    with override_settings(DJANGO_JOBS={"RUNNER_ENABLED": False}):
        enqueue("noop")
        assert runner.is_running() is False
        assert WorkerLoop(listen=False).run_once() == 0
        runner.start()
        assert runner.is_running() is True
    with override_settings(DJANGO_JOBS={"RUNNER_ENABLED": False}):
        assert runner.is_running() is True  # the row decides once it exists


def test_auto_start_no_longer_sets_the_switch():
    with override_settings(DJANGO_JOBS={"AUTO_START": False}):
        assert runner.is_running() is True


def test_the_api_reports_live_workers(admin_client):
    worker_row("fresh", 0)
    worker_row("stale", 600)
    body = admin_client.get("/api/jobs/runner").json()
    assert body["live_workers"] == 1 and len(body["workers"]) == 2


def test_the_admin_runner_button_shows_the_live_workers(admin_client):
    url = reverse("admin:django_jobs_job_changelist")
    assert "0 live workers" in admin_client.get(url).content.decode()
    worker_row("fresh", 0)
    worker_row("stale", 600)
    assert "1 live worker\n" in admin_client.get(url).content.decode()
    worker_row("another", 0)
    assert "2 live workers" in admin_client.get(url).content.decode()
