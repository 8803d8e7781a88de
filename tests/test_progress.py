"""``ctx.progress``: validated, throttled, written apart from the outcome, reset per attempt."""

import pytest
from django.core.management import call_command

from django_jobs import RetryAfter, enqueue
from django_jobs.models import Job, JobStatus
from django_jobs.progress import writer
from django_jobs.testing import run_jobs

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_million_calls_write_a_handful_of_rows_and_the_last_value(temp_handler):
    def loop(data, ctx):
        n = 1_000_000
        for i in range(n):
            ctx.progress(i / n, f"row {i}")
        ctx.progress(1, "x" * 500)
        return "done"

    temp_handler("progress_loop", loop)
    job = enqueue("progress_loop")
    before = writer().writes
    assert run_jobs() == 1
    writes = writer().writes - before
    job.refresh_from_db()
    assert job.status == JobStatus.COMPLETED
    assert (job.progress, job.progress_message) == (1.0, "x" * 200)
    assert job.progress_at is not None
    # One a second at most, plus the last one: a few, never a million.
    assert 1 <= writes <= 60


def test_progress_is_visible_while_the_job_runs_and_reset_by_the_next_attempt(
    temp_handler, runjobs, wait_for
):
    job = enqueue("progress_then_wait", {"seconds": 30}, max_attempts=2)
    proc = runjobs("--once")
    wait_for(
        lambda: Job.objects.filter(pk=job.pk, progress=0.25).exists(),
        message="progress written while running",
    )
    row = Job.objects.get(pk=job.pk)
    assert (row.status, row.progress_message) == (JobStatus.RUNNING, "a quarter")
    proc.kill()
    proc.wait()


def test_a_bad_fraction_fails_the_attempt(temp_handler):
    def bad(data, ctx):
        ctx.progress(data["f"])

    temp_handler("progress_bad", bad)
    jobs = [enqueue("progress_bad", {"f": f}, max_attempts=1) for f in (-0.1, 1.5, "half", None)]
    run_jobs()
    for job in jobs:
        job.refresh_from_db()
        assert job.status == JobStatus.FAILED
        assert job.last_error.startswith("ValueError: progress must be")
        assert job.progress is None


def test_a_new_attempt_starts_without_the_last_ones_progress(temp_handler):
    seen = []

    def flaky(data, ctx):
        seen.append(Job.objects.values_list("progress", "progress_message").get(pk=ctx.job_id))
        if ctx.attempt == 1:
            ctx.progress(0.5, "half way")
            raise RetryAfter(0)
        return None

    temp_handler("progress_flaky", flaky)
    job = enqueue("progress_flaky", max_attempts=2)
    call_command("runjobs", "--once")
    job.refresh_from_db()
    assert job.status == JobStatus.COMPLETED
    assert seen == [(None, ""), (None, "")]
    assert job.progress is None


def test_async_handlers_report_progress(temp_handler):
    async def work(data, ctx):
        ctx.progress(0.3, "async")

    temp_handler("progress_async", work)
    job = enqueue("progress_async")
    run_jobs()
    job.refresh_from_db()
    assert (job.progress, job.progress_message) == (0.3, "async")


@pytest.fixture
def reported(temp_handler):
    def work(data, ctx):
        ctx.progress(0.42, "importing rows")

    temp_handler("progress_shown", work)
    job = enqueue("progress_shown")
    run_jobs()
    return job


def test_the_api_admin_and_dashboard_show_progress(admin_client, reported):
    from django.urls import reverse

    body = admin_client.get(f"/api/jobs/{reported.pk}").json()
    assert (body["progress"], body["progress_message"]) == (0.42, "importing rows")
    assert body["progress_at"]
    # Read-only: a PATCH that names it is refused or ignored, never stored.
    admin_client.patch(
        f"/api/jobs/{reported.pk}", {"progress": 0.9}, content_type="application/json"
    )
    assert Job.objects.get(pk=reported.pk).progress == 0.42
    listing = admin_client.get(reverse("admin:django_jobs_job_changelist")).content.decode()
    assert "42% importing rows" in listing
    change = admin_client.get(reverse("admin:django_jobs_job_change", args=[reported.pk]))
    assert "42% importing rows" in change.content.decode()
    page = admin_client.get(reverse("django_jobs_dashboard:job", args=[reported.pk]))
    assert page.status_code == 200
    assert "42% importing rows" in page.content.decode()
