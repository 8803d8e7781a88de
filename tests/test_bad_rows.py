"""Rows nobody should have written: each fails its own job clearly, and the worker goes on.

The bad values are written with raw SQL, as a hand edit or another program would.
"""

from datetime import timedelta

import pytest
from django.db import DatabaseError, connection, transaction
from django.test import override_settings
from django.utils import timezone

from django_jobs import enqueue, schedule
from django_jobs.models import Job, JobHistory, JobStatus, RunStatus
from django_jobs.worker import WorkerLoop

pytestmark = pytest.mark.django_db(transaction=True)


def run(now=None, **kwargs):
    return WorkerLoop(listen=False, **kwargs).run_once(now=now)


def write_raw(job, column, value):
    table = connection.ops.quote_name(Job._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET {connection.ops.quote_name(column)} = %s WHERE id = %s",
            [value, job.pk],
        )


def test_unregistered_handler_written_by_hand_fails_clearly():
    bad = enqueue("noop", max_attempts=1)
    write_raw(bad, "handler", "vanished")
    good = enqueue("noop")
    run()
    bad.refresh_from_db()
    assert bad.status == JobStatus.FAILED
    assert "no handler is registered under the name 'vanished'" in bad.last_error
    assert Job.objects.get(pk=good.pk).status == JobStatus.COMPLETED


@pytest.mark.parametrize(
    ("column", "value"), [("schedule", "every blue moon"), ("timezone", "Mars/Olympus")]
)
def test_schedule_that_no_longer_parses_fails_its_job_and_the_batch_is_written(column, value):
    bad = schedule("broken", "noop", "* * * * *")
    slot = bad.next_run_at
    write_raw(bad, column, value)
    others = [enqueue("noop") for _ in range(3)]
    assert run(now=slot) == 4
    bad.refresh_from_db()
    assert bad.status == JobStatus.FAILED
    assert bad.next_run_at is None
    assert "cannot be used" in bad.last_error
    assert repr(value) in bad.last_error or value in bad.last_error
    # Its run itself succeeded and is in history; the other outcomes of the batch were written.
    assert JobHistory.objects.get(job=bad).status == RunStatus.COMPLETED
    assert [Job.objects.get(pk=j.pk).status for j in others] == [JobStatus.COMPLETED] * 3


def test_unparsable_schedule_does_not_choke_the_claim_of_a_missed_slot():
    bad = schedule("broken-late", "noop", "0 * * * *", misfire_grace=60)
    slot = bad.next_run_at
    write_raw(bad, "schedule", "nonsense")
    good = enqueue("noop")
    run(now=slot + timedelta(minutes=30))  # the slot is past its grace: the claim skips it
    bad.refresh_from_db()
    assert bad.status == JobStatus.FAILED
    assert "cannot be used" in bad.last_error
    assert JobHistory.objects.get(job=bad).status == RunStatus.MISSED
    assert Job.objects.get(pk=good.pk).status == JobStatus.COMPLETED


def test_unparsable_schedule_of_a_failing_job_fails_it_too():
    bad = schedule("broken-failing", "fail", "* * * * *", max_attempts=1)
    slot = bad.next_run_at
    write_raw(bad, "schedule", "nonsense")
    run(now=slot)
    bad.refresh_from_db()
    assert bad.status == JobStatus.FAILED
    assert "cannot be used" in bad.last_error


def _write_invalid_json(job):
    """Store text that is not JSON, with SQLite's JSON check turned off for the statement."""
    table = connection.ops.quote_name(Job._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA ignore_check_constraints = ON")
        try:
            cursor.execute(f"UPDATE {table} SET data = %s WHERE id = %s", ["{oops", job.pk])
        finally:
            cursor.execute("PRAGMA ignore_check_constraints = OFF")


def test_data_that_is_not_json_fails_its_job_instead_of_reaching_the_handler(vendor):
    if vendor != "sqlite":
        # PostgreSQL's jsonb cannot hold such text. MariaDB re-checks JSON_VALID on
        # every UPDATE of the row, so with checks turned off by hand the row
        # cannot be claimed (or changed at all) until its data is fixed.
        pytest.skip("the database refuses such text; see the test below")
    bad = enqueue("echo", {"ok": True}, max_attempts=1)
    _write_invalid_json(bad)
    good = enqueue("echo", "a JSON string is fine")
    run()
    bad.refresh_from_db()
    assert bad.status == JobStatus.FAILED
    assert "data is not valid JSON: '{oops'" in bad.last_error
    assert JobHistory.objects.get(job=good).result == "a JSON string is fine"


def test_the_database_refuses_data_that_is_not_json_unless_told_otherwise(vendor):
    job = enqueue("noop")
    table = connection.ops.quote_name(Job._meta.db_table)
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"UPDATE {table} SET data = %s WHERE id = %s", ["{oops", job.pk])
    assert Job.objects.get(pk=job.pk).data is None


def test_bad_rows_in_one_claim_do_not_stop_a_busy_worker():
    """Every kind at once, among ordinary jobs, with the worker's ordinary batch size."""
    now = timezone.now()
    broken = schedule("broken-mixed", "noop", "1s")
    write_raw(broken, "schedule", "nope")
    gone = enqueue("noop", max_attempts=1)
    write_raw(gone, "handler", "gone")
    ordinary = [enqueue("noop") for _ in range(20)]
    with override_settings(DJANGO_JOBS={"BATCH_SIZE": 50, "CONCURRENCY": 8}):
        run(now=now + timedelta(seconds=2))
    assert Job.objects.get(pk=broken.pk).status == JobStatus.FAILED
    assert Job.objects.get(pk=gone.pk).status == JobStatus.FAILED
    assert Job.objects.filter(pk__in=[j.pk for j in ordinary], status="completed").count() == 20


def test_mariadb_row_whose_data_fails_its_json_check_is_failed_alone(vendor):
    """MariaDB re-checks JSON_VALID on every UPDATE: such a row must not stall its batch."""
    if vendor != "mysql":
        pytest.skip("MariaDB's JSON check on UPDATE")
    bad = enqueue("echo", {"ok": True})
    table = connection.ops.quote_name(Job._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute("SET SESSION check_constraint_checks = OFF")
        try:
            cursor.execute(f"UPDATE {table} SET data = %s WHERE id = %s", ["{oops", bad.pk])
        finally:
            cursor.execute("SET SESSION check_constraint_checks = ON")
    good = [enqueue("echo", n) for n in range(5)]
    run()
    bad.refresh_from_db()
    assert bad.status == JobStatus.FAILED
    assert "data is not valid JSON: '{oops'" in bad.last_error
    assert bad.data is None
    assert Job.objects.filter(pk__in=[j.pk for j in good], status="completed").count() == 5
