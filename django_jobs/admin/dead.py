"""Dead jobs in the admin: a list filter, and requeue and purge actions.

The actions call ``steering.requeue_dead`` and ``steering.purge_dead`` with
the selected ids, as the REST API and the Python API do; jobs that are not
dead are left alone and counted as skipped. Purging asks for confirmation,
as Django's own delete does.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.utils.translation import ngettext

from .. import steering
from ..dead import select
from ..models import DEAD as DEAD_JOBS  # the definition of dead, as a filter
from ..models import JobHistory

CHOSEN = "yes"


class DeadFilter(admin.SimpleListFilter):
    """Dead jobs: one-time jobs that failed for good (``Job.objects.dead()``)."""

    title = "dead"
    parameter_name = "dead"

    def lookups(self, request: Any, model_admin: Any) -> list[tuple[str, str]]:
        return [(CHOSEN, "Dead (failed for good)")]

    def queryset(self, request: Any, queryset: QuerySet) -> QuerySet:
        return queryset.filter(DEAD_JOBS) if self.value() == CHOSEN else queryset


def _jobs(n: int) -> str:
    return ngettext("%(n)d dead job", "%(n)d dead jobs", n) % {"n": n}


@admin.action(description="Requeue selected dead jobs", permissions=["change"])
def requeue_dead_jobs(
    modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet
) -> None:
    ids = list(queryset.values_list("pk", flat=True))
    done = steering.requeue_dead(select(ids))
    parts = [f"{_jobs(done.count)} requeued"]
    if done.held_keys:
        held = ", ".join(f"#{pk}" for pk in done.held_keys)
        parts.append(f"{len(done.held_keys)} kept dead: a live job holds their unique key ({held})")
    skipped = len(ids) - done.count - len(done.held_keys)
    if skipped:
        parts.append(f"{skipped} skipped: not dead")
    modeladmin.message_user(request, ", ".join(parts), messages.INFO)


@admin.action(description="Purge selected dead jobs", permissions=["delete"])
def purge_dead_jobs(
    modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet
) -> TemplateResponse | None:
    dead = queryset.filter(DEAD_JOBS)
    if request.POST.get("post") != "yes":
        return _confirm(modeladmin, request, queryset, dead)
    ids = list(queryset.values_list("pk", flat=True))
    purged = steering.purge_dead(select(ids))
    message = f"{_jobs(purged)} purged with their history"
    if len(ids) > purged:
        message += f", {len(ids) - purged} skipped: not dead"
    modeladmin.message_user(request, message, messages.SUCCESS)
    return None


def _confirm(
    modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet, dead: QuerySet
) -> TemplateResponse:
    opts = modeladmin.model._meta
    jobs = list(dead.order_by("pk")[:100])
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": "Purge dead jobs?",
        "opts": opts,
        "jobs": jobs,
        "dead_count": dead.count(),
        "more": max(0, dead.count() - len(jobs)),
        "skipped": queryset.count() - dead.count(),
        "runs": JobHistory.objects.filter(job__in=dead.values("pk")).count(),
        "selected": [str(pk) for pk in queryset.values_list("pk", flat=True)],
        "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
    }
    return TemplateResponse(request, "django_jobs/admin/job/purge_dead_confirmation.html", context)
