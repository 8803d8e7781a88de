"""``GET jobs/limits``: each limit of ``LIMITS``, its current use and how many jobs wait on it.

A thin view over ``django_jobs.limits.usage``, which the admin shows too.
"""

from __future__ import annotations

from django.db import router
from django.utils import timezone
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from .. import limits
from ..models import Job
from .views import JobsAPIView, _errors, _operation


class LimitKeySerializer(serializers.Serializer):
    key = serializers.CharField(help_text='The limit_key ("" for jobs without one).')
    running = serializers.IntegerField()
    started_in_window = serializers.IntegerField(
        allow_null=True, help_text="Starts in the rate's last period; null without a rate."
    )
    waiting = serializers.IntegerField(help_text="Pending jobs of this key, due or not.")
    due = serializers.IntegerField(help_text="Pending jobs of this key that are due now.")


class LimitSerializer(serializers.Serializer):
    name = serializers.CharField()
    concurrency = serializers.IntegerField(allow_null=True)
    rate = serializers.IntegerField(allow_null=True, help_text="Starts allowed per period.")
    period_seconds = serializers.FloatField(allow_null=True)
    running = serializers.IntegerField()
    started_in_window = serializers.IntegerField(allow_null=True)
    waiting = serializers.IntegerField()
    due = serializers.IntegerField()
    keys = LimitKeySerializer(many=True)


class LimitsView(JobsAPIView, APIView):  # type: ignore[misc]
    """Each configured limit with its use, per key."""

    @_operation(
        "limits",
        "Limits, their use and the jobs waiting on them",
        responses={200: LimitSerializer(many=True), **_errors()},
    )
    def get(self, request: Request) -> Response:
        found = limits.usage(timezone.now(), router.db_for_read(Job))
        return Response(LimitSerializer(found, many=True).data)
