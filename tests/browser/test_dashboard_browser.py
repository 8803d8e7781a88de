"""The dashboard in a real headless Chromium against a live server and a real worker cycle."""

import math
import random
import re
from datetime import timedelta

import pytest
from django.utils import timezone

from django_jobs import enqueue, schedule
from django_jobs.dashboard import figures, rollup
from django_jobs.models import Job, JobHistory, JobStatus, QueueSample, RunStatus
from django_jobs.worker import WorkerLoop

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WAIT = 20_000  # ms: polls come every 5 s


def run_worker():
    WorkerLoop(listen=False).run_once()


def past_runs(now):
    """A week of earlier runs (busier by day, a bad spell yesterday) and an hour of queue
    samples, as a site that has been running would have. Seeded, so every run draws alike."""
    rng = random.Random(14)
    names = ["sum 5", "mail later", "breaks 2"]
    jobs = {job.handler: job for job in Job.objects.filter(name__in=names)}
    ages = [timedelta(seconds=rng.uniform(0, 3600)) for _ in range(240)]
    for hour in range(1, 24 * 7):
        busy = 6 + 5 * math.sin(hour / 24 * 2 * math.pi) + rng.uniform(0, 3)
        ages += [timedelta(hours=hour, seconds=rng.uniform(0, 3600)) for _ in range(int(busy))]
    rows = []
    for age in ages:
        handler = rng.choice(["add", "add", "noop", "fail"])
        bad_spell = timedelta(hours=20) < age < timedelta(hours=23)
        failed = handler == "fail" and (bad_spell or rng.random() < 0.3)
        duration = int(rng.lognormvariate(4.5, 0.8))
        rows.append(
            JobHistory(
                job=jobs[handler],
                status=RunStatus.FAILED if failed else RunStatus.COMPLETED,
                started_at=now - age - timedelta(milliseconds=duration),
                completed_at=now - age,
                duration=duration,
                error="RuntimeError: boom" if failed else "",
                worker="earlier-worker",
            )
        )
    for name, expression, spread in (("cleanup", "*/15 * * * *", 60), ("digest", "0 * * * *", 900)):
        job = schedule(f"{name} (every run)", "noop", expression)
        for i in range(20):
            duration = int(spread * (1 + rng.random()) + (300 if i in (12, 13) else 0))
            end = now - timedelta(minutes=15 * (20 - i))
            rows.append(
                JobHistory(
                    job=job,
                    status=RunStatus.COMPLETED,
                    started_at=end - timedelta(milliseconds=duration),
                    completed_at=end,
                    duration=duration,
                    worker="earlier-worker",
                )
            )
    JobHistory.objects.bulk_create(rows)
    depth = {"default": 3, "mail": 12}
    for minute in range(59, 0, -1):
        at = rollup.minute_floor(now) - timedelta(minutes=minute)
        for queue in depth:
            depth[queue] = max(0, depth[queue] + rng.randint(-3, 3))
            QueueSample.objects.create(minute=at, queue=queue, depth=depth[queue])


def runs_in_charts():
    """What the two run charts must add up to: finished runs in their windows."""
    data = figures.run_series(timezone.now())
    return sum(data["minute"]["completed"]) + sum(data["minute"]["failed"]), sum(
        data["hour"]["completed"]
    ) + sum(data["hour"]["failed"])


@pytest.fixture
def seeded(django_user_model):
    django_user_model.objects.create_superuser("boss", "boss@example.com", "pw-for-tests")
    for i in range(6):
        enqueue("add", {"a": i, "b": 1}, name=f"sum {i}")
    for i in range(3):
        enqueue("fail", {"i": i}, name=f"breaks {i}", max_attempts=1)
    enqueue("noop", name="mail later", queue="mail")
    nightly = schedule("nightly report", "noop", "1h")
    Job.objects.filter(pk=nightly.pk).update(next_run_at=timezone.now() - timedelta(seconds=1))
    run_worker()
    past_runs(timezone.now())
    return nightly


@pytest.fixture
def page(browser, live_server, seeded):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.errors = []
    page.on(
        "console",
        lambda msg: (
            page.errors.append(f"{msg.text} {msg.location}") if msg.type == "error" else None
        ),
    )
    page.on("pageerror", lambda exc: page.errors.append(str(exc)))
    page.goto(f"{live_server.url}/dashboard/")
    assert "/admin/login/" in page.url
    page.fill("#id_username", "boss")
    page.fill("#id_password", "pw-for-tests")
    page.click("input[type=submit]")
    page.wait_for_url(re.compile(r"/dashboard/$"))
    # The admin's login page asks for /favicon.ico, which this site does not serve;
    # from here on only the dashboard's own pages are watched.
    page.errors = [e for e in page.errors if "/favicon.ico" not in e]
    yield page
    context.close()


def count_of(page, status):
    return int(page.inner_text(f"[data-count={status}]"))


def test_overview_draws_charts_and_follows_new_jobs_without_reload(page, shots):
    page.wait_for_selector("#chart-minute[data-drawn=true] canvas", timeout=WAIT)
    last_hour, week = runs_in_charts()
    assert last_hour > 11 and week > last_hour  # the worker's 11 runs and earlier ones
    assert int(page.get_attribute("#chart-minute", "data-total")) == last_hour
    assert int(page.get_attribute("#chart-hour", "data-total")) == week
    page.wait_for_selector("#chart-depth[data-drawn=true] canvas", timeout=WAIT)
    assert int(page.get_attribute("#chart-depth", "data-total")) > 0
    assert count_of(page, "completed") == 7
    assert count_of(page, "failed") == 3
    page.screenshot(path=shots / "overview.png", full_page=True)
    page.evaluate("window.__sameDocument = true")
    before = count_of(page, "pending")
    enqueue("noop", name="arrives while watching")
    page.wait_for_function(
        f"Number(document.querySelector('[data-count=pending]').textContent) === {before + 1}",
        timeout=WAIT,
    )
    assert page.evaluate("window.__sameDocument") is True
    # The live switch stops the polling.
    page.uncheck("#jd-live")
    enqueue("noop", name="unseen")
    page.wait_for_timeout(6000)
    assert count_of(page, "pending") == before + 1
    assert page.errors == []


def test_trigger_shows_the_new_attempt(page, live_server, shots):
    job = Job.objects.get(name="sum 0")
    page.goto(f"{live_server.url}/dashboard/jobs/{job.pk}/")
    assert page.locator("#jd-attempts > li").count() == 1
    page.click("button[data-verb=run]")
    page.wait_for_selector("text=1 job queued")
    run_worker()
    newest = JobHistory.objects.filter(job=job).order_by("-id").first()
    assert JobHistory.objects.filter(job=job).count() == 2
    # The attempts poll: the new one appears without a reload.
    page.wait_for_selector(f"#jd-attempts > li[data-run='{newest.pk}']", timeout=WAIT)
    assert page.locator("#jd-attempts > li").count() == 2
    page.wait_for_selector("#chart-durations[data-drawn=true] canvas", timeout=WAIT)
    assert page.errors == []


def test_a_busy_jobs_page(page, live_server, shots):
    job = Job.objects.get(name="breaks 2")
    page.goto(f"{live_server.url}/dashboard/jobs/{job.pk}/")
    page.wait_for_selector("#chart-durations[data-drawn=true] canvas", timeout=WAIT)
    page.locator("#jd-attempts details").first.click()
    page.screenshot(path=shots / "job.png")
    assert page.errors == []


def test_bulk_retry_of_failed_jobs(page, live_server, shots):
    page.goto(f"{live_server.url}/dashboard/failures/")
    page.locator("#jd-failures details").first.click()
    page.screenshot(path=shots / "failures.png", full_page=True)
    page.goto(f"{live_server.url}/dashboard/jobs/?status=failed")
    assert page.locator("#jd-jobs tbody tr").count() == 3
    page.screenshot(path=shots / "jobs.png", full_page=True)
    page.select_option("select[name=verb]", "retry")
    page.click("button[value=all]")
    assert "Retry: 3 jobs" in page.inner_text("#jd-confirm-text")
    page.click("#jd-confirm")
    page.wait_for_selector("text=3 jobs queued for retry")
    assert Job.objects.filter(status=JobStatus.FAILED).count() == 0
    assert page.errors == []


def test_pause_and_resume_a_recurring_job(page, live_server, seeded, shots):
    page.goto(f"{live_server.url}/dashboard/recurring/")
    row = page.locator(f"tr[data-job='{seeded.pk}']")
    row.locator("button[data-verb=pause]").click()
    page.wait_for_selector("text=1 job paused")
    assert Job.objects.get(pk=seeded.pk).paused
    row = page.locator(f"tr[data-job='{seeded.pk}']")
    assert row.locator(".jd-badge.paused").count() == 1
    page.screenshot(path=shots / "recurring.png", full_page=True)
    row.locator("button[data-verb=resume]").click()
    page.wait_for_selector("text=1 job resumed")
    assert not Job.objects.get(pk=seeded.pk).paused
    assert page.errors == []


def test_other_pages_on_a_phone_and_in_dark_mode(browser, live_server, seeded, shots, page):
    for path, name in [("workers/", "workers"), ("handlers/", "handlers"), ("queues/", "queues")]:
        page.goto(f"{live_server.url}/dashboard/{path}")
        page.screenshot(path=shots / f"{name}.png", full_page=True)
    cookies = page.context.cookies()
    phone = browser.new_context(viewport={"width": 390, "height": 844}, color_scheme="dark")
    phone.add_cookies(cookies)
    small = phone.new_page()
    errors = []
    small.on("pageerror", lambda exc: errors.append(str(exc)))
    small.goto(f"{live_server.url}/dashboard/")
    small.wait_for_selector("#chart-minute[data-drawn=true] canvas", timeout=WAIT)
    width = small.evaluate("document.documentElement.scrollWidth")
    assert width <= 400, f"the overview is {width} px wide on a 390 px phone"
    small.screenshot(path=shots / "overview-phone-dark.png", full_page=True)
    phone.close()
    assert errors == [] and page.errors == []


def test_charts_take_the_new_colours_when_the_theme_is_toggled(page, shots):
    charts = ["#chart-minute", "#chart-hour", "#chart-depth"]
    for chart in charts:
        page.wait_for_selector(f"{chart}[data-drawn=true] canvas", timeout=WAIT)
    light = page.get_attribute("#chart-minute", "data-stroke")
    assert light == "#417690"  # --jd-ok in the light theme
    # The admin's switch goes auto (light here) -> dark -> light.
    page.click(".theme-toggle")
    assert page.evaluate("document.documentElement.dataset.theme") == "dark"
    page.wait_for_function(
        "document.querySelector('#chart-minute').dataset.stroke === '#79aec8'", timeout=WAIT
    )
    assert page.get_attribute("#chart-hour", "data-stroke") == "#79aec8"
    assert page.locator("#chart-minute canvas").count() == 1  # redrawn, not stacked
    page.screenshot(path=shots / "overview-dark.png", full_page=True)
    page.click(".theme-toggle")
    page.wait_for_function(
        "document.querySelector('#chart-minute').dataset.stroke === '#417690'", timeout=WAIT
    )
    # The redrawn charts keep their data and go on refreshing.
    assert int(page.get_attribute("#chart-minute", "data-total")) > 0
    assert page.errors == []
