"""The job admin: list, page, add and edit through ``creating`` and ``steering``.

Who may do what is ``django_jobs.permissions.user_may`` and what a job's state
allows is ``django_jobs.steering``: the same answers as the API and the dashboard.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from .. import creating, dependencies, runner, steering
from ..exceptions import InvalidJob, InvalidSchedule, JobStateError
from ..models import Job, JobHistory, JobStatus
from ..permissions import user_may
from ..progress import describe as describe_progress
from . import display
from .dead import DeadFilter, purge_dead_jobs, requeue_dead_jobs
from .filters import HandlerFilter, KindFilter, SearchByIdMixin, TimezoneFilter, WaitingFilter
from .forms import JobForm
from .history import HistoryInline
from .paginator import EstimatedCountPaginator
from .steering import (
    STEERING,
    SteeringMixin,
    cancel_jobs,
    delete_jobs,
    pause_jobs,
    resume_jobs,
    retry_jobs,
    run_jobs,
)

# Pairs share a line, so the page reads at a glance.
STATE_LINES = (
    ("status_badge", "attempts"),
    ("next_run_when", "scheduled_for_when"),
    ("last_run_when", "started_when"),
    ("worker", "cancel_requested"),
    ("paused", "progress_text"),
    ("consecutive_failures", "missed_runs"),
    ("created_when", "updated_when"),
    ("key", "unique_key"),
    ("history_link",),
)
STATE_FIELDS = tuple(field for line in STATE_LINES for field in line)


def _when_field(name: str, label: str) -> Any:
    """A read-only instant shown as ``display.when`` shows every instant."""

    @admin.display(description=label, ordering=name)
    def show(self: Any, obj: Any) -> str:
        return display.when_wrapping(getattr(obj, name))

    return show


DEPENDENCY_LINES = (
    ("waiting_on", "on_dependency_failure"),
    ("depends_on_links",),
    ("dependents_links",),
)
DEPENDENCY_FIELDS = tuple(field for line in DEPENDENCY_LINES for field in line)
# Links shown on a job's page; a fan-in of thousands ends with how many more there are.
LINKS_SHOWN = 200

OPTION_LINES = (
    ("max_attempts", "priority"),
    ("queue", "allow_overlap"),
    ("timeout", "misfire_grace"),
    ("webhooks",),
)
OPTION_FIELDS = tuple(field for line in OPTION_LINES for field in line)


class JobAdmin(SearchByIdMixin, SteeringMixin, admin.ModelAdmin):
    form = JobForm
    change_list_template = "django_jobs/admin/job/change_list.html"
    change_form_template = "django_jobs/admin/job/change_form.html"
    # Fits a 1400-px window beside the filters: the handler sits under the name,
    # instants may break between date and time, the error wraps.
    list_display = (
        "id",
        "name_and_handler",
        "status_badge",
        "schedule_text",
        "next_run_when",
        "last_run_when",
        "attempts_text",
        "progress_text",
        "error_excerpt",
    )
    list_display_links = ("id", "name_and_handler")
    list_filter = ("status", DeadFilter, WaitingFilter, HandlerFilter, KindFilter, TimezoneFilter)
    list_select_related = ("worker",)
    search_fields = ("name", "handler")
    search_help_text = "Name or handler contains the text; a number also matches the job id."
    sortable_by = ("id", "name_and_handler", "status_badge", "next_run_when", "last_run_when")
    ordering = ("-id",)
    list_per_page = 50
    show_full_result_count = False
    paginator = EstimatedCountPaginator
    inlines = (HistoryInline,)
    actions = (
        run_jobs,
        cancel_jobs,
        retry_jobs,
        pause_jobs,
        resume_jobs,
        requeue_dead_jobs,
        purge_dead_jobs,
        delete_jobs,
    )
    readonly_fields = (
        *STATE_FIELDS,
        "schedule_summary",
        "next_runs",
        "data_display",
        "last_error_display",
        *DEPENDENCY_FIELDS,
    )

    next_run_when = _when_field("next_run_at", "next run")
    last_run_when = _when_field("last_run_at", "last run")
    scheduled_for_when = _when_field("scheduled_for", "scheduled for")
    started_when = _when_field("started_at", "started at")
    created_when = _when_field("created_at", "created at")
    updated_when = _when_field("updated_at", "updated at")

    # Lists

    @admin.display(description="name / handler", ordering="name")
    def name_and_handler(self, job: Job) -> str:
        return format_html(
            '{}<br><span style="color:var(--body-quiet-color);font-size:0.75rem">{}</span>',
            job.name,
            job.handler,
        )

    @admin.display(description="status", ordering="status")
    def status_badge(self, job: Job) -> str:
        label = job.get_status_display()
        if job.status == JobStatus.RUNNING and job.worker is not None:
            label = f"{label} on {job.worker.hostname}"
        return display.status_badge(job.status, label)

    @admin.display(description="schedule")
    def schedule_text(self, job: Job) -> str:
        if not job.schedule:
            return "one-time"
        return format_html(
            '<code style="white-space:nowrap">{}</code><br>{}', job.schedule, _describe(job)
        )

    @admin.display(description="attempts")
    def attempts_text(self, job: Job) -> str:
        return f"{job.attempts}/{job.max_attempts}"

    @admin.display(description="progress")
    def progress_text(self, job: Job) -> str:
        return describe_progress(job.progress, job.progress_message) or display.EMPTY

    @admin.display(description="last error")
    def error_excerpt(self, job: Job) -> str:
        return format_html(
            '<span style="display:inline-block;max-width:18em;overflow-wrap:anywhere">{}</span>',
            display.error_excerpt(job.last_error),
        )

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None) -> Any:
        extra = {"runner": runner.status(), **(extra_context or {})}
        return super().changelist_view(request, extra)

    def get_actions(self, request: HttpRequest, action_location: Any = None) -> dict:
        # Django 6.1 passes where the actions are shown; 5.2 knows no such argument.
        where = {} if action_location is None else {"action_location": action_location}
        found = super().get_actions(request, **where)
        found.pop("delete_selected", None)  # replaced by delete_jobs
        return found

    # The job page

    @admin.display(description="in plain words")
    def schedule_summary(self, job: Job) -> str:
        return _describe(job) if job.schedule else "one-time job"

    @admin.display(description="next five runs")
    def next_runs(self, job: Job) -> str:
        if not job.schedule:
            return display.EMPTY
        try:
            runs = job.get_schedule().next_runs(timezone.now(), count=5, anchor=job.created_at)
        except (InvalidSchedule, OverflowError) as exc:
            return str(exc)
        zone = ZoneInfo(job.get_schedule().timezone)
        return format_html(
            "<ol style='margin:0;padding-left:1.5em'>{}</ol>",
            format_html_join("", "<li>{}</li>", ((_when(run, zone),) for run in runs)),
        )

    @admin.display(description="data")
    def data_display(self, job: Job) -> str:
        return display.json_block(job.data)

    @admin.display(description="last error")
    def last_error_display(self, job: Job) -> str:
        return display.pre(job.last_error)

    @admin.display(description="runs")
    def history_link(self, job: Job) -> str:
        url = reverse(f"{self.admin_site.name}:django_jobs_jobhistory_changelist")
        return format_html('<a href="{}?job={}">All runs of this job</a>', url, job.pk)

    @admin.display(description="waits for")
    def depends_on_links(self, job: Job) -> str:
        return self._job_links(dependencies.dependency_ids(job))

    @admin.display(description="waited for by")
    def dependents_links(self, job: Job) -> str:
        return self._job_links(dependencies.dependent_ids(job))

    def _job_links(self, ids: list[int]) -> str:
        if not ids:
            return "-"
        statuses = dict(Job.objects.filter(pk__in=ids[:LINKS_SHOWN]).values_list("pk", "status"))
        name = self.admin_site.name
        links = format_html_join(
            ", ",
            '<a href="{}">#{}</a> ({})',
            (
                (reverse(f"{name}:django_jobs_job_change", args=[pk]), pk, statuses.get(pk, "?"))
                for pk in ids[:LINKS_SHOWN]
            ),
        )
        more = len(ids) - LINKS_SHOWN
        return format_html("{} and {} more", links, more) if more > 0 else links

    def get_fieldsets(self, request: HttpRequest, obj: Job | None = None) -> list:
        if obj is None:
            return [
                (None, {"fields": ("name", "handler", "data")}),
                ("When", {"fields": ("schedule", "timezone", "run_at")}),
                ("Options", {"fields": OPTION_LINES}),
                ("Dependencies", {"fields": ("depends_on", "on_dependency_failure")}),
            ]
        editable = self._editable(request, obj)
        main = ("name", "handler", "data") if editable else ("name", "handler", "data_display")
        when: tuple[str, ...] = ("schedule", "timezone", "schedule_summary", "next_runs")
        if editable and self._run_at_editable(obj):
            when = (*when, "run_at")
        sections = [
            (None, {"fields": main}),
            ("When", {"fields": when}),
            ("Options", {"fields": OPTION_LINES}),
            ("State", {"fields": STATE_LINES}),
            ("Last error", {"fields": ("last_error_display",)}),
        ]
        in_graph = obj.has_dependencies or obj.has_dependents
        graph = [("Dependencies", {"fields": DEPENDENCY_LINES})] if in_graph else []
        sections[3:3] = graph
        if obj.status == JobStatus.FAILED:
            # What people open a failed job for: its status, the error and traceback.
            first = (STATE_LINES[0], STATE_LINES[2], "last_error_display")
            rest = [line for line in STATE_LINES if line not in first]
            failed = ("Failed", {"fields": first})
            return [failed, *sections[:3], *graph, ("State", {"fields": rest})]
        return sections

    def get_readonly_fields(self, request: HttpRequest, obj: Job | None = None) -> tuple:
        if obj is None:  # a new job's dependencies are given on the add page
            return tuple(f for f in self.readonly_fields if f != "on_dependency_failure")
        refused = steering.refused_fields(obj, ("name", "handler", "schedule", "timezone"))
        refused |= steering.refused_fields(obj, OPTION_FIELDS)
        return (*self.readonly_fields, *sorted(refused))

    def _editable(self, request: HttpRequest, obj: Job) -> bool:
        return steering.may("edit", obj) and self.has_change_permission(request, obj)

    def _run_at_editable(self, obj: Job) -> bool:
        return not steering.refused_fields(obj, ("run_at",))

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: Any = None
    ) -> HttpResponse:
        extra = dict(extra_context or {})
        obj = self.get_object(request, object_id)
        if obj is not None:
            extra["steering"] = self._buttons(request, obj)
            if not steering.may("edit", obj):
                extra.update(
                    show_save=False,
                    show_save_and_continue=False,
                    show_save_and_add_another=False,
                    running_notice=True,
                )
            if not steering.may("delete", obj):
                extra["show_delete"] = False
        return super().change_view(request, object_id, form_url, extra)

    def _buttons(self, request: HttpRequest, job: Job) -> list[dict[str, str]]:
        name = f"{self.admin_site.name}:django_jobs_job_steer"
        return [
            {"label": label, "url": reverse(name, args=[job.pk, verb]), "verb": verb}
            for verb, (_, label, does) in STEERING.items()
            if user_may(request.user, does) and steering.may(does, job)
        ]

    def changeform_view(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            return super().changeform_view(request, *args, **kwargs)
        except (JobStateError, InvalidJob) as exc:  # the job changed meanwhile: nothing saved
            self.message_user(request, str(exc), messages.ERROR)
            return HttpResponseRedirect(request.path)

    def save_model(self, request: HttpRequest, obj: Job, form: JobForm, change: bool) -> None:
        if change:
            saved = creating.update(obj.pk, **form.job_changes())
        elif form.cleaned_data.get("depends_on"):
            graph = form.cleaned_data
            saved, _ = creating.save_dependent(
                form.built, graph["depends_on"], graph["on_dependency_failure"]
            )
        else:
            saved = creating.save_new(form.built)
        _copy_row(saved, obj)

    # Deleting: through steering.delete, which refuses running jobs

    def delete_view(
        self, request: HttpRequest, object_id: str, extra_context: Any = None
    ) -> HttpResponse:
        obj = self.get_object(request, object_id)
        try:
            if obj is not None:
                steering.check("delete", obj)
            return super().delete_view(request, object_id, extra_context)
        except JobStateError as exc:
            self.message_user(request, str(exc), messages.ERROR)
            url = reverse(f"{self.admin_site.name}:django_jobs_job_change", args=[obj.pk])
            return HttpResponseRedirect(url)

    def delete_model(self, request: HttpRequest, obj: Job) -> None:
        steering.delete(obj.pk)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        refused = 0
        for pk in queryset.values_list("pk", flat=True):
            try:
                steering.delete(pk)
            except JobStateError:
                refused += 1
            except Job.DoesNotExist:
                pass
        if refused:
            self.message_user(request, f"{refused} skipped: running", messages.WARNING)

    # Permissions: the rule the API and the dashboard follow too

    def has_view_permission(self, request: HttpRequest, obj: Job | None = None) -> bool:
        return user_may(request.user, "view")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return user_may(request.user, "add")

    def has_change_permission(self, request: HttpRequest, obj: Job | None = None) -> bool:
        return user_may(request.user, "change")

    def has_delete_permission(self, request: HttpRequest, obj: Job | None = None) -> bool:
        return user_may(request.user, "delete")

    def get_deleted_objects(self, objs: Any, request: HttpRequest) -> tuple:
        """Name the jobs and count their runs: listing a million runs would not help."""
        jobs = list(objs)
        runs = JobHistory.objects.filter(job__in=[job.pk for job in jobs]).count()
        counts = {Job._meta.verbose_name_plural: len(jobs)}
        if runs:
            counts[JobHistory._meta.verbose_name_plural] = runs
        perms_needed = set() if self.has_delete_permission(request) else {Job._meta.verbose_name}
        return [str(job) for job in jobs], counts, perms_needed, []


def _describe(job: Job) -> str:
    try:
        return job.get_schedule().describe()
    except InvalidSchedule as exc:
        return f"invalid schedule: {exc}"


def _when(instant: datetime, zone: ZoneInfo) -> str:
    return display.when(instant, zone)


def _copy_row(source: Job, target: Job) -> None:
    """Make the admin's instance the saved row, for its log entry and redirect."""
    for field in Job._meta.concrete_fields:
        setattr(target, field.attname, getattr(source, field.attname))
    target._state.adding = False
    target._state.db = source._state.db
