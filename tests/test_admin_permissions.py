"""A view-only staff user sees every admin page and can change nothing."""

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from django_jobs import enqueue, schedule
from django_jobs.models import Job, JobHistory, JobStatus, RunStatus
from django_jobs.runner import is_running as runner_running

pytestmark = pytest.mark.django_db


def staff_client(django_user_model, username, *codenames):
    user = django_user_model.objects.create_user(username, password="pw", is_staff=True)
    user.user_permissions.set(
        Permission.objects.filter(content_type__app_label="django_jobs", codename__in=codenames)
    )
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def viewer(django_user_model):
    return staff_client(django_user_model, "viewer", "view_job", "view_jobhistory")


@pytest.fixture
def operator(django_user_model):
    """May steer and edit jobs, but not delete them."""
    return staff_client(django_user_model, "operator", "view_job", "change_job", "view_jobhistory")


@pytest.fixture
def jobs():
    failed = enqueue("fail", {"why": "test"}, name="Broken")
    Job.objects.filter(pk=failed.pk).update(
        status=JobStatus.FAILED, next_run_at=None, attempts=3, last_error="RuntimeError: boom"
    )
    recurring = schedule("Daily", "echo", "0 9 * * *", {"k": "v"})
    run = JobHistory.objects.create(
        job=recurring, status=RunStatus.COMPLETED, scheduled_for=timezone.now(), result={"ok": 1}
    )
    return {"failed": Job.objects.get(pk=failed.pk), "recurring": recurring, "run": run}


def steer(job, verb):
    return reverse("admin:django_jobs_job_steer", args=[job.pk, verb])


def test_viewer_sees_every_page_without_controls(viewer, jobs):
    failed, recurring = jobs["failed"], jobs["recurring"]
    pages = {
        "list": reverse("admin:django_jobs_job_changelist"),
        "job": reverse("admin:django_jobs_job_change", args=[recurring.pk]),
        "failed": reverse("admin:django_jobs_job_change", args=[failed.pk]),
        "history": reverse("admin:django_jobs_jobhistory_changelist"),
        "run": reverse("admin:django_jobs_jobhistory_change", args=[jobs["run"].pk]),
        "runner": reverse("admin:django_jobs_job_runner"),
    }
    bodies = {}
    for name, url in pages.items():
        response = viewer.get(url)
        assert response.status_code == 200, name
        bodies[name] = response.content.decode()
    assert "action-checkbox" not in bodies["list"]
    assert 'name="action"' not in bodies["list"]
    assert "/steer/" not in bodies["job"] + bodies["failed"]
    assert 'name="_save"' not in bodies["job"]
    assert "&quot;k&quot;: &quot;v&quot;" in bodies["job"]  # data still shown, as JSON
    assert "RuntimeError: boom" in bodies["failed"]
    assert 'name="runner"' not in bodies["runner"]
    assert "Runner: on" in bodies["runner"]


def test_viewer_cannot_post_anything(viewer, jobs):
    failed, recurring = jobs["failed"], jobs["recurring"]
    change = reverse("admin:django_jobs_job_change", args=[recurring.pk])
    assert viewer.post(change, {"name": "hacked"}).status_code == 403
    for job, verb in [(failed, "retry"), (failed, "run"), (recurring, "cancel")]:
        assert viewer.post(steer(job, verb)).status_code == 403
    runner = reverse("admin:django_jobs_job_runner")
    assert viewer.post(runner, {"runner": "stop"}).status_code == 403
    delete = reverse("admin:django_jobs_job_delete", args=[failed.pk])
    assert viewer.post(delete, {"post": "yes"}).status_code == 403
    assert viewer.get(reverse("admin:django_jobs_job_add")).status_code == 403
    for action in ["run_jobs", "cancel_jobs", "retry_jobs", "delete_jobs", "delete_selected"]:
        viewer.post(
            reverse("admin:django_jobs_job_changelist"),
            {"action": action, "_selected_action": [failed.pk, recurring.pk], "post": "yes"},
        )
    history_delete = reverse("admin:django_jobs_jobhistory_delete", args=[jobs["run"].pk])
    assert viewer.post(history_delete, {"post": "yes"}).status_code == 403
    assert runner_running() is True
    assert Job.objects.count() == 2 and JobHistory.objects.count() == 1
    assert Job.objects.get(pk=failed.pk).status == JobStatus.FAILED
    assert Job.objects.get(pk=recurring.pk).status == JobStatus.PENDING
    assert Job.objects.get(pk=recurring.pk).name == "Daily"


def test_operator_steers_but_cannot_delete(operator, jobs):
    failed = jobs["failed"]
    page = operator.get(reverse("admin:django_jobs_job_change", args=[failed.pk])).content
    assert steer(failed, "retry").encode() in page
    assert b"deletelink" not in page
    assert operator.post(steer(failed, "retry")).status_code == 302
    assert Job.objects.get(pk=failed.pk).status == JobStatus.PENDING
    listing = operator.get(reverse("admin:django_jobs_job_changelist")).content.decode()
    assert 'value="run_jobs"' in listing and 'value="delete_jobs"' not in listing
    delete = reverse("admin:django_jobs_job_delete", args=[failed.pk])
    assert operator.post(delete, {"post": "yes"}).status_code == 403
    # The runner switch is a permission of its own (change_runner), as in the API.
    runner = reverse("admin:django_jobs_job_runner")
    assert 'name="runner"' not in operator.get(runner).content.decode()
    assert operator.post(runner, {"runner": "stop"}).status_code == 403
    assert runner_running() is True


def test_the_runner_switch_needs_change_runner(django_user_model, jobs):
    switcher = staff_client(django_user_model, "switcher", "view_job", "change_runner")
    runner = reverse("admin:django_jobs_job_runner")
    assert 'name="runner"' in switcher.get(runner).content.decode()
    assert switcher.post(runner, {"runner": "stop"}).status_code == 302
    assert runner_running() is False
    failed = jobs["failed"]
    assert switcher.post(steer(failed, "retry")).status_code == 403
    assert Job.objects.get(pk=failed.pk).status == JobStatus.FAILED


def test_staff_without_permissions_get_no_job_pages(django_user_model, jobs):
    bare = staff_client(django_user_model, "bare")
    for url in [
        reverse("admin:django_jobs_job_changelist"),
        reverse("admin:django_jobs_job_change", args=[jobs["recurring"].pk]),
        reverse("admin:django_jobs_job_runner"),
    ]:
        assert bare.get(url).status_code == 403, url
    assert bare.post(steer(jobs["failed"], "retry")).status_code == 403
    assert Job.objects.get(pk=jobs["failed"].pk).status == JobStatus.FAILED


def test_only_superusers_delete_history(admin_client, operator, jobs):
    run = jobs["run"]
    url = reverse("admin:django_jobs_jobhistory_delete", args=[run.pk])
    assert operator.post(url, {"post": "yes"}).status_code == 403
    assert admin_client.post(url, {"post": "yes"}).status_code == 302
    assert not JobHistory.objects.exists()


def test_anonymous_users_are_sent_to_login(client, jobs):
    for url in [
        reverse("admin:django_jobs_job_runner"),
        steer(jobs["failed"], "retry"),
    ]:
        response = client.post(url)
        assert response.status_code == 302 and "/login/" in response.url
    assert Job.objects.get(pk=jobs["failed"].pk).status == JobStatus.FAILED
