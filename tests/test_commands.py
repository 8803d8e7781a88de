"""Bad command options get a clear CommandError and change nothing."""

import pytest
from django.core.management import CommandError, call_command
from django.test import override_settings

from django_jobs import enqueue
from django_jobs.models import Job, JobStatus, Worker

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--concurrency", "0", "whole number from 1 to 10000"),
        ("--concurrency", "many", "whole number from 1 to 10000"),
        ("--batch-size", "-5", "whole number from 1 to 10000"),
        ("--max-jobs", "1.5", "whole number from 1 to 10000"),
        ("--poll-interval", "0", "positive number"),
        ("--poll-interval", "nan", "positive number"),
        ("--poll-interval", "inf", "positive number"),
        ("--max-memory", "-1", "positive number"),
        ("--queues", ",", "at least one queue name"),
        ("--pool", "fork", "invalid choice"),
    ],
)
def test_runjobs_refuses_bad_options(option, value, message):
    job = enqueue("noop")
    with pytest.raises(CommandError, match=message):
        call_command("runjobs", "--once", f"{option}={value}")
    assert not Worker.objects.exists()
    assert Job.objects.get(pk=job.pk).status == JobStatus.PENDING


def test_runjobs_refuses_to_start_when_disabled():
    job = enqueue("noop")
    with override_settings(DJANGO_JOBS={"ENABLED": False}):
        with pytest.raises(CommandError, match="disabled"):
            call_command("runjobs", "--once")
    assert Job.objects.get(pk=job.pk).status == JobStatus.PENDING


def test_runjobs_once_runs_what_is_due():
    job = enqueue("noop")
    call_command("runjobs", "--once", "-v", "0")
    assert Job.objects.get(pk=job.pk).status == JobStatus.COMPLETED
