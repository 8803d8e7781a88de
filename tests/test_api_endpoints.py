"""Runner, handlers, stats, schedule preview and bulk creation endpoints."""

from datetime import datetime, timedelta

import pytest
from django.test import override_settings
from django.utils import timezone

from django_jobs import runner
from django_jobs.models import Job, Runner
from django_jobs.registry import registry
from django_jobs.schedules import parse_schedule

pytest_plugins = ["tests.api_fixtures"]
pytestmark = pytest.mark.django_db


def post(client, url, body=None):
    return client.post(url, body, format="json")


# Runner --------------------------------------------------------------------------------


def test_runner_reports_the_switch_and_live_workers(api, make_job, make_worker):
    now = timezone.now()
    alive = make_worker("alive", queues="default,mail", concurrency=4, last_heartbeat=now)
    make_worker("stale", last_heartbeat=now - timedelta(minutes=10))
    job = make_job(name="busy", status="running", worker=alive, started_at=now)
    body = api.get("/api/jobs/runner").json()
    assert body["running"] is True
    by_name = {worker["name"]: worker for worker in body["workers"]}
    assert by_name["alive"]["alive"] is True
    assert by_name["alive"]["queues"] == ["default", "mail"]
    assert by_name["alive"]["running_jobs"][0]["id"] == job.pk
    assert by_name["alive"]["running_jobs"][0]["name"] == "busy"
    assert by_name["stale"]["alive"] is False
    assert by_name["stale"]["heartbeat_age"] >= 600
    assert by_name["stale"]["running_jobs"] == []


def test_runner_stop_and_start_switch_the_flag(api):
    body = post(api, "/api/jobs/runner/stop").json()
    assert body["running"] is False and "workers" in body
    assert runner.is_running() is False
    assert api.get("/api/jobs/runner/").json()["running"] is False
    assert post(api, "/api/jobs/runner/start/").json()["running"] is True
    assert Runner.objects.get().running is True


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("post", "/api/jobs/runner"),
        ("get", "/api/jobs/runner/start"),
        ("put", "/api/jobs/runner/stop"),
    ],
)
def test_runner_wrong_methods_are_405(api, method, url):
    assert getattr(api, method)(url).status_code == 405


# Handlers and stats ----------------------------------------------------------------------


def test_handlers_lists_registered_names_with_their_docstrings(api):
    body = api.get("/api/jobs/handlers").json()
    names = [entry["name"] for entry in body]
    assert names == registry.names()
    echo = next(entry for entry in body if entry["name"] == "echo")
    assert echo == {
        "name": "echo",
        "description": "Return the data it was given.",
        "is_async": False,
        "takes_ctx": False,
    }
    assert next(e for e in body if e["name"] == "async_echo")["is_async"] is True


def test_stats_counts_jobs(api, make_job):
    make_job()
    make_job(next_run_at=timezone.now() + timedelta(days=1))
    make_job(status="failed")
    body = api.get("/api/jobs/stats/").json()
    assert body["by_status"] == {
        "pending": 2,
        "running": 0,
        "completed": 0,
        "failed": 1,
        "cancelled": 0,
    }
    assert (body["total"], body["due_now"]) == (3, 1)
    assert "failed_attempts_24h" in body


# Schedule preview --------------------------------------------------------------------------


def test_schedule_preview(api):
    response = post(
        api, "/api/jobs/schedule/validate", {"schedule": "30 8 * * 1", "timezone": "Europe/London"}
    )
    assert response.status_code == 200
    body = response.json()
    expected = parse_schedule("30 8 * * 1", "Europe/London")
    runs = [datetime.fromisoformat(run.replace("Z", "+00:00")) for run in body["next_runs"]]
    assert len(runs) == 5
    assert runs[1] == expected.next_after(runs[0])
    assert body["description"] == expected.describe()
    assert (body["schedule"], body["timezone"], body["is_interval"]) == (
        "30 8 * * 1",
        "Europe/London",
        False,
    )
    assert not Job.objects.exists()


def test_schedule_preview_of_an_interval_with_a_count(api):
    body = post(api, "/api/jobs/schedule/validate/", {"schedule": "2h", "count": 3}).json()
    assert body["is_interval"] is True and len(body["next_runs"]) == 3
    assert body["timezone"] == "UTC"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"schedule": "every monday"}, "schedule"),
        ({"schedule": "0 25 * * *"}, "schedule"),
        ({"schedule": ""}, "schedule"),
        ({}, "schedule"),
        ({"schedule": "5m", "timezone": "Atlantis/Capital"}, "timezone"),
        ({"schedule": "5m", "count": 0}, "count"),
        ({"schedule": "5m", "count": 51}, "count"),
        ({"schedule": "5m", "extra": 1}, "extra"),
    ],
)
def test_schedule_preview_errors(api, body, field):
    response = post(api, "/api/jobs/schedule/validate", body)
    assert response.status_code == 400
    assert field in response.json()


def test_schedule_preview_message_is_the_invalid_schedule_message(api):
    with pytest.raises(ValueError) as caught:
        parse_schedule("0 25 * * *", "UTC")
    body = post(api, "/api/jobs/schedule/validate", {"schedule": "0 25 * * *"}).json()
    assert body == {"schedule": [str(caught.value)]}


# Bulk ----------------------------------------------------------------------------------------


def test_bulk_creates_one_time_jobs(api):
    response = post(
        api,
        "/api/jobs/bulk",
        [
            {"handler": "echo", "data": {"n": 1}},
            {"handler": "add", "name": "sum", "data": {"a": 1, "b": 2}, "max_attempts": 1},
            {"handler": "noop", "run_at": "2031-01-01T00:00:00Z", "queue": "later"},
        ],
    )
    assert response.status_code == 201, response.json()
    assert [job["name"] for job in response.json()] == ["echo", "sum", "noop"]
    assert Job.objects.count() == 3
    assert Job.objects.get(name="noop").queue == "later"


def test_bulk_is_all_or_nothing(api):
    response = post(api, "/api/jobs/bulk/", [{"handler": "echo"}, {"handler": "missing"}])
    assert response.status_code == 400
    # DRF reports the failing items by their index.
    assert response.json() == {
        "1": {"handler": ["no handler is registered under the name 'missing'"]}
    }
    assert not Job.objects.exists()


@pytest.mark.parametrize(
    "body",
    [
        [],
        {"handler": "echo"},
        "echo",
        [{"handler": "echo", "schedule": "5m"}],
        [{"handler": "echo", "status": "completed"}],
        [{"handler": "echo", "run_at": "2031-01-01T00:00:00"}],
        [{"handler": "echo", "max_attempts": 0}],
        ["echo"],
    ],
)
def test_bulk_errors(api, body):
    assert post(api, "/api/jobs/bulk", body).status_code == 400
    assert not Job.objects.exists()


def test_bulk_is_bounded(api):
    with override_settings(DJANGO_JOBS={"API_MAX_BULK": 2}):
        response = post(api, "/api/jobs/bulk", [{"handler": "noop"}] * 3)
        assert response.status_code == 400
        assert "2" in str(response.json())
        assert post(api, "/api/jobs/bulk", [{"handler": "noop"}] * 2).status_code == 201
    assert Job.objects.count() == 2


def test_bulk_data_is_bounded(api):
    with override_settings(DJANGO_JOBS={"MAX_DATA_BYTES": 10}):
        response = post(api, "/api/jobs/bulk", [{"handler": "noop", "data": "x" * 20}])
    assert response.status_code == 400
    assert not Job.objects.exists()


# Routes ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("slash", ["", "/"])
def test_every_route_works_with_and_without_trailing_slash(api, slash, make_job):
    job = make_job(status="failed")
    assert api.get(f"/api/jobs{slash}").status_code == 200
    assert post(api, f"/api/jobs{slash}", {"handler": "echo"}).status_code == 201
    assert api.get(f"/api/jobs/{job.pk}{slash}").status_code == 200
    assert api.put(f"/api/jobs/{job.pk}{slash}", {}, format="json").status_code == 200
    assert api.patch(f"/api/jobs/{job.pk}{slash}", {}, format="json").status_code == 200
    assert api.get(f"/api/jobs/{job.pk}/history{slash}").status_code == 200
    assert post(api, f"/api/jobs/{job.pk}/retry{slash}").status_code == 200
    assert post(api, f"/api/jobs/{job.pk}/cancel{slash}").status_code == 200
    assert post(api, f"/api/jobs/{job.pk}/trigger{slash}").status_code == 200
    assert api.get(f"/api/jobs/runner{slash}").status_code == 200
    assert post(api, f"/api/jobs/runner/stop{slash}").status_code == 200
    assert post(api, f"/api/jobs/runner/start{slash}").status_code == 200
    assert api.get(f"/api/jobs/handlers{slash}").status_code == 200
    assert api.get(f"/api/jobs/stats{slash}").status_code == 200
    assert post(api, f"/api/jobs/bulk{slash}", [{"handler": "noop"}]).status_code == 201
    validate = post(api, f"/api/jobs/schedule/validate{slash}", {"schedule": "5m"})
    assert validate.status_code == 200
    assert api.delete(f"/api/jobs/{job.pk}{slash}").status_code == 204


def test_routes_have_names():
    from django.urls import reverse

    assert reverse("django_jobs:job-list") == "/api/jobs"
    assert reverse("django_jobs:job-detail", args=[3]) == "/api/jobs/3"
    assert reverse("django_jobs:runner-start") == "/api/jobs/runner/start"
