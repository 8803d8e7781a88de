"""The dead-jobs routes: GET jobs/dead, POST jobs/dead/requeue, POST jobs/dead/purge."""

from datetime import timedelta

import pytest
from django.utils import timezone

from django_jobs import enqueue
from django_jobs.models import Job, JobHistory, JobStatus
from django_jobs.worker import WorkerLoop

from .test_dead import dead_job

pytest_plugins = ["tests.api_fixtures"]
pytestmark = pytest.mark.django_db


def test_list_shows_dead_jobs_only_newest_first_with_error_type_and_history(api):
    old = dead_job(handler="add", error="KeyError: 'x'\n\nTraceback")
    new = dead_job(handler="echo", error="the worker w1 stopped")
    enqueue("echo")
    Job.objects.create(name="r", handler="echo", schedule="1h", status=JobStatus.FAILED)
    for url in ("/api/jobs/dead", "/api/jobs/dead/"):
        body = api.get(url).json()
        assert body["count"] == 2
        assert [item["id"] for item in body["results"]] == [new.pk, old.pk]
    first, second = api.get("/api/jobs/dead").json()["results"]
    assert (first["error_type"], second["error_type"]) == ("", "KeyError")
    assert second["died_at"] == second["updated_at"]
    assert second["history_url"].endswith(f"/api/jobs/{old.pk}/history")
    assert api.get(second["history_url"]).status_code == 200


def test_a_real_death_is_listed_with_its_whole_history(api):
    job = enqueue("fail", {"n": 1}, max_attempts=2, name="doomed")
    for _ in range(2):
        Job.objects.filter(pk=job.pk, status="pending").update(next_run_at=timezone.now())
        WorkerLoop(listen=False).run_once()
    (item,) = api.get("/api/jobs/dead?error_type=RuntimeError").json()["results"]
    assert item["id"] == job.pk and item["attempts"] == 2
    runs = api.get(item["history_url"]).json()["results"]
    assert [run["status"] for run in runs] == ["failed", "failed"]
    assert all(run["error"].startswith("RuntimeError: boom") for run in runs)


def test_list_filters(api):
    now = timezone.now()
    match = dead_job(handler="add", error="KeyError: x", died=now - timedelta(hours=1))
    dead_job(handler="echo", error="KeyError: x", died=now - timedelta(hours=1))
    dead_job(handler="add", error="ValueError: x", died=now - timedelta(hours=1))
    dead_job(handler="add", error="KeyError: x", died=now - timedelta(days=2))
    after = (now - timedelta(days=1)).isoformat()
    query = {"handler": "add", "error_type": "KeyError", "died_after": after}
    body = api.get("/api/jobs/dead", query).json()
    assert [item["id"] for item in body["results"]] == [match.pk]
    before = (now - timedelta(days=1)).isoformat()
    assert api.get("/api/jobs/dead", {"died_before": before}).json()["count"] == 1


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"error_type": "Value Error"}, "error_type"),
        ({"error_type": "x" * 201}, "error_type"),
        ({"died_after": "yesterday"}, "died_after"),
        ({"died_before": "2026-13-01T00:00:00Z"}, "died_before"),
        ({"handler": "h" * 201}, "handler"),
    ],
)
def test_bad_list_filters_are_400_with_the_field(api, query, field):
    response = api.get("/api/jobs/dead", query)
    assert response.status_code == 400
    assert field in response.json()


def test_requeue_by_ids(api):
    one, two, three = dead_job(), dead_job(), dead_job()
    completed = Job.objects.create(name="c", handler="echo", status=JobStatus.COMPLETED)
    response = api.post(
        "/api/jobs/dead/requeue", {"ids": [one.pk, two.pk, completed.pk, 999999]}, format="json"
    )
    assert response.status_code == 200
    assert response.json() == {"requeued": 2, "held_keys": []}
    job = Job.objects.get(pk=one.pk)
    assert (job.status, job.attempts) == (JobStatus.PENDING, 0)
    assert Job.objects.get(pk=three.pk).status == JobStatus.FAILED
    assert Job.objects.get(pk=completed.pk).status == JobStatus.COMPLETED
    again = api.post("/api/jobs/dead/requeue/", {"ids": [one.pk]}, format="json")
    assert again.json() == {"requeued": 0, "held_keys": []}


def test_requeue_all_matching_and_held_keys(api):
    now = timezone.now()
    dead_job(handler="add", error="KeyError: x")
    held = dead_job(handler="add", error="KeyError: x", unique_key="k")
    dead_job(handler="echo", error="KeyError: x")
    enqueue("add", unique_key="k")
    body = {"all": True, "handler": "add", "error_type": "KeyError", "died_before": now.isoformat()}
    response = api.post("/api/jobs/dead/requeue", body, format="json")
    assert response.json() == {"requeued": 0, "held_keys": []}  # they died after `now`
    body["died_before"] = (timezone.now() + timedelta(seconds=1)).isoformat()
    response = api.post("/api/jobs/dead/requeue", body, format="json")
    assert response.json() == {"requeued": 1, "held_keys": [held.pk]}
    assert Job.objects.dead().count() == 2


def test_purge_says_how_many_and_deletes_history(api):
    job = enqueue("fail", max_attempts=1)
    WorkerLoop(listen=False).run_once()
    kept = dead_job(handler="add")
    response = api.post("/api/jobs/dead/purge", {"all": True, "handler": "fail"}, format="json")
    assert response.status_code == 200
    assert response.json() == {"purged": 1}
    assert not JobHistory.objects.filter(job_id=job.pk).exists()
    response = api.post("/api/jobs/dead/purge/", {"ids": [kept.pk, kept.pk]}, format="json")
    assert response.json() == {"purged": 1}
    assert not Job.objects.exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "ids"),
        ({"all": False}, "ids"),
        ({"ids": []}, "ids"),
        ({"ids": [1], "all": True}, "ids"),
        ({"ids": [1], "handler": "echo"}, "ids"),
        ({"ids": ["1"]}, "ids"),
        ({"ids": [1.0]}, "ids"),
        ({"ids": [True]}, "ids"),
        ({"ids": [0]}, "ids"),
        ({"ids": [2**63]}, "ids"),
        ({"ids": 5}, "ids"),
        ({"all": "true"}, "all"),
        ({"all": 1}, "all"),
        ({"all": True, "error_type": "not a class"}, "error_type"),
        ({"all": True, "died_after": "2026-01-01T00:00:00"}, "died_after"),
        ({"all": True, "died_before": "soon"}, "died_before"),
        ({"all": True, "handler": 5}, "handler"),
        ({"all": True, "queue": "default"}, "queue"),
    ],
)
@pytest.mark.parametrize("route", ["requeue", "purge"])
def test_bad_selections_are_400_with_the_field_and_change_nothing(api, body, field, route):
    job = dead_job()
    response = api.post(f"/api/jobs/dead/{route}", body, format="json")
    assert response.status_code == 400, response.json()
    assert field in response.json(), response.json()
    assert Job.objects.get(pk=job.pk).status == JobStatus.FAILED


def test_too_many_ids_is_400(api, settings):
    settings.DJANGO_JOBS = {"API_MAX_BULK": 3}
    response = api.post("/api/jobs/dead/requeue", {"ids": [1, 2, 3, 4]}, format="json")
    assert response.status_code == 400 and "ids" in response.json()


def test_a_list_body_is_400(api):
    response = api.post("/api/jobs/dead/purge", [1, 2], format="json")
    assert response.status_code == 400


def test_permissions(anon_api, plain_api, staff_api):
    job = dead_job()
    selection = {"ids": [job.pk]}
    for client in (anon_api, plain_api):
        assert client.get("/api/jobs/dead").status_code in (401, 403)
        assert client.post("/api/jobs/dead/requeue", selection, format="json").status_code in (
            401,
            403,
        )
        assert client.post("/api/jobs/dead/purge", selection, format="json").status_code in (
            401,
            403,
        )
    viewer = staff_api(["view_job"], username="viewer")
    assert viewer.get("/api/jobs/dead").status_code == 200
    assert viewer.post("/api/jobs/dead/requeue", selection, format="json").status_code == 403
    assert viewer.post("/api/jobs/dead/purge", selection, format="json").status_code == 403
    changer = staff_api(["change_job"], username="changer")
    assert changer.post("/api/jobs/dead/purge", selection, format="json").status_code == 403
    assert changer.post("/api/jobs/dead/requeue", selection, format="json").json()["requeued"] == 1
    Job.objects.filter(pk=job.pk).update(status=JobStatus.FAILED, next_run_at=None)
    deleter = staff_api(["delete_job"], username="deleter")
    assert deleter.post("/api/jobs/dead/requeue", selection, format="json").status_code == 403
    assert deleter.post("/api/jobs/dead/purge", selection, format="json").json() == {"purged": 1}


def test_other_methods_are_405(api):
    assert api.delete("/api/jobs/dead").status_code == 405
    assert api.get("/api/jobs/dead/requeue").status_code == 405
    assert api.get("/api/jobs/dead/purge").status_code == 405


def test_instants_with_any_offset_are_compared_in_utc(api):
    from datetime import datetime
    from datetime import timezone as dt_timezone

    import django_jobs

    dead_job()
    far = "3343-06-28T15:36:31.9010+22:56"
    assert api.get("/api/jobs/dead", {"died_after": far, "died_before": far}).status_code == 200
    assert api.get("/api/jobs/dead", {"died_before": far}).json()["count"] == 1
    body = {"all": True, "died_after": "2000-01-01T00:00:00-23:30", "died_before": far}
    assert api.post("/api/jobs/dead/purge", body, format="json").json() == {"purged": 1}
    zone = dt_timezone(timedelta(hours=23, minutes=59))
    when = datetime(2000, 1, 1, tzinfo=zone)
    assert django_jobs.requeue_dead(all=True, died_after=when).count == 0
