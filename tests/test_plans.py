"""PostgreSQL: the worker finds a batch's rows by primary key, whatever the statistics say.

A job table that grew from empty has no statistics until it is analyzed
(autovacuum may be off, and lags when on). The planner then takes
``status = 'pending'`` or ``worker_id = ...`` for a handful of rows and reads
the batch's rows through those indexes: every entry of every job processed so
far, dead ones included, on each cycle, so a drain slows as it goes.
"""

import json

import pytest
from django.db import DatabaseError, connection

from django_jobs import enqueue_many
from django_jobs.engines import for_alias, postgresql
from django_jobs.models import Job
from django_jobs.worker import WorkerLoop

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's planner"),
]

# Indexes whose entries grow with every job a worker has taken or finished.
GROWING = {"django_jobs_status_idx", "django_jobs_running_idx"}


def _forget_statistics() -> None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM pg_statistic WHERE starelid = 'django_jobs_job'::regclass")
    except DatabaseError:
        pytest.skip("needs to drop the table's statistics (superuser)")


def _indexes(node: dict) -> set[str]:
    found = {node["Index Name"]} if "Index Name" in node else set()
    for child in node.get("Plans", []):
        found |= _indexes(child)
    return found


def _plan(sql: str, params) -> dict:
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (FORMAT JSON) " + sql, params)
        plan = cursor.fetchone()[0]
    return (json.loads(plan) if isinstance(plan, str) else plan)[0]["Plan"]


def _drain_recording(monkeypatch, jobs: int) -> list[tuple[str, list]]:
    """Run ``jobs`` waiting jobs with one worker; every statement the engine sent."""
    sent: list[tuple[str, list]] = []
    fetch_all = postgresql.fetch_all

    def recording(conn, sql, params):
        sent.append((sql, list(params)))
        return fetch_all(conn, sql, params)

    monkeypatch.setattr(postgresql, "fetch_all", recording)
    assert WorkerLoop(listen=False, batch_size=50).run_once() == jobs
    monkeypatch.undo()
    return sent


def test_claims_and_completions_read_no_index_that_grows_with_the_drain(monkeypatch):
    _forget_statistics()
    enqueue_many([{} for _ in range(2000)], handler="noop")
    sent = _drain_recording(monkeypatch, 2000)
    cycles = [(sql, params) for sql, params in sent if "claimed AS" in sql or "done AS" in sql]
    assert any("claimed AS" in sql for sql, _ in cycles)
    assert any("done AS" in sql for sql, _ in cycles)
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stats WHERE tablename = 'django_jobs_job'")
        assert cursor.fetchone()[0] == 0  # still no statistics: what is being tested
    for sql, params in {sql: (sql, params) for sql, params in cycles}.values():
        used = _indexes(_plan(sql, params))
        assert not used & GROWING, (used, sql[:80])
        assert "django_jobs_job_pkey" in used


def _scans_of(node: dict, table: str) -> list[dict]:
    found = [node] if node.get("Relation Name") == table and "Scan" in node["Node Type"] else []
    for child in node.get("Plans", []):
        found += _scans_of(child, table)
    return found


def test_completions_find_history_rows_by_key_after_the_history_was_analyzed_empty(monkeypatch):
    # Emptied and analyzed (its pages kept, no live row in them), the history looks
    # empty whatever it holds later: the planner then read the whole primary key once
    # for every outcome written, and drains crawled.
    enqueue_many([{} for _ in range(2000)], handler="noop")
    assert WorkerLoop(listen=False, batch_size=50).run_once() == 2000
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM django_jobs_jobhistory")
        cursor.execute("DELETE FROM django_jobs_job")
        cursor.execute("ANALYZE django_jobs_jobhistory")
    enqueue_many([{} for _ in range(2000)], handler="noop")
    sent = _drain_recording(monkeypatch, 2000)
    completions = {sql: params for sql, params in sent if "done_history AS" in sql}
    assert completions
    for sql, params in completions.items():
        scans = _scans_of(_plan(sql, params), "django_jobs_jobhistory")
        assert scans, sql[:80]
        for scan in scans:
            assert scan.get("Index Name") == "django_jobs_jobhistory_pkey", scan["Node Type"]
            assert "Index Cond" in scan, "the history's key read whole, not looked up"


def test_rows_saved_by_key_are_found_by_key_after_the_table_was_analyzed_empty():
    # The shared row writer (a claim's misfires, recovery, put back at shutdown) had
    # the completion's trap: the job table emptied and analyzed, then refilled, looks
    # empty, and two rows were written by reading the whole primary key.
    enqueue_many([{} for _ in range(2000)], handler="noop")
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM django_jobs_job")
        cursor.execute("ANALYZE django_jobs_job")
    enqueue_many([{} for _ in range(2000)], handler="noop")
    jobs = list(Job.objects.order_by("-id")[:2])
    for job in jobs:
        job.priority = 7
    sent: list[tuple[str, list]] = []

    def recording(execute, sql, params, many, context):
        sent.append((sql, list(params)))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(recording):
        assert for_alias("default").update_rows(Job, jobs, ["priority"]) == 2
    assert Job.objects.filter(priority=7).count() == 2
    ((sql, params),) = sent
    scans = _scans_of(_plan(sql, params), "django_jobs_job")
    assert scans, sql[:80]
    for scan in scans:
        assert scan.get("Index Name") == "django_jobs_job_pkey", scan["Node Type"]
        assert "Index Cond" in scan, "the job table's key read whole, not looked up"
