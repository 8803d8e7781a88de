"""The new cron forms as the API, the schedule preview and the admin show them."""

from __future__ import annotations

import pytest
from django.urls import reverse

from django_jobs import schedule

pytest_plugins = ["tests.api_fixtures"]
pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("expression", "words"),
    [
        ("0 18 LW * *", "at 18:00 on the last weekday of every month"),
        ("0 0 15W * *", "at 00:00 on the weekday nearest the 15th of every month"),
        ("0 9 * * FRIL", "at 09:00 on the last Friday of every month (Europe/Paris)"),
        ("0 0 L-2 * *", "at 00:00 on the 2nd day before the last day of every month"),
    ],
)
def test_api_and_admin_describe_the_new_forms(api, admin_client, expression, words):
    zone = "Europe/Paris" if "Paris" in words else "UTC"
    job = schedule("Month end", "echo", expression, timezone=zone)
    assert api.get(f"/api/jobs/{job.pk}").json()["schedule_description"] == words
    changelist = admin_client.get(reverse("admin:django_jobs_job_changelist"))
    assert words in changelist.content.decode()


def test_schedule_preview_describes_and_runs_a_new_form(api):
    body = api.post(
        "/api/jobs/schedule/validate",
        {"schedule": "0 9 * * 5L", "timezone": "UTC", "count": 2},
        format="json",
    ).json()
    assert body["description"] == "at 09:00 on the last Friday of every month"
    assert len(body["next_runs"]) == 2


def test_schedule_preview_names_the_odd_whitespace(api):
    response = api.post(
        "/api/jobs/schedule/validate", {"schedule": "0\u00a09 * * *"}, format="json"
    )
    assert response.status_code == 400
    assert "U+00A0 NO-BREAK SPACE" in response.json()["schedule"][0]
