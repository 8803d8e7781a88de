"""DEAD_RETENTION_DAYS: dead jobs and their history are kept that long, then pruned."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.checks import run_checks
from django.core.management import CommandError, call_command
from django.test import override_settings
from django.utils import timezone

from django_jobs import enqueue
from django_jobs.models import Job, JobHistory, JobStatus
from django_jobs.pruning import Pruned, prune, prune_configured
from django_jobs.worker import WorkerLoop

pytestmark = pytest.mark.django_db(transaction=True)


def _died(job, days):
    old = timezone.now() - timedelta(days=days)
    Job.objects.filter(pk=job.pk).update(updated_at=old)
    JobHistory.objects.filter(job_id=job.pk).update(started_at=old)


def _run(handler, **kwargs):
    job = enqueue(handler, max_attempts=1, **kwargs)
    WorkerLoop(listen=False).run_once()
    return Job.objects.get(pk=job.pk)


def test_dead_jobs_past_their_retention_go_with_their_history():
    old_dead, new_dead = _run("fail"), _run("fail")
    completed = _run("noop")
    _died(old_dead, 40)
    _died(new_dead, 10)
    _died(completed, 40)
    result = prune(None, dead_older_than=timedelta(days=30), batch_size=1)
    assert (result.history, result.jobs, result.dead) == (0, 0, 1)
    assert set(Job.objects.values_list("pk", flat=True)) == {new_dead.pk, completed.pk}
    assert not JobHistory.objects.filter(job_id=old_dead.pk).exists()
    assert JobHistory.objects.filter(job_id=completed.pk).exists()


def test_the_general_retention_keeps_dead_jobs_and_their_history():
    dead, completed = _run("fail"), _run("noop")
    _died(dead, 40)
    _died(completed, 40)
    result = prune(timedelta(days=30))
    assert (result.history, result.jobs, result.dead) == (1, 1, 0)
    assert list(Job.objects.values_list("pk", flat=True)) == [dead.pk]
    assert JobHistory.objects.filter(job_id=dead.pk).count() == 1


def test_dry_run_counts_dead_jobs():
    dead = _run("fail")
    _died(dead, 40)
    result = prune(None, dead_older_than=timedelta(days=30), dry_run=True)
    assert result.dead == 1
    assert Job.objects.filter(pk=dead.pk).exists()


def test_a_dead_job_requeued_is_not_pruned_as_dead():
    dead = _run("fail")
    _died(dead, 40)
    Job.objects.filter(pk=dead.pk).update(status=JobStatus.PENDING, next_run_at=timezone.now())
    assert prune(None, dead_older_than=timedelta(days=30)).dead == 0


def test_the_settings_decide_what_workers_prune():
    dead, completed = _run("fail"), _run("noop")
    _died(dead, 31)
    _died(completed, 31)
    with override_settings(DJANGO_JOBS={"DEAD_RETENTION_DAYS": None}):
        assert prune_configured() == Pruned()
    assert Job.objects.count() == 2
    result = prune_configured()  # defaults: dead jobs kept 30 days, the rest forever
    assert (result.history, result.jobs, result.dead) == (0, 0, 1)
    with override_settings(DJANGO_JOBS={"RETENTION_DAYS": 1, "DEAD_RETENTION_DAYS": 60}):
        result = prune_configured()
    assert (result.history, result.jobs, result.dead) == (1, 1, 0)
    assert not Job.objects.exists()


def test_command_prunes_dead_jobs_too():
    dead = _run("fail")
    _died(dead, 3)
    out = StringIO()
    call_command("prunejobs", "--dead-older-than", "2d", stdout=out)
    assert "and 1 dead jobs" in out.getvalue()
    assert not Job.objects.exists()
    with pytest.raises(CommandError, match="--dead-older-than"):
        call_command("prunejobs", "--dead-older-than", "soon")


@pytest.mark.parametrize("bad", [0, -1, "30", True, float("nan"), 10**6])
def test_bad_retention_settings_are_reported(bad):
    with override_settings(DJANGO_JOBS={"DEAD_RETENTION_DAYS": bad}):
        errors = [e for e in run_checks() if e.id == "django_jobs.E002"]
    assert any("DEAD_RETENTION_DAYS" in e.msg for e in errors)


def test_good_retention_settings_pass():
    with override_settings(DJANGO_JOBS={"DEAD_RETENTION_DAYS": None, "RETENTION_DAYS": 7.5}):
        assert not [e for e in run_checks() if "RETENTION" in e.msg]


def test_a_worker_prunes_dead_jobs_past_their_retention_by_default():
    old_dead, new_dead = _run("fail"), _run("fail")
    _died(old_dead, 31)
    WorkerLoop(listen=False).run_once()
    assert list(Job.objects.values_list("pk", flat=True)) == [new_dead.pk]
    assert not JobHistory.objects.filter(job_id=old_dead.pk).exists()
