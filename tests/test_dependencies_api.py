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


# jobs/bulk: a graph in one request ----------------------------------------------------------


def bulk(client, items):
    return client.post("/api/jobs/bulk", items, format="json")


def test_bulk_items_depend_on_existing_jobs_and_on_earlier_items_by_ref(api):
    root = enqueue("echo")
    response = bulk(
        api,
        [
            {"handler": "echo", "ref": "a", "depends_on": [root.pk]},
            {"handler": "echo", "ref": "b"},
            {"handler": "echo", "depends_on": ["a", "b", root.pk], "on_dependency_failure": "run"},
        ],
    )
    assert response.status_code == 201, response.json()
    a, b, c = response.json()
    assert a["depends_on"] == [root.pk] and a["waiting_on"] == 1
    assert b["depends_on"] == [] and b["next_run_at"] is not None
    assert c["depends_on"] == sorted([a["id"], b["id"], root.pk]) and c["waiting_on"] == 3
    assert c["on_dependency_failure"] == "run" and c["next_run_at"] is None
    assert a["dependents"] == [c["id"]]
    assert api.get(f"/api/jobs/{root.pk}").json()["dependents"] == sorted([a["id"], c["id"]])


def test_bulk_unique_key_and_depends_on_wait_for_the_live_job(api):
    holder = enqueue("echo", unique_key="invoice-42")
    response = bulk(
        api,
        [
            {"handler": "echo", "unique_key": "invoice-42", "ref": "inv"},
            {"handler": "echo", "depends_on": ["inv"]},
        ],
    )
    assert response.status_code == 201, response.json()
    found, child = response.json()
    assert found["id"] == holder.pk
    assert child["depends_on"] == [holder.pk]
    assert Job.objects.count() == 2


@pytest.mark.parametrize(
    ("items", "where", "field", "text"),
    [
        ([{"handler": "echo", "depends_on": ["nope"]}], "0", "depends_on", "not the ref"),
        (
            [{"handler": "echo", "ref": "a", "depends_on": ["b"]}, {"handler": "echo", "ref": "b"}],
            "0",
            "depends_on",
            "earlier",
        ),
        ([{"handler": "echo", "ref": "a", "depends_on": ["a"]}], "0", "depends_on", "earlier"),
        (
            [{"handler": "echo", "ref": "a"}, {"handler": "echo", "ref": "a"}],
            "1",
            "ref",
            "already used by job 0",
        ),
        ([{"handler": "echo"}, {"handler": "echo", "ref": ""}], "1", "ref", ""),
        ([{"handler": "echo", "ref": "x" * 101}], "0", "ref", ""),
        ([{"handler": "echo"}, {"handler": "echo", "depends_on": [0]}], "1", "depends_on", ""),
        ([{"handler": "echo", "depends_on": [True]}], "0", "depends_on", ""),
        ([{"handler": "echo", "depends_on": [""]}], "0", "depends_on", ""),
        ([{"handler": "echo", "depends_on": "a"}], "0", "depends_on", ""),
        ([{"handler": "echo", "depends_on": [{"id": 1}]}], "0", "depends_on", ""),
        ([{"handler": "echo", "on_dependency_failure": "skip"}], "0", "on_dependency_failure", ""),
        ([{"handler": "echo", "depends_on": [999999]}], None, "depends_on", "no such job: 999999"),
    ],
)
def test_bad_bulk_dependencies_are_a_400_with_field_messages_and_create_nothing(
    api, items, where, field, text
):
    before = Job.objects.count()
    response = bulk(api, items)
    assert response.status_code == 400, response.json()
    body = response.json()
    messages = (body[where] if where is not None else body)[field]
    assert text in " ".join(str(m) for m in messages), body
    assert Job.objects.count() == before


def test_bulk_on_a_recurring_dependency_is_a_400(api):
    nightly = schedule("nightly", "noop", "0 3 * * *")
    response = bulk(api, [{"handler": "echo"}, {"handler": "echo", "depends_on": [nightly.pk]}])
    assert response.status_code == 400
    assert "recurring" in response.json()["depends_on"][0]
    assert Job.objects.count() == 1


# The admin's add page ---------------------------------------------------------------------


def add_form(**overrides):
    from tests.test_admin import form_data

    return form_data(**overrides)


def test_the_admin_add_page_creates_a_job_that_waits_for_its_dependencies(admin_client):
    a, b = enqueue("echo"), enqueue("echo")
    url = reverse("admin:django_jobs_job_add")
    assert 'name="depends_on"' in admin_client.get(url).content.decode()
    data = add_form(depends_on=f"{a.pk}, {b.pk}", on_dependency_failure="run")
    response = admin_client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    job = Job.objects.get(name="nightly")
    assert job.waiting_on == 2 and job.next_run_at is None and job.on_dependency_failure == "run"
    assert sorted(job.dependency_links.values_list("depends_on_id", flat=True)) == [a.pk, b.pk]
    assert Job.objects.get(pk=a.pk).has_dependents


@pytest.mark.parametrize(
    ("depends_on", "extra", "text"),
    [
        ("999999", {}, "No such job: 999999"),
        ("1; 2", {}, "whole numbers"),
        ("-3", {}, "whole numbers"),
        ("{a}", {"schedule": "5m"}, "one-time"),
        ("{nightly}", {}, "recurring"),
    ],
)
def test_the_admin_add_page_refuses_bad_dependencies_and_creates_nothing(
    admin_client, depends_on, extra, text
):
    a = enqueue("echo")
    nightly = schedule("other", "noop", "0 3 * * *")
    before = Job.objects.count()
    data = add_form(depends_on=depends_on.format(a=a.pk, nightly=nightly.pk), **extra)
    response = admin_client.post(reverse("admin:django_jobs_job_add"), data)
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert text in " ".join(errors.get("depends_on", [])), errors
    assert Job.objects.count() == before


def test_the_admin_change_page_does_not_offer_depends_on(admin_client):
    job = enqueue("echo")
    page = admin_client.get(reverse("admin:django_jobs_job_change", args=[job.pk]))
    assert 'name="depends_on"' not in page.content.decode()
