"""Every dashboard page renders real figures; actions go through steering."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from django_jobs import enqueue, schedule
from django_jobs.dashboard import figures, rollup
from django_jobs.models import Job, JobHistory, JobStatus, QueueSample, RunHour, RunStatus
from django_jobs.models import Worker as WorkerRow
from django_jobs.worker import WorkerLoop

pytestmark = pytest.mark.django_db(transaction=True)

PAGES = ["overview", "jobs", "recurring", "workers", "handlers", "queues", "failures"]


def url(name, *args):
    return reverse(f"django_jobs_dashboard:{name}", args=args)


def run(now=None):
    return WorkerLoop(listen=False).run_once(now=now)


@pytest.fixture
def ran():
    """One completed, one failed for good, one recurring job that ran once."""
    done = enqueue("add", {"a": 1, "b": 2}, name="adder")
    broken = enqueue("fail", {"x": 1}, name="breaker", max_attempts=1)
    nightly = schedule("nightly", "noop", "1h")
    Job.objects.filter(pk=nightly.pk).update(next_run_at=timezone.now())
    run()
    return {"done": done, "broken": broken, "nightly": nightly}


@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders_for_staff(admin_client, ran, page):
    response = admin_client.get(url(page))
    assert response.status_code == 200
    assert b"jd-nav" in response.content


def test_overview_counts_match_the_jobs(admin_client, ran):
    response = admin_client.get(url("overview"))
    counts = response.context["counts"]
    assert int(counts["completed"]) == 1
    assert int(counts["failed"]) == 1
    assert int(counts["pending"]) == 1  # the recurring job waits for its next slot
    assert str(response.context["total"]) == "3"
    assert response.context["runs_last_hour"] == 3
    assert response.context["failed_last_hour"] == 1
    assert response.context["failure_rate"] == pytest.approx(1 / 3)


def test_cards_partial_follows_new_jobs(admin_client, ran):
    before = int(admin_client.get(url("cards")).context["counts"]["pending"])
    enqueue("noop", name="fresh")
    after = admin_client.get(url("cards")).context
    assert int(after["counts"]["pending"]) == before + 1
    assert int(after["due_now"]) >= 1
    assert b"jd-nav" not in admin_client.get(url("cards")).content  # a fragment, not a page


def test_chart_data_has_the_last_hour_per_minute_and_a_week_per_hour(admin_client, ran):
    data = admin_client.get(url("data")).json()
    assert len(data["minute"]["t"]) == 60
    assert len(data["hour"]["t"]) == 168
    assert sum(data["minute"]["completed"]) == 2
    assert sum(data["minute"]["failed"]) == 1
    assert sum(data["hour"]["completed"]) == 2
    assert len(data["depth"]["t"]) == 60
    assert QueueSample.objects.exists()


def test_rollup_keeps_closed_minutes_and_reads_open_ones_from_history(ran):
    now = timezone.now()
    assert rollup.refresh(now) == 0  # nothing has closed yet
    later = now + timedelta(hours=2)
    # In the first minutes of an hour the runs' hour is two hours past the last
    # closed one, so this refresh may take up to three closed hours.
    assert rollup.refresh(later, step=3) >= 1
    assert rollup.refresh(later, step=3) == 0  # idempotent
    rows = RunHour.objects.all()
    assert sum(r.completed for r in rows) == 2
    assert sum(r.failed for r in rows) == 1
    # History pruned after the roll-up: the figures stay.
    JobHistory.objects.all().delete()
    totals = rollup.grouped(later - timedelta(hours=3), later, "handler")
    assert totals["add"].completed == 1
    assert totals["fail"].failed == 1


def test_big_counts_stop_at_the_cap_and_become_estimates(monkeypatch):
    monkeypatch.setattr(figures, "COUNT_CAP", 2)
    Job.objects.bulk_create(
        [Job(name=f"d{i}", handler="noop", status=JobStatus.COMPLETED) for i in range(5)]
    )
    enqueue("noop")
    counts = figures.status_counts()
    assert str(counts["pending"]) == "1" and not counts["pending"].approx
    done = counts["completed"]
    assert done.value >= 2 and (done.approx or done.capped)  # the estimate where one exists
    assert str(done).startswith("~") or str(done) == "2+"


def test_rollup_quantiles_come_from_the_histogram():
    runs = rollup.Runs(completed=100)
    # 50 runs under 10 ms, all 100 under 100 ms
    runs.buckets = [50, 50, 100, 100, 100, 100, 100, 100, 100, 100, 100]
    assert runs.quantile(0.5) == pytest.approx(10)
    assert 50 < runs.quantile(0.95) <= 100
    assert rollup.Runs().quantile(0.5) is None


def test_job_page_shows_data_schedule_and_attempts(admin_client, ran):
    response = admin_client.get(url("job", ran["nightly"].pk))
    assert response.status_code == 200
    assert response.context["schedule_words"] == "every hour"
    assert len(response.context["next_runs"]) == 5
    assert len(response.context["runs"]) == 1
    broken = admin_client.get(url("job", ran["broken"].pk))
    assert b"RuntimeError: boom" in broken.content
    assert [verb for verb, _ in broken.context["offered"]] == ["run", "retry", "delete"]


def test_job_page_of_a_missing_job_is_404(admin_client):
    assert admin_client.get(url("job", 999999)).status_code == 404


def test_jobs_list_filters_sorts_and_pages(admin_client, ran):
    response = admin_client.get(url("jobs"), {"status": "failed"})
    assert [job.name for job in response.context["rows"]] == ["breaker"]
    response = admin_client.get(url("jobs"), {"handler": "add"})
    assert [job.name for job in response.context["rows"]] == ["adder"]
    response = admin_client.get(url("jobs"), {"q": "break"})
    assert [job.name for job in response.context["rows"]] == ["breaker"]
    response = admin_client.get(url("jobs"), {"q": str(ran["done"].pk)})
    assert ran["done"].pk in [job.pk for job in response.context["rows"]]
    names = [job.name for job in admin_client.get(url("jobs"), {"o": "name"}).context["rows"]]
    assert names == sorted(names)
    names = [job.name for job in admin_client.get(url("jobs"), {"o": "-name"}).context["rows"]]
    assert names == sorted(names, reverse=True)
    since = (timezone.now() + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    assert admin_client.get(url("jobs"), {"since": since}).context["count"] == 0


def test_jobs_list_ignores_a_bad_filter_with_a_message(admin_client, ran):
    response = admin_client.get(url("jobs"), {"status": "nonsense", "o": "password"})
    assert response.status_code == 200
    assert response.context["count"] == 3
    assert b"errornote" in response.content


def test_jobs_list_pages_without_counting_everything(admin_client):
    Job.objects.bulk_create(
        [
            Job(name=f"j{i}", handler="noop", status=JobStatus.COMPLETED, next_run_at=None)
            for i in range(60)
        ]
    )
    first = admin_client.get(url("jobs"))
    assert len(first.context["rows"]) == 50 and first.context["has_next"]
    second = admin_client.get(url("jobs"), {"page": 2})
    assert len(second.context["rows"]) == 10 and not second.context["has_next"]


def test_recurring_page_shows_last_outcome_and_durations(admin_client, ran):
    row = admin_client.get(url("recurring")).context["rows"][0]
    assert row.job.name == "nightly"
    assert row.last_status == RunStatus.COMPLETED
    assert row.words == "every hour"
    assert [verb for verb, _ in row.offered] == ["run", "pause"]


def test_workers_page_shows_lost_workers(admin_client):
    now = timezone.now()
    WorkerRow.objects.create(name="w-alive", hostname="h1", pid=1, last_heartbeat=now)
    WorkerRow.objects.create(
        name="w-lost", hostname="h2", pid=2, last_heartbeat=now - timedelta(minutes=10)
    )
    response = admin_client.get(url("workers"))
    alive = {w.name: w.alive for w in response.context["runner"].workers}
    assert alive == {"w-alive": True, "w-lost": False}
    assert b"lost" in response.content
    table = admin_client.get(url("workers-table"))
    assert b"w-lost" in table.content and b"jd-nav" not in table.content


def test_handlers_and_queues_pages_give_rates_and_durations(admin_client, ran):
    handlers = {row.name: row for row in admin_client.get(url("handlers")).context["rows"]}
    assert handlers["add"].runs.completed == 1
    assert handlers["add"].success_rate == 1.0
    assert handlers["fail"].success_rate == 0.0
    assert handlers["add"].p50 is not None
    enqueue("noop", name="waiting", queue="mail")
    queues = {row.name: row for row in admin_client.get(url("queues")).context["rows"]}
    assert queues["default"].runs.total == 3
    assert queues["mail"].depth == 1
    assert queues["mail"].oldest_due_seconds >= 0
    assert admin_client.get(url("handlers"), {"window": "bogus"}).context["window"] == "24h"


def test_failures_are_grouped_by_handler_and_error_type(admin_client):
    for i in range(5):
        enqueue("fail", {"i": i}, max_attempts=1)
    run()
    groups = admin_client.get(url("failures")).context["groups"]
    assert len(groups) == 1
    assert (groups[0].handler, groups[0].error_type, groups[0].count) == ("fail", "RuntimeError", 5)
    assert groups[0].retryable == 5
