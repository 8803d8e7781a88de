"""One answer to "may this job be edited, triggered, cancelled, retried or deleted now".

``django_jobs.steering.ALLOWED`` gives it; the Python API, the REST API and the
admin (its buttons, its delete link, its editable fields) each follow it.
"""

import pytest
from django.urls import reverse
from django.utils import timezone

from django_jobs import creating, steering
from django_jobs.exceptions import JobStateError
from django_jobs.models import Job, JobStatus

pytest_plugins = ["tests.api_fixtures"]
pytestmark = pytest.mark.django_db

STATUSES = [status.value for status in JobStatus]
VERBS = ["edit", "trigger", "cancel", "retry", "delete"]

EXPECTED = {
    "pending": {"edit", "trigger", "cancel", "delete"},
    "running": {"cancel"},
    "completed": {"edit", "trigger", "delete"},
    "failed": {"edit", "trigger", "retry", "delete"},
    "cancelled": {"edit", "trigger", "delete"},
}


def job_in(status, make_job, make_worker):
    if status == "running":
        return make_job(status=status, worker=make_worker(), started_at=timezone.now())
    return make_job(status=status)


PYTHON = {
    "edit": lambda job: creating.update(job, name="renamed"),
    "trigger": steering.trigger,
    "cancel": steering.cancel,
    "retry": steering.retry,
    "delete": steering.delete,
}
API = {
    "edit": lambda api, pk: api.patch(f"/api/jobs/{pk}", {"name": "renamed"}, format="json"),
    "trigger": lambda api, pk: api.post(f"/api/jobs/{pk}/trigger"),
    "cancel": lambda api, pk: api.post(f"/api/jobs/{pk}/cancel"),
    "retry": lambda api, pk: api.post(f"/api/jobs/{pk}/retry"),
    "delete": lambda api, pk: api.delete(f"/api/jobs/{pk}"),
}
ADMIN_BUTTONS = {"trigger": "run", "cancel": "cancel", "retry": "retry"}


def test_the_table():
    for status in STATUSES:
        assert set(steering.allowed_verbs(status)) == EXPECTED[status], status


@pytest.mark.parametrize("status", STATUSES)
@pytest.mark.parametrize("verb", VERBS)
def test_the_python_api_follows_the_table(status, verb, make_job, make_worker):
    job = job_in(status, make_job, make_worker)
    before = Job.objects.filter(pk=job.pk).values().get()
    if steering.may(verb, status):
        PYTHON[verb](job)
    else:
        with pytest.raises(JobStateError, match=f"cannot {verb} job {job.pk}"):
            PYTHON[verb](job)
        assert Job.objects.filter(pk=job.pk).values().get() == before


@pytest.mark.parametrize("status", STATUSES)
@pytest.mark.parametrize("verb", VERBS)
def test_the_rest_api_follows_the_table(api, status, verb, make_job, make_worker):
    job = job_in(status, make_job, make_worker)
    response = API[verb](api, job.pk)
    if steering.may(verb, status):
        assert response.status_code in (200, 204), response.content
    else:
        assert response.status_code == 409
        assert f"cannot {verb} job {job.pk}" in response.json()["detail"]


@pytest.mark.parametrize("status", STATUSES)
def test_the_admin_page_follows_the_table(admin_client, status, make_job, make_worker):
    job = job_in(status, make_job, make_worker)
    page = admin_client.get(reverse("admin:django_jobs_job_change", args=[job.pk]))
    body = page.content.decode()
    for verb, button in ADMIN_BUTTONS.items():
        url = reverse("admin:django_jobs_job_steer", args=[job.pk, button])
        assert (url in body) == steering.may(verb, status), (verb, status)
    assert ('name="_save"' in body) == steering.may("edit", status)
    assert ("deletelink" in body) == steering.may("delete", status)
    assert ('name="run_at_0"' in body) == (status == "pending")


def test_a_running_job_is_not_renamed_by_any_door(api, admin_client, make_job, make_worker):
    job = job_in("running", make_job, make_worker)
    with pytest.raises(JobStateError, match="running"):
        creating.update(job, name="renamed")
    assert api.patch(f"/api/jobs/{job.pk}", {"name": "renamed"}, format="json").status_code == 409
    assert Job.objects.get(pk=job.pk).name == "job"


def test_run_at_on_a_finished_job_is_refused_by_every_door(api, make_job):
    job = make_job(status="completed")
    later = timezone.now() + timezone.timedelta(hours=1)
    with pytest.raises(JobStateError, match="trigger or retry"):
        creating.update(job, run_at=later)
    response = api.patch(f"/api/jobs/{job.pk}", {"run_at": later.isoformat()}, format="json")
    assert response.status_code == 409
    # An empty run_at asks for nothing, so the rest of the change goes through.
    assert creating.update(job, name="again", run_at=None).name == "again"


def test_the_admin_refuses_to_delete_what_steering_refuses(admin_client, make_job, make_worker):
    running = job_in("running", make_job, make_worker)
    done = make_job(status="completed", name="done")
    changelist = reverse("admin:django_jobs_job_changelist")
    response = admin_client.post(
        changelist,
        {"action": "delete_jobs", "_selected_action": [running.pk, done.pk], "post": "yes"},
        follow=True,
    )
    assert response.status_code == 200
    assert list(Job.objects.values_list("pk", flat=True)) == [running.pk]
