"""Finished runs counted per hour, handler and queue (``RunHour``), failed attempts per hour,
handler and error type (``FailureHour``), and queue samples.

Figures over days read these small tables instead of every history row. They
are filled from the history's finish-time index a few closed hours at a time
(``STEP_HOURS``): the hours that just closed first, then backwards until
``REACH`` is covered, so neither the first look at the dashboard nor any later
one pays for rolling up days at once. ``RollupRange`` records the hours
covered; whatever lies outside it (the open hours, hours not rolled up yet)
is read straight from the history through the same index. Workers advance it
once a minute (``sample_queue_depth``), readers whenever they find it behind;
two doing it at once write the same rows and unique constraints keep one.
History pruned later leaves the figures in place.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone
from typing import Any

from django.db import transaction
from django.db.models import Count, Max, Min, Q, Sum
from django.db.models.functions import Trunc
from django.utils import timezone

from ..conf import jobs_settings
from ..errors import error_kind
from ..models import (
    DURATION_BOUNDS_MS,
    FailureHour,
    Job,
    JobHistory,
    QueueSample,
    RollupRange,
    RunHour,
    RunStatus,
)

HOUR = timedelta(hours=1)
# An hour is rolled up this long after it ends, so runs whose completion was
# still being written are in it.
SETTLE = timedelta(minutes=2)
# How far back the roll-up reaches (the longest window is 7 days).
REACH = timedelta(days=8)
# Closed hours a reader's refresh rolls up at most (an hour of 6,000 runs: 50 to 200 ms).
STEP_HOURS = 1
# Past this many due jobs, pages show the minute's sample of the queue depths.
DEPTH_CAP = 10_000
RANGE = "runs"
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


def refresh(now: datetime | None = None, step: int = STEP_HOURS) -> int:
    """Roll up at most ``step`` closed hours, newest missing ones first; returns the rows written.

    The hours that closed since the last refresh come first, then the range
    grows backwards, one step at a time, until it reaches ``REACH``.
    """
    return _refresh(now or timezone.now(), step)[0]


def _refresh(now: datetime, step: int) -> tuple[int, tuple[datetime, datetime]]:
    """``refresh``, also returning the hours covered afterwards."""
    until = closed_until(now)
    floor = hour_floor(until - REACH)
    mark, _ = RollupRange.objects.get_or_create(name=RANGE, defaults={"start": until, "end": until})
    start, end = mark.start, mark.end
    written, budget = 0, step
    if end < until:
        stop = min(until, end + budget * HOUR)
        written += _roll(end, stop)
        RollupRange.objects.filter(name=RANGE, end=end).update(end=stop)
        budget -= int((stop - end) / HOUR)
        end = stop
    if budget > 0 and start > floor:
        begin = max(floor, start - budget * HOUR)
        written += _roll(begin, start)
        RollupRange.objects.filter(name=RANGE, start=start).update(start=begin)
        start = begin
    return written, (start, end)


def _roll(start: datetime, end: datetime) -> int:
    """Write the runs and failures of the closed hours ``[start, end)``."""
    runs = [
        RunHour(
            hour=row["bucket"],
            handler=row["handler"],
            queue=row["queue"],
            **{name: row[name] or 0 for name in SUMMED},
        )
        for row in from_history(start, end, ("handler", "queue"), "hour")
    ]
    failures = [
        FailureHour(
            hour=row["bucket"],
            handler=row["handler"],
            error_type=row["kind"],
            failed=row["count"],
            last_seen=row["last_seen"],
            newest=row["newest"],
        )
        for row in failures_from_history(start, end, bucket=True)
    ]
    with transaction.atomic():
        RunHour.objects.bulk_create(runs, batch_size=1000, ignore_conflicts=True)
        FailureHour.objects.bulk_create(failures, batch_size=1000, ignore_conflicts=True)
    return len(runs) + len(failures)


def failures_from_history(
    start: datetime, end: datetime, bucket: bool = False
) -> list[dict[str, Any]]:
    """Failed attempts that finished in ``[start, end)`` per handler and error type
    (and hour, with ``bucket``): count, latest finish and the newest row's id."""
    if start >= end:
        return []
    rows = JobHistory.objects.filter(
        completed_at__gte=start, completed_at__lt=end, status=RunStatus.FAILED
    ).annotate(kind=error_kind("error"))
    keys = ["job__handler", "kind"]
    if bucket:
        rows = rows.annotate(bucket=Trunc("completed_at", "hour", tzinfo=dt_timezone.utc))
        keys.append("bucket")
    found = list(
        rows.values(*keys)
        .annotate(count=Count("id"), last_seen=Max("completed_at"), newest=Max("id"))
        .order_by()
    )
    for row in found:
        row["handler"] = row.pop("job__handler")
    return found


def _spans(start: datetime, now: datetime) -> tuple[datetime, datetime, list[tuple]]:
    """Split ``[start, now]`` into the rolled-up hours and the history spans around them.

    History older than ``REACH`` is never read: what the roll-up does not hold
    of it is left out, as pruning would.
    """
    _, (low, high) = _refresh(now, STEP_HOURS)
    end = now + timedelta(seconds=1)
    first = max(hour_ceil(start), low)
    start = max(start, hour_floor(closed_until(now) - REACH))
    if first >= high:  # nothing rolled up inside the window
        return high, high, [(start, end)]
    return first, high, [(start, first), (high, end)]


def runs(
    start: datetime, now: datetime, by: tuple[str, ...] = (), hourly: bool = False
) -> list[dict[str, Any]]:
    """Summed runs from ``start`` to ``now``: rolled-up hours from the roll-up, the rest from
    the history. Rows hold the ``by`` keys (and "bucket", an hour, when ``hourly``)."""
    first, until, history = _spans(start, now)
    bucket = "hour" if hourly else None
    columns = [*(["hour"] if hourly else []), *by]
    hours = RunHour.objects.filter(hour__gte=first, hour__lt=until)
    sums = {name: Sum(name) for name in SUMMED}
    rolled: list[dict[str, Any]] = []
    if first < until:
        if columns:
            rolled = list(hours.values(*columns).annotate(**sums).order_by())
        else:
            rolled = [hours.aggregate(**sums)]
    for row in rolled:
        if hourly:
            row["bucket"] = row.pop("hour")
    keys = [*by, *(["bucket"] if hourly else [])]
    merged: dict[tuple, dict[str, Any]] = {}
    parts = rolled + [row for a, b in history for row in from_history(a, b, by, bucket)]
    for row in parts:
        key = tuple(row[name] for name in keys)
        if key not in merged:
            merged[key] = row
            continue
        for name in SUMMED:
            merged[key][name] = (merged[key][name] or 0) + (row[name] or 0)
    return list(merged.values())


def failures(start: datetime, now: datetime) -> list[dict[str, Any]]:
    """Failed attempts since ``start`` per handler and error type, from the roll-up and
    the history around it: handler, kind, count, last_seen, newest."""
    first, until, history = _spans(start, now)
    rows: list[dict[str, Any]] = []
    if first < until:
        rolled = (
            FailureHour.objects.filter(hour__gte=first, hour__lt=until)
            .values("handler", "error_type")
            .annotate(count=Sum("failed"), last_seen=Max("last_seen"), newest=Max("newest"))
            .order_by()
        )
        rows = [{**row, "kind": row["error_type"]} for row in rolled]
    merged: dict[tuple, dict[str, Any]] = {}
    for row in rows + [row for a, b in history for row in failures_from_history(a, b)]:
        key = (row["handler"], row["kind"])
        if key not in merged:
            merged[key] = row
            continue
        group = merged[key]
        group["count"] += row["count"]
        group["last_seen"] = max(group["last_seen"], row["last_seen"])
        group["newest"] = max(group["newest"], row["newest"])
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
    """Per queue: how many jobs are due now and how long the oldest has waited (seconds).

    Counts every due job: workers sample it once a minute; pages use ``current_depths``.
    """
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


def current_depths(now: datetime) -> tuple[dict[str, tuple[int, float]], datetime | None]:
    """``queue_depths`` for a page: live while at most ``DEPTH_CAP`` jobs are due, else this
    minute's sample (taken now if nobody took it) with the oldest ages brought up to now.

    Returns the depths and the minute of the sample they come from (None: live).
    """
    due = Job.objects.due(now).order_by()
    if due[: DEPTH_CAP + 1].count() <= DEPTH_CAP:
        return queue_depths(now), None
    sample_queues(now)
    minute = minute_floor(now)
    late = (now - minute).total_seconds()
    rows = QueueSample.objects.filter(minute=minute).values_list(
        "queue", "depth", "oldest_due_seconds"
    )
    return {queue: (depth, age + late if depth else 0.0) for queue, depth, age in rows}, minute


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
