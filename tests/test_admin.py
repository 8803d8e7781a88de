"""The admin pages, forms and steering, driven with Django's test client."""

import json
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from django_jobs import enqueue, schedule
from django_jobs.models import Job, JobHistory, JobStatus, RunStatus, Worker

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:django_jobs_job_changelist"
HISTORY = "admin:django_jobs_jobhistory_changelist"


def change_url(job):
    return reverse("admin:django_jobs_job_change", args=[job.pk])


def steer_url(job, verb):
    return reverse("admin:django_jobs_job_steer", args=[job.pk, verb])


def set_status(job, status, **fields):
    """Put a job into a state the worker would have put it in."""
    now = timezone.now()
    defaults = {"next_run_at": None if status != JobStatus.PENDING else now}
    if status == JobStatus.RUNNING:
        defaults["started_at"] = now
        defaults["attempts"] = 1
    Job.objects.filter(pk=job.pk).update(status=status, **{**defaults, **fields})
    job.refresh_from_db()
    return job


def add_run(job, status=RunStatus.COMPLETED, **fields):
    return JobHistory.objects.create(
        job=job,
        status=status,
        attempt=fields.pop("attempt", 1),
        scheduled_for=fields.pop("scheduled_for", timezone.now()),
        **fields,
    )


def form_data(**overrides):
    data = {
        "name": "nightly",
        "handler": "echo",
        "data": '{"a": 1}',
        "schedule": "",
        "timezone": "",
        "run_at_0": "",
        "run_at_1": "",
        "max_attempts": "3",
        "queue": "default",
        "priority": "0",
        "timeout": "",
        "misfire_grace": "",
        "history-TOTAL_FORMS": "0",
        "history-INITIAL_FORMS": "0",
        "history-MIN_NUM_FORMS": "0",
        "history-MAX_NUM_FORMS": "0",
    }
    data.update(overrides)
    return data


def messages_of(response):
    return [str(m) for m in response.context["messages"]] if response.context else []


# Lists ------------------------------------------------------------------------


def test_changelist_shows_the_columns(admin_client):
    job = schedule("Every five", "echo", "*/5 * * * *", {"x": 1})
    broken = enqueue("fail", {}, name="Broken")
    set_status(broken, JobStatus.FAILED, attempts=3, last_error="Traceback ...\nRuntimeError: boom")
    response = admin_client.get(reverse(CHANGELIST))
    assert response.status_code == 200
    body = response.content.decode()
    assert "Every five" in body and "*/5 * * * *" in body
    assert job.get_schedule().describe() in body
    assert "RuntimeError: boom" in body
    assert "3/3" in body
    assert "django-jobs-status-failed" in body
    assert "one-time" in body
    assert reverse("admin:django_jobs_job_runner") in body


@pytest.mark.parametrize(
    "query",
    [
        "status__exact=pending",
        "status__exact=failed",
        "handler=echo",
        "kind=recurring",
        "kind=one-time",
        "tz=default",
        "tz=Europe/Paris",
        "q=every",
        "q=echo",
        "o=3",
        "o=-6",
    ],
)
def test_changelist_filters_render(admin_client, query):
    schedule("Every five", "echo", "*/5 * * * *", timezone="Europe/Paris")
    enqueue("noop", name="once")
    response = admin_client.get(reverse(CHANGELIST) + "?" + query)
    assert response.status_code == 200  # an unknown filter would redirect with ?e=1


def test_filters_select_the_right_jobs(admin_client):
    paris = schedule("Paris", "echo", "0 9 * * *", timezone="Europe/Paris")
    default = schedule("Default", "noop", "1h")
    once = enqueue("noop", name="Once")

    def shown(query):
        response = admin_client.get(reverse(CHANGELIST) + "?" + query)
        return {job.pk for job in response.context["cl"].result_list}

    assert shown("kind=recurring") == {paris.pk, default.pk}
    assert shown("kind=one-time") == {once.pk}
    assert shown("tz=Europe/Paris") == {paris.pk}
    assert shown("tz=default") == {default.pk, once.pk}
    assert shown("handler=echo") == {paris.pk}
    assert shown(f"q={once.pk}") >= {once.pk}
    assert shown("q=Paris") == {paris.pk}


def test_history_changelist_and_filters(admin_client):
    job = enqueue("fail", name="flaky one")
    add_run(job, RunStatus.FAILED, error="Traceback\nValueError: nope", duration=1500)
    add_run(job, RunStatus.COMPLETED, attempt=2, result={"ok": True}, duration=20)
    url = reverse(HISTORY)
    for query in [
        "",
        "status__exact=failed",
        "handler=fail",
        f"job={job.pk}",
        "started_at__gte=2000-01-01+00:00:00%2B00:00",
        f"q={job.pk}",
        "q=flaky",
    ]:
        response = admin_client.get(f"{url}?{query}")
        assert response.status_code == 200, query
        assert len(response.context["cl"].result_list) >= 1, query
    body = admin_client.get(url).content.decode()
    assert "ValueError: nope" in body and "1.5 s" in body and "20 ms" in body
    assert admin_client.get(f"{url}?job={job.pk}").context["cl"].result_count == 2
    assert admin_client.get(f"{url}?status__exact=completed").context["cl"].result_count == 1


def test_history_detail_is_read_only(admin_client):
    job = enqueue("fail", name="flaky one")
    run = add_run(job, RunStatus.FAILED, error="Traceback\nValueError: nope", result={"k": [1, 2]})
    url = reverse("admin:django_jobs_jobhistory_change", args=[run.pk])
    response = admin_client.get(url)
    assert response.status_code == 200
    body = response.content.decode()
    assert "<pre" in body and "ValueError: nope" in body
    assert "&quot;k&quot;: [\n    1," in body
    assert 'name="_save"' not in body
    assert admin_client.post(url, {"status": "completed"}).status_code == 403
    assert admin_client.get(reverse("admin:django_jobs_jobhistory_add")).status_code == 403


# The job page --------------------------------------------------------------------


def test_change_page_shows_state_runs_and_history(admin_client):
    job = schedule("Daily", "echo", "0 9 * * *", {"greeting": "hi"}, timezone="Europe/Paris")
    Job.objects.filter(pk=job.pk).update(
        last_error="Traceback (most recent call last):\nKeyError: 'x'"
    )
    for attempt in range(12):
        add_run(job, started_at=timezone.now() - timedelta(minutes=attempt), attempt=attempt + 1)
    response = admin_client.get(change_url(job))
    assert response.status_code == 200
    body = response.content.decode()
    assert body.count("CET") + body.count("CEST") >= 5  # the next five runs, in the job's zone
    assert "<pre" in body and "KeyError: &#x27;x&#x27;" in body
    assert "&quot;greeting&quot;: &quot;hi&quot;" in body  # indented JSON in the textarea
    assert f"{reverse(HISTORY)}?job={job.pk}" in body
    assert len(response.context["inline_admin_formsets"][0].formset.forms) == 10
    assert steer_url(job, "run") in body and steer_url(job, "cancel") in body
    assert steer_url(job, "retry") not in body


def test_add_page_renders(admin_client):
    response = admin_client.get(reverse("admin:django_jobs_job_add"))
    assert response.status_code == 200
    assert '<option value="echo">echo</option>' in response.content.decode()


def test_add_one_time_job_is_due_now(admin_client):
    before = timezone.now()
    response = admin_client.post(reverse("admin:django_jobs_job_add"), form_data())
    assert response.status_code == 302, response.context["adminform"].form.errors
    job = Job.objects.get()
    assert (job.name, job.handler, job.data, job.schedule) == ("nightly", "echo", {"a": 1}, "")
    assert job.status == JobStatus.PENDING and job.next_run_at >= before


def test_add_one_time_job_at_a_time(admin_client):
    data = form_data(run_at_0="2031-05-04", run_at_1="10:30:00")
    assert admin_client.post(reverse("admin:django_jobs_job_add"), data).status_code == 302
    job = Job.objects.get()
    assert job.next_run_at.isoformat() == "2031-05-04T10:30:00+00:00"


def test_add_recurring_job_gets_its_first_slot(admin_client):
    data = form_data(schedule="0 9 * * *", timezone="Europe/Paris")
    assert admin_client.post(reverse("admin:django_jobs_job_add"), data).status_code == 302
    job = Job.objects.get()
    assert job.schedule == "0 9 * * *" and job.timezone == "Europe/Paris"
    assert job.next_run_at == job.next_slot(job.created_at)
    assert job.next_run_at.astimezone(job.get_schedule().zone).hour == 9


@pytest.mark.parametrize(
    "overrides, field",
    [
        ({"schedule": "every tuesday"}, "schedule"),
        ({"schedule": "61 * * * *"}, "schedule"),
        ({"handler": "os.system"}, "handler"),
        ({"data": "{not json"}, "data"),
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"max_attempts": "0"}, "max_attempts"),
        ({"name": "   "}, "name"),
        ({"queue": "a,b"}, "queue"),
        ({"timeout": "-1"}, "timeout"),
        ({"schedule": "5m", "run_at_0": "2031-01-01", "run_at_1": "00:00"}, "run_at"),
    ],
)
def test_add_refuses_bad_input(admin_client, overrides, field):
    response = admin_client.post(reverse("admin:django_jobs_job_add"), form_data(**overrides))
    assert response.status_code == 200
    assert field in response.context["adminform"].form.errors
    assert not Job.objects.exists()


def test_add_refuses_data_over_the_limit(admin_client, settings):
    settings.DJANGO_JOBS = {**settings.DJANGO_JOBS, "MAX_DATA_BYTES": 20}
    response = admin_client.post(
        reverse("admin:django_jobs_job_add"), form_data(data='{"text": "' + "x" * 50 + '"}')
    )
    assert "at most 20 bytes" in str(response.context["adminform"].form.errors["data"])
    assert not Job.objects.exists()


def test_add_refuses_a_second_recurring_job_with_a_taken_name(admin_client):
    schedule("nightly", "noop", "1h")
    response = admin_client.post(reverse("admin:django_jobs_job_add"), form_data(schedule="5m"))
    assert "name" in response.context["adminform"].form.errors
    assert Job.objects.get().schedule == "1h"


def edit(client, job, **overrides):
    values = {
        "name": job.name,
        "handler": job.handler,
        "data": "null" if job.data is None else json.dumps(job.data),
        "schedule": job.schedule,
        "timezone": job.timezone,
        "max_attempts": str(job.max_attempts),
        "queue": job.queue,
        "priority": str(job.priority),
        "allow_overlap": "",
        "history-INITIAL_FORMS": str(job.history.count()),
    }
    data = form_data(**values)
    if not job.allow_overlap:
        data.pop("allow_overlap")
    data.update(overrides)
    return client.post(change_url(job), data)


def test_changing_the_schedule_moves_a_pending_job(admin_client):
    job = schedule("Daily", "echo", "0 9 * * *")
    response = edit(admin_client, job, schedule="30 18 * * *", timezone="Asia/Tokyo")
    assert response.status_code == 302, response.context["adminform"].form.errors
    job.refresh_from_db()
    assert (job.schedule, job.timezone) == ("30 18 * * *", "Asia/Tokyo")
    local = job.next_run_at.astimezone(job.get_schedule().zone)
    assert (local.hour, local.minute) == (18, 30)


def test_editing_data_keeps_the_next_run(admin_client):
    job = schedule("Daily", "echo", "0 9 * * *")
    response = edit(admin_client, job, data='{"b": 2}')
    assert response.status_code == 302
    fresh = Job.objects.get(pk=job.pk)
    assert fresh.data == {"b": 2} and fresh.next_run_at == job.next_run_at


def test_edit_refuses_a_bad_schedule(admin_client):
    job = schedule("Daily", "echo", "0 9 * * *")
    response = edit(admin_client, job, schedule="0 25 * * *")
    assert "schedule" in response.context["adminform"].form.errors
    assert Job.objects.get(pk=job.pk).schedule == "0 9 * * *"


def test_a_running_job_cannot_be_edited_or_deleted(admin_client):
    job = set_status(enqueue("sleep", {"seconds": 1}, name="busy"), JobStatus.RUNNING)
    page = admin_client.get(change_url(job)).content.decode()
    assert "is running" in page and 'name="_save"' not in page
    response = edit(admin_client, job, name="renamed")
    assert response.status_code == 200
    assert "running" in str(response.context["adminform"].form.non_field_errors())
    assert Job.objects.get(pk=job.pk).name == "busy"
    delete = reverse("admin:django_jobs_job_delete", args=[job.pk])
    response = admin_client.post(delete, {"post": "yes"}, follow=True)
    assert Job.objects.filter(pk=job.pk).exists()
    assert any("running" in m for m in messages_of(response))


def test_a_job_that_starts_running_meanwhile_is_not_overwritten(admin_client, monkeypatch):
    job = enqueue("echo", {"v": 1}, name="racy")
    from django_jobs.admin import forms

    original = forms.JobForm.job_changes

    def claimed_meanwhile(self):
        set_status(job, JobStatus.RUNNING)
        return original(self)

    monkeypatch.setattr(forms.JobForm, "job_changes", claimed_meanwhile)
    response = admin_client.get(edit(admin_client, job, data='{"v": 2}').url)
    assert any("running" in m for m in messages_of(response))
    # The whole save rolled back (the simulated claim too, being in the same transaction).
    assert Job.objects.get(pk=job.pk).data == {"v": 1}


def test_delete_page_counts_runs_and_deletes_through_actions(admin_client):
    job = enqueue("echo", name="old")
    for attempt in range(3):
        add_run(job, attempt=attempt + 1)
    url = reverse("admin:django_jobs_job_delete", args=[job.pk])
    page = admin_client.get(url).content.decode()
    assert "3" in page and "job history" in page.lower()
    assert admin_client.post(url, {"post": "yes"}).status_code == 302
    assert not Job.objects.exists() and not JobHistory.objects.exists()


# Steering -----------------------------------------------------------------------


def test_run_now_button(admin_client):
    job = set_status(enqueue("echo", name="done"), JobStatus.COMPLETED)
    response = admin_client.post(steer_url(job, "run"), follow=True)
    assert any("queued" in m for m in messages_of(response))
    job.refresh_from_db()
    assert job.status == JobStatus.PENDING and job.attempts == 0


def test_buttons_need_post(admin_client):
    job = enqueue("echo", name="x")
    assert admin_client.get(steer_url(job, "cancel")).status_code == 405
    assert Job.objects.get(pk=job.pk).status == JobStatus.PENDING


def test_cancel_button_on_pending_and_running_jobs(admin_client):
    pending = enqueue("echo", name="p")
    running = set_status(enqueue("sleep", name="r"), JobStatus.RUNNING)
    admin_client.post(steer_url(pending, "cancel"))
    admin_client.post(steer_url(running, "cancel"))
    assert Job.objects.get(pk=pending.pk).status == JobStatus.CANCELLED
    fresh = Job.objects.get(pk=running.pk)
    assert fresh.status == JobStatus.RUNNING and fresh.cancel_requested


def test_refused_buttons_say_why(admin_client):
    running = set_status(enqueue("sleep", name="r"), JobStatus.RUNNING)
    pending = enqueue("echo", name="p")
    response = admin_client.post(steer_url(running, "run"), follow=True)
    assert any("cannot trigger" in m for m in messages_of(response))
    response = admin_client.post(steer_url(pending, "retry"), follow=True)
    assert any("only failed jobs" in m for m in messages_of(response))
    assert Job.objects.get(pk=pending.pk).status == JobStatus.PENDING
    assert admin_client.post(steer_url(pending, "explode")).status_code == 404


def test_retry_button_resets_attempts(admin_client):
    job = set_status(enqueue("fail", name="f"), JobStatus.FAILED, attempts=3, last_error="boom")
    admin_client.post(steer_url(job, "retry"))
    job.refresh_from_db()
    assert (job.status, job.attempts) == (JobStatus.PENDING, 0)


def run_action(client, action, jobs):
    return client.post(
        reverse(CHANGELIST),
        {"action": action, "_selected_action": [job.pk for job in jobs]},
        follow=True,
    )


def test_bulk_run_reports_what_it_did(admin_client):
    jobs = [set_status(enqueue("echo", name=f"j{i}"), JobStatus.COMPLETED) for i in range(3)]
    busy = set_status(enqueue("sleep", name="busy"), JobStatus.RUNNING)
    response = run_action(admin_client, "run_jobs", [*jobs, busy])
    assert "3 jobs queued, 1 skipped: running" in messages_of(response)
    assert Job.objects.filter(status=JobStatus.PENDING).count() == 3


def test_bulk_cancel_and_retry(admin_client):
    pending = enqueue("echo", name="p")
    running = set_status(enqueue("sleep", name="r"), JobStatus.RUNNING)
    done = set_status(enqueue("echo", name="d"), JobStatus.COMPLETED)
    response = run_action(admin_client, "cancel_jobs", [pending, running, done])
    assert "1 job cancelled, 1 job asked to stop, 1 skipped: completed" in messages_of(response)
    failed = set_status(enqueue("fail", name="f"), JobStatus.FAILED, attempts=3)
    response = run_action(admin_client, "retry_jobs", [failed, done])
    assert "1 job queued for retry, 1 skipped: completed" in messages_of(response)
    assert Job.objects.get(pk=failed.pk).attempts == 0


def test_bulk_delete_skips_running_jobs(admin_client):
    idle = enqueue("echo", name="idle")
    busy = set_status(enqueue("sleep", name="busy"), JobStatus.RUNNING)
    response = admin_client.post(
        reverse(CHANGELIST),
        {"action": "delete_jobs", "_selected_action": [idle.pk, busy.pk], "post": "yes"},
        follow=True,
    )
    assert any("1 skipped: running" in m for m in messages_of(response))
    assert list(Job.objects.values_list("pk", flat=True)) == [busy.pk]


# Runner -------------------------------------------------------------------------


def test_runner_page_shows_workers_and_switches(admin_client):
    worker = Worker.objects.create(name="w1", hostname="box-1", pid=42, queues="default")
    job = set_status(enqueue("sleep", name="long job"), JobStatus.RUNNING, worker=worker)
    url = reverse("admin:django_jobs_job_runner")
    body = admin_client.get(url).content.decode()
    assert "box-1" in body and "long job" in body and change_url(job) in body
    assert "Runner: on" in body and 'value="stop"' in body
    admin_client.post(url, {"runner": "stop"})
    from django_jobs import runner

    assert runner.is_running() is False
    body = admin_client.get(url).content.decode()
    assert "Runner: stopped" in body and 'value="start"' in body
    admin_client.post(url, {"runner": "start"})
    assert runner.is_running() is True


# Safety -------------------------------------------------------------------------

SCRIPT = "<script>alert(1)</script>"


def test_html_in_names_data_and_errors_is_escaped(admin_client):
    job = enqueue("echo", {"html": SCRIPT}, name=SCRIPT)
    set_status(job, JobStatus.FAILED, last_error=f"Traceback\nValueError: {SCRIPT}")
    add_run(job, RunStatus.FAILED, error=SCRIPT, result={"html": SCRIPT})
    run = JobHistory.objects.get()
    pages = [
        reverse(CHANGELIST),
        change_url(job),
        reverse(HISTORY),
        reverse(HISTORY) + f"?job={job.pk}",
        reverse("admin:django_jobs_jobhistory_change", args=[run.pk]),
        reverse("admin:django_jobs_job_delete", args=[job.pk]),
    ]
    for url in pages:
        body = admin_client.get(url).content.decode()
        assert SCRIPT not in body, url
        assert "&lt;script&gt;" in body, url


def test_changes_need_the_csrf_token(admin_user):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(admin_user)
    job = enqueue("echo", name="x")
    assert client.post(steer_url(job, "cancel")).status_code == 403
    assert (
        client.post(reverse("admin:django_jobs_job_runner"), {"runner": "stop"}).status_code == 403
    )
    assert Job.objects.get(pk=job.pk).status == JobStatus.PENDING


def test_search_matches_a_job_id_in_both_lists(admin_client):
    first = enqueue("echo", name="alpha")
    second = enqueue("echo", name="beta")
    JobHistory.objects.create(job=first, status=RunStatus.COMPLETED, attempt=1)
    JobHistory.objects.create(job=second, status=RunStatus.COMPLETED, attempt=1)

    def shown(url, term):
        response = admin_client.get(reverse(url), {"q": term})
        return [row.pk for row in response.context["cl"].result_list]

    assert shown(CHANGELIST, f"#{second.pk}") == [second.pk]
    assert shown(CHANGELIST, "alpha") == [first.pk]
    runs = shown(HISTORY, str(first.pk))
    assert [JobHistory.objects.get(pk=pk).job_id for pk in runs] == [first.pk]
