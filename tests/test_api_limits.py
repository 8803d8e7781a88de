"""Limits over HTTP: the limit fields of POST jobs, and GET jobs/limits."""

import pytest
from django.conf import settings
from django.test import override_settings

from django_jobs import enqueue_many
from django_jobs.models import Job

pytest_plugins = ["tests.api_fixtures"]
pytestmark = pytest.mark.django_db

LIMITS = {"mailer": {"concurrency": 5, "rate": "100/m"}, "pair": {"concurrency": 2}}


@pytest.fixture(autouse=True)
def configured():
    with override_settings(DJANGO_JOBS={**settings.DJANGO_JOBS, "LIMITS": LIMITS}):
        yield


def test_a_job_is_created_with_its_limit_and_key(api):
    answer = api.post(
        "/api/jobs",
        {"handler": "noop", "limit": "mailer", "limit_key": "customer-42"},
        format="json",
    )
    assert answer.status_code == 201, answer.json()
    body = answer.json()
    assert (body["limit"], body["limit_key"]) == ("mailer", "customer-42")
    assert Job.objects.get(pk=body["id"]).limit_key == "customer-42"
    bulk = api.post(
        "/api/jobs/bulk",
        [{"handler": "noop", "limit": "pair"}, {"handler": "noop"}],
        format="json",
    )
    assert bulk.status_code in (200, 201), bulk.json()
    assert sorted(Job.objects.values_list("limit", flat=True)) == ["", "mailer", "pair"]


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({"limit": "nope"}, "limit", "unknown limit 'nope'"),
        ({"limit_key": "k"}, "limit_key", "needs a limit"),
        ({"limit": "pair", "limit_key": "k" * 201}, "limit_key", "200"),
        ({"limit": 5}, "limit", ""),
    ],
)
def test_bad_limit_fields_are_a_400_with_the_fields_message(api, body, field, words):
    answer = api.post("/api/jobs", {"handler": "noop", **body}, format="json")
    assert answer.status_code == 400
    assert field in answer.json()
    assert words in " ".join(answer.json()[field])
    assert not Job.objects.exists()


def test_a_jobs_limit_cannot_be_changed(api):
    job = api.post("/api/jobs", {"handler": "noop", "limit": "pair"}, format="json").json()
    answer = api.patch(f"/api/jobs/{job['id']}", {"limit": ""}, format="json")
    assert answer.status_code == 400
    assert "limit" in answer.json()


def test_limits_route_lists_each_limit_with_its_use(api):
    enqueue_many([{"handler": "noop", "limit": "pair", "limit_key": k} for k in "aab"])
    for url in ("/api/jobs/limits", "/api/jobs/limits/"):
        answer = api.get(url)
        assert answer.status_code == 200
        mailer, pair = answer.json()
        assert mailer == {
            "name": "mailer",
            "concurrency": 5,
            "rate": 100,
            "period_seconds": 60.0,
            "running": 0,
            "started_in_window": 0,
            "waiting": 0,
            "due": 0,
            "keys": [],
        }
        assert (pair["name"], pair["concurrency"], pair["rate"]) == ("pair", 2, None)
        assert (pair["waiting"], pair["due"], pair["running"]) == (3, 3, 0)
        assert [(k["key"], k["waiting"]) for k in pair["keys"]] == [("a", 2), ("b", 1)]


def test_limits_route_is_staff_only(plain_api, anon_api):
    assert plain_api.get("/api/jobs/limits").status_code == 403
    assert anon_api.get("/api/jobs/limits").status_code in (401, 403)
