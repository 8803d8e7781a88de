"""Limits in the admin: each limit's use above the (limit, key) rows its claimers lock.

Read-only: the rows are the claim's (``django_jobs.limits``); the figures come
from ``limits.usage``, which ``GET jobs/limits`` answers with too.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db import router
from django.db.models import Count, IntegerField, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from .. import limits
from ..models import Job, JobStatus, LimitKey


class LimitKeyAdmin(admin.ModelAdmin):
    change_list_template = "django_jobs/admin/limitkey/change_list.html"
    list_display = ("limit", "key_text", "bound", "running", "waiting")
    list_filter = ("limit",)
    search_fields = ("key",)
    ordering = ("limit", "key")

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        found = limits.usage(timezone.now(), router.db_for_read(Job))
        return super().changelist_view(request, {"limits": found, **(extra_context or {})})

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        jobs = Job.objects.filter(limit=OuterRef("limit"), limit_key=OuterRef("key"))
        return (
            super()
            .get_queryset(request)
            .annotate(
                running_jobs=_count(jobs.filter(status=JobStatus.RUNNING)),
                waiting_jobs=_count(jobs.filter(status=JobStatus.PENDING)),
            )
        )

    @admin.display(description="key")
    def key_text(self, row: LimitKey) -> str:
        return row.key or "(no key)"

    @admin.display(description="limit")
    def bound(self, row: LimitKey) -> str:
        limit = limits.configured().get(row.limit)
        if limit is None:
            return "not configured"
        parts = []
        if limit.concurrency:
            parts.append(f"{limit.concurrency} at once")
        if limit.rate:
            parts.append(f"{limit.rate} per {limit.period:g} s")
        return ", ".join(parts)

    @admin.display(description="running", ordering="running_jobs")
    def running(self, row: LimitKey) -> int:
        return row.running_jobs  # type: ignore[attr-defined]

    @admin.display(description="waiting", ordering="waiting_jobs")
    def waiting(self, row: LimitKey) -> int:
        return row.waiting_jobs  # type: ignore[attr-defined]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


def _count(jobs: QuerySet) -> Coalesce:
    counted = jobs.order_by().values("limit").annotate(n=Count("id")).values("n")
    return Coalesce(Subquery(counted, output_field=IntegerField()), 0)
