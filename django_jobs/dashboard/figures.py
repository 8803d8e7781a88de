"""The overview's figures: counts by status, what is due and running, and the charts' series."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db.models import Count

from ..models import Job, JobStatus
from . import rollup


def status_counts() -> dict[str, int]:
    """Jobs per status (the status index answers it)."""
    counts = dict(Job.objects.order_by().values_list("status").annotate(n=Count("id")))
    return {status: counts.get(status, 0) for status in JobStatus.values}


def headline(now: datetime) -> dict[str, Any]:
    """The numbers at the top of the overview."""
    counts = status_counts()
    last_hour = rollup.grouped(now - timedelta(hours=1), now, "queue")
    runs = sum(r.total for r in last_hour.values())
    failed = sum(r.failed for r in last_hour.values())
    recent = rollup.grouped(now - timedelta(minutes=5), now, "queue")
    return {
        "counts": counts,
        "total": sum(counts.values()),
        "due_now": Job.objects.due(now).order_by().count(),
        "running": counts[JobStatus.RUNNING],
        "waiting_retry": Job.objects.filter(
            status=JobStatus.PENDING, attempts__gt=0, next_run_at__gt=now
        ).count(),
        "runs_last_hour": runs,
        "failed_last_hour": failed,
        "failure_rate": (failed / runs) if runs else None,
        "throughput": sum(r.total for r in recent.values()) / 5.0,
    }


def _epoch(moment: datetime) -> int:
    return int(moment.timestamp())


def run_series(now: datetime) -> dict[str, Any]:
    """Completed and failed runs per minute over the last hour and per hour over 7 days."""
    end_minute = rollup.minute_floor(now)
    week_start = end_minute.replace(minute=0) - timedelta(days=7) + timedelta(hours=1)
    hour_start = end_minute - timedelta(minutes=59)
    per_minute: dict[datetime, tuple[int, int]] = {}
    per_hour: dict[datetime, list[int]] = {}
    for row in rollup.minutes(week_start, now, ("minute",)):
        minute = rollup.minute_floor(row["minute"])
        done, failed = row["completed"] or 0, row["failed"] or 0
        if minute >= hour_start:
            per_minute[minute] = (done, failed)
        hour = per_hour.setdefault(minute.replace(minute=0), [0, 0])
        hour[0] += done
        hour[1] += failed
    minutes = [hour_start + timedelta(minutes=i) for i in range(60)]
    hours = [week_start + timedelta(hours=i) for i in range(24 * 7)]
    return {
        "minute": {
            "t": [_epoch(m) for m in minutes],
            "completed": [per_minute.get(m, (0, 0))[0] for m in minutes],
            "failed": [per_minute.get(m, (0, 0))[1] for m in minutes],
        },
        "hour": {
            "t": [_epoch(h) for h in hours],
            "completed": [per_hour.get(h, [0, 0])[0] for h in hours],
            "failed": [per_hour.get(h, [0, 0])[1] for h in hours],
        },
    }


def depth_series(now: datetime) -> dict[str, Any]:
    """Due jobs per queue, one sample a minute over the last hour (gaps count as 0)."""
    rollup.sample_queues(now)
    start = rollup.minute_floor(now) - timedelta(minutes=59)
    minutes = [start + timedelta(minutes=i) for i in range(60)]
    series = rollup.depth_series(start)
    return {
        "t": [_epoch(m) for m in minutes],
        "queues": {
            queue: [values.get(m, 0) for m in minutes] for queue, values in sorted(series.items())
        },
    }
