"""The jobs list's filters, sort orders and pages, read from the query string.

Every sort column has an index ending in the id, and a page starts after the
last row of the one before (``after``: keyset pagination), so page 1 and page
10,000 both read 50 index entries once the sort indexes exist (indexes.py).
Text matches the start of the name, or any part of it where the project created
a trigram index on PostgreSQL.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django import forms
from django.db import connections, router
from django.db.models import Q, QuerySet
from django.utils.http import urlencode

from ..models import DEAD as DEAD_JOB
from ..models import Job, JobStatus
from ..registry import registry
from . import indexes

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
# These two indexes are (column, -id): read forward, ties come newest first.
TIES_NEWEST_FIRST = {"status", "handler"}
NULLABLE = {"next_run_at", "last_run_at"}
# Created by a project that wants any part of names found (docs/dashboard.md).
TRIGRAM_INDEX = "django_jobs_name_trgm_idx"
# Shorter text has no trigram to look up: it is matched against the start of the name.
TRIGRAM_MIN = 3
# A status choice of its own: failed for good (``Job.objects.dead()``).
DEAD = "dead"


class JobFilterForm(forms.Form):
    status = forms.ChoiceField(
        required=False, choices=[("", "any status"), *JobStatus.choices, (DEAD, "dead")]
    )
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
    after = forms.CharField(required=False, max_length=300)

    def handler_names(self) -> list[str]:
        return sorted(entry.name for entry in registry.all())


@dataclass
class Listing:
    form: JobFilterForm
    queryset: QuerySet[Job]
    order: str
    # The same jobs without the page's start: what the count and bulk actions see.
    matching: QuerySet[Job]

    def query_string(self, **changes: Any) -> str:
        """This listing's query string without its page, with ``changes`` applied."""
        data = {
            k: v
            for k, v in self.form.data.items()
            if k not in ("page", "after") and v not in ("", None)
        }
        data.update(changes)
        return urlencode(data)

    @property
    def searching(self) -> bool:
        return bool(self.form.data.get("q", "").strip())

    @property
    def base_query(self) -> str:
        return self.query_string()

    @property
    def search_note(self) -> str:
        """What the text box matches, so nobody expects more."""
        return (
            "any part of the name, the exact handler or the id"
            if substring_search(self.queryset.db)
            else "the start of the name, the exact handler or the id"
        )

    @property
    def reads_whole_table(self) -> bool:
        """Whether this sort or search reads every job: its index is missing on a big table."""
        alias = self.queryset.db
        if self.searching and not substring_search(alias) and indexes.slow_search(alias):
            return True
        return indexes.slow_sort(self.order.lstrip("-"), alias)

    def cursor_of(self, job: Job) -> str:
        """The ``after`` value of the page that follows ``job``."""
        value = getattr(job, self.order.lstrip("-"))
        if self.order.lstrip("-") == "id":
            return str(job.pk)
        if value is None:
            return f"{job.pk}"
        return f"{job.pk}:{value.isoformat() if isinstance(value, datetime) else value}"

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
    queryset = queryset.order_by(*dict.fromkeys([order, tiebreak(order)]))
    found = Listing(form, queryset, order, queryset)
    if data.get("after"):
        try:
            found.queryset = queryset.filter(after(order, data["after"], queryset.db))
        except ValueError:
            form.add_error("after", "Not a page of this list; showing the first page.")
    return found


def tiebreak(order: str) -> str:
    """The id order that matches the sort column's index read in this direction."""
    column, descending = order.lstrip("-"), order.startswith("-")
    newest_first = descending != (column in TIES_NEWEST_FIRST)
    return "-id" if newest_first else "id"


def after(order: str, cursor: str, alias: str) -> Q:
    """Rows that come after the row ``cursor`` names, in ``order``.

    Written as ``column <= value AND (column < value OR id < last id)`` (for a
    descending order) so the first half is an index range start.
    """
    column, descending = order.lstrip("-"), order.startswith("-")
    pk_text, has_value, text = cursor.partition(":")
    pk = int(pk_text)
    tie = "id__lt" if tiebreak(order) == "-id" else "id__gt"
    if column == "id":
        return Q(**{tie: pk})
    if column not in NULLABLE and not has_value:
        raise ValueError(cursor)
    value: Any = datetime.fromisoformat(text) if has_value and column in NULLABLE else text
    # Where NULL sorts: PostgreSQL puts it above every value, MySQL and SQLite below.
    nulls_largest = connections[alias].features.nulls_order_largest
    nulls_last = nulls_largest != descending
    if not has_value:
        match = Q(**{f"{column}__isnull": True, tie: pk})
        return match if nulls_last else match | Q(**{f"{column}__isnull": False})
    side = "lt" if descending else "gt"
    match = Q(**{f"{column}__{side}e": value}) & (
        Q(**{f"{column}__{side}": value}) | Q(**{column: value, tie: pk})
    )
    return match | Q(**{f"{column}__isnull": True}) if nulls_last and column in NULLABLE else match


def substring_search(alias: str | None = None) -> bool:
    """Whether the name can be searched for any part of it through an index."""
    return TRIGRAM_INDEX in indexes.existing(alias or router.db_for_read(Job))


def filter_jobs(queryset: QuerySet[Job], data: dict[str, Any]) -> QuerySet[Job]:
    if data.get("status") == DEAD:
        queryset = queryset.filter(DEAD_JOB)
    elif data.get("status"):
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
        queryset = queryset.filter(text_match(text, queryset.db))
    return queryset


def text_match(text: str, alias: str) -> Q:
    """The name (any part of it, or its start: see ``substring_search``), the exact handler
    or the id: each one read through an index."""
    if len(text) >= TRIGRAM_MIN and substring_search(alias):
        match = Q(name__icontains=text)
    else:
        match = Q(name__istartswith=text)
    match |= Q(handler=text)
    if text.isdigit() and len(text) < 19:
        match |= Q(pk=int(text))
    return match


def capped_count(queryset: QuerySet[Job]) -> tuple[int, bool]:
    """How many jobs match, counting at most ``COUNT_CAP`` (and whether it stopped there)."""
    n = queryset.order_by()[: COUNT_CAP + 1].count()
    return min(n, COUNT_CAP), n > COUNT_CAP
