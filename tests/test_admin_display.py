"""What the admin shows: instants to the second, failed jobs, history titles and results."""

from datetime import datetime, timezone

import pytest
from django.urls import reverse

from django_jobs import enqueue
from django_jobs.models import Job, JobHistory, JobStatus, RunStatus, Worker

pytestmark = pytest.mark.django_db

WHEN = datetime(2030, 1, 2, 3, 4, 5, tzinfo=timezone.utc)


def page(client, name, *args):
    return client.get(reverse(f"admin:{name}", args=args)).content.decode()


def failed_job():
    job = enqueue("fail", name="nightly export")
    error = "RuntimeError: boom\n\nTraceback (most recent call last):\n  File x\nRuntimeError: boom"
    Job.objects.filter(pk=job.pk).update(
        status=JobStatus.FAILED, next_run_at=None, attempts=3, last_error=error, last_run_at=WHEN
    )
    return job


def test_instants_have_seconds_and_one_format_everywhere(admin_client):
    job = enqueue("echo", name="later", run_at=WHEN)
    run = JobHistory.objects.create(
        job=job, status=RunStatus.COMPLETED, attempt=2, scheduled_for=WHEN, started_at=WHEN,
        completed_at=WHEN, result={"sent": 3}, duration=12,
    )  # fmt: skip
    shown = "2030-01-02 03:04:05 UTC"
    listing = page(admin_client, "django_jobs_job_changelist")
    assert "2030-01-02</span> <span" in listing and "03:04:05 UTC" in listing
    assert "Jan. 2, 2030" not in listing
    job_page = page(admin_client, "django_jobs_job_change", job.pk)
    assert shown in job_page and "Jan. 2, 2030" not in job_page
    history = page(admin_client, "django_jobs_jobhistory_change", run.pk)
    assert history.count(shown) == 3  # scheduled, started, completed
    runs = page(admin_client, "django_jobs_jobhistory_changelist")
    assert "03:04:05 UTC" in runs and "Jan. 2, 2030" not in runs


def test_a_failed_jobs_page_starts_with_its_status_and_traceback(admin_client):
    job = failed_job()
    body = page(admin_client, "django_jobs_job_change", job.pk)
    first_section = body.index("<h2")
    assert body.index("Failed</span>") < body.index("Traceback (most recent call last)")
    assert body.index("Traceback (most recent call last)") < body.index('name="name"')
    assert body.index("Failed</span>") > first_section
    assert body.count("Traceback (most recent call last)") == 1  # not repeated below


def test_a_pending_jobs_page_keeps_the_form_first(admin_client):
    job = enqueue("echo", name="plain")
    body = page(admin_client, "django_jobs_job_change", job.pk)
    assert body.index('name="name"') < body.index("Pending</span>")


def test_history_rows_are_titled_by_job_name_and_attempt(admin_client):
    job = enqueue("echo", name="weekly digest")
    run = JobHistory.objects.create(job=job, status=RunStatus.COMPLETED, attempt=2)
    assert str(run) == "weekly digest, attempt 2"
    assert "weekly digest, attempt 2" in page(admin_client, "django_jobs_jobhistory_change", run.pk)


def test_the_latest_runs_table_shows_results(admin_client):
    job = enqueue("echo", name="with results")
    JobHistory.objects.create(job=job, status=RunStatus.COMPLETED, result={"sent": 12})
    body = page(admin_client, "django_jobs_job_change", job.pk)
    assert "column-result_excerpt" in body
    assert "{&quot;sent&quot;: 12}" in body


def test_the_jobs_list_puts_the_handler_under_the_name(admin_client):
    enqueue("echo", name="tidy")
    listing = page(admin_client, "django_jobs_job_changelist")
    assert "column-handler" not in listing  # one column fewer: the list fits 1400 px
    assert "tidy<br>" in listing
    assert "column-name_and_handler" in listing


def test_the_runner_page_shows_instants_the_same_way(admin_client):
    Worker.objects.create(name="w", hostname="box", pid=1, started_at=WHEN)
    assert "2030-01-02 03:04:05 UTC" in page(admin_client, "django_jobs_job_runner")
