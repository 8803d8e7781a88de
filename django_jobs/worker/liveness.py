"""Worker registration, heartbeats and the recovery of jobs whose worker died.

Heartbeats are written with the database's clock and compared with it, so
workers on machines whose clocks disagree still agree on who is dead.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import uuid
from datetime import datetime, timedelta
from types import FrameType
from typing import TYPE_CHECKING

from django.db import transaction
from django.db.models import DateTimeField, ExpressionWrapper, Q, Value
from django.db.models.expressions import CombinedExpression
from django.db.models.functions import Now
from django.utils import timezone

from .. import dependencies
from ..conf import jobs_settings
from ..dead import announce_failed
from ..engines import for_alias
from ..models import TRANSITION_FIELDS, Job, JobHistory, JobStatus, RunStatus, Worker
from ..retry import retry_at_configured

if TYPE_CHECKING:
    from .loop import WorkerLoop

logger = logging.getLogger("django_jobs.worker")

LOST = "worker lost: no heartbeat from {worker} for {timeout:g}s while the job was running"
UNCONFIRMED = (
    "worker lost: the connection of {worker} dropped while it claimed the job, "
    "so it never started it"
)


def register(queues: list[str] | None, concurrency: int, using: str) -> Worker:
    hostname = socket.gethostname()
    pid = os.getpid()
    return Worker.objects.using(using).create(
        name=f"{hostname}:{pid}:{uuid.uuid4().hex[:8]}",
        hostname=hostname,
        pid=pid,
        queues=",".join(queues or []),
        concurrency=concurrency,
        last_heartbeat=Now(),
    )


def heartbeat(worker: Worker, using: str) -> bool:
    """Refresh the heartbeat; False means others already declared this worker dead."""
    return bool(Worker.objects.using(using).filter(pk=worker.pk).update(last_heartbeat=Now()))


def unregister(worker: Worker, using: str) -> None:
    Worker.objects.using(using).filter(pk=worker.pk).delete()


def cancel_requests(worker: Worker, using: str) -> set[int]:
    """Ids of this worker's running jobs that somebody asked to cancel."""
    return set(
        Job.objects.using(using)
        .filter(status=JobStatus.RUNNING, worker_id=worker.pk, cancel_requested=True)
        .values_list("pk", flat=True)
    )


def _cutoff(timeout: float) -> ExpressionWrapper[CombinedExpression]:
    return ExpressionWrapper(
        Now() - Value(timedelta(seconds=timeout)), output_field=DateTimeField()
    )


def recover_lost(now: datetime | None = None, using: str = "default") -> int:
    """Fail the attempts of running jobs whose worker is gone, and retry them per policy."""
    now = now or timezone.now()
    timeout = float(jobs_settings.WORKER_TIMEOUT)
    dead = Worker.objects.using(using).filter(last_heartbeat__lt=_cutoff(timeout))
    dead_ids = list(dead.values_list("pk", flat=True))
    orphaned = Q(worker__isnull=True) | Q(worker_id__in=dead_ids)
    with transaction.atomic(using=using):
        jobs = list(
            Job.objects.using(using)
            .filter(orphaned, status=JobStatus.RUNNING)
            .select_for_update(skip_locked=True)[:500]
        )
        names = dict(Worker.objects.using(using).filter(pk__in=dead_ids).values_list("pk", "name"))
        ended = []
        for job in jobs:
            name = names.get(job.worker_id or 0, "an unknown worker")
            error = LOST.format(worker=name, timeout=timeout)
            ended.append((job, _fail_lost(job, error, now, using)))
        if jobs:
            for_alias(using).update_rows(Job, jobs, TRANSITION_FIELDS)
            dependencies.settle_jobs(jobs, using, now)
        Worker.objects.using(using).filter(pk__in=dead_ids).exclude(
            pk__in=Job.objects.using(using).filter(status=JobStatus.RUNNING).values("worker_id")
        ).delete()
    announce_failed(ended)
    if jobs:
        logger.warning("recovered jobs from dead workers count=%d", len(jobs))
    return len(jobs)


def recover_unconfirmed(worker: Worker, known: set[int], now: datetime, using: str) -> int:
    """Fail the attempts the database says ``worker`` runs but the worker never started.

    When a connection drops during the commit of a claim, the claim may have
    committed without the worker learning of it; nobody else would ever
    recover those jobs, since their worker is alive.
    """
    with transaction.atomic(using=using):
        jobs = list(
            Job.objects.using(using)
            .filter(status=JobStatus.RUNNING, worker_id=worker.pk)
            .exclude(pk__in=known)
            .select_for_update()
        )
        ended = [
            (job, _fail_lost(job, UNCONFIRMED.format(worker=worker.name), now, using))
            for job in jobs
        ]
        if jobs:
            for_alias(using).update_rows(Job, jobs, TRANSITION_FIELDS)
            dependencies.settle_jobs(jobs, using, now)
    announce_failed(ended)
    if jobs:
        logger.warning("recovered jobs claimed during a lost connection count=%d", len(jobs))
    return len(jobs)


def _fail_lost(job: Job, error: str, now: datetime, using: str) -> bool:
    """Fail the lost attempt in memory and its history row at once; whether it is retried."""
    when = retry_at_configured(now, job.attempts)
    attempt, slot = job.attempts, job.scheduled_for
    will_retry = job.lose(now, error, when)
    JobHistory.objects.using(using).filter(
        job_id=job.pk, attempt=attempt, scheduled_for=slot, status=RunStatus.RUNNING
    ).update(**JobHistory.failed(now, error))
    return will_retry


def stop_on_signals(worker: WorkerLoop) -> None:
    """SIGTERM/SIGINT stop ``worker`` cleanly; a second one exits at once."""

    def handle(signum: int, frame: FrameType | None) -> None:
        if worker.stopping:
            # Leave at once; other workers recover the jobs still running
            # here once this worker's heartbeat stops.
            logger.warning("second signal: exiting now")
            os._exit(1)
        logger.info("signal %s: finishing in-flight jobs, then stopping", signum)
        worker.stop()

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)
