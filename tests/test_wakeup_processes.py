"""A real idle ``runjobs`` polling every 30 s starts a job enqueued here at once, on every database.

PostgreSQL wakes it with LISTEN/NOTIFY, SQLite and MySQL with a datagram
after the commit (``engines.local``).
"""

import json
import time

import pytest
from django.db import transaction

from django_jobs import enqueue
from django_jobs.models import Job, JobStatus
from django_jobs.models import Worker as WorkerRow

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.subprocess]

LONG_POLL = "30"
# Seconds from enqueue to start allowed on a loaded 2-core machine; a poll is 30 s.
SOON = 3.0


def _idle_worker(runjobs, wait_for):
    # Upkeep rounds wake an idle worker too: rare here, so only a wake-up starts a job soon.
    quiet = json.dumps({"WORKER_TIMEOUT": 300, "HEARTBEAT_INTERVAL": 60})
    worker = runjobs("--poll-interval", LONG_POLL, env={"DJANGO_JOBS_TEST_EXTRA": quiet})
    wait_for(lambda: WorkerRow.objects.exists(), message="the worker registered")
    time.sleep(1.5)  # past its first empty claims, and listening: it sleeps for 30 s now
    assert worker.poll() is None
    return worker


def _started_after(job, wait_for):
    wait_for(
        lambda: Job.objects.filter(pk=job.pk, status=JobStatus.COMPLETED).exists(),
        timeout=20,
        message="the job ran",
    )
    job.refresh_from_db()
    return (job.last_run_at - job.created_at).total_seconds()


def test_an_idle_worker_starts_a_job_from_another_process_at_once(runjobs, wait_for):
    _idle_worker(runjobs, wait_for)
    for _ in range(3):
        job = enqueue("noop")
        assert _started_after(job, wait_for) < SOON
        time.sleep(0.3)  # idle again


def test_a_chain_of_jobs_does_not_wait_a_poll_per_link(runjobs, wait_for):
    _idle_worker(runjobs, wait_for)
    with transaction.atomic():  # the chain is whole when the worker wakes
        jobs = [enqueue("noop")]
        for _ in range(30):
            jobs.append(enqueue("noop", depends_on=[jobs[-1]]))
    wait_for(
        lambda: Job.objects.filter(pk=jobs[-1].pk, status=JobStatus.COMPLETED).exists(),
        timeout=60,
        message="the chain ran",
    )
    first, last = (Job.objects.get(pk=j.pk) for j in (jobs[0], jobs[-1]))
    assert (first.last_run_at - first.created_at).total_seconds() < SOON
    assert (last.last_run_at - first.last_run_at).total_seconds() < SOON * 3
