"""Dependencies through the REST API and the admin: created, shown, filtered, refused."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from django_jobs import enqueue, enqueue_many, schedule
from django_jobs.models import Job, JobStatus

pytest_plugins = ["tests.api_fixtures"]
pytestmark = pytest.mark.django_db


def post(client, body):
    return client.post("/api/jobs", body, format="json")


def test_post_depends_on_creates_a_waiting_job_and_both_sides_show_the_link(api):
    a, b = enqueue("echo"), enqueue("echo")
    response = post(api, {"handler": "echo", "depends_on": [a.pk, b.pk]})
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["depends_on"] == [a.pk, b.pk]
    assert body["waiting_on"] == 2
    assert body["on_dependency_failure"] == "cancel"
    assert body["next_run_at"] is None and body["status"] == "pending"
    shown = api.get(f"/api/jobs/{a.pk}").json()
    assert shown["dependents"] == [body["id"]] and shown["depends_on"] == []


def test_post_on_dependency_failure_run(api):
    a = enqueue("echo")
    body = post(api, {"handler": "echo", "depends_on": [a.pk], "on_dependency_failure": "run"})
    assert body.status_code == 201
    assert Job.objects.get(pk=body.json()["id"]).on_dependency_failure == "run"


@pytest.mark.parametrize(
    ("body", "field", "text"),
    [
        ({"depends_on": [999999]}, "depends_on", "no such job: 999999"),
        ({"depends_on": ["x"]}, "depends_on", ""),
        ({"depends_on": 5}, "depends_on", ""),
        ({"depends_on": [0]}, "depends_on", ""),
        ({"depends_on": [], "on_dependency_failure": "skip"}, "on_dependency_failure", ""),
        ({"depends_on": [1], "schedule": "5m"}, "depends_on", "one-time"),
    ],
)
def test_bad_dependencies_are_a_400_and_create_nothing(api, body, field, text):
    before = Job.objects.count()
    response = post(api, {"handler": "echo", **body})
    assert response.status_code == 400, response.json()
    assert field in response.json()
    assert text in " ".join(response.json()[field])
    assert Job.objects.count() == before


def test_a_recurring_dependency_is_a_400(api):
    nightly = schedule("nightly", "noop", "0 3 * * *")
    response = post(api, {"handler": "echo", "depends_on": [nightly.pk]})
    assert response.status_code == 400
    assert "recurring" in response.json()["depends_on"][0]


def test_depends_on_cannot_be_edited(api):
    a = enqueue("echo")
    b = enqueue("echo", depends_on=[a])
    response = api.patch(f"/api/jobs/{b.pk}", {"depends_on": []}, format="json")
    assert response.status_code == 400
    assert "depends_on" in response.json()


def test_the_list_filters_waiting_jobs_and_reads_a_pages_links_in_two_queries(api):
    root = enqueue("echo")
    leaves = enqueue_many([{}] * 20, handler="echo", depends_on=[root])
    plain = enqueue("echo")
    waiting = api.get("/api/jobs?waiting=true").json()["results"]
    assert sorted(job["id"] for job in waiting) == sorted(job.pk for job in leaves)
    assert all(job["depends_on"] == [root.pk] for job in waiting)
    others = api.get("/api/jobs?waiting=false").json()["results"]
    assert sorted(job["id"] for job in others) == sorted([root.pk, plain.pk])
    assert api.get("/api/jobs?waiting=maybe").status_code == 400
    with CaptureQueriesContext(connection) as without:
        api.get("/api/jobs?waiting=false&handler=none")
    with CaptureQueriesContext(connection) as with_links:
        api.get("/api/jobs")
    assert len(with_links) <= len(without) + 2


def test_admin_filters_waiting_jobs_and_shows_the_links(admin_client):
    root = enqueue("echo")
    leaf = enqueue("echo", depends_on=[root])
    changelist = reverse("admin:django_jobs_job_changelist")
    response = admin_client.get(changelist + "?dependencies=waiting")
    assert response.status_code == 200
    assert [job.pk for job in response.context["cl"].result_list] == [leaf.pk]
    page = admin_client.get(reverse("admin:django_jobs_job_change", args=[leaf.pk]))
    text = page.content.decode()
    assert "Waits for" in text and f"#{root.pk}</a>" in text
    page = admin_client.get(reverse("admin:django_jobs_job_change", args=[root.pk]))
    assert f"#{leaf.pk}</a>" in page.content.decode()
    assert JobStatus.PENDING in page.content.decode()
