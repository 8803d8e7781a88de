"""Staff only by default, on every endpoint; the permission classes come from settings."""

import base64

import pytest
from django.contrib.auth import get_user_model
from django.test import override_settings
from rest_framework.test import APIClient

from django_jobs.models import Job, Runner

pytest_plugins = ["tests.api_fixtures"]
pytestmark = pytest.mark.django_db

FAST_HASHER = ["django.contrib.auth.hashers.MD5PasswordHasher"]

ENDPOINTS = [
    ("get", "/api/jobs", None),
    ("post", "/api/jobs", {"handler": "echo"}),
    ("get", "/api/jobs/{pk}", None),
    ("put", "/api/jobs/{pk}", {"name": "renamed"}),
    ("patch", "/api/jobs/{pk}", {"name": "renamed"}),
    ("delete", "/api/jobs/{pk}", None),
    ("post", "/api/jobs/{pk}/trigger", None),
    ("post", "/api/jobs/{pk}/cancel", None),
    ("post", "/api/jobs/{pk}/retry", None),
    ("get", "/api/jobs/{pk}/history", None),
    ("get", "/api/jobs/runner", None),
    ("post", "/api/jobs/runner/start", None),
    ("post", "/api/jobs/runner/stop", None),
    ("get", "/api/jobs/handlers", None),
    ("get", "/api/jobs/stats", None),
    ("post", "/api/jobs/schedule/validate", {"schedule": "5m"}),
    ("post", "/api/jobs/bulk", [{"handler": "echo"}]),
]


def call(client, method, url, body, job):
    return getattr(client, method)(url.format(pk=job.pk), body, format="json")


def unchanged(job):
    current = Job.objects.get(pk=job.pk)
    return (
        Job.objects.count() == 1
        and (current.name, current.status) == (job.name, job.status)
        and not Runner.objects.exists()
    )


@pytest.mark.parametrize(("method", "url", "body"), ENDPOINTS)
def test_anonymous_is_refused_everywhere(anon_api, method, url, body, make_job):
    job = make_job(status="failed")
    response = call(anon_api, method, url, body, job)
    assert response.status_code in (401, 403)
    assert unchanged(job)


@pytest.mark.parametrize(("method", "url", "body"), ENDPOINTS)
def test_non_staff_is_refused_everywhere(plain_api, method, url, body, make_job):
    job = make_job(status="failed")
    response = call(plain_api, method, url, body, job)
    assert response.status_code == 403
    assert response.json() == {"detail": "Only staff users may manage jobs."}
    assert unchanged(job)


@pytest.mark.parametrize(("method", "url", "body"), ENDPOINTS)
def test_staff_with_the_permissions_is_let_in_everywhere(api, method, url, body, make_job):
    job = make_job(status="pending" if url.endswith("cancel") else "failed")
    response = call(api, method, url, body, job)
    assert response.status_code in (200, 201, 204), response.content


def test_inactive_staff_is_refused(staff_user):
    staff_user.is_active = False
    staff_user.save()
    client = APIClient()
    client.force_authenticate(staff_user)
    assert client.get("/api/jobs").status_code == 403


def basic(username, password):
    token = base64.b64encode(f"{username}:{password}".encode()).decode()
    return {"HTTP_AUTHORIZATION": f"Basic {token}"}


@override_settings(PASSWORD_HASHERS=FAST_HASHER)
def test_basic_authentication_works_out_of_the_box():
    get_user_model().objects.create_superuser("admin", password="admin")
    client = APIClient()
    assert client.get("/api/jobs", **basic("admin", "admin")).status_code == 200
    assert (
        client.post(
            "/api/jobs", {"handler": "echo"}, format="json", **basic("admin", "admin")
        ).status_code
        == 201
    )
    assert client.get("/api/jobs", **basic("admin", "wrong")).status_code in (401, 403)


def test_session_writes_need_the_csrf_token(staff_user):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(staff_user)
    assert client.get("/api/jobs").status_code == 200
    assert client.post("/api/jobs", {"handler": "echo"}, format="json").status_code == 403
    assert not Job.objects.exists()


def test_permission_classes_come_from_settings(anon_api, plain_api):
    with override_settings(
        DJANGO_JOBS={"API_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"]}
    ):
        assert plain_api.get("/api/jobs").status_code == 200
        assert anon_api.get("/api/jobs").status_code == 403
    with override_settings(
        DJANGO_JOBS={"API_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"]}
    ):
        assert anon_api.get("/api/jobs/stats").status_code == 200
    assert plain_api.get("/api/jobs").status_code == 403


def test_a_query_parameter_cannot_choose_the_permission_classes(anon_api):
    url = "/api/jobs?API_PERMISSION_CLASSES=rest_framework.permissions.AllowAny"
    assert anon_api.get(url).status_code == 403


@override_settings(
    REST_FRAMEWORK={
        "DEFAULT_AUTHENTICATION_CLASSES": ["rest_framework.authentication.BasicAuthentication"]
    }
)
def test_authentication_follows_the_project_settings(staff_user, anon_api):
    # With Basic first, DRF answers anonymous requests with 401 and a challenge.
    response = anon_api.get("/api/jobs")
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Basic")
    session = APIClient()
    session.force_login(staff_user)
    assert session.get("/api/jobs").status_code in (401, 403)


# Django's model permissions decide, on top of staff ---------------------------------------

# Each endpoint above -> the permissions it needs (the default permission class).
NEEDS = {
    ("get", "/api/jobs"): {"view_job"},
    ("post", "/api/jobs"): {"add_job"},
    ("get", "/api/jobs/{pk}"): {"view_job"},
    ("put", "/api/jobs/{pk}"): {"change_job"},
    ("patch", "/api/jobs/{pk}"): {"change_job"},
    ("delete", "/api/jobs/{pk}"): {"delete_job"},
    ("post", "/api/jobs/{pk}/trigger"): {"change_job"},
    ("post", "/api/jobs/{pk}/cancel"): {"change_job"},
    ("post", "/api/jobs/{pk}/retry"): {"change_job"},
    ("get", "/api/jobs/{pk}/history"): {"view_job", "view_jobhistory"},
    ("get", "/api/jobs/runner"): {"view_job"},
    ("post", "/api/jobs/runner/start"): {"change_runner"},
    ("post", "/api/jobs/runner/stop"): {"change_runner"},
    ("get", "/api/jobs/handlers"): {"view_job"},
    ("get", "/api/jobs/stats"): {"view_job"},
    ("post", "/api/jobs/schedule/validate"): {"view_job"},
    ("post", "/api/jobs/bulk"): {"add_job"},
}
PERMISSION_SETS = [
    (),
    ("view_job",),
    ("view_job", "view_jobhistory"),
    ("add_job",),
    ("change_job",),
    ("delete_job",),
    ("change_runner",),
]


def test_every_endpoint_names_what_it_needs():
    assert sorted(NEEDS) == sorted((method, url) for method, url, _ in ENDPOINTS)


@pytest.mark.parametrize("codenames", PERMISSION_SETS, ids=lambda c: "+".join(c) or "none")
def test_staff_get_exactly_what_their_permissions_allow(codenames, staff_api, make_job):
    client = staff_api(codenames)
    held = set(codenames)
    if "change_job" in held:
        held.add("view_job")  # as in the admin, changing implies viewing
    for method, url, body in ENDPOINTS:
        job = make_job(status="pending" if url.endswith("cancel") else "failed")
        response = call(client, method, url, body, job)
        if NEEDS[(method, url)] <= held:
            assert response.status_code in (200, 201, 204), (method, url, response.content)
        else:
            assert response.status_code == 403, (method, url)
            missing = sorted(NEEDS[(method, url)] - held)[0]
            assert f"django_jobs.{missing}" in response.json()["detail"]
            assert unchanged(job), (method, url)
        Job.objects.all().delete()
        Runner.objects.all().delete()


def test_a_view_only_staff_user_reads_and_changes_nothing(staff_api, make_job):
    client = staff_api(["view_job", "view_jobhistory"])
    job = make_job(status="failed")
    assert client.get("/api/jobs").json()["results"][0]["id"] == job.pk
    assert client.get(f"/api/jobs/{job.pk}/history").status_code == 200
    refused = [
        client.post("/api/jobs", {"handler": "echo"}, format="json"),
        client.post("/api/jobs/bulk", [{"handler": "echo"}], format="json"),
        client.patch(f"/api/jobs/{job.pk}", {"name": "x"}, format="json"),
        client.post(f"/api/jobs/{job.pk}/retry"),
        client.post(f"/api/jobs/{job.pk}/trigger"),
        client.delete(f"/api/jobs/{job.pk}"),
        client.post("/api/jobs/runner/stop"),
    ]
    assert [r.status_code for r in refused] == [403] * len(refused)
    assert unchanged(job)


def test_superusers_hold_every_permission_but_must_be_staff(make_job):
    user = get_user_model().objects.create_superuser("root")
    job = make_job(status="failed")
    client = APIClient()
    client.force_login(user)
    assert client.post(f"/api/jobs/{job.pk}/retry").status_code == 200
    user.is_staff = False
    user.save()
    assert client.get("/api/jobs").status_code == 403


def test_permission_classes_from_settings_replace_the_model_permissions(staff_api, make_job):
    client = staff_api([])
    job = make_job(status="failed")
    assert client.post(f"/api/jobs/{job.pk}/retry").status_code == 403
    staff_only = ["django_jobs.api.permissions.IsStaff"]
    with override_settings(DJANGO_JOBS={"API_PERMISSION_CLASSES": staff_only}):
        assert client.post(f"/api/jobs/{job.pk}/retry").status_code == 200
    assert Job.objects.get(pk=job.pk).status == "pending"
