"""A recurring job's name is its identity, whichever door creates or renames it.

schedule(), the SCHEDULES setting, the REST API and the admin all end in one
row per recurring name: the unique constraint on ``key`` decides, so a clash is
a 400 / ``InvalidJob("name")`` and never a second row, even under a race.
"""

import threading

import pytest
from django.core.management import call_command
from django.db import close_old_connections, connection
from django.test import override_settings
from django.urls import reverse

from django_jobs import creating, enqueue, schedule
from django_jobs.exceptions import InvalidJob
from django_jobs.models import Job

from .test_admin import form_data

pytest_plugins = ["tests.api_fixtures"]
pytestmark = pytest.mark.django_db


def api_create(api, name, schedule_expr="0 2 * * *", handler="noop"):
    body = {"name": name, "handler": handler, "schedule": schedule_expr}
    return api.post("/api/jobs", body, format="json")


def admin_form_data(**overrides):
    """The admin's add form for a recurring job named "Nightly"."""
    return form_data(**{"name": "Nightly", "data": "null", "schedule": "0 2 * * *", **overrides})


def recurring_named(name):
    return list(Job.objects.recurring().filter(name=name))


# Creating: every door ends in the same row ---------------------------------------------


def test_schedule_updates_the_job_the_api_created(api):
    response = api_create(api, "Nightly")
    assert response.status_code == 201, response.json()
    job = schedule("Nightly", "echo", "0 3 * * *", {"v": 1})
    (only,) = recurring_named("Nightly")
    assert only.pk == job.pk == response.json()["id"]
    assert (only.handler, only.schedule, only.data) == ("echo", "0 3 * * *", {"v": 1})


def test_schedule_updates_the_job_the_admin_created(admin_client):
    response = admin_client.post(reverse("admin:django_jobs_job_add"), admin_form_data())
    assert response.status_code == 302
    created = Job.objects.get()
    job = schedule("Nightly", "echo", "5m")
    assert recurring_named("Nightly") == [created]
    assert job.pk == created.pk and Job.objects.get().schedule == "5m"


@pytest.mark.django_db(transaction=True)
def test_declared_schedules_update_a_name_first_used_through_the_api(api):
    created = api_create(api, "Nightly").json()
    declared = {"Nightly": {"handler": "echo", "schedule": "1h", "data": {"from": "settings"}}}
    with override_settings(DJANGO_JOBS={"SCHEDULES": declared}):
        call_command("runjobs", "--once", "-v", "0")
    (only,) = recurring_named("Nightly")
    assert only.pk == created["id"]
    assert (only.schedule, only.data) == ("1h", {"from": "settings"})


def test_api_refuses_a_name_schedule_holds(api):
    schedule("Nightly", "noop", "1h")
    response = api_create(api, "Nightly")
    assert response.status_code == 400
    assert list(response.json()) == ["name"]
    assert len(recurring_named("Nightly")) == 1


def test_admin_refuses_a_name_the_api_holds(api, admin_client):
    api_create(api, "Nightly")
    response = admin_client.post(reverse("admin:django_jobs_job_add"), admin_form_data())
    assert response.status_code == 200
    assert "name" in response.context["adminform"].form.errors
    assert len(recurring_named("Nightly")) == 1


def test_save_new_refuses_a_second_recurring_job_by_the_constraint():
    """No look-up first: the insert itself is refused, so no check can be raced past."""
    schedule("Nightly", "noop", "1h")
    twin = creating.build_job("echo", name="Nightly", schedule="5m")
    with pytest.raises(InvalidJob) as refused:
        creating.save_new(twin)
    assert refused.value.field == "name" and "Nightly" in refused.value.message
    assert len(recurring_named("Nightly")) == 1


def test_one_time_jobs_do_not_take_a_recurring_name(api):
    schedule("Nightly", "noop", "1h")
    enqueue("echo", name="Nightly")
    assert api.post("/api/jobs", {"name": "Nightly", "handler": "echo"}, format="json").status_code
    assert Job.objects.filter(name="Nightly").count() == 3
    assert len(recurring_named("Nightly")) == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_creations_leave_one_row(django_db_blocker):
    """Eight threads create "Nightly" at once through the one door: one row, seven refusals."""
    threads, outcomes = 8, []
    barrier = threading.Barrier(threads)

    def create(index):
        try:
            barrier.wait(timeout=30)
            creating.save_new(creating.build_job("echo", name="Nightly", schedule=f"{index + 1}m"))
            outcomes.append("created")
        except InvalidJob as exc:
            outcomes.append(exc.field)
        finally:
            close_old_connections()
            connection.close()

    workers = [threading.Thread(target=create, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    assert sorted(outcomes) == ["created"] + ["name"] * (threads - 1)
    assert len(recurring_named("Nightly")) == 1


# Renaming: the same rule ------------------------------------------------------------------


def test_api_rename_onto_another_recurring_name_is_a_400(api):
    api_create(api, "Twin")
    other = api_create(api, "Other", "5m").json()
    response = api.patch(f"/api/jobs/{other['id']}", {"name": "Twin"}, format="json")
    assert response.status_code == 400
    assert list(response.json()) == ["name"]
    assert sorted(Job.objects.values_list("name", flat=True)) == ["Other", "Twin"]


def test_api_giving_a_one_time_job_a_taken_recurring_name_and_a_schedule_is_a_400(api):
    schedule("Twin", "noop", "1h")
    one_time = enqueue("echo", name="Twin")
    response = api.patch(f"/api/jobs/{one_time.pk}", {"schedule": "5m"}, format="json")
    assert response.status_code == 400
    assert list(response.json()) == ["name"]
    assert Job.objects.get(pk=one_time.pk).schedule == ""


def test_admin_rename_onto_another_recurring_name_is_refused(admin_client):
    schedule("Twin", "noop", "1h")
    other = schedule("Other", "echo", "5m")
    response = admin_client.post(
        reverse("admin:django_jobs_job_change", args=[other.pk]),
        admin_form_data(name="Twin", schedule="5m", **{"history-INITIAL_FORMS": "0"}),
    )
    assert response.status_code == 200
    assert "name" in response.context["adminform"].form.errors
    assert Job.objects.get(pk=other.pk).name == "Other"


def test_python_update_rename_onto_another_recurring_name_raises():
    schedule("Twin", "noop", "1h")
    other = schedule("Other", "echo", "5m")
    with pytest.raises(InvalidJob) as refused:
        creating.update(other, name="Twin")
    assert refused.value.field == "name"
    assert Job.objects.get(pk=other.pk).name == "Other"


def test_the_identity_follows_a_rename():
    job = schedule("Before", "noop", "1h")
    creating.update(job, name="After")
    assert schedule("After", "echo", "5m").pk == job.pk
    fresh = schedule("Before", "echo", "5m")
    assert fresh.pk != job.pk
    assert Job.objects.recurring().count() == 2


def test_a_job_made_one_time_frees_its_name():
    job = schedule("Nightly", "noop", "1h")
    creating.update(job, schedule="")
    fresh = schedule("Nightly", "echo", "5m")
    assert fresh.pk != job.pk and len(recurring_named("Nightly")) == 1
