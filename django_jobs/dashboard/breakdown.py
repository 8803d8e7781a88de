"""Per-handler, per-queue, per-recurring-job and per-failure figures for the dashboard's tables."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Case, CharField, Count, Max, Value, When
from django.db.models.functions import Left, StrIndex

from ..api.serializers import schedule_of
from ..models import Job, JobHistory, JobStatus, RunStatus
from . import rollup
from .steer import Verb, buttons

SPARK_RUNS = 20
RECURRING_VERBS = ("run", "pause", "resume")
NO_ERROR = "(no error text)"


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


def per_group(by: str, span: timedelta, now: datetime) -> list[GroupRow]:
    """Runs, success rate, median and p95 duration and throughput per handler or queue."""
    minutes = span.total_seconds() / 60
    groups = rollup.grouped(now - span, now, by)
    return [
        GroupRow(name, runs, runs.total / minutes)
        for name, runs in sorted(groups.items(), key=lambda item: (-item[1].total, item[0]))
    ]


def queue_rows(span: timedelta, now: datetime) -> list[GroupRow]:
    """``per_group("queue")`` plus each queue's depth and the age of its oldest due job."""
    rows = {row.name: row for row in per_group("queue", span, now)}
    for queue, (depth, age) in rollup.queue_depths(now).items():
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
    """Each recurring job with its last outcome and recent durations (one indexed query each)."""
    rows = []
    for job in jobs:
        recent = list(
            JobHistory.objects.filter(job=job)
            .order_by("-started_at")
            .values_list("status", "duration")[:SPARK_RUNS]
        )
        last = next((status for status, _ in recent if status != RunStatus.RUNNING), "")
        durations = [d for status, d in reversed(recent) if d is not None]
        offered = [(verb, action) for verb, action in buttons(job, user) if verb in RECURRING_VERBS]
        rows.append(RecurringRow(job, last, durations, offered))
    return rows


@dataclass
class FailureGroup:
    handler: str
    error_type: str
    count: int
    last_seen: datetime
    sample: str
    retryable: int


def error_kind(column: str) -> Any:
    """The text before the first colon of an error column: the exception's class name."""
    colon = StrIndex(column, Value(":"))
    return Case(
        When(**{column: ""}, then=Value(NO_ERROR)),
        When(**{f"{column}__contains": ":"}, then=Left(column, colon - 1)),
        default=Left(column, 80),
        output_field=CharField(),
    )


def failure_groups(since: datetime, limit: int = 50) -> list[FailureGroup]:
    """Failed attempts since ``since`` per handler and error type, newest group first."""
    rows = list(
        JobHistory.objects.filter(status=RunStatus.FAILED, started_at__gte=since)
        .annotate(kind=error_kind("error"))
        .values("job__handler", "kind")
        .annotate(count=Count("id"), last_seen=Max("started_at"), newest=Max("id"))
        .order_by("-last_seen")[:limit]
    )
    samples = dict(
        JobHistory.objects.filter(pk__in=[row["newest"] for row in rows]).values_list("pk", "error")
    )
    retryable = {
        (row["handler"], row["kind"]): row["n"]
        for row in Job.objects.filter(status=JobStatus.FAILED)
        .annotate(kind=error_kind("last_error"))
        .values("handler", "kind")
        .annotate(n=Count("id"))
        .order_by()
    }
    return [
        FailureGroup(
            handler=row["job__handler"],
            error_type=row["kind"],
            count=row["count"],
            last_seen=row["last_seen"],
            sample=samples.get(row["newest"], "")[:2000],
            retryable=retryable.get((row["job__handler"], row["kind"]), 0),
        )
        for row in rows
    ]


def failed_jobs(handler: str, error_type: str) -> Any:
    """The failed jobs one failure group can retry: same handler, last error of that type."""
    jobs = Job.objects.filter(status=JobStatus.FAILED, handler=handler)
    if error_type == NO_ERROR:
        return jobs.filter(last_error="")
    return jobs.annotate(kind=error_kind("last_error")).filter(kind=error_type)
