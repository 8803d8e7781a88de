"""A paginator for tables too big to count on every page view."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.db.models import Model, QuerySet
from django.utils.functional import cached_property

from ..engines import for_alias


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
    return for_alias(using).table_estimate(model)
