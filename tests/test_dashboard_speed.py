"""What keeps the dashboard fast at a million rows: pages after a cursor, indexed text search,
a roll-up built a few hours at a time, failures grouped from it, and samples the workers take."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from django_jobs import enqueue, schedule, steering
from django_jobs.dashboard import (
    breakdown,
    indexes,
    listing,
    rollup,
    sample_queue_depth,
    sampling,
)
from django_jobs.engines import for_alias
from django_jobs.models import (
    FailureHour,
    Job,
    JobHistory,
    JobStatus,
    QueueSample,
    RollupRange,
    RunHour,
    RunStatus,
)
from django_jobs.worker import WorkerLoop

pytestmark = pytest.mark.django_db(transaction=True)


def url(name, *args):
    return reverse(f"django_jobs_dashboard:{name}", args=args)


@pytest.fixture
def many_jobs():
    """23 jobs with repeated names and queues, some never run, so ties and NULLs are paged."""
    now = timezone.now()
    jobs = [
        Job(
            name=f"job {i % 7}",
            handler=f"handler_{i % 3}",
            queue=["default", "mail"][i % 2],
            status=[JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED][i % 3],
            next_run_at=None,
            last_run_at=None if i % 4 == 0 else now - timedelta(minutes=i % 5),
        )
        for i in range(23)
    ]
    Job.objects.bulk_create(jobs)


@pytest.mark.parametrize("order", [*listing.SORTS, *(f"-{key}" for key in listing.SORTS)])
def test_pages_after_a_cursor_cover_the_list_once_in_order(
    admin_client, many_jobs, monkeypatch, order
):
    monkeypatch.setattr(listing, "PAGE_SIZE", 4)
    expected = list(listing.listing({"o": order}).queryset.values_list("pk", flat=True))
    assert len(expected) == 23
    seen, params = [], {"o": order}
    for _ in range(10):
        response = admin_client.get(url("jobs"), params)
        seen += [job.pk for job in response.context["rows"]]
        if not response.context["has_next"]:
            break
        params = {"o": order, "after": response.context["next_cursor"], "page": 2}
        assert response.context["count"] == 23  # the count is of the whole list, on every page
    assert seen == expected


def test_the_next_page_link_carries_the_cursor(admin_client, many_jobs, monkeypatch):
    monkeypatch.setattr(listing, "PAGE_SIZE", 4)
    response = admin_client.get(url("jobs"), {"o": "-last_run_at"})
    cursor = response.context["next_cursor"]
    assert "after=" in response.content.decode() and cursor
    second = admin_client.get(url("jobs"), {"o": "-last_run_at", "after": cursor, "page": 2})
    assert second.context["page_number"] == 2
    assert b"First page" in second.content


@pytest.mark.parametrize("cursor", ["nonsense", "12:not-a-date", "x:2026-01-01T00:00:00+00:00"])
def test_a_bad_cursor_shows_the_first_page_with_a_message(admin_client, many_jobs, cursor):
    response = admin_client.get(url("jobs"), {"o": "-last_run_at", "after": cursor, "page": 3})
    assert response.status_code == 200
    assert response.context["page_number"] == 1
    assert len(response.context["rows"]) == 23
    assert b"errornote" in response.content


def test_text_search_reads_an_index(admin_client):
    enqueue("noop", name="nightly invoices")
    enqueue("noop", name="invoices for march")
    names = {job.name for job in admin_client.get(url("jobs"), {"q": "invoices"}).context["rows"]}
    assert not listing.substring_search()  # no trigram index unless the project creates one
    assert names == {"invoices for march"}  # the start of the name, any case
    assert {j.name for j in admin_client.get(url("jobs"), {"q": "INVOICES"}).context["rows"]} == {
        "invoices for march"
    }
    response = admin_client.get(url("jobs"), {"q": "noop"})
    assert len(response.context["rows"]) == 2  # the exact handler
    assert "Text matches" in response.content.decode()


def test_dashboardindexes_creates_lists_and_drops_the_sort_and_search_indexes():
    def existing():
        with connection.cursor() as cursor:
            return set(connection.introspection.get_constraints(cursor, "django_jobs_job"))

    wanted = set(indexes.names(connection.alias))
    assert {"django_jobs_name_idx", "django_jobs_last_run_idx"} <= wanted
    assert ("django_jobs_name_prefix_idx" in wanted) == (connection.vendor == "postgresql")
    assert not wanted & existing()  # migrations leave them out: the workers pay for each
    out = StringIO()
    call_command("dashboardindexes", stdout=out)
    assert wanted <= existing()
    assert "created: django_jobs_name_idx" in out.getvalue()
    out = StringIO()
    call_command("dashboardindexes", "--list", stdout=out)
    assert all(f"{name}: present" in out.getvalue() for name in wanted)
    out = StringIO()
    call_command("dashboardindexes", stdout=out)
    assert "none (nothing to do)" in out.getvalue()
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET enable_seqscan = off")
            query = Job.objects.filter(listing.text_match("job 9", connection.alias)).only("id")
            sql, params = query.query.sql_with_params()
            cursor.execute("EXPLAIN " + sql, params)
            plan = "\n".join(row[0] for row in cursor.fetchall())
            cursor.execute("RESET enable_seqscan")
        assert "django_jobs_name_prefix_idx" in plan
    call_command("dashboardindexes", "--drop", stdout=StringIO())
    assert not wanted & existing()


def test_dashboardindexes_refuses_an_unknown_database():
    with pytest.raises(CommandError, match="no database 'nope'"):
        call_command("dashboardindexes", "--database", "nope")


def test_a_big_table_without_the_sort_index_says_how_to_get_it(admin_client, monkeypatch):
    enqueue("noop", name="a")
    engine = type(for_alias(connection.alias))
    monkeypatch.setattr(engine, "table_estimate", lambda self, model: 2_000_000)
    page = admin_client.get(url("jobs"), {"o": "name"}).content.decode()
    assert "manage.py dashboardindexes" in page
    assert "jd-index-note" not in admin_client.get(url("jobs")).content.decode()  # by id
    call_command("dashboardindexes", stdout=StringIO())
    try:
        assert "jd-index-note" not in admin_client.get(url("jobs"), {"o": "name"}).content.decode()
    finally:
        call_command("dashboardindexes", "--drop", stdout=StringIO())


def test_the_index_advice_follows_indexes_another_process_created(admin_client, monkeypatch):
    # dashboardindexes runs in its own process: the web server's processes learn of
    # its indexes within a minute, not at their next restart.
    enqueue("noop", name="a")
    engine = type(for_alias(connection.alias))
    monkeypatch.setattr(engine, "table_estimate", lambda self, model: 2_000_000)
    clock = [1000.0]
    monkeypatch.setattr(indexes.time, "monotonic", lambda: clock[0])
    indexes.forget()
    assert (
        "manage.py dashboardindexes"
        in admin_client.get(url("jobs"), {"o": "name"}).content.decode()
    )
    with connection.schema_editor() as editor:  # as the other process does, unseen here
        editor.add_index(Job, indexes.SORT_INDEXES["name"])
    try:
        clock[0] += indexes.READ_FOR_SECONDS - 1
        page = admin_client.get(url("jobs"), {"o": "name"}).content.decode()
        assert "manage.py dashboardindexes" in page  # what it read still holds
        clock[0] += 1
        page = admin_client.get(url("jobs"), {"o": "name"}).content.decode()
        assert "manage.py dashboardindexes" not in page
    finally:
        with connection.schema_editor() as editor:
            editor.remove_index(Job, indexes.SORT_INDEXES["name"])
        indexes.forget()


@pytest.mark.skipif(connection.vendor != "postgresql", reason="pg_trgm is PostgreSQL's")
@pytest.mark.django_db(transaction=True)
def test_a_trigram_index_the_project_creates_finds_any_part_of_a_name(admin_client):
    enqueue("noop", name="nightly invoices")
    enqueue("noop", name="invoices for march")
    with connection.cursor() as cursor:
        cursor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        cursor.execute(
            "CREATE INDEX django_jobs_name_trgm_idx ON django_jobs_job "
            'USING gin ((UPPER("name"::text)) gin_trgm_ops)'
        )
    indexes.forget()
    try:
        rows = admin_client.get(url("jobs"), {"q": "invoices"}).context["rows"]
        assert {job.name for job in rows} == {"nightly invoices", "invoices for march"}
    finally:
        with connection.cursor() as cursor:
            cursor.execute("DROP INDEX django_jobs_name_trgm_idx")
        indexes.forget()


def _runs(now, hours, per_hour=3):
    """Runs of two handlers, one failing, every hour of the last ``hours``."""
    ok = enqueue("add", name="adder")
    bad = enqueue("fail", name="breaker")
    rows = []
    for hour in range(hours):
        for i in range(per_hour):
            done = now - timedelta(hours=hour, minutes=10 + i)
            failed = i == 0
            rows.append(
                JobHistory(
                    job=bad if failed else ok,
                    status=RunStatus.FAILED if failed else RunStatus.COMPLETED,
                    started_at=done - timedelta(seconds=1),
                    completed_at=done,
                    duration=1000,
                    error="KeyError: 'x'" if failed else "",
                )
            )
    JobHistory.objects.bulk_create(rows)


def test_the_first_roll_up_is_done_a_few_hours_at_a_time(admin_client):
    now = timezone.now()
    _runs(now, hours=30)
    expected = rollup.total(now - timedelta(days=7), now)
    RunHour.objects.all().delete()
    FailureHour.objects.all().delete()
    RollupRange.objects.all().delete()
    assert expected.total == 90 and expected.failed == 30
    steps = 0
    while True:
        before = RollupRange.objects.filter(name=rollup.RANGE).first()
        rollup.refresh(now, step=4)
        after = RollupRange.objects.get(name=rollup.RANGE)
        covered_hours = (after.end - after.start) / timedelta(hours=1)
        if before is not None:
            grown = covered_hours - (before.end - before.start) / timedelta(hours=1)
            assert grown <= 4
        # Whatever is covered so far, the figures are the same.
        figures = rollup.total(now - timedelta(days=7), now)
        assert (figures.total, figures.failed) == (90, 30)
        groups = rollup.failures(now - timedelta(days=7), now)
        assert [(g["handler"], g["kind"], g["count"]) for g in groups] == [("fail", "KeyError", 30)]
        steps += 1
        if after.start <= rollup.hour_floor(rollup.closed_until(now) - rollup.REACH):
            break
        assert steps < 100
    assert steps >= 16  # eight days, four hours a refresh and three refreshes a loop
    assert sum(row.failed for row in FailureHour.objects.all()) >= 29  # all closed hours


def test_failures_come_from_the_roll_up_once_the_history_is_pruned(admin_client):
    now = timezone.now()
    _runs(now - timedelta(hours=5), hours=3)
    later = now + timedelta(minutes=5)
    for _ in range(60):
        rollup.refresh(later)
    JobHistory.objects.all().delete()
    groups = breakdown.failure_groups(later - timedelta(days=1), now=later)
    assert [(g.handler, g.error_type, g.count) for g in groups] == [("fail", "KeyError", 3)]
    assert groups[0].sample == ""  # the traceback went with the history; the count stayed


def test_failure_groups_count_what_they_can_retry(admin_client, monkeypatch):
    for i in range(4):
        enqueue("fail", {"i": i}, max_attempts=1)
    WorkerLoop(listen=False).run_once()
    groups = breakdown.failure_groups(timezone.now() - timedelta(hours=1))
    assert (groups[0].retryable, groups[0].more) == (4, False)
    monkeypatch.setattr(breakdown, "RETRYABLE_SCAN", 2)
    groups = breakdown.failure_groups(timezone.now() - timedelta(hours=1))
    assert (groups[0].retryable, groups[0].more) == (2, True)
    page = admin_client.get(url("failures"))
    assert "2+" in page.content.decode() and "Retry all" in page.content.decode()


def test_workers_sample_queue_depth_while_nobody_watches():
    sampling._sampled.clear()
    enqueue("noop", queue="mail")
    enqueue("noop", queue="mail", run_at=timezone.now() + timedelta(days=1))  # not due
    job = schedule("every minute", "noop", "1m")  # due in a minute: not counted yet
    assert not QueueSample.objects.exists()
    worker = WorkerLoop(listen=False, queues=["other"])  # runs nothing here; its heartbeat samples
    worker.run_once()
    samples = {s.queue: s.depth for s in QueueSample.objects.all()}
    assert samples == {"mail": 1}
    assert Job.objects.get(pk=job.pk).status == JobStatus.PENDING
    # Once a minute: the next heartbeats of the same minute cost nothing.
    (minute,) = sampling._sampled.values()
    assert sample_queue_depth(minute + timedelta(seconds=59)) is False
    assert sample_queue_depth(minute + timedelta(minutes=1)) is True
    assert QueueSample.objects.values("minute").distinct().count() == 2
    assert RollupRange.objects.filter(name=rollup.RANGE).exists()  # the roll-up moved along


def test_run_now_on_a_paused_recurring_job_runs_once_and_stays_paused(admin_client):
    job = schedule("hourly report", "add", "1h", {"a": 2, "b": 3})
    steering.pause(job)
    paused = Job.objects.get(pk=job.pk)
    response = admin_client.post(url("job-action", job.pk, "run"), follow=True)
    assert "1 job queued" in response.content.decode()
    WorkerLoop(listen=False).run_once()
    after = Job.objects.get(pk=job.pk)
    assert after.paused and after.status == JobStatus.PENDING
    assert after.next_run_at == paused.next_run_at  # its slot is kept
    assert not JobHistory.objects.filter(job=after).exists()
    once = Job.objects.get(name="hourly report (run now)")
    assert once.schedule == "" and once.status == JobStatus.COMPLETED
    assert JobHistory.objects.get(job=once).result == {"sum": 5}
    # Through the API too; a job that is not paused is triggered itself.
    steering.resume(job)
    assert steering.trigger(job).pk == job.pk


def test_past_the_cap_pages_read_queue_depth_from_the_minute_sample(admin_client, monkeypatch):
    for queue in ("mail", "mail", "default"):
        enqueue("noop", queue=queue)
    live, minute = rollup.current_depths(timezone.now())
    assert minute is None and {q: n for q, (n, _) in live.items()} == {"mail": 2, "default": 1}
    monkeypatch.setattr(rollup, "DEPTH_CAP", 2)
    now = timezone.now()
    sampled, minute = rollup.current_depths(now)
    assert minute == rollup.minute_floor(now)
    assert {q: n for q, (n, _) in sampled.items()} == {"mail": 2, "default": 1}
    assert all(age >= 0 for _, age in sampled.values())
    rows = {row.name: row.depth for row in admin_client.get(url("queues")).context["rows"]}
    assert rows["mail"] == 2


def test_the_recurring_page_reads_the_last_runs_of_every_job_at_once(admin_client):
    now = timezone.now()
    jobs = [schedule(f"every {n}", "noop", f"{n}m") for n in (5, 10)]
    JobHistory.objects.bulk_create(
        JobHistory(
            job=job,
            status=RunStatus.COMPLETED,
            started_at=now - timedelta(minutes=100 - i),
            completed_at=now - timedelta(minutes=100 - i),
            duration=1000 * k + i,
        )
        for k, job in enumerate(jobs)
        for i in range(25)
    )
    recent = breakdown.recent_runs([job.pk for job in jobs])
    assert [d for _, d in recent[jobs[1].pk]] == [1000 + i for i in range(24, 4, -1)]
    rows = {row.job.pk: row for row in admin_client.get(url("recurring")).context["rows"]}
    assert rows[jobs[0].pk].durations == list(range(5, 25))  # oldest first, for the sparkline
    assert rows[jobs[1].pk].last_status == RunStatus.COMPLETED
