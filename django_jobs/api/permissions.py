"""Who may use the jobs API: staff by default, configurable per project."""

from __future__ import annotations

from typing import Any

from django.utils.module_loading import import_string
from rest_framework.permissions import BasePermission

from ..conf import jobs_settings


class IsStaff(BasePermission):
    """Active staff users only: the API can run any registered handler with any data."""

    message = "Only staff users may manage jobs."

    def has_permission(self, request: Any, view: Any) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and user.is_active and user.is_staff)


def configured_permissions() -> list[BasePermission]:
    """Instances of ``DJANGO_JOBS["API_PERMISSION_CLASSES"]``, read at request time.

    The dotted paths come from settings only, never from a request.
    """
    return [import_string(path)() for path in jobs_settings.API_PERMISSION_CLASSES]
