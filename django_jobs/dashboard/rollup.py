"""Finished runs counted per hour, handler and queue (``RunHour``), and queue samples.

Figures over days read this small table instead of every history row. It is
filled from the history's finish-time index the first time a reader needs an
hour that has closed: no worker writes to it, and its rows stay when old
history is pruned. Whatever the closed hours do not cover (the current hour,
the part of the first hour a window starts inside) is read straight from the
history through the same index, so a read never walks more than about two
hours of history rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone
from typing import Any

from django.db.models import Count, Max, Min, Q, Sum
from django.db.models.functions import Trunc
from django.utils import timezone

from ..conf import jobs_settings
from ..models import (
    DURATION_BOUNDS_MS,
    Job,
    JobHistory,
    QueueSample,
    RunHour,
    RunStatus,
)

HOUR = timedelta(hours=1)
# An hour is rolled up this long after it ends, so runs whose completion was
# still being written are in it.
SETTLE = timedelta(minutes=2)
# How far back the first roll-up reaches.
REACH = timedelta(days=8)
BUCKETS = [f"le_{ms}" for ms in DURATION_BOUNDS_MS]
SUMMED = ["completed", "failed", "duration_ms", *BUCKETS]
EPOCH = datetime(2000, 1, 1, tzinfo=dt_timezone.utc)


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


def hour_floor(moment: datetime) -> datetime:
    return minute_floor(moment).replace(minute=0)


def hour_ceil(moment: datetime) -> datetime:
    floor = hour_floor(moment)
    return floor if floor == moment else floor + HOUR


def closed_until(now: datetime) -> datetime:
    """The start of the first hour not rolled up yet."""
    return hour_floor(now - SETTLE)


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


def from_history(
    start: datetime, end: datetime, by: tuple[str, ...] = (), bucket: str | None = None
) -> list[dict[str, Any]]:
    """Finished runs with ``start <= completed_at < end``, summed per ``by`` and ``bucket``.

    ``by`` holds "handler" and/or "queue"; ``bucket`` ("minute", "hour") adds a
    "bucket" key with the start of each. Reads the finish-time index only.
    """
    if start >= end:
        return []
    runs = JobHistory.objects.filter(
        completed_at__gte=start,
        completed_at__lt=end,
        status__in=[RunStatus.COMPLETED, RunStatus.FAILED],
    )
    keys = [f"job__{name}" for name in by]
    if bucket:
        runs = runs.annotate(bucket=Trunc("completed_at", bucket, tzinfo=dt_timezone.utc))
        keys.append("bucket")
    if not keys:  # one total: .values() without names would group by every column
        return [runs.aggregate(**_aggregates())]
    rows = list(runs.values(*keys).annotate(**_aggregates()).order_by())
    for row in rows:
        for name in by:
            row[name] = row.pop(f"job__{name}")
    return rows


def refresh(now: datetime | None = None) -> int:
    """Roll up the closed hours not rolled up yet; returns how many rows it wrote.

    Two readers doing it at once write the same rows; the unique constraint
    keeps one of each.
    """
    until = closed_until(now or timezone.now())
    last = RunHour.objects.aggregate(last=Max("hour"))["last"]
    start = last + HOUR if last else hour_floor(until - REACH)
    if start >= until:
        return 0
    rows = [
        RunHour(
            hour=row["bucket"],
            handler=row["handler"],
            queue=row["queue"],
            **{name: row[name] or 0 for name in SUMMED},
        )
        for row in from_history(start, until, ("handler", "queue"), "hour")
    ]
    RunHour.objects.bulk_create(rows, batch_size=1000, ignore_conflicts=True)
    return len(rows)


def runs(
    start: datetime, now: datetime, by: tuple[str, ...] = (), hourly: bool = False
) -> list[dict[str, Any]]:
    """Summed runs from ``start`` to ``now``: closed hours from the roll-up, the rest from
    the history. Rows hold the ``by`` keys (and "bucket", an hour, when ``hourly``)."""
    refresh(now)
    until, first = closed_until(now), hour_ceil(start)
    end = now + timedelta(seconds=1)
    bucket = "hour" if hourly else None
    if first >= until:
        return from_history(start, end, by, bucket)
    columns = [*(["hour"] if hourly else []), *by]
    hours = RunHour.objects.filter(hour__gte=first, hour__lt=until)
    sums = {name: Sum(name) for name in SUMMED}
    if columns:
        rolled = list(hours.values(*columns).annotate(**sums).order_by())
    else:
        rolled = [hours.aggregate(**sums)]
    for row in rolled:
        if hourly:
            row["bucket"] = row.pop("hour")
    keys = [*by, *(["bucket"] if hourly else [])]
    merged: dict[tuple, dict[str, Any]] = {}
    parts = rolled + from_history(start, first, by, bucket) + from_history(until, end, by, bucket)
    for row in parts:
        key = tuple(row[name] for name in keys)
        if key not in merged:
            merged[key] = row
            continue
        for name in SUMMED:
            merged[key][name] = (merged[key][name] or 0) + (row[name] or 0)
    return list(merged.values())


def total(start: datetime, now: datetime) -> Runs:
    """All runs since ``start`` (no join with the jobs table)."""
    result = Runs()
    for row in runs(start, now):
        result.add(row)
    return result


def grouped(start: datetime, now: datetime, by: str) -> dict[str, Runs]:
    """Runs since ``start`` per handler or per queue."""
    result: dict[str, Runs] = {}
    for row in runs(start, now, (by,)):
        result.setdefault(row[by], Runs()).add(row)
    return result


def totals(now: datetime | None = None) -> dict[tuple[str, str], Runs]:
    """Every rolled-up and open run per (handler, queue): the metrics' counters."""
    now = now or timezone.now()
    result: dict[tuple[str, str], Runs] = {}
    for row in runs(EPOCH, now, ("handler", "queue")):
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
