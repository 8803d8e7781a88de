"""What the runner and the jobs look like right now, for the API and the admin."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Count, Q
from django.utils import timezone

from .conf import jobs_settings
from .models import Job, JobHistory, JobStatus, Runner, RunStatus, Worker


@dataclass
class WorkerStatus:
    name: str
    hostname: str
    pid: int
    queues: list[str]
    concurrency: int
    started_at: datetime
    last_heartbeat: datetime
    heartbeat_age: float
    alive: bool
    running_jobs: list[dict[str, Any]]


@dataclass
class RunnerStatus:
    """The runner switch and the registered workers, live or not yet recovered."""

    running: bool
    workers: list[WorkerStatus]

    @property
    def live_workers(self) -> int:
        return sum(1 for worker in self.workers if worker.alive)


def runner_status(now: datetime | None = None) -> RunnerStatus:
    """The runner switch and every registered worker with what it is running."""
    now = now or timezone.now()
    timeout = float(jobs_settings.WORKER_TIMEOUT)
    running: dict[int, list[dict[str, Any]]] = {}
    for pk, name, handler, worker_id, started in Job.objects.filter(
        status=JobStatus.RUNNING, worker__isnull=False
    ).values_list("pk", "name", "handler", "worker_id", "started_at"):
        running.setdefault(worker_id, []).append(
            {"id": pk, "name": name, "handler": handler, "started_at": started}
        )
    workers = []
    for worker in Worker.objects.order_by("started_at"):
        age = max(0.0, (now - worker.last_heartbeat).total_seconds())
        workers.append(
            WorkerStatus(
                name=worker.name,
                hostname=worker.hostname,
                pid=worker.pid,
                queues=[q for q in worker.queues.split(",") if q],
                concurrency=worker.concurrency,
                started_at=worker.started_at,
                last_heartbeat=worker.last_heartbeat,
                heartbeat_age=round(age, 3),
                alive=age <= timeout,
                running_jobs=running.get(worker.pk, []),
            )
        )
    return RunnerStatus(running=Runner.is_running(), workers=workers)


def job_stats(now: datetime | None = None) -> dict[str, Any]:
    """Counts by status, jobs due now and failed attempts in the last 24 hours."""
    now = now or timezone.now()
    counts = dict(Job.objects.order_by().values_list("status").annotate(n=Count("pk")))
    by_status = {status: counts.get(status, 0) for status in JobStatus.values}
    due = Job.objects.due(now).order_by().count()
    failures = JobHistory.objects.filter(
        Q(status=RunStatus.FAILED), started_at__gte=now - timedelta(hours=24)
    ).count()
    return {
        "by_status": by_status,
        "total": sum(by_status.values()),
        "due_now": due,
        "failed_attempts_24h": failures,
    }
