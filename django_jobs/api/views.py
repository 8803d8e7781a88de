"""The jobs REST API: thin views over ``django_jobs.actions`` and ``django_jobs.status``.

Every rule lives in the service functions the Python API, the worker and the
admin share; a view parses the request, calls one of them and serializes.
"""

from __future__ import annotations

from typing import Any

from django_filters.rest_framework import DjangoFilterBackend
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.generics import get_object_or_404
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import APIView

from .. import creating, dependencies, runner, steering
from ..conf import jobs_settings
from ..models import Job, JobHistory
from ..registry import registry
from ..status import job_stats
from .errors import ServiceErrorsMixin
from .filters import HistoryFilter, JobFilter
from .pagination import CappedCountPagination
from .parsers import BoundedJSONParser
from .permissions import configured_permissions
from .renderers import with_safe_json
from .schema import OpenApiResponse, OpenApiTypes, extend_schema, extend_schema_view
from .serializers import (
    BulkJobSerializer,
    CreatedJobSerializer,
    HandlerSerializer,
    JobCreateSerializer,
    JobHistorySerializer,
    JobSerializer,
    JobUpdateSerializer,
    RunnerSerializer,
    SchedulePreviewRequestSerializer,
    SchedulePreviewSerializer,
    StatsSerializer,
)


def _plain_id(pk: str) -> int | None:
    """An id written plainly (ASCII digits, in range), or None for ``get_object`` to judge."""
    if pk.isascii() and pk.isdigit() and len(pk) <= 18:
        return int(pk)
    return None


class DetailSerializer(serializers.Serializer):
    detail = serializers.CharField()


def _errors(*codes: int) -> dict[int, Any]:
    described = {
        400: OpenApiResponse(
            OpenApiTypes.OBJECT, description="Invalid input: {field: [messages]}."
        ),
        403: OpenApiResponse(DetailSerializer, description="Not authenticated, or not allowed."),
        404: OpenApiResponse(DetailSerializer, description="No such job, or no such page."),
        409: OpenApiResponse(DetailSerializer, description="The job's state does not allow it."),
    }
    return {code: described[code] for code in (403, *codes)}


class JobsAPIView(ServiceErrorsMixin):
    """Permissions from ``DJANGO_JOBS["API_PERMISSION_CLASSES"]``; service errors as HTTP.

    Authentication is the project's ``REST_FRAMEWORK`` default, read per request
    rather than when this module was imported.
    """

    # The API's types (any JSON data, strict integers) are JSON; its depth is bounded.
    parser_classes = [BoundedJSONParser]

    def get_authenticators(self) -> list[Any]:
        return [auth() for auth in api_settings.DEFAULT_AUTHENTICATION_CLASSES]

    def get_permissions(self) -> list[Any]:
        return configured_permissions()

    def get_renderers(self) -> list[Any]:
        return with_safe_json(super().get_renderers())


def _operation(name: str, summary: str, **kwargs: Any) -> Any:
    """A documented operation with a stable id (``jobs_<name>``) whatever the mount point."""
    return extend_schema(operation_id=f"jobs_{name}", summary=summary, tags=["jobs"], **kwargs)


@extend_schema_view(
    list=_operation(
        "list",
        "List jobs, newest first",
        responses={200: JobSerializer(many=True), **_errors(400, 404)},
    ),
    retrieve=_operation("retrieve", "Get a job", responses={200: JobSerializer, **_errors(404)}),
    create=_operation(
        "create",
        "Create a job",
        description=(
            "One-time by default (due at run_at, or now); recurring when schedule is given. "
            "A recurring job's name must not be taken by another recurring job. "
            "With unique_key, while a pending or running job holds the key the answer is "
            "200 with that job and duplicate: true (409 with on_conflict: raise); a new "
            "job is 201 with duplicate: false."
        ),
        request=JobCreateSerializer,
        responses={201: CreatedJobSerializer, 200: CreatedJobSerializer, **_errors(400, 409)},
    ),
    update=_operation(
        "update",
        "Change a job",
        description=(
            "Takes any subset of the writable fields, like PATCH. A new schedule or "
            "timezone moves a pending job's next_run_at to the next slot; run_at moves a "
            "pending one-time job. A running job takes no change until it stops (409)."
        ),
        request=JobUpdateSerializer,
        responses={200: JobSerializer, **_errors(400, 404, 409)},
    ),
    partial_update=_operation(
        "partial_update",
        "Change some of a job's fields",
        description="The same as PUT.",
        request=JobUpdateSerializer,
        responses={200: JobSerializer, **_errors(400, 404, 409)},
    ),
    destroy=_operation(
        "destroy",
        "Delete a job and its history",
        description="A running job cannot be deleted (409): cancel it first.",
        responses={204: None, **_errors(404, 409)},
    ),
)
class JobViewSet(JobsAPIView, viewsets.GenericViewSet):
    """Jobs: list, create, read, change, delete, and steer them."""

    queryset = Job.objects.select_related("worker")
    serializer_class = JobSerializer
    filter_backends = [DjangoFilterBackend]
    filterset_class = JobFilter
    pagination_class = CappedCountPagination
    # Any segment, so a malformed id is this API's JSON 404 rather than Django's HTML one.
    lookup_value_regex = "[^/]+"

    def get_serializer_class(self) -> type[serializers.BaseSerializer]:
        return {
            "create": JobCreateSerializer,
            "update": JobUpdateSerializer,
            "partial_update": JobUpdateSerializer,
            "history": JobHistorySerializer,
            "bulk": BulkJobSerializer,
            "schedule_validate": SchedulePreviewRequestSerializer,
        }.get(self.action, JobSerializer)

    def get_object(self) -> Job:
        # List filters do not apply to one job addressed by its id.
        job = get_object_or_404(Job.objects.select_related("worker"), pk=self.kwargs["pk"])
        self.check_object_permissions(self.request, job)
        return job

    def _job_response(self, job: Job, code: int = status.HTTP_200_OK) -> Response:
        return Response(JobSerializer(job, context=self.get_serializer_context()).data, status=code)

    def list(self, request: Request) -> Response:
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        context = {"links": dependencies.links_of(page or [])}
        return self.get_paginated_response(JobSerializer(page, many=True, context=context).data)

    def retrieve(self, request: Request, pk: str) -> Response:
        return self._job_response(self.get_object())

    def create(self, request: Request) -> Response:
        serializer = JobCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        values = serializer.validated_data
        if values["depends_on"] is not None or values["on_dependency_failure"] is not None:
            job, created = creating.save_dependent(
                values["job"],
                values["depends_on"],
                values["on_dependency_failure"],
                values["unique_key"],
                values["on_conflict"] or "return",
            )
        elif values["unique_key"] is None:
            job, created = creating.save_new(values["job"]), True
        else:
            job, created = creating.save_new_unique(
                values["job"], values["unique_key"], values["on_conflict"] or "return"
            )
        context = {**self.get_serializer_context(), "duplicate": not created}
        return Response(
            CreatedJobSerializer(job, context=context).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )

    def update(self, request: Request, pk: str, partial: bool = True) -> Response:
        job = self.get_object()
        serializer = JobUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return self._job_response(creating.update(job, **serializer.validated_data))

    def partial_update(self, request: Request, pk: str) -> Response:
        return self.update(request, pk)

    def destroy(self, request: Request, pk: str) -> Response:
        steering.delete(self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @_operation(
        "trigger",
        "Run a job as soon as a worker is free",
        description="A recurring job keeps its schedule. A running job cannot be triggered (409).",
        request=None,
        responses={200: JobSerializer, **_errors(404, 409)},
    )
    @action(detail=True, methods=["post"])
    def trigger(self, request: Request, pk: str) -> Response:
        return self._job_response(steering.trigger(self.get_object()))

    @_operation(
        "cancel",
        "Cancel a pending job, or ask a running one to stop",
        description=(
            "Pending: cancelled at once. Running: cancel_requested is set and the handler "
            "sees it through ctx. Finished: 409."
        ),
        request=None,
        responses={200: JobSerializer, **_errors(404, 409)},
    )
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str) -> Response:
        return self._job_response(steering.cancel(self.get_object()))

    @_operation(
        "retry",
        "Run a failed job again with fresh attempts",
        description="Only failed jobs can be retried (409 otherwise).",
        request=None,
        responses={200: JobSerializer, **_errors(404, 409)},
    )
    @action(detail=True, methods=["post"])
    def retry(self, request: Request, pk: str) -> Response:
        return self._job_response(steering.retry(self.get_object()))

    @_operation(
        "pause",
        "Pause a recurring job: it keeps its schedule and fires nothing",
        description="A run in progress finishes. One-time jobs cannot be paused (409).",
        request=None,
        responses={200: JobSerializer, **_errors(404, 409)},
    )
    @action(detail=True, methods=["post"])
    def pause(self, request: Request, pk: str) -> Response:
        return self._job_response(steering.pause(self.get_object()))

    @_operation(
        "resume",
        "Resume a paused recurring job from its next slot",
        description="Slots that passed while it was paused are skipped.",
        request=None,
        responses={200: JobSerializer, **_errors(404, 409)},
    )
    @action(detail=True, methods=["post"])
    def resume(self, request: Request, pk: str) -> Response:
        return self._job_response(steering.resume(self.get_object()))

    @_operation(
        "history",
        "A job's runs, newest first",
        responses={200: JobHistorySerializer(many=True), **_errors(400, 404)},
    )
    @action(
        detail=True,
        methods=["get"],
        queryset=JobHistory.objects.order_by("-started_at", "-id"),
        filterset_class=HistoryFilter,
    )
    def history(self, request: Request, pk: str) -> Response:
        # A run exists only for an existing job, so the job is read only when the page
        # is empty (404 if it does not exist) or a permission class judges objects.
        job_id = _plain_id(pk)
        read = job_id is None or self._judges_objects()
        if read:
            job_id = self.get_object().pk
        runs = self.filter_queryset(self.get_queryset().filter(job_id=job_id))
        page = self.paginate_queryset(runs)
        if not page and not read:
            self.get_object()
        return self.get_paginated_response(JobHistorySerializer(page, many=True).data)

    def _judges_objects(self) -> bool:
        return any(
            type(permission).has_object_permission is not BasePermission.has_object_permission
            for permission in self.get_permissions()
        )

    @_operation(
        "bulk_create",
        "Create many one-time jobs: all of them or none",
        description=(
            "From 1 to DJANGO_JOBS['API_MAX_BULK'] jobs (an empty or longer list is a 400); "
            "errors are keyed by index. A unique_key held by a live job, or given twice, "
            "answers that one job (on_conflict: raise makes it a 409, creating nothing). "
            "depends_on takes ids of existing jobs and the ref of earlier items of the "
            "request, so a whole graph is created at once; an item whose unique_key is "
            "taken is the live job holding it, and items that depend on it wait for that job."
        ),
        request=BulkJobSerializer(many=True),
        responses={
            201: JobSerializer(many=True),
            400: OpenApiResponse(OpenApiTypes.ANY, description="Invalid input."),
            **_errors(409),
        },
    )
    @action(detail=False, methods=["post"], filter_backends=[], pagination_class=None)
    def bulk(self, request: Request) -> Response:
        serializer = BulkJobSerializer(
            data=request.data,
            many=True,
            allow_empty=False,
            max_length=int(jobs_settings.API_MAX_BULK),
        )
        serializer.is_valid(raise_exception=True)
        jobs = creating.enqueue_many([dict(spec) for spec in serializer.validated_data])
        data = JobSerializer(jobs, many=True, context=self.get_serializer_context()).data
        return Response(data, status=status.HTTP_201_CREATED)

    @_operation(
        "handlers",
        "Registered handlers: only these can run",
        responses={200: HandlerSerializer(many=True), **_errors()},
    )
    @action(detail=False, methods=["get"], filter_backends=[], pagination_class=None)
    def handlers(self, request: Request) -> Response:
        entries = [
            {
                "name": entry.name,
                "description": entry.description,
                "is_async": entry.is_async,
                "takes_ctx": entry.takes_ctx,
            }
            for entry in registry.all()
        ]
        return Response(HandlerSerializer(entries, many=True).data)

    @_operation("stats", "Counts by status", responses={200: StatsSerializer, **_errors()})
    @action(detail=False, methods=["get"], filter_backends=[], pagination_class=None)
    def stats(self, request: Request) -> Response:
        return Response(StatsSerializer(job_stats()).data)

    @_operation(
        "schedule_validate",
        "Check a schedule expression and preview its next runs",
        description="Nothing is created; a bad expression is a 400 saying why.",
        request=SchedulePreviewRequestSerializer,
        responses={200: SchedulePreviewSerializer, **_errors(400)},
    )
    @action(
        detail=False,
        methods=["post"],
        url_path="schedule/validate",
        url_name="schedule-validate",
        filter_backends=[],
        pagination_class=None,
    )
    def schedule_validate(self, request: Request) -> Response:
        serializer = SchedulePreviewRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        schedule = serializer.validated_data["schedule"]
        preview = {
            "schedule": schedule.expression,
            "timezone": schedule.timezone,
            "is_interval": schedule.is_interval,
            "description": schedule.describe(),
            "next_runs": serializer.validated_data["next_runs"],
        }
        return Response(SchedulePreviewSerializer(preview).data)


class RunnerView(JobsAPIView, APIView):
    """The runner switch and the live workers."""

    @_operation(
        "runner",
        "The runner switch and the live workers",
        responses={200: RunnerSerializer, **_errors()},
    )
    def get(self, request: Request) -> Response:
        return Response(RunnerSerializer(runner.status()).data)


class RunnerStartView(JobsAPIView, APIView):
    """Let workers take jobs again; they notice on their next poll."""

    jobs_permission = "control_runner"

    @_operation(
        "runner_start",
        "Start the runner",
        request=None,
        responses={200: RunnerSerializer, **_errors()},
    )
    def post(self, request: Request) -> Response:
        return Response(RunnerSerializer(runner.start()).data)


class RunnerStopView(JobsAPIView, APIView):
    """Stop workers from taking new jobs; runs in progress finish."""

    jobs_permission = "control_runner"

    @_operation(
        "runner_stop",
        "Stop the runner",
        request=None,
        responses={200: RunnerSerializer, **_errors()},
    )
    def post(self, request: Request) -> Response:
        return Response(RunnerSerializer(runner.stop()).data)


@extend_schema(exclude=True)
class UnknownRouteView(JobsAPIView, APIView):
    """Anything else under ``jobs/``: this API's JSON 404 rather than Django's HTML page."""

    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        raise NotFound("No such route in this API.")

    post = put = patch = delete = head = options = get
