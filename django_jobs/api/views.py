"""The jobs REST API: thin views over ``django_jobs.actions`` and ``django_jobs.status``.

Every rule lives in the service functions the Python API, the worker and the
admin share; a view parses the request, calls one of them and serializes.
"""

from __future__ import annotations

from typing import Any

from django.shortcuts import get_object_or_404
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import APIView

from .. import actions
from ..conf import jobs_settings
from ..models import Job, JobHistory
from ..registry import registry
from ..status import job_stats, runner_status
from .errors import ServiceErrorsMixin
from .filters import HistoryFilter, JobFilter
from .pagination import CappedCountPagination
from .permissions import configured_permissions
from .schema import OpenApiResponse, OpenApiTypes, extend_schema, extend_schema_view
from .serializers import (
    BulkJobSerializer,
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


class DetailSerializer(serializers.Serializer):
    detail = serializers.CharField()


def _errors(*codes: int) -> dict[int, Any]:
    described = {
        400: OpenApiResponse(
            OpenApiTypes.OBJECT, description="Invalid input: {field: [messages]}."
        ),
        403: OpenApiResponse(DetailSerializer, description="Not authenticated, or not allowed."),
        404: OpenApiResponse(DetailSerializer, description="No such job."),
        409: OpenApiResponse(DetailSerializer, description="The job's state does not allow it."),
    }
    return {code: described[code] for code in (403, *codes)}


class JobsAPIView(ServiceErrorsMixin):
    """Permissions from ``DJANGO_JOBS["API_PERMISSION_CLASSES"]``; service errors as HTTP.

    Authentication is the project's ``REST_FRAMEWORK`` default, read per request
    rather than when this module was imported.
    """

    def get_authenticators(self) -> list[Any]:
        return [auth() for auth in api_settings.DEFAULT_AUTHENTICATION_CLASSES]

    def get_permissions(self) -> list[Any]:
        return configured_permissions()


@extend_schema_view(
    list=extend_schema(
        summary="List jobs", responses={200: JobSerializer(many=True), **_errors(400)}
    ),
    retrieve=extend_schema(summary="Get a job", responses={200: JobSerializer, **_errors(404)}),
    create=extend_schema(
        summary="Create a job",
        request=JobCreateSerializer,
        responses={201: JobSerializer, **_errors(400)},
    ),
    update=extend_schema(
        summary="Change a job (any subset of the writable fields)",
        request=JobUpdateSerializer,
        responses={200: JobSerializer, **_errors(400, 404, 409)},
    ),
    partial_update=extend_schema(
        summary="Change a job",
        request=JobUpdateSerializer,
        responses={200: JobSerializer, **_errors(400, 404, 409)},
    ),
    destroy=extend_schema(
        summary="Delete a job and its history",
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
    lookup_value_regex = "[0-9]+"

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
        job = get_object_or_404(self.get_queryset(), pk=self.kwargs["pk"])
        self.check_object_permissions(self.request, job)
        return job

    def _job_response(self, job: Job, code: int = status.HTTP_200_OK) -> Response:
        return Response(JobSerializer(job, context=self.get_serializer_context()).data, status=code)

    def list(self, request: Request) -> Response:
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(JobSerializer(page, many=True).data)

    def retrieve(self, request: Request, pk: str) -> Response:
        return self._job_response(self.get_object())

    def create(self, request: Request) -> Response:
        serializer = JobCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        job = actions.save_new(serializer.validated_data["job"])
        return self._job_response(job, status.HTTP_201_CREATED)

    def update(self, request: Request, pk: str, partial: bool = True) -> Response:
        job = self.get_object()
        serializer = JobUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return self._job_response(actions.update(job, **serializer.validated_data))

    def partial_update(self, request: Request, pk: str) -> Response:
        return self.update(request, pk)

    def destroy(self, request: Request, pk: str) -> Response:
        actions.delete(self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        summary="Run a job as soon as a worker is free",
        request=None,
        responses={200: JobSerializer, **_errors(404, 409)},
    )
    @action(detail=True, methods=["post"])
    def trigger(self, request: Request, pk: str) -> Response:
        return self._job_response(actions.trigger(self.get_object()))

    @extend_schema(
        summary="Cancel a pending job, or ask a running one to stop",
        request=None,
        responses={200: JobSerializer, **_errors(404, 409)},
    )
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str) -> Response:
        return self._job_response(actions.cancel(self.get_object()))

    @extend_schema(
        summary="Run a failed job again with fresh attempts",
        request=None,
        responses={200: JobSerializer, **_errors(404, 409)},
    )
    @action(detail=True, methods=["post"])
    def retry(self, request: Request, pk: str) -> Response:
        return self._job_response(actions.retry(self.get_object()))

    @extend_schema(
        summary="A job's runs, newest first",
        responses={200: JobHistorySerializer(many=True), **_errors(400, 404)},
    )
    @action(detail=True, methods=["get"], filterset_class=HistoryFilter)
    def history(self, request: Request, pk: str) -> Response:
        job = self.get_object()
        runs = JobHistory.objects.filter(job=job).order_by("-started_at", "-id")
        page = self.paginate_queryset(self.filter_queryset(runs))
        return self.get_paginated_response(JobHistorySerializer(page, many=True).data)

    @extend_schema(
        summary="Create many one-time jobs: all of them or none",
        request=BulkJobSerializer(many=True),
        responses={
            201: JobSerializer(many=True),
            400: OpenApiResponse(OpenApiTypes.ANY, description="Invalid input."),
            **_errors(),
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
        jobs = actions.enqueue_many([dict(spec) for spec in serializer.validated_data])
        data = JobSerializer(jobs, many=True, context=self.get_serializer_context()).data
        return Response(data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Registered handlers: only these can run",
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

    @extend_schema(summary="Counts by status", responses={200: StatsSerializer, **_errors()})
    @action(detail=False, methods=["get"], filter_backends=[], pagination_class=None)
    def stats(self, request: Request) -> Response:
        return Response(StatsSerializer(job_stats()).data)

    @extend_schema(
        summary="Check a schedule expression and preview its next runs",
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

    @extend_schema(
        summary="Runner switch and workers", responses={200: RunnerSerializer, **_errors()}
    )
    def get(self, request: Request) -> Response:
        return Response(RunnerSerializer(runner_status()).data)


class RunnerSwitchView(JobsAPIView, APIView):
    """Start or stop every worker: they obey the flag on their next poll."""

    running = True

    @extend_schema(request=None, responses={200: RunnerSerializer, **_errors()})
    def post(self, request: Request) -> Response:
        actions.set_runner(self.running)
        return Response(RunnerSerializer(runner_status()).data)
