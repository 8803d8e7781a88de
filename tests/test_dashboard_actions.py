"""Dashboard buttons, bulk actions, permissions and escaping."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from django_jobs import enqueue, runner, schedule, steering
from django_jobs.dashboard import actions
from django_jobs.exceptions import JobStateError
from django_jobs.models import Job, JobHistory, JobStatus, RunStatus
from django_jobs.worker import WorkerLoop

pytestmark = pytest.mark.django_db

PAGES = [
    "overview",
    "cards",
    "data",
    "jobs",
    "recurring",
    "workers",
    "handlers",
    "queues",
    "failures",
]


def url(name, *args):
    return reverse(f"django_jobs_dashboard:{name}", args=args)


def staff(django_user_model, name, *codenames, is_staff=True):
    user = django_user_model.objects.create_user(name, password="pw", is_staff=is_staff)
    user.user_permissions.set(
        Permission.objects.filter(content_type__app_label="django_jobs", codename__in=codenames)
    )
    client = Client()
    client.force_login(user)
    return client


def failed_job(name="broken", error="RuntimeError: boom"):
    job = enqueue("fail", {"x": 1}, name=name)
    Job.objects.filter(pk=job.pk).update(
        status=JobStatus.FAILED, next_run_at=None, attempts=3, last_error=error
    )
    return job


# Permissions --------------------------------------------------------------


@pytest.mark.parametrize("page", PAGES)
def test_anonymous_users_go_to_the_admin_login(client, page):
    response = client.get(url(page))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


@pytest.mark.parametrize("page", PAGES)
def test_non_staff_users_are_refused(django_user_model, page):
    client = staff(django_user_model, "visitor", "view_job", "change_job", is_staff=False)
    assert client.get(url(page)).status_code == 403


@pytest.mark.parametrize("page", PAGES)
def test_staff_without_the_view_permission_are_refused(django_user_model, page):
    assert staff(django_user_model, "plain").get(url(page)).status_code == 403


def test_viewers_see_pages_but_no_buttons_and_cannot_act(django_user_model):
    job = failed_job()
    viewer = staff(django_user_model, "viewer", "view_job")
    page = viewer.get(url("job", job.pk))
    assert page.status_code == 200
    assert b'data-verb="retry"' not in page.content
    assert viewer.post(url("job-action", job.pk, "retry")).status_code == 403
    assert viewer.post(url("bulk"), {"verb": "retry", "scope": "all"}).status_code == 403
    assert viewer.post(url("runner"), {"runner": "stop"}).status_code == 403
    assert viewer.post(url("failures-retry"), {"handler": "fail"}).status_code == 403
    assert Job.objects.get(pk=job.pk).status == JobStatus.FAILED


def test_operators_may_steer_but_not_delete(django_user_model):
    job = failed_job()
    operator = staff(django_user_model, "operator", "view_job", "change_job")
    assert operator.post(url("job-action", job.pk, "delete")).status_code == 403
    assert Job.objects.filter(pk=job.pk).exists()
    assert operator.post(url("job-action", job.pk, "retry")).status_code == 302
    assert Job.objects.get(pk=job.pk).status == JobStatus.PENDING


def test_actions_need_post_and_csrf(django_user_model):
    job = failed_job()
    user = django_user_model.objects.create_superuser("root", password="pw")
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    assert client.get(url("job-action", job.pk, "retry")).status_code == 405
    assert client.post(url("job-action", job.pk, "retry")).status_code == 403
    assert Job.objects.get(pk=job.pk).status == JobStatus.FAILED


def test_metrics_need_staff_or_the_token(client, admin_client, settings):
    assert client.get(url("metrics")).status_code == 302
    settings.DJANGO_JOBS = {**settings.DJANGO_JOBS, "METRICS_TOKEN": "s3cret"}
    assert client.get(url("metrics"), HTTP_AUTHORIZATION="Bearer wrong").status_code == 302
    assert client.get(url("metrics"), HTTP_AUTHORIZATION="Bearer s3cret").status_code == 200
    assert admin_client.get(url("metrics")).status_code == 200


# Actions ------------------------------------------------------------------


def test_run_now_cancel_retry_delete_from_a_job_page(admin_client):
    job = enqueue("noop", run_at=timezone.now() + timedelta(days=1))
    admin_client.post(url("job-action", job.pk, "run"))
    assert Job.objects.get(pk=job.pk).next_run_at <= timezone.now()
    admin_client.post(url("job-action", job.pk, "cancel"))
    assert Job.objects.get(pk=job.pk).status == JobStatus.CANCELLED
    broken = failed_job()
    response = admin_client.post(url("job-action", broken.pk, "retry"), follow=True)
    assert b"1 job queued for retry" in response.content
    response = admin_client.post(url("job-action", job.pk, "delete"))
    assert response["Location"] == url("jobs")
    assert not Job.objects.filter(pk=job.pk).exists()


def test_a_refused_action_says_why_and_changes_nothing(admin_client):
    job = enqueue("noop")
    response = admin_client.post(url("job-action", job.pk, "retry"), follow=True)
    assert b"1 skipped" in response.content
    assert Job.objects.get(pk=job.pk).status == JobStatus.PENDING
    assert admin_client.post(url("job-action", job.pk, "explode")).status_code == 404


def test_next_must_stay_on_this_site(admin_client):
    job = failed_job()
    response = admin_client.post(
        url("job-action", job.pk, "retry"), {"next": "https://evil.example/"}
    )
    assert response["Location"] == url("job", job.pk)


def test_bulk_retry_asks_first_and_says_how_many(admin_client):
    jobs = [failed_job(f"b{i}") for i in range(3)]
    other = enqueue("noop")
    confirm = admin_client.post(url("bulk"), {"verb": "retry", "scope": "all", "status": "failed"})
    assert confirm.status_code == 200
    assert confirm.context["count"] == 3
    assert b"Retry: 3 jobs" in confirm.content
    assert Job.objects.filter(status=JobStatus.FAILED).count() == 3  # nothing yet
    fields = {k: v for k, v in confirm.context["fields"]}
    done = admin_client.post(url("bulk"), {**fields, "confirmed": "yes"}, follow=True)
    assert b"3 jobs queued for retry" in done.content
    assert all(Job.objects.get(pk=j.pk).status == JobStatus.PENDING for j in jobs)
    assert Job.objects.get(pk=other.pk).attempts == 0


def test_bulk_on_a_selection_skips_what_its_state_refuses(admin_client):
    broken, fine = failed_job(), enqueue("noop")
    data = {"verb": "retry", "scope": "selected", "ids": [broken.pk, fine.pk], "confirmed": "yes"}
    response = admin_client.post(url("bulk"), data, follow=True)
    assert b"1 job queued for retry, 1 skipped" in response.content
    assert admin_client.post(url("bulk"), {"verb": "retry", "ids": ["x"]}).status_code == 302


def test_bulk_refuses_more_than_its_limit(admin_client, monkeypatch):
    monkeypatch.setattr(actions, "MAX_BULK", 2)
    jobs = [failed_job(f"b{i}") for i in range(3)]
    data = {"verb": "retry", "scope": "all", "status": "failed", "confirmed": "yes"}
    response = admin_client.post(url("bulk"), data)
    assert response.status_code == 200 and response.context["too_many"]
    assert b"narrow the filter" in response.content
    assert all(Job.objects.get(pk=j.pk).status == JobStatus.FAILED for j in jobs)


def test_bulk_delete_and_cancel(admin_client):
    jobs = [enqueue("noop", name=f"n{i}") for i in range(3)]
    admin_client.post(
        url("bulk"),
        {"verb": "cancel", "scope": "selected", "ids": [jobs[0].pk], "confirmed": "yes"},
    )
    assert Job.objects.get(pk=jobs[0].pk).status == JobStatus.CANCELLED
    admin_client.post(url("bulk"), {"verb": "delete", "scope": "all", "q": "n", "confirmed": "yes"})
    assert not Job.objects.filter(pk__in=[j.pk for j in jobs]).exists()


def test_failure_group_retry(admin_client):
    for i in range(3):
        failed_job(f"f{i}")
    failed_job("other", error="KeyError: 'users'")
    response = admin_client.post(
        url("failures-retry"), {"handler": "fail", "error_type": "RuntimeError"}, follow=True
    )
    assert b"3 jobs queued for retry" in response.content
    assert Job.objects.get(name="other").status == JobStatus.FAILED


def test_runner_switch(admin_client):
    admin_client.post(url("runner"), {"runner": "stop"})
    assert runner.is_running() is False
    admin_client.post(url("runner"), {"runner": "start"})
    assert runner.is_running() is True
    response = admin_client.post(url("runner"), {"runner": "maybe"}, follow=True)
    assert b"Choose start or stop" in response.content


# Pause and resume -----------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_paused_recurring_job_keeps_its_schedule_and_fires_nothing():
    job = schedule("ticker", "noop", "1m")
    Job.objects.filter(pk=job.pk).update(next_run_at=timezone.now() - timedelta(seconds=1))
    steering.pause(job)
    paused = Job.objects.get(pk=job.pk)
    assert paused.paused and paused.schedule == "1m" and paused.status == JobStatus.PENDING
    WorkerLoop(listen=False).run_once()
    assert not JobHistory.objects.filter(job=job).exists()
    assert Job.objects.due().filter(pk=job.pk).count() == 0
    resumed = steering.resume(job)
    assert not resumed.paused
    assert resumed.next_run_at > timezone.now()  # the missed slot is skipped
    Job.objects.filter(pk=job.pk).update(next_run_at=timezone.now())
    WorkerLoop(listen=False).run_once()
    assert JobHistory.objects.filter(job=job, status=RunStatus.COMPLETED).count() == 1


def test_one_time_jobs_cannot_be_paused():
    job = enqueue("noop")
    with pytest.raises(JobStateError):
        steering.pause(job)
    with pytest.raises(JobStateError):
        steering.resume(job)
    with pytest.raises(Job.DoesNotExist):
        steering.pause(999999)


def test_pause_and_resume_from_the_dashboard_api_and_admin(admin_client):
    job = schedule("ticker", "noop", "1h")
    admin_client.post(url("job-action", job.pk, "pause"))
    assert Job.objects.get(pk=job.pk).paused
    page = admin_client.get(url("recurring"))
    assert b'data-verb="resume"' in page.content
    admin_client.post(url("job-action", job.pk, "resume"))
    assert not Job.objects.get(pk=job.pk).paused
    response = admin_client.post(f"/api/jobs/{job.pk}/pause", content_type="application/json")
    assert response.status_code == 200 and response.json()["paused"] is True
    response = admin_client.post(f"/api/jobs/{job.pk}/resume/", content_type="application/json")
    assert response.status_code == 200 and response.json()["paused"] is False
    one_time = enqueue("noop")
    assert admin_client.post(f"/api/jobs/{one_time.pk}/pause").status_code == 409
    steer = reverse("admin:django_jobs_job_steer", args=[job.pk, "pause"])
    admin_client.post(steer)
    assert Job.objects.get(pk=job.pk).paused
    change = admin_client.get(reverse("admin:django_jobs_job_change", args=[job.pk]))
    assert b"django-jobs-resume" in change.content


# Escaping -----------------------------------------------------------------

EVIL = "<script>alert(1)</script>"


def test_names_data_errors_and_results_holding_html_are_escaped(admin_client):
    job = enqueue("echo", {"html": EVIL}, name=EVIL)
    JobHistory.objects.create(
        job=job,
        status=RunStatus.FAILED,
        error=f"{EVIL}: {EVIL}",
        result={"out": EVIL},
        duration=5,
        completed_at=timezone.now(),
        worker=EVIL,
    )
    Job.objects.filter(pk=job.pk).update(status=JobStatus.FAILED, last_error=f"{EVIL}: x")
    for page, args in [("job", [job.pk]), ("jobs", []), ("failures", []), ("handlers", [])]:
        content = admin_client.get(url(page, *args)).content
        assert EVIL.encode() not in content, page
    assert b"&lt;script&gt;" in admin_client.get(url("job", job.pk)).content
    evil_recurring = schedule(EVIL, "noop", "1h", {"x": EVIL})
    assert EVIL.encode() not in admin_client.get(url("recurring")).content
    assert EVIL.encode() not in admin_client.get(url("job", evil_recurring.pk)).content


def test_metrics_name_every_documented_family(admin_client):
    job = enqueue("noop", queue="mail")
    JobHistory.objects.create(
        job=job, status=RunStatus.COMPLETED, duration=42, completed_at=timezone.now()
    )
    text = admin_client.get(url("metrics")).content.decode()
    for name in [
        'django_jobs_jobs{status="pending"} 1.0',
        'django_jobs_jobs_live{queue="mail",status="pending"} 1.0',
        'django_jobs_runs_total{handler="noop",outcome="completed",queue="mail"} 1.0',
        'django_jobs_run_duration_seconds_bucket{handler="noop",le="0.05",queue="mail"} 1.0',
        'django_jobs_run_duration_seconds_bucket{handler="noop",le="0.01",queue="mail"} 0.0',
        'django_jobs_queue_depth{queue="mail"} 1.0',
        "django_jobs_queue_oldest_due_seconds",
        "django_jobs_workers_live 0.0",
        "django_jobs_workers_lost 0.0",
        "django_jobs_runner_running",
    ]:
        assert name in text, name


def test_steering_says_when_pause_and_resume_apply():
    recurring, one_time = schedule("ticker", "noop", "1h"), enqueue("noop")
    assert steering.may("pause", recurring) and not steering.may("resume", recurring)
    assert not steering.may("pause", one_time) and not steering.may("resume", one_time)
    paused = steering.pause(recurring)
    assert steering.may("resume", paused) and not steering.may("pause", paused)
    assert not steering.may("pause", "pending")  # a bare status cannot say
