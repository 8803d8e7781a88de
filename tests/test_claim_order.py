"""Which due jobs a claim takes: the highest priority first, then the longest due."""

from datetime import timedelta

import pytest
from django.utils import timezone

from django_jobs import enqueue
from django_jobs.engines import claiming
from django_jobs.models import Job
from django_jobs.worker import liveness

pytestmark = pytest.mark.django_db(transaction=True)


def _job(name, priority, minutes, queue="default"):
    run_at = timezone.now() + timedelta(minutes=minutes)
    return enqueue("echo", name=name, priority=priority, run_at=run_at, queue=queue).pk


def _claim(worker, limit, queues=None):
    batch = claiming.claim(worker, queues, limit, timezone.now(), "default")
    return {claimed.job.name for claimed in batch}


def test_a_claim_walks_the_priorities_down_and_skips_jobs_not_yet_due():
    worker = liveness.register(None, 4, "default")
    for i in range(50):  # many not-yet-due jobs above every due one
        _job(f"later-{i}", 9, 60 + i)
    _job("p5-old", 5, -30)
    _job("p5-new", 5, -1)
    _job("p5-later", 5, 30)
    _job("p1-old", 1, -50)
    _job("p1-mid", 1, -20)
    _job("p1-new", 1, -2)
    _job("low-old", -3, -90)
    _job("low-new", -3, -5)
    _job("other-queue", 7, -1, queue="other")

    assert _claim(worker, 4, ["default"]) == {"p5-old", "p5-new", "p1-old", "p1-mid"}
    assert _claim(worker, 2) == {"other-queue", "p1-new"}
    assert _claim(worker, 10) == {"low-old", "low-new"}
    assert _claim(worker, 10) == set()
    assert Job.objects.filter(status="pending").count() == 51
