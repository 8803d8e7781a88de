"""Dead jobs in the admin: the filter, and the requeue and purge actions."""

import pytest
from django.urls import reverse

from django_jobs import enqueue
from django_jobs.models import Job, JobHistory, JobStatus
from django_jobs.worker import WorkerLoop

from .test_admin import messages_of
from .test_admin_permissions import staff_client
from .test_dead import dead_job

pytestmark = pytest.mark.django_db


def changelist():
    return reverse("admin:django_jobs_job_changelist")


def act(client, action, jobs, **extra):
    return client.post(
        changelist(),
        {"action": action, "_selected_action": [job.pk for job in jobs], **extra},
        follow=True,
    )


def test_the_dead_filter_lists_dead_jobs_only(admin_client):
    dead = dead_job()
    recurring = Job.objects.create(name="r", handler="echo", schedule="1h", status="failed")
    pending = enqueue("echo")
    response = admin_client.get(changelist(), {"dead": "yes"})
    assert response.status_code == 200
    shown = {job.pk for job in response.context["cl"].result_list}
    assert shown == {dead.pk}
    assert recurring.pk not in shown and pending.pk not in shown
    assert "Dead (failed for good)" in response.content.decode()


def test_requeue_action_requeues_dead_jobs_and_reports_the_rest(admin_client):
    dead, held = dead_job(), dead_job(unique_key="k")
    enqueue("echo", unique_key="k")
    completed = Job.objects.create(name="c", handler="echo", status=JobStatus.COMPLETED)
    response = act(admin_client, "requeue_dead_jobs", [dead, held, completed])
    (message,) = messages_of(response)
    assert message.startswith("1 dead job requeued, 1 kept dead: a live job holds")
    assert message.endswith("1 skipped: not dead")
    job = Job.objects.get(pk=dead.pk)
    assert (job.status, job.attempts) == (JobStatus.PENDING, 0)
    assert Job.objects.get(pk=held.pk).status == JobStatus.FAILED
    assert Job.objects.get(pk=completed.pk).status == JobStatus.COMPLETED


def test_purge_action_asks_first_then_deletes_dead_jobs_and_history(admin_client):
    job = enqueue("fail", max_attempts=1)
    WorkerLoop(listen=False).run_once()
    completed = Job.objects.create(name="c", handler="echo", status=JobStatus.COMPLETED)
    dead = Job.objects.get(pk=job.pk)
    page = act(admin_client, "purge_dead_jobs", [dead, completed])
    text = page.content.decode()
    assert "1 dead job and 1 run of their history will be deleted" in text
    assert "1 selected job not dead will be left alone" in text
    assert Job.objects.filter(pk=dead.pk).exists()
    response = act(admin_client, "purge_dead_jobs", [dead, completed], post="yes")
    assert messages_of(response) == ["1 dead job purged with their history, 1 skipped: not dead"]
    assert not Job.objects.filter(pk=dead.pk).exists()
    assert not JobHistory.objects.filter(job_id=dead.pk).exists()
    assert Job.objects.filter(pk=completed.pk).exists()


def test_the_actions_follow_the_permission_rule(django_user_model):
    dead = dead_job()
    viewer = staff_client(django_user_model, "viewer", "view_job")
    operator = staff_client(django_user_model, "operator", "view_job", "change_job")
    page = viewer.get(changelist())
    assert "requeue_dead_jobs" not in page.content.decode()
    assert "purge_dead_jobs" not in page.content.decode()
    act(viewer, "requeue_dead_jobs", [dead])
    assert Job.objects.get(pk=dead.pk).status == JobStatus.FAILED
    operator_page = operator.get(changelist()).content.decode()
    assert "requeue_dead_jobs" in operator_page and "purge_dead_jobs" not in operator_page
    act(operator, "purge_dead_jobs", [dead], post="yes")
    assert Job.objects.filter(pk=dead.pk).exists()
    act(operator, "requeue_dead_jobs", [dead])
    assert Job.objects.get(pk=dead.pk).status == JobStatus.PENDING
