"""Job history: a read-only record of every attempt."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.forms.models import BaseInlineFormSet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from ..models import JobHistory
from . import display
from .filters import HistoryHandlerFilter, JobFilter, SearchByIdMixin
from .paginator import EstimatedCountPaginator

HISTORY_ON_PAGE = 10


class LatestHistoryFormSet(BaseInlineFormSet):
    """Only the newest runs; the rest are one link away."""

    def get_queryset(self) -> QuerySet:
        if not hasattr(self, "_latest"):
            self._latest = super().get_queryset().select_related("job")[:HISTORY_ON_PAGE]
        return self._latest


class HistoryInline(admin.TabularInline):
    model = JobHistory
    formset = LatestHistoryFormSet
    verbose_name_plural = f"latest runs (newest first, at most {HISTORY_ON_PAGE})"
    fields = readonly_fields = (
        "run_link",
        "status_badge",
        "attempt",
        "duration_text",
        "worker",
        "result_excerpt",
        "error_excerpt",
    )
    extra = 0
    max_num = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="started at")
    def run_link(self, run: JobHistory) -> str:
        url = reverse(f"{self.admin_site.name}:django_jobs_jobhistory_change", args=[run.pk])
        return format_html('<a href="{}">{}</a>', url, display.when(run.started_at))

    @admin.display(description="status")
    def status_badge(self, run: JobHistory) -> str:
        return display.status_badge(run.status, run.get_status_display())

    @admin.display(description="duration")
    def duration_text(self, run: JobHistory) -> str:
        return display.duration_text(run.duration)

    @admin.display(description="result")
    def result_excerpt(self, run: JobHistory) -> str:
        return display.result_excerpt(run.result)

    @admin.display(description="error")
    def error_excerpt(self, run: JobHistory) -> str:
        return display.error_excerpt(run.error)


class JobHistoryAdmin(SearchByIdMixin, admin.ModelAdmin):
    id_search_field = "job_id"
    """Nobody adds or edits runs; only superusers may delete them (the audit trail)."""

    list_display = (
        "id",
        "job_link",
        "handler",
        "status_badge",
        "attempt",
        "started_when",
        "duration_text",
        "worker",
        "error_excerpt",
    )
    list_filter = (JobFilter, "status", HistoryHandlerFilter, "started_at")
    list_select_related = ("job",)
    search_fields = ("job__name",)
    search_help_text = "Job name contains the text; a number also matches the job id."
    sortable_by = ("id", "started_when", "status_badge")
    ordering = ("-started_at", "-id")
    list_per_page = 100
    show_full_result_count = False
    paginator = EstimatedCountPaginator
    fields = (
        "job",
        "status_badge",
        "attempt",
        "scheduled_for_when",
        "worker",
        "started_display",
        "completed_when",
        "duration_text",
        "error_display",
        "result_display",
    )
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.is_active and request.user.is_superuser)

    @admin.display(description="started at", ordering="started_at")
    def started_when(self, run: JobHistory) -> str:
        return display.when_wrapping(run.started_at)

    @admin.display(description="started at")
    def started_display(self, run: JobHistory) -> str:
        return display.when(run.started_at)

    @admin.display(description="completed at")
    def completed_when(self, run: JobHistory) -> str:
        return display.when(run.completed_at)

    @admin.display(description="scheduled for")
    def scheduled_for_when(self, run: JobHistory) -> str:
        return display.when(run.scheduled_for)

    @admin.display(description="job", ordering="job")
    def job_link(self, run: JobHistory) -> str:
        url = reverse(f"{self.admin_site.name}:django_jobs_job_change", args=[run.job_id])
        return format_html('<a href="{}">{}</a>', url, run.job.name)

    @admin.display(description="handler")
    def handler(self, run: JobHistory) -> str:
        return run.job.handler

    @admin.display(description="status", ordering="status")
    def status_badge(self, run: JobHistory) -> str:
        return display.status_badge(run.status, run.get_status_display())

    @admin.display(description="duration", ordering="duration")
    def duration_text(self, run: JobHistory) -> str:
        return display.duration_text(run.duration)

    @admin.display(description="error")
    def error_excerpt(self, run: JobHistory) -> str:
        return display.error_excerpt(run.error)

    @admin.display(description="error")
    def error_display(self, run: JobHistory) -> str:
        return display.pre(run.error)

    @admin.display(description="result")
    def result_display(self, run: JobHistory) -> str:
        return display.json_block(run.result)
