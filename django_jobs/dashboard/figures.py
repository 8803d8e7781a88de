"""The overview's figures: counts by status, what is due and running, and the charts' series."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import DatabaseError
from django.db.models import QuerySet

from ..models import Job, JobStatus
from . import rollup

# Counting stops here; past it a figure is the planner's estimate (or shown as "10,000+").
COUNT_CAP = 10_000


@dataclass(frozen=True)
class Figure:
    """A count that may be an estimate (``approx``) or a floor (``capped``)."""

    value: int
    approx: bool = False
    capped: bool = False

    def __str__(self) -> str:
        if self.capped:
            return f"{self.value:,}+"
        return f"~{self.value:,}" if self.approx else f"{self.value:,}"

    def __int__(self) -> int:
        return self.value


def capped(queryset: QuerySet) -> Figure:
    """Count at most ``COUNT_CAP + 1`` rows: an index range read, never a table scan."""
    n = queryset.order_by()[: COUNT_CAP + 1].count()
    return Figure(COUNT_CAP, capped=True) if n > COUNT_CAP else Figure(n)


def estimated(queryset: QuerySet) -> Figure:
    """An exact count up to the cap, then the query planner's estimate where it gives one."""
    figure = capped(queryset)
    if not figure.capped:
        return figure
    rows = planner_rows(queryset)
    return Figure(max(rows, COUNT_CAP), approx=True) if rows else figure


def planner_rows(queryset: QuerySet) -> int | None:
    """Rows the planner expects (PostgreSQL's and MySQL's JSON plans), or None."""
    try:
        plan = json.loads(queryset.order_by().explain(format="json"))
    except (DatabaseError, ValueError, TypeError):
        return None
    if isinstance(plan, list) and plan and "Plan" in plan[0]:
        return int(plan[0]["Plan"].get("Plan Rows") or 0) or None
    table = plan.get("query_block", {}).get("table", {}) if isinstance(plan, dict) else {}
    rows = table.get("rows_produced_per_join") or table.get("rows_examined_per_scan")
    return int(rows) if rows else None


def status_counts() -> dict[str, Figure]:
    """Jobs per status: exact for small statuses, an estimate for the big finished ones."""
    return {status: estimated(Job.objects.filter(status=status)) for status in JobStatus.values}


def headline(now: datetime) -> dict[str, Any]:
    """The numbers at the top of the overview."""
    counts = status_counts()
    last_hour = rollup.total(now - timedelta(hours=1), now)
    runs, failed = last_hour.total, last_hour.failed
    recent = rollup.total(now - timedelta(minutes=5), now)
    total = sum(int(figure) for figure in counts.values())
    return {
        "counts": counts,
        "total": Figure(total, approx=any(f.approx or f.capped for f in counts.values())),
        "due_now": capped(Job.objects.due(now)),
        "running": counts[JobStatus.RUNNING],
        "waiting_retry": capped(
            Job.objects.filter(status=JobStatus.PENDING, attempts__gt=0, next_run_at__gt=now)
        ),
        "runs_last_hour": runs,
        "failed_last_hour": failed,
        "failure_rate": (failed / runs) if runs else None,
        "throughput": recent.total / 5.0,
    }


def _epoch(moment: datetime) -> int:
    return int(moment.timestamp())


def run_series(now: datetime) -> dict[str, Any]:
    """Completed and failed runs per minute over the last hour and per hour over 7 days."""
    this_minute = rollup.minute_floor(now)
    hour_start = this_minute - timedelta(minutes=59)
    week_start = rollup.hour_floor(now) - timedelta(hours=24 * 7 - 1)
    end = now + timedelta(seconds=1)
    per_minute = {
        rollup.minute_floor(row["bucket"]): row
        for row in rollup.from_history(hour_start, end, (), "minute")
    }
    per_hour = {
        rollup.hour_floor(row["bucket"]): row
        for row in rollup.runs(week_start, now, (), hourly=True)
    }
    minutes = [hour_start + timedelta(minutes=i) for i in range(60)]
    hours = [week_start + timedelta(hours=i) for i in range(24 * 7)]
    return {"minute": _series(minutes, per_minute), "hour": _series(hours, per_hour)}


def _series(slots: list[datetime], rows: dict[datetime, dict[str, Any]]) -> dict[str, list[int]]:
    empty: dict[str, Any] = {}
    return {
        "t": [_epoch(slot) for slot in slots],
        "completed": [rows.get(slot, empty).get("completed") or 0 for slot in slots],
        "failed": [rows.get(slot, empty).get("failed") or 0 for slot in slots],
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
