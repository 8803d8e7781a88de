"""Service exceptions as HTTP answers, the same on every endpoint.

``InvalidJob`` -> 400 ``{field: [message]}`` (``{index: {field: [message]}}``
for an item of a bulk request), ``InvalidSchedule`` -> 400
``{"schedule": [message]}``, ``JobStateError`` -> 409 ``{"detail": ...}``,
``Job.DoesNotExist`` -> 404. A request Django itself refuses (a body over
``DATA_UPLOAD_MAX_MEMORY_SIZE``, an unreadable body: ``SuspiciousOperation``,
``UnreadablePostError``) -> 400 ``{"detail": ...}`` rather than Django's HTML
page, logged as Django logs it. They are translated before DRF's exception
handler runs, so a project's own ``EXCEPTION_HANDLER`` still formats them.
"""

from __future__ import annotations

import logging

from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.http import UnreadablePostError
from rest_framework import exceptions, status
from rest_framework.response import Response

from ..exceptions import InvalidJob, InvalidSchedule, JobStateError
from ..models import Job


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The job's state does not allow this."
    default_code = "conflict"


def as_api_exception(exc: Exception) -> Exception:
    """The DRF exception for a service exception; other exceptions pass through."""
    if isinstance(exc, InvalidJob):
        if exc.index is not None:  # an item of a bulk request, keyed like DRF keys them
            return exceptions.ValidationError({str(exc.index): {exc.field: [exc.message]}})
        return exceptions.ValidationError({exc.field: [exc.message]})
    if isinstance(exc, InvalidSchedule):
        return exceptions.ValidationError({"schedule": [str(exc)]})
    if isinstance(exc, JobStateError):
        return Conflict(str(exc))
    if isinstance(exc, Job.DoesNotExist):
        return exceptions.NotFound("No job matches the given id.")
    if isinstance(exc, (SuspiciousOperation, UnreadablePostError)):
        return _refused_request(exc)
    return exc


def _refused_request(exc: Exception) -> exceptions.APIException:
    logging.getLogger(f"django.security.{type(exc).__name__}").error(str(exc))
    if isinstance(exc, RequestDataTooBig):
        return exceptions.ParseError(
            "The request body is larger than settings.DATA_UPLOAD_MAX_MEMORY_SIZE allows."
        )
    return exceptions.ParseError(f"The request cannot be read: {exc}")


class ServiceErrorsMixin:
    """Answer service exceptions raised in a view with the matching status code."""

    def handle_exception(self, exc: Exception) -> Response:
        return super().handle_exception(as_api_exception(exc))  # type: ignore[misc]
