"""Page-number pagination that never counts more than ``COUNT_LIMIT`` rows.

An exact ``COUNT(*)`` over a million jobs on every page costs more than the
page itself. The count here reads at most ``COUNT_LIMIT + 1`` rows of the
filtered query; past that, ``count`` is ``COUNT_LIMIT`` and ``count_capped``
is true. ``next`` comes from fetching one row more than the page, so walking
on past the cap works. Page size: ``DJANGO_JOBS["API_PAGE_SIZE"]`` by default,
``?page_size=`` up to ``DJANGO_JOBS["API_MAX_PAGE_SIZE"]`` (a larger one is capped there;
one below 1, or not a whole number, is a 400). A page that is not a number from 1 is
a 404, as in DRF's own pagination.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import BasePagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param

from ..conf import jobs_settings

COUNT_LIMIT = 10_000
# Far beyond any real table, small enough that OFFSET stays a valid integer everywhere.
MAX_PAGE = 10_000_000


def _positive_int(raw: str | None, default: int) -> int | None:
    """A whole number from 1 (longer than 12 digits reads as 10**12), the default, or None."""
    if raw is None or raw == "":
        return default
    digits = raw.lstrip("0")
    if not (raw.isascii() and raw.isdigit()) or not digits:
        return None
    return int(digits) if len(digits) <= 12 else 10**12


class CappedCountPagination(BasePagination):
    page_query_param = "page"
    page_size_query_param = "page_size"

    def paginate_queryset(
        self, queryset: QuerySet, request: Request, view: Any = None
    ) -> list[Any]:
        self.request = request
        max_size = int(jobs_settings.API_MAX_PAGE_SIZE)
        default_size = min(int(jobs_settings.API_PAGE_SIZE), max_size)
        size = _positive_int(request.query_params.get(self.page_size_query_param), default_size)
        if size is None:
            raise ValidationError(
                {self.page_size_query_param: ["page_size must be a whole number from 1"]}
            )
        self.page_size = min(size, max_size)
        page = _positive_int(request.query_params.get(self.page_query_param), 1)
        if page is None or page > MAX_PAGE:
            raise NotFound("Invalid page.")
        self.page = page
        offset = (page - 1) * self.page_size
        rows = list(queryset[offset : offset + self.page_size + 1])
        if page > 1 and not rows:
            raise NotFound("Invalid page.")
        self.has_next = len(rows) > self.page_size
        counted = queryset.order_by()[: COUNT_LIMIT + 1].count()
        self.count_capped = counted > COUNT_LIMIT
        self.count = min(counted, COUNT_LIMIT)
        return rows[: self.page_size]

    def get_paginated_response(self, data: list[Any]) -> Response:
        return Response(
            {
                "count": self.count,
                "count_capped": self.count_capped,
                "next": self.get_next_link(),
                "previous": self.get_previous_link(),
                "results": data,
            }
        )

    def get_next_link(self) -> str | None:
        if not self.has_next:
            return None
        url = self.request.build_absolute_uri()
        return replace_query_param(url, self.page_query_param, self.page + 1)

    def get_previous_link(self) -> str | None:
        if self.page == 1:
            return None
        url = self.request.build_absolute_uri()
        if self.page == 2:
            return remove_query_param(url, self.page_query_param)
        return replace_query_param(url, self.page_query_param, self.page - 1)

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        return {
            "type": "object",
            "required": ["count", "count_capped", "next", "previous", "results"],
            "properties": {
                "count": {
                    "type": "integer",
                    "description": f"Matching rows, counted up to {COUNT_LIMIT}.",
                },
                "count_capped": {
                    "type": "boolean",
                    "description": f"True when more than {COUNT_LIMIT} rows match.",
                },
                "next": {"type": "string", "nullable": True, "format": "uri"},
                "previous": {"type": "string", "nullable": True, "format": "uri"},
                "results": schema,
            },
        }

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        return [
            {
                "name": self.page_query_param,
                "required": False,
                "in": "query",
                "description": "Page number, from 1.",
                "schema": {"type": "integer", "minimum": 1},
            },
            {
                "name": self.page_size_query_param,
                "required": False,
                "in": "query",
                "description": (
                    "Rows per page; more than DJANGO_JOBS['API_MAX_PAGE_SIZE'] is capped "
                    "there, less than 1 is a 400."
                ),
                "schema": {"type": "integer", "minimum": 1},
            },
        ]
