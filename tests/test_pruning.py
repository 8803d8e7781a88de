from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.test import override_settings
from django.utils import timezone

from django_jobs import enqueue, schedule
from django_jobs.models import Job, JobHistory
from django_jobs.pruning import parse_age, prune
from django_jobs.worker import WorkerLoop

pytestmark = pytest.mark.django_db(transaction=True)


def _finished_jobs(count):
    jobs = [enqueue("noop") for _ in range(count)]
    WorkerLoop(listen=False).run_once()
    return jobs


def _age(days):
    old = timezone.now() - timedelta(days=days)
    Job.objects.update(updated_at=old)
    JobHistory.objects.update(started_at=old)


def test_prune_deletes_old_finished_one_time_jobs_and_history_only():
    _finished_jobs(5)
    recurring = schedule("keep", "noop", "1h")
    pending = enqueue("noop", run_at=timezone.now() + timedelta(days=1))
    _age(40)
    result = prune(timedelta(days=30), batch_size=2)
    assert (result.history, result.jobs) == (5, 5)
    assert set(Job.objects.values_list("pk", flat=True)) == {recurring.pk, pending.pk}


def test_prune_keeps_recent_rows():
    _finished_jobs(3)
    result = prune(timedelta(days=30))
    assert (result.history, result.jobs) == (0, 0)
    assert Job.objects.count() == 3


def test_dry_run_counts_without_deleting():
    _finished_jobs(2)
    _age(10)
    result = prune(timedelta(days=7), dry_run=True)
    assert (result.history, result.jobs) == (2, 2)
    assert Job.objects.count() == 2


def test_command_prunes_and_reports():
    _finished_jobs(2)
    _age(3)
    out = StringIO()
    call_command("prunejobs", "--older-than", "2d", stdout=out)
    assert "deleted 2 history rows and 2 jobs" in out.getvalue()
    assert not Job.objects.exists()


@pytest.mark.parametrize("bad", ["", "abc", "-3d", "3w", "0d", "1.5d"])
def test_command_rejects_bad_ages(bad):
    with pytest.raises(CommandError, match="--older-than"):
        call_command("prunejobs", "--older-than", bad)


def test_command_needs_an_age_or_the_setting():
    with pytest.raises(CommandError, match="RETENTION_DAYS"):
        call_command("prunejobs")
    with override_settings(DJANGO_JOBS={"RETENTION_DAYS": 1}):
        call_command("prunejobs", stdout=StringIO())


def test_parse_age():
    assert parse_age("30d") == timedelta(days=30)
    assert parse_age("90m") == timedelta(minutes=90)
    assert parse_age("7") == timedelta(days=7)


def test_workers_prune_when_retention_is_set():
    _finished_jobs(3)
    _age(5)
    with override_settings(DJANGO_JOBS={"RETENTION_DAYS": 2}):
        WorkerLoop(listen=False).run_once()
    assert not Job.objects.exists()
    assert not JobHistory.objects.exists()
