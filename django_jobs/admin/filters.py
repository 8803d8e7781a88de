"""List filters that read the registry or a few rows, never a whole big table."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from ..models import Job, JobStatus
from ..registry import registry


class HandlerFilter(admin.SimpleListFilter):
    """Registered handler names: known without a query."""

    title = "handler"
    parameter_name = "handler"
    field_path = "handler"

    def lookups(self, request: Any, model_admin: Any) -> list[tuple[str, str]]:
        return [(name, name) for name in registry.names()]

    def queryset(self, request: Any, queryset: QuerySet) -> QuerySet:
        if self.value():
            return queryset.filter(**{self.field_path: self.value()})
        return queryset


class HistoryHandlerFilter(HandlerFilter):
    field_path = "job__handler"


class KindFilter(admin.SimpleListFilter):
    title = "kind"
    parameter_name = "kind"

    def lookups(self, request: Any, model_admin: Any) -> list[tuple[str, str]]:
        return [("recurring", "Recurring"), ("one-time", "One-time")]

    def queryset(self, request: Any, queryset: QuerySet) -> QuerySet:
        if self.value() == "recurring":
            return queryset.exclude(schedule="")
        if self.value() == "one-time":
            return queryset.filter(schedule="")
        return queryset


class WaitingFilter(admin.SimpleListFilter):
    """Jobs waiting on dependencies: pending, not due until their dependencies finished."""

    title = "dependencies"
    parameter_name = "dependencies"

    def lookups(self, request: Any, model_admin: Any) -> list[tuple[str, str]]:
        return [("waiting", "Waiting on dependencies")]

    def queryset(self, request: Any, queryset: QuerySet) -> QuerySet:
        if self.value() == "waiting":
            return queryset.filter(status=JobStatus.PENDING, waiting_on__gt=0)
        return queryset


class TimezoneFilter(admin.SimpleListFilter):
    """The zones recurring jobs use; only they read their schedule in a zone."""

    title = "time zone"
    parameter_name = "tz"
    DEFAULT = "default"
    LIMIT = 50

    def lookups(self, request: Any, model_admin: Any) -> list[tuple[str, str]]:
        zones = (
            Job.objects.exclude(timezone="")
            .order_by("timezone")
            .values_list("timezone", flat=True)
            .distinct()[: self.LIMIT]
        )
        return [(self.DEFAULT, f"Site default ({settings.TIME_ZONE})")] + [(z, z) for z in zones]

    def queryset(self, request: Any, queryset: QuerySet) -> QuerySet:
        value = self.value()
        if value == self.DEFAULT:
            return queryset.filter(timezone="")
        if value:
            return queryset.filter(timezone=value)
        return queryset


class JobFilter(admin.SimpleListFilter):
    """Shown once a job is chosen (from its page), so its runs can be left again."""

    title = "job"
    parameter_name = "job"

    def lookups(self, request: Any, model_admin: Any) -> list[tuple[str, str]]:
        pk = self._pk()
        if pk is None:
            return []
        name = Job.objects.filter(pk=pk).values_list("name", flat=True).first()
        return [(str(pk), f"#{pk} {name}" if name is not None else f"#{pk} (deleted)")]

    def queryset(self, request: Any, queryset: QuerySet) -> QuerySet:
        pk = self._pk()
        return queryset if pk is None else queryset.filter(job_id=pk)

    def _pk(self) -> int | None:
        value = self.value()
        return int(value) if value and value.isdigit() else None


class SearchByIdMixin:
    """Search also matches a job id typed as a number (``42`` or ``#42``)."""

    id_search_field = "pk"

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet, search_term: str
    ) -> tuple[QuerySet, bool]:
        found, duplicates = super().get_search_results(request, queryset, search_term)
        term = search_term.strip().lstrip("#")
        if term.isdigit():
            found |= queryset.filter(**{self.id_search_field: int(term)})
        return found, duplicates
