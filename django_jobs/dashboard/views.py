"""The dashboard's pages. Figures come from ``figures``, ``rollup`` and ``breakdown``;
every button posts to ``actions``."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from django.contrib import admin
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone

from ..api.serializers import schedule_of, upcoming
from ..models import Job, JobHistory
from ..status import runner_status
from . import breakdown, figures, listing
from .access import permissions, requires
from .steer import buttons, usable

NAV = [
    ("overview", "Overview"),
    ("jobs", "Jobs"),
    ("recurring", "Recurring"),
    ("workers", "Workers"),
    ("handlers", "Handlers"),
    ("queues", "Queues"),
    ("failures", "Failures"),
]
WINDOWS = {"1h": timedelta(hours=1), "24h": timedelta(hours=24), "7d": timedelta(days=7)}


def render(request: HttpRequest, template: str, section: str, **context: Any) -> HttpResponse:
    context = {
        **admin.site.each_context(request),
        "title": dict(NAV).get(section, section),
        "section": section,
        "nav": [(key, label, reverse(f"django_jobs_dashboard:{key}")) for key, label in NAV],
        "can": permissions(request.user),
        **context,
    }
    return TemplateResponse(request, f"django_jobs/dashboard/{template}", context)


def window_of(request: HttpRequest) -> tuple[str, timedelta]:
    key = request.GET.get("window", "24h")
    return (key, WINDOWS[key]) if key in WINDOWS else ("24h", WINDOWS["24h"])


@requires("view")
def overview(request: HttpRequest) -> HttpResponse:
    return render(request, "overview.html", "overview", **figures.headline(timezone.now()))


@requires("view")
def overview_cards(request: HttpRequest) -> HttpResponse:
    """The overview's numbers alone, for the page to poll."""
    return render(request, "_cards.html", "overview", **figures.headline(timezone.now()))


@requires("view")
def overview_data(request: HttpRequest) -> JsonResponse:
    """The overview's chart series as JSON (epoch seconds and counts)."""
    now = timezone.now()
    return JsonResponse({**figures.run_series(now), "depth": figures.depth_series(now)})


@requires("view")
def jobs(request: HttpRequest) -> HttpResponse:
    found = listing.listing(request.GET)
    number = request.GET.get("page") or 1
    try:
        number = max(1, int(number))
    except ValueError:
        number = 1
    # A page after a cursor starts where the last one ended; a bare page number
    # (an old link) still works, at the price of skipping rows.
    if found.form.errors.get("after"):
        number = 1
    keyset = bool(found.form.data.get("after")) and "after" not in found.form.errors
    offset = 0 if keyset else (number - 1) * listing.PAGE_SIZE
    rows = list(found.queryset[offset : offset + listing.PAGE_SIZE + 1])
    shown = rows[: listing.PAGE_SIZE]
    # A text search may match most of the table; counting it would read all of that.
    count, capped = (None, False) if found.searching else listing.capped_count(found.matching)
    return render(
        request,
        "jobs.html",
        "jobs",
        listing=found,
        rows=shown,
        page_number=number,
        has_next=len(rows) > listing.PAGE_SIZE,
        next_cursor=found.cursor_of(shown[-1]) if shown else "",
        count=count,
        capped=capped,
        sorts=listing.SORTS,
        verbs=usable(request.user),
    )


@requires("view")
def job_detail(request: HttpRequest, pk: int) -> HttpResponse:
    job = get_object_or_404(Job.objects.select_related("worker"), pk=pk)
    runs = list(JobHistory.objects.filter(job=job).order_by("-started_at")[:50])
    schedule = schedule_of(job) if job.is_recurring else None
    chart = [
        [int(run.started_at.timestamp()), run.duration]
        for run in reversed(runs)
        if run.duration is not None
    ]
    return render(
        request,
        "job.html",
        "jobs",
        job=job,
        title=str(job),
        runs=[(run, _pretty(run.result)) for run in runs],
        data=_pretty(job.data),
        schedule_words=schedule.describe() if schedule else "",
        next_runs=upcoming(schedule, job, timezone.now())
        if schedule and not job.is_finished
        else [],
        chart=chart,
        offered=buttons(job, request.user),
    )


def _pretty(value: Any) -> str:
    if value is None:
        return ""
    try:
        return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True)
    except (TypeError, ValueError):
        return str(value)


@requires("view")
def recurring(request: HttpRequest) -> HttpResponse:
    queryset = Job.objects.recurring().order_by("name", "id")
    page = Paginator(queryset, 50).get_page(request.GET.get("page"))
    return render(
        request,
        "recurring.html",
        "recurring",
        page=page,
        rows=breakdown.recurring_rows(page, request.user),
    )


@requires("view")
def workers(request: HttpRequest) -> HttpResponse:
    return render(request, "workers.html", "workers", runner=runner_status(), now=timezone.now())


@requires("view")
def workers_table(request: HttpRequest) -> HttpResponse:
    return render(request, "_workers.html", "workers", runner=runner_status(), now=timezone.now())


@requires("view")
def handlers(request: HttpRequest) -> HttpResponse:
    key, span = window_of(request)
    rows = breakdown.per_group("handler", span, timezone.now())
    return render(request, "handlers.html", "handlers", rows=rows, window=key, windows=WINDOWS)


@requires("view")
def queues(request: HttpRequest) -> HttpResponse:
    key, span = window_of(request)
    rows = breakdown.queue_rows(span, timezone.now())
    return render(request, "queues.html", "queues", rows=rows, window=key, windows=WINDOWS)


@requires("view")
def failures(request: HttpRequest) -> HttpResponse:
    key, span = window_of(request)
    now = timezone.now()
    groups = breakdown.failure_groups(breakdown.window_start(span, now), now=now)
    return render(request, "failures.html", "failures", groups=groups, window=key, windows=WINDOWS)
