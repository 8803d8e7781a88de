"""Query-string filters for the job list and a job's history (django-filter).

An unknown value (``?status=sleeping``, ``?ordering=data``) is a 400, not an
empty list; an empty ordering term is skipped. Orderings always end on the id, so pages are stable.
"""

from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import Q, QuerySet

from ..models import Job, JobHistory, JobStatus, RunStatus

BOOLEAN_CHOICES = [("true", "true"), ("false", "false")]


class StableOrderingFilter(django_filters.OrderingFilter):
    """``?ordering=name,-created_at``; ties come newest first, like the default order.

    Empty terms (``name,``, ``,name``, ``,``) are skipped, as DRF's
    ``OrderingFilter`` skips them; with none left the default order stands.
    """

    def filter(self, qs: QuerySet, value: Any) -> QuerySet:
        params = [param for param in value or () if param]
        if not params:
            return qs
        ordering = [self.get_ordering_value(param) for param in params]
        if ordering[-1].lstrip("-") != "id":
            ordering.append("-id")
        return qs.order_by(*ordering)


class JobFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=JobStatus.choices)
    handler = django_filters.CharFilter(max_length=200)
    queue = django_filters.CharFilter(max_length=64)
    search = django_filters.CharFilter(
        field_name="name", lookup_expr="icontains", max_length=200, label="Name contains"
    )
    recurring = django_filters.ChoiceFilter(
        choices=BOOLEAN_CHOICES, method="filter_recurring", label="Recurring (true) or one-time"
    )
    waiting = django_filters.ChoiceFilter(
        choices=BOOLEAN_CHOICES,
        method="filter_waiting",
        label="Waiting on dependencies (true) or not",
    )
    ordering = StableOrderingFilter(
        fields=(
            "id",
            "name",
            "next_run_at",
            "last_run_at",
            "created_at",
            "priority",
            "status",
        )
    )

    class Meta:
        model = Job
        fields = ["status", "handler", "queue"]

    def filter_recurring(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.recurring() if value == "true" else queryset.one_time()

    def filter_waiting(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        waiting = Q(status=JobStatus.PENDING, waiting_on__gt=0)
        return queryset.filter(waiting) if value == "true" else queryset.exclude(waiting)


class HistoryFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=RunStatus.choices)

    class Meta:
        model = JobHistory
        fields = ["status"]
