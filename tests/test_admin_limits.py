"""Limits in the admin: each limit's use, and the (limit, key) rows with their jobs."""

import pytest
from django.conf import settings
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from django_jobs import enqueue_many, limits
from django_jobs.models import Job, JobStatus, LimitKey
from django_jobs.worker import liveness

pytestmark = pytest.mark.django_db

LIMITS = {"mailer": {"concurrency": 1, "rate": "10/m"}, "idle": {"concurrency": 3}}


@pytest.fixture(autouse=True)
def configured():
    with override_settings(DJANGO_JOBS={**settings.DJANGO_JOBS, "LIMITS": LIMITS}):
        yield


def test_the_limits_page_shows_each_limit_its_use_and_what_waits(admin_client):
    enqueue_many([{"handler": "noop", "limit": "mailer", "limit_key": "c-1"} for _ in range(3)])
    worker = liveness.register(None, 4, "default")
    (taken,) = limits.claim(worker, None, 4, timezone.now(), "default")
    assert Job.objects.get(pk=taken.job.pk).status == JobStatus.RUNNING
    assert LimitKey.objects.filter(limit="mailer", key="c-1").exists()
    page = admin_client.get(reverse("admin:django_jobs_limitkey_changelist"))
    assert page.status_code == 200
    html = page.content.decode()
    assert '<th scope="row">mailer</th>' in html and '<th scope="row">idle</th>' in html
    assert "10 per 60 s" in html
    # The key's row: 1 running, 2 waiting.
    (row,) = page.context["cl"].result_list
    assert (row.limit, row.key, row.running_jobs, row.waiting_jobs) == ("mailer", "c-1", 1, 2)
    mailer = next(item for item in page.context["limits"] if item["name"] == "mailer")
    assert (mailer["running"], mailer["started_in_window"], mailer["waiting"]) == (1, 1, 2)


def test_the_limit_rows_are_read_only(admin_client):
    LimitKey.objects.create(limit="mailer", key="")
    row = LimitKey.objects.get()
    assert admin_client.get(reverse("admin:django_jobs_limitkey_add")).status_code == 403
    deleting = reverse("admin:django_jobs_limitkey_delete", args=[row.pk])
    assert admin_client.post(deleting, {"post": "yes"}).status_code == 403
    assert LimitKey.objects.exists()
