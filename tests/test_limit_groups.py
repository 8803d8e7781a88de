"""The limited pass's first question: which (limit, key) groups have due jobs, most urgent first.

Every engine answers it alike; PostgreSQL and SQLite walk the groups through the
limited index, so their cost follows the groups, not the jobs waiting in them.
"""

import json
from datetime import timedelta

import pytest
from django.conf import settings
from django.db import connection
from django.test import override_settings
from django.utils import timezone

from django_jobs import enqueue_many
from django_jobs.engines import base, for_alias, postgresql, sqlite
from django_jobs.models import Job, JobStatus

pytestmark = pytest.mark.django_db(transaction=True)

LIMITS = {"pair": {"concurrency": 2}, "other": {"concurrency": 5}}


@pytest.fixture(autouse=True)
def configured():
    with override_settings(DJANGO_JOBS={**settings.DJANGO_JOBS, "LIMITS": LIMITS}):
        yield


def jobs(count, **options):
    return enqueue_many([{"handler": "noop", **options} for _ in range(count)])


def groups(queues=None, now=None, count=50):
    found = for_alias("default").limit_groups(queues, now or timezone.now(), count)
    return [(name, key) for name, key, _ in found]


def test_only_groups_with_due_runnable_pending_jobs_most_urgent_first():
    later = timezone.now() + timedelta(hours=1)
    jobs(3, limit="pair", limit_key="low", priority=1)
    jobs(2, limit="pair", limit_key="high", priority=7)
    jobs(1, limit="other", priority=4)
    # A group of higher priority that is not due, paused, or no longer pending.
    jobs(2, limit="other", limit_key="later", priority=9, run_at=later)
    paused = jobs(1, limit="other", limit_key="paused", priority=9)
    Job.objects.filter(pk__in=[j.pk for j in paused]).update(paused=True)
    done = jobs(1, limit="other", limit_key="done", priority=9)
    Job.objects.filter(pk__in=[j.pk for j in done]).update(status=JobStatus.COMPLETED)
    jobs(4)  # not limited at all
    assert groups() == [("pair", "high"), ("other", ""), ("pair", "low")]
    assert groups(count=2) == [("pair", "high"), ("other", "")]
    # A group with one due job among jobs not yet due is found by its due job.
    assert ("other", "later") in groups(now=later + timedelta(seconds=1))


def test_a_groups_urgency_is_its_most_urgent_due_job():
    later = timezone.now() + timedelta(hours=1)
    jobs(5, limit="pair", limit_key="a", priority=2)
    jobs(1, limit="pair", limit_key="a", priority=8, run_at=later)  # not due yet
    jobs(1, limit="pair", limit_key="b", priority=3)
    assert groups() == [("pair", "b"), ("pair", "a")]


def test_queues_narrow_the_groups():
    jobs(2, limit="pair", limit_key="mail", queue="mail")
    jobs(2, limit="pair", limit_key="etl", queue="etl", priority=5)
    assert groups(["mail"]) == [("pair", "mail")]
    assert groups(["mail", "etl"]) == [("pair", "etl"), ("pair", "mail")]
    assert groups(["none"]) == []


def test_many_keys_are_walked_in_urgency_order_up_to_the_count():
    enqueue_many(
        [
            {"handler": "noop", "limit": "pair", "limit_key": f"k{i:03}", "priority": i % 10}
            for i in range(120)
        ]
    )
    found = groups(count=50)
    assert len(found) == 50 and len(set(found)) == 50
    priorities = {f"k{i:03}": i % 10 for i in range(120)}
    assert [priorities[key] for _, key in found] == sorted(
        (priorities[key] for _, key in found), reverse=True
    )
    assert {priorities[key] for _, key in found} == {9, 8, 7, 6, 5}


def test_each_group_comes_with_its_running_jobs():
    jobs(4, limit="pair", limit_key="a")
    jobs(3, limit="pair", limit_key="b", priority=1)
    plain = jobs(2)
    started = Job.objects.filter(limit_key="a")[:2]
    Job.objects.filter(pk__in=[j.pk for j in started]).update(status=JobStatus.RUNNING)
    Job.objects.filter(pk__in=[j.pk for j in plain]).update(status=JobStatus.RUNNING)
    found = for_alias("default").limit_groups(None, timezone.now(), 50)
    assert found == [("pair", "b", 0), ("pair", "a", 2)]


LOOSE_SCAN = {"postgresql": postgresql.Engine, "sqlite": sqlite.Engine}


@pytest.mark.skipif(connection.vendor not in LOOSE_SCAN, reason="a loose index scan")
def test_the_loose_scan_agrees_with_the_generic_grouping():
    enqueue_many(
        [
            {"handler": "noop", "limit": ("pair", "other")[i % 2], "limit_key": f"k{i % 7}"}
            for i in range(60)
        ]
        + [{"handler": "noop", "limit": "pair", "limit_key": "top", "priority": 3}]
    )
    now = timezone.now()
    engine = for_alias("default")
    assert isinstance(engine, LOOSE_SCAN[connection.vendor])
    generic = base.Engine.limit_groups(engine, None, now, 50)
    assert engine.limit_groups(None, now, 50) == generic
    assert generic[0] == ("pair", "top", 0) and len(generic) == 15


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's loose index scan")
def test_postgresql_reads_a_few_index_entries_a_group_however_many_jobs_wait():
    jobs(3000, limit="pair")
    jobs(5, limit="pair", limit_key="b")
    jobs(5, limit="other")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE django_jobs_job")
    sql, params = postgresql.limit_groups_sql(None, timezone.now(), 50, connection)
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + sql, params)
        plan = cursor.fetchone()[0]
    plan = (json.loads(plan) if isinstance(plan, str) else plan)[0]["Plan"]
    read = _rows_read(plan)
    assert read, "no scan of the job table in the plan"
    assert sum(read.values()) < 50, read


def _rows_read(node: dict) -> dict[str, float]:
    """Rows each scan of the job table produced, over all its loops, by index."""
    found: dict[str, float] = {}
    if node.get("Relation Name") == "django_jobs_job":
        # Both figures are averages over the loops.
        per_loop = node["Actual Rows"] + node.get("Rows Removed by Filter", 0)
        rows = per_loop * node["Actual Loops"]
        name = node.get("Index Name", node["Node Type"])
        found[name] = found.get(name, 0) + rows
    for child in node.get("Plans", []):
        for name, rows in _rows_read(child).items():
            found[name] = found.get(name, 0) + rows
    return found


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's loose index scan")
def test_sqlite_reads_about_as_much_for_thousands_of_waiting_jobs_as_for_a_few():
    """SQLite has no EXPLAIN ANALYZE: the virtual machine's steps count the work."""

    def steps() -> int:
        counted = [0]

        def tick() -> int:
            counted[0] += 1
            return 0

        connection.ensure_connection()
        raw = connection.connection
        raw.set_progress_handler(tick, 100)
        try:
            assert groups() == [("other", ""), ("pair", ""), ("pair", "b")]
        finally:
            raw.set_progress_handler(None, 100)
        return counted[0]

    jobs(5, limit="pair")
    jobs(5, limit="pair", limit_key="b")
    jobs(5, limit="other", priority=1)
    few = steps()
    jobs(3000, limit="pair")
    many = steps()
    # Grouping the 3,015 jobs takes some 150 times the steps of the loose scan.
    assert many < few * 2 + 10, (few, many)
