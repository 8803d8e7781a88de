"""A Prometheus endpoint (``metrics/``) built from the dashboard's own figures.

Needs the ``metrics`` extra (``prometheus-client``). Every scrape reads the
status index, the due-job index, the rolled-up run minutes and the worker
table: no query walks the history. Staff with the view permission may read
it; a scraper sends ``Authorization: Bearer <DJANGO_JOBS["METRICS_TOKEN"]>``.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterator
from typing import Any

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils import timezone

from ..conf import jobs_settings
from ..models import DURATION_BOUNDS_MS, Job, JobStatus
from ..status import runner_status
from . import figures, rollup
from .access import allowed

PREFIX = "django_jobs"


def collect() -> Iterator[Any]:
    """The metric families of one scrape."""
    from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

    now = timezone.now()
    jobs = GaugeMetricFamily(
        f"{PREFIX}_jobs",
        "Jobs by status (past 10,000 a status, the database planner's estimate).",
        labels=["status"],
    )
    for status, figure in figures.status_counts().items():
        jobs.add_metric([status], int(figure))
    yield jobs
    live = GaugeMetricFamily(
        f"{PREFIX}_jobs_live", "Pending and running jobs by queue.", labels=["status", "queue"]
    )
    for status, queue, n in (
        Job.objects.filter(status__in=[JobStatus.PENDING, JobStatus.RUNNING])
        .order_by()
        .values_list("status", "queue")
        .annotate(n=Count("id"))
    ):
        live.add_metric([status, queue], n)
    yield live
    runs = CounterMetricFamily(
        f"{PREFIX}_runs",
        "Finished runs by handler, queue and outcome.",
        labels=["handler", "queue", "outcome"],
    )
    durations = HistogramMetricFamily(
        f"{PREFIX}_run_duration_seconds",
        "How long finished runs took.",
        labels=["handler", "queue"],
    )
    for (handler, queue), total in sorted(rollup.totals().items()):
        runs.add_metric([handler, queue, "completed"], total.completed)
        runs.add_metric([handler, queue, "failed"], total.failed)
        buckets = [
            (str(ms / 1000), n) for ms, n in zip(DURATION_BOUNDS_MS, total.buckets, strict=True)
        ]
        buckets.append(("+Inf", total.total))
        durations.add_metric([handler, queue], buckets, total.duration_ms / 1000)
    yield runs
    yield durations
    yield from _queues(now)
    yield from _workers(now)


def _queues(now: Any) -> Iterator[Any]:
    from prometheus_client.core import GaugeMetricFamily

    rollup.sample_queues(now)
    depth = GaugeMetricFamily(f"{PREFIX}_queue_depth", "Jobs due now per queue.", labels=["queue"])
    oldest = GaugeMetricFamily(
        f"{PREFIX}_queue_oldest_due_seconds",
        "How long the oldest due job of each queue has waited.",
        labels=["queue"],
    )
    for queue, (n, age) in sorted(rollup.current_depths(now)[0].items()):
        depth.add_metric([queue], n)
        oldest.add_metric([queue], age)
    yield depth
    yield oldest


def _workers(now: Any) -> Iterator[Any]:
    from prometheus_client.core import GaugeMetricFamily

    status = runner_status(now)
    live = status.live_workers
    yield GaugeMetricFamily(f"{PREFIX}_workers_live", "Workers with a fresh heartbeat.", value=live)
    yield GaugeMetricFamily(
        f"{PREFIX}_workers_lost",
        "Registered workers whose heartbeat is late.",
        value=len(status.workers) - live,
    )
    yield GaugeMetricFamily(
        f"{PREFIX}_runner_running",
        "1 while the runner switch lets workers take jobs.",
        value=int(status.running),
    )


class _Collector:
    def collect(self) -> Iterator[Any]:
        return collect()


def _token_ok(request: HttpRequest) -> bool:
    token = jobs_settings.METRICS_TOKEN
    header = request.headers.get("Authorization", "")
    return bool(token) and hmac.compare_digest(header.encode(), f"Bearer {token}".encode())


def metrics(request: HttpRequest) -> HttpResponse:
    if not _token_ok(request):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path(), reverse("admin:login"))
        if not allowed(request.user, "view"):
            raise PermissionDenied
    try:
        from prometheus_client import CollectorRegistry, generate_latest
        from prometheus_client.exposition import CONTENT_TYPE_LATEST
    except ImportError:
        return HttpResponse(
            "Install the metrics extra (prometheus-client) to expose metrics.\n",
            status=501,
            content_type="text/plain",
        )
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Collector())
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
