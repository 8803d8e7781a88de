"""Run, cancel and retry jobs, and switch the runner: admin actions and buttons.

Everything calls ``django_jobs.steering``: the state rules and their refusals
(``JobStateError``) live there, and who may steer is
``django_jobs.permissions.user_may``, so the admin only reports what happened.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.actions import delete_selected
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.text import format_lazy
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from .. import runner, status, steering
from ..exceptions import JobStateError
from ..models import Job, JobStatus
from ..permissions import user_may


def _trigger(pk: int) -> str:
    steering.trigger(pk)
    return "queued"


def _cancel(pk: int) -> str:
    job = steering.cancel(pk)
    return "asked to stop" if job.status == JobStatus.RUNNING else "cancelled"


def _retry(pk: int) -> str:
    steering.retry(pk)
    return "queued for retry"


def _pause(pk: int) -> str:
    steering.pause(pk)
    return "paused"


def _resume(pk: int) -> str:
    steering.resume(pk)
    return "resumed"


# verb in the URL -> (service call returning what it did, button label, steering verb)
STEERING: dict[str, tuple[Callable[[int], str], str, str]] = {
    "run": (_trigger, "Run now", "trigger"),
    "cancel": (_cancel, "Cancel", "cancel"),
    "retry": (_retry, "Retry", "retry"),
    "pause": (_pause, "Pause", "pause"),
    "resume": (_resume, "Resume", "resume"),
}


def summary(done: Counter, skipped: Counter) -> str:
    """E.g. "3 jobs queued, 1 skipped: running"."""
    parts = [
        ngettext("%(n)d job %(what)s", "%(n)d jobs %(what)s", n) % {"n": n, "what": what}
        for what, n in done.items()
    ]
    parts += [f"{n} skipped: {why}" for why, n in sorted(skipped.items())]
    return ", ".join(parts) or "Nothing to do"


def steer_many(request: HttpRequest, queryset: QuerySet, call: Callable[[int], str]) -> str:
    """Apply one steering call to each selected job; refused ones are counted, not fatal."""
    done: Counter = Counter()
    skipped: Counter = Counter()
    # Oldest first, so the summary reads the same on every database.
    for pk, current in queryset.order_by("pk").values_list("pk", "status"):
        try:
            done[call(pk)] += 1
        except JobStateError:
            skipped[current] += 1
        except Job.DoesNotExist:
            skipped["deleted"] += 1
    return summary(done, skipped)


def _action(verb: str, description: str) -> Callable[..., None]:
    call = STEERING[verb][0]

    @admin.action(description=description, permissions=["change"])
    def apply(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet) -> None:
        modeladmin.message_user(request, steer_many(request, queryset, call), messages.INFO)

    apply.__name__ = f"{verb}_jobs"
    return apply


run_jobs = _action("run", "Run selected jobs now")
cancel_jobs = _action("cancel", "Cancel selected jobs")
retry_jobs = _action("retry", "Retry selected failed jobs")
pause_jobs = _action("pause", "Pause selected recurring jobs")
resume_jobs = _action("resume", "Resume selected paused jobs")


@admin.action(
    description=format_lazy("Delete selected {}", Job._meta.verbose_name_plural),
    permissions=["delete"],
)
def delete_jobs(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet) -> Any:
    """Django's delete confirmation, minus the jobs ``steering`` refuses to delete (running)."""
    deletable = steering.ALLOWED["delete"]
    running = queryset.exclude(status__in=deletable).count()
    if running:
        modeladmin.message_user(
            request, f"{running} skipped: running (cancel them first)", messages.WARNING
        )
    rest = queryset.filter(status__in=deletable)
    if not rest.exists():
        return None
    return delete_selected(modeladmin, request, rest)


class SteeringMixin:
    """Buttons on a job's page and the runner page, as extra ModelAdmin URLs."""

    admin_site: admin.AdminSite

    def get_urls(self) -> list:
        info = "django_jobs_job"
        wrap = self.admin_site.admin_view
        own = [
            path("runner/", wrap(self.runner_view), name=f"{info}_runner"),
            path("<path:object_id>/steer/<str:verb>/", wrap(self.steer_view), name=f"{info}_steer"),
        ]
        return own + super().get_urls()  # type: ignore[misc]

    def steer_view(self, request: HttpRequest, object_id: str, verb: str) -> HttpResponse:
        return require_POST(self._steer)(request, object_id, verb)

    def _steer(self, request: HttpRequest, object_id: str, verb: str) -> HttpResponse:
        if verb not in STEERING:
            raise Http404(f"no such action {verb!r}")
        job = self.get_object(request, unquote(object_id))  # type: ignore[attr-defined]
        if job is None:
            raise Http404("no such job")
        call, _, does = STEERING[verb]
        if not user_may(request.user, does):
            raise PermissionDenied
        try:
            what = call(job.pk)
        except JobStateError as exc:
            self.message_user(request, str(exc), messages.ERROR)  # type: ignore[attr-defined]
        else:
            self.message_user(request, f"{job} {what}.", messages.SUCCESS)  # type: ignore[attr-defined]
        url = reverse(f"{self.admin_site.name}:django_jobs_job_change", args=[job.pk])
        return HttpResponseRedirect(url)

    def runner_view(self, request: HttpRequest) -> HttpResponse:
        if not user_may(request.user, "view"):
            raise PermissionDenied
        can_change = user_may(request.user, "control_runner")
        if request.method == "POST":
            if not can_change:
                raise PermissionDenied
            return self._switch_runner(request)
        context = {
            **self.admin_site.each_context(request),
            "title": "Runner and workers",
            "opts": Job._meta,
            "runner": status.runner_status(),
            "stats": status.job_stats(),
            "can_change": can_change,
        }
        return TemplateResponse(request, "django_jobs/admin/job/runner.html", context)

    def _switch_runner(self, request: HttpRequest) -> HttpResponse:
        wanted = request.POST.get("runner")
        if wanted not in ("start", "stop"):
            self.message_user(request, "Choose start or stop.", messages.ERROR)  # type: ignore[attr-defined]
        else:
            if wanted == "start":
                runner.start()
            else:
                runner.stop()
            self.message_user(  # type: ignore[attr-defined]
                request,
                "Runner started: workers take jobs."
                if wanted == "start"
                else "Runner stopped: workers finish what they run and take nothing new.",
                messages.SUCCESS,
            )
        return HttpResponseRedirect(request.path)
