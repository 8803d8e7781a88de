"""Finished runs counted per minute, handler and queue (``RunMinute``), and queue samples.

Figures over hours and days read this small table instead of every history
row. It is filled from the history's finish-time index the first time a
reader needs a minute that has closed: no worker writes to it, and the rows
stay when old history is pruned. The minutes still open are read straight
from the history.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone
from typing import Any

from django.db.models import Count, Max, Min, Q, Sum
from django.db.models.functions import TruncMinute
from django.utils import timezone

from ..conf import jobs_settings
from ..models import (
    DURATION_BOUNDS_MS,
    Job,
    JobHistory,
    QueueSample,
    RunMinute,
    RunStatus,
)

# A minute is rolled up this long after it ends, so runs whose completion was
# still being written are in it.
SETTLE = timedelta(minutes=2)
# How far back the first roll-up reaches.
REACH = timedelta(days=8)
BUCKETS = [f"le_{ms}" for ms in DURATION_BOUNDS_MS]
SUMMED = ["completed", "failed", "duration_ms", *BUCKETS]


@dataclass
class Runs:
    """Finished runs of one group: counts, total duration and the duration histogram."""

    completed: int = 0
    failed: int = 0
    duration_ms: int = 0
    buckets: list[int] = field(default_factory=lambda: [0] * len(BUCKETS))

    @property
    def total(self) -> int:
        return self.completed + self.failed

    def add(self, row: dict[str, Any]) -> None:
        self.completed += row["completed"] or 0
        self.failed += row["failed"] or 0
        self.duration_ms += row["duration_ms"] or 0
        for i, name in enumerate(BUCKETS):
            self.buckets[i] += row[name] or 0

    def quantile(self, q: float) -> float | None:
        """Milliseconds under which ``q`` of the runs took, interpolated inside a bucket."""
        if not self.total:
            return None
        rank, lower, below = q * self.total, 0.0, 0
        for bound, cumulative in zip(DURATION_BOUNDS_MS, self.buckets, strict=True):
            if cumulative >= rank:
                inside = cumulative - below
                share = (rank - below) / inside if inside else 1.0
                return lower + (bound - lower) * share
            lower, below = float(bound), cumulative
        return float(DURATION_BOUNDS_MS[-1])  # slower than the last bound


def minute_floor(moment: datetime) -> datetime:
    return moment.astimezone(dt_timezone.utc).replace(second=0, microsecond=0)


def closed_until(now: datetime) -> datetime:
    """The start of the first minute not yet rolled up."""
    return minute_floor(now - SETTLE)


def _aggregates() -> dict[str, Any]:
    done, failed = Q(status=RunStatus.COMPLETED), Q(status=RunStatus.FAILED)
    sums: dict[str, Any] = {
        "completed": Count("id", filter=done),
        "failed": Count("id", filter=failed),
        "duration_ms": Sum("duration"),
    }
    for ms, name in zip(DURATION_BOUNDS_MS, BUCKETS, strict=True):
        sums[name] = Count("id", filter=Q(duration__lte=ms))
    return sums


def history_minutes(start: datetime, end: datetime) -> list[dict[str, Any]]:
    """Finished runs with ``start <= completed_at < end``, per minute, handler and queue."""
    return list(
        JobHistory.objects.filter(
            completed_at__gte=start,
            completed_at__lt=end,
            status__in=[RunStatus.COMPLETED, RunStatus.FAILED],
        )
        .annotate(minute=TruncMinute("completed_at", tzinfo=dt_timezone.utc))
        .values("minute", "job__handler", "job__queue")
        .annotate(**_aggregates())
        .order_by()
    )


def refresh(now: datetime | None = None) -> int:
    """Roll up the closed minutes not rolled up yet; returns how many rows it wrote.

    Two readers doing it at once write the same rows; the unique constraint
    keeps one of each.
    """
    until = closed_until(now or timezone.now())
    last = RunMinute.objects.aggregate(last=Max("minute"))["last"]
    start = last + timedelta(minutes=1) if last else until - REACH
    if start >= until:
        return 0
    rows = [
        RunMinute(
            minute=row["minute"],
            handler=row["job__handler"],
            queue=row["job__queue"],
            **{name: row[name] or 0 for name in SUMMED},
        )
        for row in history_minutes(start, until)
    ]
    RunMinute.objects.bulk_create(rows, batch_size=500, ignore_conflicts=True)
    return len(rows)


def minutes(start: datetime, now: datetime, by: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """Rows of summed runs from ``start`` to now: rolled-up minutes, then the open ones.

    ``by`` names the grouping ("minute", "handler", "queue"); each row holds
    those keys and the summed columns.
    """
    refresh(now)
    until = closed_until(now)
    rolled = list(
        RunMinute.objects.filter(minute__gte=minute_floor(start), minute__lt=until)
        .values(*by)
        .annotate(**{name: Sum(name) for name in SUMMED})
        .order_by()
    )
    rename = {"minute": "minute", "handler": "job__handler", "queue": "job__queue"}
    merged: dict[tuple, dict[str, Any]] = {}
    for row in rolled:
        merged[tuple(row[key] for key in by)] = row
    for row in history_minutes(max(until, minute_floor(start)), now + timedelta(seconds=1)):
        key = tuple(row[rename[name]] for name in by)
        target = merged.setdefault(
            key, {**dict(zip(by, key, strict=True)), **dict.fromkeys(SUMMED, 0)}
        )
        for name in SUMMED:
            target[name] = (target[name] or 0) + (row[name] or 0)
    return list(merged.values())


def grouped(start: datetime, now: datetime, by: str) -> dict[str, Runs]:
    """Runs since ``start`` per handler or per queue."""
    result: dict[str, Runs] = {}
    for row in minutes(start, now, (by,)):
        result.setdefault(row[by], Runs()).add(row)
    return result


def totals() -> dict[tuple[str, str], Runs]:
    """Every rolled-up and open run per (handler, queue): the metrics' counters."""
    now = timezone.now()
    result: dict[tuple[str, str], Runs] = {}
    for row in minutes(now - timedelta(days=36500), now, ("handler", "queue")):
        result.setdefault((row["handler"], row["queue"]), Runs()).add(row)
    return result


# Queue depth ---------------------------------------------------------------


def queue_depths(now: datetime) -> dict[str, tuple[int, float]]:
    """Per queue: how many jobs are due now and how long the oldest has waited (seconds)."""
    rows = (
        Job.objects.due(now)
        .order_by()
        .values("queue")
        .annotate(depth=Count("id"), oldest=Min("next_run_at"))
    )
    return {
        row["queue"]: (row["depth"], max(0.0, (now - row["oldest"]).total_seconds()))
        for row in rows
    }


def sample_queues(now: datetime | None = None) -> None:
    """Record this minute's queue depths once, whoever asks first."""
    now = now or timezone.now()
    minute = minute_floor(now)
    if QueueSample.objects.filter(minute=minute).exists():
        return
    samples = [
        QueueSample(minute=minute, queue=queue, depth=depth, oldest_due_seconds=age)
        for queue, (depth, age) in queue_depths(now).items()
    ]
    # An empty minute still gets a row, so it is not sampled again; readers fill gaps with 0.
    samples = samples or [QueueSample(minute=minute, queue=jobs_settings.DEFAULT_QUEUE)]
    QueueSample.objects.bulk_create(samples, ignore_conflicts=True)


def depth_series(start: datetime) -> dict[str, dict[datetime, int]]:
    """Sampled depth per queue and minute since ``start``."""
    series: dict[str, dict[datetime, int]] = {}
    for minute, queue, depth in QueueSample.objects.filter(minute__gte=start).values_list(
        "minute", "queue", "depth"
    ):
        series.setdefault(queue, {})[minute] = depth
    return series
