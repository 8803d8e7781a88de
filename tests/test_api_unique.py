"""POST jobs with unique_key: 201 for a new job, 200 and duplicate: true for the live holder."""

import pytest

from django_jobs import enqueue
from django_jobs.models import Job

pytest_plugins = ["tests.api_fixtures"]
pytestmark = pytest.mark.django_db


def post(client, url, body):
    return client.post(url, body, format="json")


def test_a_new_key_is_created_and_a_second_post_answers_the_live_job(api):
    first = post(api, "/api/jobs", {"handler": "echo", "data": 1, "unique_key": "invoice-42"})
    assert first.status_code == 201
    assert first.json()["duplicate"] is False
    assert first.json()["unique_key"] == "invoice-42"
    second = post(api, "/api/jobs/", {"handler": "echo", "data": 2, "unique_key": "invoice-42"})
    assert second.status_code == 200
    assert second.json()["duplicate"] is True
    assert second.json()["id"] == first.json()["id"]
    assert second.json()["data"] == 1
    assert Job.objects.count() == 1


def test_a_job_without_a_key_says_it_is_no_duplicate(api):
    response = post(api, "/api/jobs", {"handler": "echo"})
    assert response.status_code == 201
    assert response.json()["duplicate"] is False
    assert response.json()["unique_key"] is None


def test_on_conflict_raise_is_a_409_naming_the_holder(api):
    held = enqueue("echo", unique_key="k")
    response = post(
        api, "/api/jobs", {"handler": "echo", "unique_key": "k", "on_conflict": "raise"}
    )
    assert response.status_code == 409
    assert str(held.pk) in response.json()["detail"]
    assert Job.objects.count() == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"unique_key": ""}, "unique_key"),
        ({"unique_key": "x" * 201}, "unique_key"),
        ({"unique_key": 5}, "unique_key"),
        ({"unique_key": "k", "on_conflict": "skip"}, "on_conflict"),
        ({"unique_key": "k", "schedule": "5m"}, "unique_key"),
    ],
)
def test_bad_unique_input_is_a_400(api, body, field):
    response = post(api, "/api/jobs", {"handler": "echo", **body})
    assert response.status_code == 400, response.json()
    assert field in response.json()
    assert not Job.objects.exists()


def test_bulk_resolves_duplicate_keys(api):
    held = enqueue("echo", unique_key="held")
    response = post(
        api,
        "/api/jobs/bulk",
        [
            {"handler": "echo", "data": 1, "unique_key": "a"},
            {"handler": "echo", "data": 2, "unique_key": "a"},
            {"handler": "echo", "data": 3, "unique_key": "held"},
            {"handler": "echo", "data": 4},
        ],
    )
    assert response.status_code == 201, response.json()
    ids = [job["id"] for job in response.json()]
    assert ids[0] == ids[1]
    assert ids[2] == held.pk
    assert Job.objects.count() == 3


def test_the_key_cannot_be_changed_through_put(api):
    job = enqueue("echo", unique_key="k")
    response = api.patch(f"/api/jobs/{job.pk}", {"unique_key": "other"}, format="json")
    assert response.status_code == 400
    job.refresh_from_db()
    assert job.unique_key == "k"
