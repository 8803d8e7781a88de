"""The jobs list's filters and sort orders, read from the query string."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django import forms
from django.db.models import Q, QuerySet
from django.utils.http import urlencode

from ..models import Job, JobStatus
from ..registry import registry

SORTS = {
    "id": "ID",
    "name": "Name",
    "handler": "Handler",
    "status": "Status",
    "queue": "Queue",
    "next_run_at": "Next run",
    "last_run_at": "Last run",
}
PAGE_SIZE = 50
# Counting stops here: "10,000+" is all a person needs from a list at a million rows.
COUNT_CAP = 10_000


class JobFilterForm(forms.Form):
    status = forms.ChoiceField(required=False, choices=[("", "any status"), *JobStatus.choices])
    handler = forms.CharField(required=False, max_length=200)
    queue = forms.CharField(required=False, max_length=64)
    since = forms.DateTimeField(
        required=False, widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )
    until = forms.DateTimeField(
        required=False, widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )
    q = forms.CharField(required=False, max_length=200, label="Text")
    o = forms.CharField(required=False, max_length=20)

    def handler_names(self) -> list[str]:
        return sorted(entry.name for entry in registry.all())


@dataclass
class Listing:
    form: JobFilterForm
    queryset: QuerySet[Job]
    order: str

    def query_string(self, **changes: Any) -> str:
        """This listing's query string without its page, with ``changes`` applied."""
        data = {k: v for k, v in self.form.data.items() if k != "page" and v not in ("", None)}
        data.update(changes)
        return urlencode(data)

    @property
    def searching(self) -> bool:
        return bool(self.form.data.get("q", "").strip())

    @property
    def base_query(self) -> str:
        return self.query_string()

    def sort_links(self) -> list[tuple[str, str, str]]:
        """(label, query string, arrow) per sortable column; a second click reverses."""
        links = []
        for key, label in SORTS.items():
            arrow = "▲" if self.order == key else "▼" if self.order == f"-{key}" else ""
            target = f"-{key}" if self.order == key else key
            links.append((label, self.query_string(o=target), arrow))
        return links


def listing(params: Any) -> Listing:
    """Filtered, sorted jobs; an invalid filter is ignored and shown as an error on the form."""
    form = JobFilterForm(params)
    form.is_valid()
    data = getattr(form, "cleaned_data", {})
    queryset = filter_jobs(Job.objects.all(), data)
    order = data.get("o") or "-id"
    if order.lstrip("-") not in SORTS:
        order = "-id"
    tiebreak = "-id" if order.startswith("-") else "id"
    queryset = queryset.order_by(*dict.fromkeys([order, tiebreak]))
    return Listing(form, queryset, order)


def filter_jobs(queryset: QuerySet[Job], data: dict[str, Any]) -> QuerySet[Job]:
    if data.get("status"):
        queryset = queryset.filter(status=data["status"])
    if data.get("handler"):
        queryset = queryset.filter(handler=data["handler"])
    if data.get("queue"):
        queryset = queryset.filter(queue=data["queue"])
    since: datetime | None = data.get("since")
    until: datetime | None = data.get("until")
    if since:
        queryset = queryset.filter(created_at__gte=since)
    if until:
        queryset = queryset.filter(created_at__lt=until)
    text = (data.get("q") or "").strip()
    if text:
        match = Q(name__icontains=text) | Q(handler__icontains=text)
        if text.isdigit() and len(text) < 19:
            match |= Q(pk=int(text))
        queryset = queryset.filter(match)
    return queryset


def capped_count(queryset: QuerySet[Job]) -> tuple[int, bool]:
    """How many jobs match, counting at most ``COUNT_CAP`` (and whether it stopped there)."""
    n = queryset.order_by()[: COUNT_CAP + 1].count()
    return min(n, COUNT_CAP), n > COUNT_CAP
