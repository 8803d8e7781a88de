"""Per-handler, per-queue, per-recurring-job and per-failure figures for the dashboard's tables."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import connections
from django.utils import timezone

from ..api.serializers import schedule_of
from ..errors import NO_ERROR, error_kind
from ..models import Job, JobHistory, JobStatus, RunStatus
from . import rollup
from .steer import Verb, buttons

SPARK_RUNS = 20
RECURRING_VERBS = ("run", "pause", "resume")


@dataclass
class GroupRow:
    name: str
    runs: rollup.Runs
    per_minute: float
    depth: int | None = None
    oldest_due_seconds: float | None = None

    @property
    def success_rate(self) -> float | None:
        return self.runs.completed / self.runs.total if self.runs.total else None

    @property
    def p50(self) -> float | None:
        return self.runs.quantile(0.5)

    @property
    def p95(self) -> float | None:
        return self.runs.quantile(0.95)


def window_start(span: timedelta, now: datetime) -> datetime:
    """Where a window of ``span`` before ``now`` starts: a day or more starts at the top of
    an hour, so its first hour comes whole from the roll-up instead of from the history."""
    return rollup.hour_floor(now - span) if span >= timedelta(days=1) else now - span


def per_group(by: str, span: timedelta, now: datetime) -> list[GroupRow]:
    """Runs, success rate, median and p95 duration and throughput per handler or queue."""
    start = window_start(span, now)
    minutes = (now - start).total_seconds() / 60
    groups = rollup.grouped(start, now, by)
    return [
        GroupRow(name, runs, runs.total / minutes)
        for name, runs in sorted(groups.items(), key=lambda item: (-item[1].total, item[0]))
    ]


def queue_rows(span: timedelta, now: datetime) -> list[GroupRow]:
    """``per_group("queue")`` plus each queue's depth and the age of its oldest due job."""
    rows = {row.name: row for row in per_group("queue", span, now)}
    depths, _ = rollup.current_depths(now)
    for queue, (depth, age) in depths.items():
        row = rows.setdefault(queue, GroupRow(queue, rollup.Runs(), 0.0))
        row.depth, row.oldest_due_seconds = depth, age
    for row in rows.values():
        if row.depth is None:
            row.depth, row.oldest_due_seconds = 0, 0.0
    return sorted(rows.values(), key=lambda row: (-(row.depth or 0), -row.runs.total, row.name))


@dataclass
class RecurringRow:
    job: Job
    last_status: str
    durations: list[int]
    offered: list[tuple[str, Verb]]

    @property
    def words(self) -> str:
        schedule = schedule_of(self.job)
        return schedule.describe() if schedule else "cannot be read"

    @property
    def sparkline(self) -> str:
        """SVG polyline points, oldest run on the left, scaled to a 100 x 20 box."""
        if len(self.durations) < 2:
            return ""
        top = max(self.durations) or 1
        step = 100 / (len(self.durations) - 1)
        return " ".join(
            f"{i * step:.1f},{20 - 18 * d / top:.1f}" for i, d in enumerate(self.durations)
        )


def recurring_rows(jobs: Any, user: Any) -> list[RecurringRow]:
    """Each recurring job with its last outcome and recent durations (an index range each)."""
    jobs = list(jobs)
    recent = recent_runs([job.pk for job in jobs])
    rows = []
    for job in jobs:
        runs = recent.get(job.pk, [])
        last = next((status for status, _ in runs if status != RunStatus.RUNNING), "")
        durations = [d for status, d in reversed(runs) if d is not None]
        offered = [(verb, action) for verb, action in buttons(job, user) if verb in RECURRING_VERBS]
        rows.append(RecurringRow(job, last, durations, offered))
    return rows


def recent_runs(pks: list[int]) -> dict[int, list[tuple[str, int | None]]]:
    """The last ``SPARK_RUNS`` (status, duration) of each job, newest first.

    One statement where the database takes a LIMIT inside a UNION (PostgreSQL,
    MySQL), else one query a job; each part reads the (job, started_at) index.
    """
    parts = [
        JobHistory.objects.filter(job_id=pk)
        .order_by("-started_at")
        .values_list("job_id", "started_at", "status", "duration")[:SPARK_RUNS]
        for pk in pks
    ]
    if not parts:
        return {}
    if connections[parts[0].db].features.supports_slicing_ordering_in_compound:
        found = list(parts[0].union(*parts[1:], all=True)) if len(parts) > 1 else list(parts[0])
    else:
        found = [row for part in parts for row in part]
    result: dict[int, list[tuple[Any, str, int | None]]] = {}
    for pk, started, status, duration in found:
        result.setdefault(pk, []).append((started, status, duration))
    return {
        pk: [(status, d) for _, status, d in sorted(runs, key=lambda r: r[0], reverse=True)]
        for pk, runs in result.items()
    }


@dataclass
class FailureGroup:
    handler: str
    error_type: str
    count: int
    last_seen: datetime
    sample: str
    retryable: int
    # True when more failed jobs than RETRYABLE_SCAN were looked at: ``retryable`` is a floor.
    more: bool = False


# The failures page counts the jobs a group can retry among this many newest failed jobs.
RETRYABLE_SCAN = 5_000


def failure_groups(
    since: datetime, limit: int = 50, now: datetime | None = None
) -> list[FailureGroup]:
    """Failed attempts since ``since`` per handler and error type, newest group first.

    The groups come from the failure roll-up (plus the open hours); the failed
    jobs each can retry are counted among the newest ``RETRYABLE_SCAN`` of them.
    """
    now = now or timezone.now()
    rows = sorted(rollup.failures(since, now), key=lambda row: row["last_seen"], reverse=True)
    rows = rows[:limit]
    samples = dict(
        JobHistory.objects.filter(pk__in=[row["newest"] for row in rows]).values_list("pk", "error")
    )
    newest_failed = list(
        Job.objects.filter(status=JobStatus.FAILED)
        .order_by("-id")
        .annotate(kind=error_kind("last_error"))
        .values_list("handler", "kind")[: RETRYABLE_SCAN + 1]
    )
    more = len(newest_failed) > RETRYABLE_SCAN
    retryable = Counter(newest_failed[:RETRYABLE_SCAN])
    return [
        FailureGroup(
            handler=row["handler"],
            error_type=row["kind"],
            count=row["count"],
            last_seen=row["last_seen"],
            sample=(samples.get(row["newest"]) or "")[:2000],
            retryable=retryable.get((row["handler"], row["kind"]), 0),
            more=more,
        )
        for row in rows
    ]


def failed_jobs(handler: str, error_type: str) -> Any:
    """The failed jobs one failure group can retry: same handler, last error of that type."""
    jobs = Job.objects.filter(status=JobStatus.FAILED, handler=handler)
    if error_type == NO_ERROR:
        return jobs.filter(last_error="")
    return jobs.annotate(kind=error_kind("last_error")).filter(kind=error_type)
