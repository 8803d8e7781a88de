"""The jobs REST API: create, read, change, delete and steer jobs; every error path."""

import json
from datetime import datetime, timedelta

import pytest
from django.test import override_settings
from django.utils import timezone

from django_jobs import creating, schedule
from django_jobs.exceptions import InvalidJob, InvalidSchedule
from django_jobs.models import Job, JobHistory, JobStatus
from django_jobs.schedules import parse_schedule

pytest_plugins = ["tests.api_fixtures"]
pytestmark = pytest.mark.django_db


def instant(text):
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def post(client, url, body):
    return client.post(url, body, format="json")


# Creating ----------------------------------------------------------------------------


def test_create_one_time_job_with_only_a_handler(api):
    before = timezone.now()
    response = post(api, "/api/jobs", {"handler": "echo"})
    assert response.status_code == 201
    body = response.json()
    job = Job.objects.get(pk=body["id"])
    assert body["name"] == job.name == "echo"
    assert body["status"] == "pending"
    assert body["is_recurring"] is False
    assert body["schedule_description"] is None
    assert body["next_runs"] == []
    assert body["key"] is None
    assert before <= instant(body["next_run_at"]) <= timezone.now()


def test_create_returns_every_field_snake_case_with_offsets(api):
    body = post(api, "/api/jobs/", {"handler": "echo", "data": {"a": [1, 2]}}).json()
    for field in ("max_attempts", "last_run_at", "next_run_at", "last_error", "created_at"):
        assert field in body
    assert body["data"] == {"a": [1, 2]}
    assert instant(body["created_at"]).utcoffset() is not None


def test_create_with_every_writable_field(api):
    run_at = (timezone.now() + timedelta(days=2)).replace(microsecond=0)
    body = {
        "name": "Nightly export",
        "handler": "add",
        "data": {"a": 1, "b": 2},
        "max_attempts": 7,
        "run_at": run_at.isoformat(),
        "queue": "reports",
        "priority": 5,
        "timeout": 30,
        "misfire_grace": 60.5,
        "allow_overlap": True,
    }
    response = post(api, "/api/jobs", body)
    assert response.status_code == 201, response.json()
    job = Job.objects.get(pk=response.json()["id"])
    assert (job.name, job.handler, job.data, job.max_attempts) == (
        "Nightly export",
        "add",
        {"a": 1, "b": 2},
        7,
    )
    assert (job.queue, job.priority, job.timeout, job.misfire_grace, job.allow_overlap) == (
        "reports",
        5,
        30.0,
        60.5,
        True,
    )
    assert job.next_run_at == run_at


def test_run_at_in_another_offset_is_the_same_instant(api):
    body = post(api, "/api/jobs", {"handler": "echo", "run_at": "2031-06-01T12:00:00+02:00"}).json()
    assert instant(body["next_run_at"]) == datetime.fromisoformat("2031-06-01T10:00:00+00:00")


def test_create_recurring_job_computes_next_run_and_preview(api):
    response = post(
        api,
        "/api/jobs",
        {
            "name": "cleanup",
            "handler": "noop",
            "schedule": "0 3 * * *",
            "timezone": "Europe/Paris",
            "max_attempts": 3,
        },
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    expected = parse_schedule("0 3 * * *", "Europe/Paris")
    runs = [instant(run) for run in body["next_runs"]]
    assert len(runs) == 5 and runs == sorted(runs)
    assert runs[0] == instant(body["next_run_at"])
    assert runs[1] == expected.next_after(runs[0])
    assert body["schedule_description"] == expected.describe()
    assert body["is_recurring"] is True
    # A recurring job's name is its identity: schedule("cleanup") updates this job.
    assert body["key"] == "cleanup"


def test_create_interval_job(api):
    body = post(api, "/api/jobs", {"handler": "noop", "schedule": "10m", "name": "tick"}).json()
    created = instant(body["created_at"])
    assert instant(body["next_run_at"]) == created + timedelta(minutes=10)
    assert body["schedule_description"] == "every 10 minutes"


def test_a_second_recurring_job_with_the_same_name_is_refused(api):
    assert (
        post(api, "/api/jobs", {"name": "n", "handler": "noop", "schedule": "5m"}).status_code
        == 201
    )
    response = post(api, "/api/jobs", {"name": "n", "handler": "echo", "schedule": "1h"})
    assert response.status_code == 400
    assert "already exists" in response.json()["name"][0]
    assert Job.objects.count() == 1


def test_a_name_declared_with_schedule_is_refused(api):
    schedule("declared", "noop", "1h")
    response = post(api, "/api/jobs", {"name": "declared", "handler": "noop", "schedule": "5m"})
    assert response.status_code == 400
    assert list(response.json()) == ["name"]


def test_one_time_jobs_may_share_a_name(api):
    post(api, "/api/jobs", {"name": "same", "handler": "noop", "schedule": "5m"})
    for _ in range(2):
        assert post(api, "/api/jobs", {"name": "same", "handler": "noop"}).status_code == 201
    assert Job.objects.filter(name="same").count() == 3


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({}, "handler", "required"),
        ({"handler": "nope"}, "handler", "no handler is registered under the name 'nope'"),
        ({"handler": 12}, "handler", "registered handler"),
        ({"handler": "os.system"}, "handler", "no handler is registered"),
        ({"handler": None}, "handler", "null"),
        ({"handler": "echo", "schedule": "every day"}, "schedule", "not a schedule"),
        ({"handler": "echo", "schedule": "61 * * * *"}, "schedule", "61"),
        ({"handler": "echo", "schedule": "0 0 30 2 *"}, "schedule", "never runs"),
        ({"handler": "echo", "schedule": "* " * 150}, "schedule", "200"),
        ({"handler": "echo", "schedule": 5}, "schedule", "not a schedule"),
        ({"handler": "echo", "max_attempts": 0}, "max_attempts", "between 1 and 100"),
        ({"handler": "echo", "max_attempts": 101}, "max_attempts", "between 1 and 100"),
        ({"handler": "echo", "max_attempts": "3"}, "max_attempts", "whole number"),
        ({"handler": "echo", "max_attempts": 2.5}, "max_attempts", "whole number"),
        ({"handler": "echo", "max_attempts": True}, "max_attempts", "whole number"),
        ({"handler": "echo", "max_attempts": 10**30}, "max_attempts", "between 1 and 100"),
        ({"handler": "echo", "name": ""}, "name", "non-empty"),
        ({"handler": "echo", "name": "   "}, "name", "non-empty"),
        ({"handler": "echo", "name": "x" * 201}, "name", "at most 200"),
        ({"handler": "echo", "name": ["a"]}, "name", "non-empty string"),
        ({"handler": "echo", "run_at": "tomorrow"}, "run_at", "format"),
        ({"handler": "echo", "run_at": "2031-01-01T00:00:00"}, "run_at", "time-zone aware"),
        ({"handler": "echo", "run_at": "2031-13-01T00:00:00Z"}, "run_at", "format"),
        ({"handler": "echo", "run_at": 1700000000}, "run_at", "format"),
        (
            {"handler": "echo", "schedule": "5m", "run_at": "2031-01-01T00:00:00Z"},
            "run_at",
            "one-time",
        ),
        ({"handler": "echo", "timezone": "Mars/Olympus"}, "timezone", "unknown time zone"),
        ({"handler": "echo", "priority": 40000}, "priority", "-32768 to 32767"),
        ({"handler": "echo", "queue": "a,b"}, "queue", "no commas"),
        ({"handler": "echo", "queue": ""}, "queue", "non-empty"),
        ({"handler": "echo", "timeout": -1}, "timeout", "more than 0"),
        ({"handler": "echo", "timeout": "soon"}, "timeout", "number of seconds"),
        ({"handler": "echo", "misfire_grace": 0}, "misfire_grace", "more than 0"),
        ({"handler": "echo", "allow_overlap": "perhaps"}, "allow_overlap", "boolean"),
        ({"handler": "echo", "colour": "red"}, "colour", "unknown field"),
        ({"handler": "echo", "status": "completed"}, "status", "set by the server"),
        ({"handler": "echo", "attempts": 3}, "attempts", "set by the server"),
    ],
)
def test_invalid_input_is_a_400_naming_the_field_and_nothing_is_written(api, body, field, words):
    response = post(api, "/api/jobs", body)
    assert response.status_code == 400
    errors = response.json()
    assert field in errors, errors
    assert words in " ".join(errors[field]), errors
    assert not Job.objects.exists()


@pytest.mark.parametrize(
    "kwargs",
    [
        {"handler_name": "nope"},
        {"handler_name": "echo", "max_attempts": 0},
        {"handler_name": "echo", "name": "  "},
        {"handler_name": "echo", "schedule": "99 * * * *"},
        {"handler_name": "echo", "timezone_name": "Nowhere/Land"},
        {"handler_name": "echo", "priority": 10**6},
    ],
)
def test_messages_match_the_python_api(api, kwargs):
    with pytest.raises((InvalidJob, InvalidSchedule)) as caught:
        creating.build_job(**kwargs)
    field = getattr(caught.value, "field", "schedule")
    body = {"handler" if k == "handler_name" else k: v for k, v in kwargs.items()}
    body["timezone"] = body.pop("timezone_name", None)
    assert post(api, "/api/jobs", body).json() == {field: [str(caught.value)]}


def test_data_is_bounded_by_max_data_bytes(api):
    with override_settings(DJANGO_JOBS={"MAX_DATA_BYTES": 20}):
        response = post(api, "/api/jobs", {"handler": "echo", "data": {"text": "x" * 50}})
        assert response.status_code == 400
        assert response.json() == {"data": ["data must be at most 20 bytes of JSON"]}
        assert post(api, "/api/jobs", {"handler": "echo", "data": [1, 2]}).status_code == 201
    assert Job.objects.count() == 1


@pytest.mark.parametrize(
    "raw",
    [
        "{",
        '{"handler": "echo",}',
        '{"handler": "echo", "data": NaN}',
        '{"handler": "echo", "timeout": Infinity}',
        '{"handler": "echo", "max_attempts": ' + "9" * 5000 + "}",
        "\xff\xfe",
    ],
)
def test_malformed_json_is_a_400(api, raw):
    response = api.generic("POST", "/api/jobs", raw.encode("latin-1"), "application/json")
    assert response.status_code == 400
    assert "detail" in response.json()
    assert not Job.objects.exists()


@pytest.mark.parametrize("raw", ["[]", '"echo"', "3", "null"])
def test_a_body_that_is_not_an_object_is_a_400(api, raw):
    response = api.generic("POST", "/api/jobs", raw, "application/json")
    assert response.status_code == 400
    assert not Job.objects.exists()


# Reading -------------------------------------------------------------------------------


def test_retrieve_a_job(api, make_job):
    job = make_job(name="one", data={"k": 1})
    body = api.get(f"/api/jobs/{job.pk}").json()
    assert (body["id"], body["name"], body["data"]) == (job.pk, "one", {"k": 1})
    assert api.get(f"/api/jobs/{job.pk}/").status_code == 200


def test_retrieve_shows_the_worker_of_a_running_job(api, make_job, make_worker):
    job = make_job(status="running", worker=make_worker("host-1"), started_at=timezone.now())
    assert api.get(f"/api/jobs/{job.pk}").json()["worker"] == "host-1"


@pytest.mark.parametrize("path", ["12345", "abc", "1.5", "-1", "99999999999999999999999999999"])
def test_unknown_or_malformed_ids_are_404(api, path):
    for method in ("get", "put", "patch", "delete"):
        assert getattr(api, method)(f"/api/jobs/{path}").status_code == 404
    for verb in ("trigger", "cancel", "retry"):
        assert api.post(f"/api/jobs/{path}/{verb}").status_code == 404
    assert api.get(f"/api/jobs/{path}/history").status_code == 404


def test_a_stored_schedule_that_no_longer_parses_does_not_break_reading(api, make_job):
    job = make_job(schedule="not valid any more")
    body = api.get(f"/api/jobs/{job.pk}").json()
    assert body["schedule_description"] is None
    assert body["next_runs"] == []


def test_finished_recurring_job_has_no_next_runs(api, make_job):
    job = make_job(schedule="5m", status="cancelled")
    assert api.get(f"/api/jobs/{job.pk}").json()["next_runs"] == []


# Changing ------------------------------------------------------------------------------


def recurring(**fields):
    job = creating.build_job("noop", name="rec", schedule=fields.pop("schedule", "0 * * * *"))
    for field, value in fields.items():
        setattr(job, field, value)
    job.save()
    return job


@pytest.mark.parametrize("method", ["put", "patch"])
def test_reference_partial_body_changes_schedule_and_moves_next_run(api, method):
    job = recurring()
    response = getattr(api, method)(
        f"/api/jobs/{job.pk}", {"schedule": "*/10 * * * *", "max_attempts": 5}, format="json"
    )
    assert response.status_code == 200, response.json()
    job.refresh_from_db()
    assert (job.schedule, job.max_attempts, job.handler, job.name) == (
        "*/10 * * * *",
        5,
        "noop",
        "rec",
    )
    now = timezone.now()
    assert now < job.next_run_at <= now + timedelta(minutes=10)
    assert job.next_run_at.minute % 10 == 0
    assert job.scheduled_for == job.next_run_at
    assert instant(response.json()["next_run_at"]) == job.next_run_at


def test_changing_the_timezone_moves_next_run(api):
    job = recurring(schedule="0 9 * * *")
    api.patch(f"/api/jobs/{job.pk}", {"timezone": "Asia/Tokyo"}, format="json")
    job.refresh_from_db()
    assert job.timezone == "Asia/Tokyo"
    assert job.next_run_at == parse_schedule("0 9 * * *", "Asia/Tokyo").next_after(timezone.now())


def test_changing_other_fields_keeps_the_coming_slot(api):
    job = recurring()
    slot = job.next_run_at
    response = api.put(f"/api/jobs/{job.pk}", {"name": "renamed", "data": {"x": 1}}, format="json")
    assert response.status_code == 200
    job.refresh_from_db()
    assert (job.name, job.data, job.next_run_at) == ("renamed", {"x": 1}, slot)


def test_empty_body_changes_nothing(api):
    job = recurring()
    before = Job.objects.filter(pk=job.pk).values().get()
    assert api.put(f"/api/jobs/{job.pk}", {}, format="json").status_code == 200
    after = Job.objects.filter(pk=job.pk).values().get()
    before.pop("updated_at"), after.pop("updated_at")
    assert before == after


def test_run_at_moves_a_one_time_job(api, make_job):
    job = make_job(next_run_at=timezone.now() + timedelta(days=1))
    response = api.patch(f"/api/jobs/{job.pk}", {"run_at": "2032-01-01T00:00:00Z"}, format="json")
    assert response.status_code == 200
    job.refresh_from_db()
    assert job.next_run_at == datetime.fromisoformat("2032-01-01T00:00:00+00:00")


def test_run_at_on_a_recurring_job_is_a_400(api):
    job = recurring()
    response = api.patch(f"/api/jobs/{job.pk}", {"run_at": "2032-01-01T00:00:00Z"}, format="json")
    assert response.status_code == 400
    assert list(response.json()) == ["run_at"]


def test_run_at_on_a_finished_job_is_a_409(api, make_job):
    job = make_job(status="completed")
    response = api.patch(f"/api/jobs/{job.pk}", {"run_at": "2032-01-01T00:00:00Z"}, format="json")
    assert response.status_code == 409
    assert "trigger or retry" in response.json()["detail"]


def test_adding_a_schedule_makes_a_one_time_job_recurring(api, make_job):
    job = make_job()
    api.patch(f"/api/jobs/{job.pk}", {"schedule": "1h"}, format="json")
    job.refresh_from_db()
    assert job.is_recurring
    assert job.next_run_at == job.next_slot(timezone.now())


def test_removing_the_schedule_leaves_one_last_run(api):
    job = recurring()
    slot = job.next_run_at
    api.patch(f"/api/jobs/{job.pk}", {"schedule": ""}, format="json")
    job.refresh_from_db()
    assert (job.schedule, job.next_run_at) == ("", slot)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"schedule": "bad"}, "schedule"),
        ({"handler": "missing"}, "handler"),
        ({"max_attempts": -3}, "max_attempts"),
        ({"name": ""}, "name"),
        ({"name": None}, "name"),
        ({"timezone": "Bad/Zone"}, "timezone"),
        ({"data": {"x": "y" * 100}}, "data"),
        ({"created_at": "2020-01-01T00:00:00Z"}, "created_at"),
        ({"shedule": "5m"}, "shedule"),
    ],
)
def test_invalid_changes_are_a_400_and_nothing_is_written(api, body, field):
    job = recurring()
    before = Job.objects.filter(pk=job.pk).values().get()
    with override_settings(DJANGO_JOBS={"MAX_DATA_BYTES": 50}):
        response = api.put(f"/api/jobs/{job.pk}", body, format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert Job.objects.filter(pk=job.pk).values().get() == before


def test_a_running_job_takes_no_change_until_it_stops(api, make_job, make_worker):
    job = make_job(status="running", worker=make_worker(), started_at=timezone.now())
    for body in (
        {"name": "new"},
        {"data": {"a": 1}},
        {"schedule": "5m"},
        {"max_attempts": 9},
        {"name": "x", "data": 1},
    ):
        response = api.patch(f"/api/jobs/{job.pk}", body, format="json")
        assert response.status_code == 409, body
        assert "running" in response.json()["detail"]
    job.refresh_from_db()
    assert (job.name, job.data, job.max_attempts) == ("job", None, 3)


# Deleting --------------------------------------------------------------------------------


def test_delete_removes_the_job_and_its_history(api, make_job):
    job = make_job(status="completed")
    JobHistory.objects.create(job=job, status="completed")
    assert api.delete(f"/api/jobs/{job.pk}").status_code == 204
    assert not Job.objects.exists() and not JobHistory.objects.exists()
    assert api.delete(f"/api/jobs/{job.pk}/").status_code == 404


def test_deleting_a_running_job_is_a_409(api, make_job, make_worker):
    job = make_job(status="running", worker=make_worker())
    response = api.delete(f"/api/jobs/{job.pk}")
    assert response.status_code == 409
    assert "cancel it" in response.json()["detail"]
    assert Job.objects.filter(pk=job.pk).exists()


# Steering ---------------------------------------------------------------------------------


def test_trigger_makes_a_job_due_now(api):
    job = recurring()
    before = timezone.now()
    response = api.post(f"/api/jobs/{job.pk}/trigger")
    assert response.status_code == 200
    job.refresh_from_db()
    assert job.status == "pending"
    assert before <= job.next_run_at <= timezone.now()
    assert instant(response.json()["next_run_at"]) == job.next_run_at


def test_trigger_runs_a_finished_job_again(api, make_job):
    job = make_job(status="failed", attempts=3)
    assert api.post(f"/api/jobs/{job.pk}/trigger/").status_code == 200
    job.refresh_from_db()
    assert (job.status, job.attempts) == ("pending", 0)


def test_triggering_a_running_job_is_a_409(api, make_job, make_worker):
    job = make_job(status="running", worker=make_worker())
    response = api.post(f"/api/jobs/{job.pk}/trigger")
    assert response.status_code == 409
    assert "running" in response.json()["detail"]


def test_cancel_a_pending_job(api, make_job):
    job = make_job()
    body = api.post(f"/api/jobs/{job.pk}/cancel").json()
    assert body["status"] == "cancelled" and body["next_run_at"] is None


def test_cancel_a_running_job_asks_it_to_stop(api, make_job, make_worker):
    job = make_job(status="running", worker=make_worker())
    body = api.post(f"/api/jobs/{job.pk}/cancel/").json()
    assert (body["status"], body["cancel_requested"]) == ("running", True)


@pytest.mark.parametrize("status", ["completed", "failed", "cancelled"])
def test_cancelling_a_finished_job_is_a_409(api, status, make_job):
    job = make_job(status=status)
    response = api.post(f"/api/jobs/{job.pk}/cancel")
    assert response.status_code == 409
    assert Job.objects.get(pk=job.pk).status == status


def test_retry_a_failed_job(api, make_job):
    job = make_job(status="failed", attempts=3, last_error="boom")
    body = api.post(f"/api/jobs/{job.pk}/retry").json()
    assert (body["status"], body["attempts"]) == ("pending", 0)


@pytest.mark.parametrize("status", ["pending", "running", "completed", "cancelled"])
def test_retrying_a_job_that_did_not_fail_is_a_409(api, status, make_job):
    job = make_job(status=status, next_run_at=timezone.now() if status == "pending" else None)
    assert api.post(f"/api/jobs/{job.pk}/retry").status_code == 409


def test_steering_ignores_a_request_body(api, make_job):
    job = make_job()
    response = api.post(f"/api/jobs/{job.pk}/trigger", {"anything": 1}, format="json")
    assert response.status_code == 200


# History -----------------------------------------------------------------------------------


def test_history_is_newest_first_and_filterable(api, make_job):
    job = make_job(status="completed")
    other = make_job()
    now = timezone.now()
    for minutes, status in ((3, "failed"), (2, "completed"), (1, "failed")):
        JobHistory.objects.create(
            job=job,
            status=status,
            attempt=4 - minutes,
            started_at=now - timedelta(minutes=minutes),
            duration=minutes * 1000,
            result={"n": minutes},
        )
    JobHistory.objects.create(job=other, status="completed")
    body = api.get(f"/api/jobs/{job.pk}/history").json()
    assert body["count"] == 3
    assert [run["attempt"] for run in body["results"]] == [3, 2, 1]
    assert body["results"][0]["job"] == job.pk
    assert body["results"][1]["result"] == {"n": 2}
    failed = api.get(f"/api/jobs/{job.pk}/history/?status=failed").json()["results"]
    assert [run["attempt"] for run in failed] == [3, 1]


def test_history_pages(api, make_job):
    job = make_job(status="completed")
    JobHistory.objects.bulk_create(
        [JobHistory(job=job, status="completed", attempt=n) for n in range(1, 8)]
    )
    body = api.get(f"/api/jobs/{job.pk}/history?page_size=3&page=2").json()
    assert body["count"] == 7 and len(body["results"]) == 3
    assert "page=3" in body["next"] and body["previous"]


def test_history_with_an_unknown_status_is_a_400(api, make_job):
    job = make_job()
    response = api.get(f"/api/jobs/{job.pk}/history?status=exploded")
    assert response.status_code == 400
    assert "status" in response.json()


def test_responses_are_json(api, make_job):
    job = make_job()
    response = api.get(f"/api/jobs/{job.pk}")
    assert response["Content-Type"].startswith("application/json")
    assert json.loads(response.content)["id"] == job.pk
    assert JobStatus.PENDING == response.json()["status"]
