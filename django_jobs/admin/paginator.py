"""A paginator for tables too big to count on every page view."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.db import connections
from django.db.models import Model, QuerySet
from django.utils.functional import cached_property


class EstimatedCountPaginator(Paginator):
    """Count exactly up to ``cap`` rows, and past that use the database's estimate.

    ``COUNT(*)`` over millions of history rows costs more than the page itself.
    The capped count reads at most ``cap + 1`` index entries; an unfiltered
    table bigger than that reports the planner's row estimate (PostgreSQL,
    MySQL), a filtered one reports ``cap`` so its first pages stay reachable.
    """

    cap = 10_000

    @cached_property
    def count(self) -> int:
        queryset = self.object_list
        if not isinstance(queryset, QuerySet):
            return super().count
        bare = queryset.order_by().select_related(None).values("pk")
        exact = bare[: self.cap + 1].count()
        if exact <= self.cap:
            return exact
        estimate = None
        if not queryset.query.where:
            estimate = table_estimate(queryset.model, queryset.db)
        return max(estimate or 0, self.cap)


def table_estimate(model: type[Model], using: str) -> int | None:
    """The row count the database keeps in its statistics, or None when it has none."""
    connection = connections[using]
    table = model._meta.db_table
    if connection.vendor == "postgresql":
        sql = "SELECT reltuples::bigint FROM pg_class WHERE oid = to_regclass(%s)"
    elif connection.vendor == "mysql":
        sql = (
            "SELECT table_rows FROM information_schema.tables "
            "WHERE table_schema = DATABASE() AND table_name = %s"
        )
    else:
        return None
    with connection.cursor() as cursor:
        cursor.execute(sql, [table])
        row = cursor.fetchone()
    if not row or row[0] is None or row[0] <= 0:
        return None
    return int(row[0])
