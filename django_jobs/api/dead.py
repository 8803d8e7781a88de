"""Dead jobs over HTTP: ``GET jobs/dead``, ``POST jobs/dead/requeue``, ``POST jobs/dead/purge``.

Thin views over ``django_jobs.dead`` (what a selection is) and
``django_jobs.steering`` (requeueing and purging): the Python API and the
admin call the same functions.
"""

from __future__ import annotations

from datetime import timezone as dt_timezone
from typing import Any

import django_filters
from django.core.validators import RegexValidator
from django.db.models import QuerySet
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework import generics, serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.reverse import reverse
from rest_framework.views import APIView

from .. import steering
from ..conf import jobs_settings
from ..dead import DIED_AT, ERROR_TYPE_MAX, HANDLER_MAX, DeadSelection, select
from ..errors import ERROR_TYPE, error_type_of, has_error_type
from ..exceptions import InvalidJob
from ..models import Job
from .fields import InstantField
from .pagination import CappedCountPagination
from .serializers import JobSerializer, StrictSerializer
from .views import JobsAPIView, _errors, _operation

ERROR_TYPE_HELP = "The exception class of the last failure, such as ValueError."
# Larger than any id a database hands out, small enough for every database's integer.
ID_MAX = 2**63 - 1


class DeadJobSerializer(JobSerializer):
    """A dead job: its error type, when it died, and where its whole history is."""

    error_type = serializers.SerializerMethodField(help_text=ERROR_TYPE_HELP + ' "" if none.')
    died_at = serializers.DateTimeField(source=DIED_AT, read_only=True)
    history_url = serializers.SerializerMethodField()

    class Meta(JobSerializer.Meta):
        fields = [*JobSerializer.Meta.fields, "error_type", "died_at", "history_url"]
        read_only_fields = fields

    def get_error_type(self, job: Job) -> str:
        return error_type_of(job.last_error)

    def get_history_url(self, job: Job) -> str:
        return str(
            reverse("django_jobs:job-history", args=[job.pk], request=self.context.get("request"))
        )


class InstantFilter(django_filters.IsoDateTimeFilter):
    """An ISO 8601 instant, compared in UTC: PostgreSQL refuses offsets beyond 16 hours."""

    def filter(self, qs: QuerySet, value: Any) -> QuerySet:
        return super().filter(qs, None if value is None else value.astimezone(dt_timezone.utc))


class DeadFilter(django_filters.FilterSet):
    handler = django_filters.CharFilter(max_length=HANDLER_MAX)
    error_type = django_filters.CharFilter(
        method="filter_error_type",
        max_length=ERROR_TYPE_MAX,
        validators=[RegexValidator(f"^{ERROR_TYPE.pattern}$", ERROR_TYPE_HELP)],
        label=ERROR_TYPE_HELP,
    )
    died_after = InstantFilter(
        field_name=DIED_AT, lookup_expr="gte", label="Died at or after this instant."
    )
    died_before = InstantFilter(
        field_name=DIED_AT, lookup_expr="lt", label="Died before this instant."
    )

    class Meta:
        model = Job
        fields = ["handler"]

    def filter_error_type(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.filter(has_error_type(value))


class TextField(serializers.CharField):
    """A JSON string; a number is not taken for one."""

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            raise serializers.ValidationError("a string")
        return str(super().to_internal_value(data))


class JobIdField(serializers.IntegerField):
    """A job id: a JSON whole number (not a string, a float or a boolean)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(min_value=1, max_value=ID_MAX, **kwargs)

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool) or not isinstance(data, int):
            raise serializers.ValidationError("a job id is a whole number")
        return int(super().to_internal_value(data))


class DeadSelectionSerializer(StrictSerializer):
    """``{"ids": [...]}``, or ``{"all": true}`` with any of the filters."""

    ids = serializers.ListField(child=JobIdField(), required=False, allow_empty=False)
    all = serializers.BooleanField(required=False, default=False)
    handler = TextField(required=False, max_length=HANDLER_MAX)
    error_type = TextField(
        required=False,
        max_length=ERROR_TYPE_MAX,
        validators=[RegexValidator(f"^{ERROR_TYPE.pattern}$", ERROR_TYPE_HELP)],
        help_text=ERROR_TYPE_HELP,
    )
    died_after = InstantField(required=False, help_text="Died at or after this instant.")
    died_before = InstantField(required=False, help_text="Died before this instant.")

    def validate_all(self, value: Any) -> bool:
        if not isinstance(self.initial_data.get("all", False), bool):
            raise serializers.ValidationError("all is true or false")
        return bool(value)

    def validate_ids(self, value: list[int]) -> list[int]:
        limit = int(jobs_settings.API_MAX_BULK)
        if len(value) > limit:
            raise serializers.ValidationError(f"at most {limit} ids; use all with filters")
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        try:
            return {"selection": select(**attrs)}
        except InvalidJob as exc:
            raise serializers.ValidationError({exc.field: [exc.message]}) from None


class RequeuedSerializer(serializers.Serializer):
    requeued = serializers.IntegerField(help_text="Dead jobs now pending again.")
    held_keys = serializers.ListField(
        child=serializers.IntegerField(),
        help_text="Ids of selected dead jobs left dead: a live job holds their unique key.",
    )


class PurgedSerializer(serializers.Serializer):
    purged = serializers.IntegerField(help_text="Dead jobs deleted, with their history.")


class DeadListView(JobsAPIView, generics.ListAPIView):  # type: ignore[misc]
    """Dead jobs, newest first."""

    jobs_permission = "view"
    serializer_class = DeadJobSerializer
    filter_backends = [DjangoFilterBackend]
    filterset_class = DeadFilter
    pagination_class = CappedCountPagination

    def get_queryset(self) -> QuerySet:
        return Job.objects.dead().select_related("worker").order_by("-id")

    @_operation(
        "dead",
        "Dead jobs: one-time jobs that failed for good, newest first",
        description=(
            "Filter by handler, error_type (the exception class of the last failure) and "
            "died_after / died_before (when the last attempt failed). Each job links its "
            "whole history (history_url)."
        ),
        responses={200: DeadJobSerializer(many=True), **_errors(400, 404)},
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)


def _selection(request: Request) -> DeadSelection:
    serializer = DeadSelectionSerializer(data=request.data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data["selection"]


SELECTING = (
    'Body: {"ids": [...]} (at most DJANGO_JOBS["API_MAX_BULK"]), or {"all": true} with '
    "any of handler, error_type, died_after, died_before. Ids that are not dead jobs are "
    "left alone and not counted."
)


class DeadRequeueView(JobsAPIView, APIView):  # type: ignore[misc]
    """Run dead jobs again with fresh attempts."""

    jobs_permission = "retry"

    @_operation(
        "dead_requeue",
        "Requeue dead jobs: due now, attempts reset",
        description=SELECTING
        + " A job requeued by another request at the same moment is counted once.",
        request=DeadSelectionSerializer,
        responses={200: RequeuedSerializer, **_errors(400)},
    )
    def post(self, request: Request) -> Response:
        done = steering.requeue_dead(_selection(request))
        return Response({"requeued": done.count, "held_keys": done.held_keys})


class DeadPurgeView(JobsAPIView, APIView):  # type: ignore[misc]
    """Delete dead jobs and their history."""

    jobs_permission = "delete"

    @_operation(
        "dead_purge",
        "Purge dead jobs and their history",
        description=SELECTING,
        request=DeadSelectionSerializer,
        responses={200: PurgedSerializer, **_errors(400)},
    )
    def post(self, request: Request) -> Response:
        return Response({"purged": steering.purge_dead(_selection(request))})
