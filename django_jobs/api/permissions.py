"""Who may use the jobs API: staff with Django's model permissions, configurable per project."""

from __future__ import annotations

from typing import Any

from django.utils.module_loading import import_string
from rest_framework.permissions import SAFE_METHODS, BasePermission

from ..conf import jobs_settings
from ..permissions import APP_LABEL, NEEDS, is_active_staff, user_may

STAFF_ONLY = "Only staff users may manage jobs."

# The job endpoints' actions -> what they do (a key of django_jobs.permissions.NEEDS).
ACTIONS: dict[str, str] = {
    "list": "view",
    "retrieve": "view",
    "handlers": "view",
    "stats": "view",
    "schedule_validate": "view",
    "history": "view_history",
    "create": "add",
    "bulk": "add",
    "update": "change",
    "partial_update": "change",
    "trigger": "trigger",
    "cancel": "cancel",
    "retry": "retry",
    "destroy": "delete",
}


class IsStaff(BasePermission):
    """Active staff users, whatever their model permissions."""

    message = STAFF_ONLY

    def has_permission(self, request: Any, view: Any) -> bool:
        return is_active_staff(request.user)


class StaffModelPermissions(BasePermission):
    """Active staff holding the model permission the endpoint needs (the default).

    Reads need ``view_job`` (history also ``view_jobhistory``), creating and
    bulk-creating ``add_job``, changing, triggering, cancelling and retrying
    ``change_job``, deleting ``delete_job``, and the runner switch
    ``change_runner``. A view names what it does with ``jobs_permission``;
    an action not listed needs ``view_job`` to read and ``change_job`` to write.
    """

    message = STAFF_ONLY

    def has_permission(self, request: Any, view: Any) -> bool:
        if not is_active_staff(request.user):
            return False
        what = required(request, view)
        if user_may(request.user, what):
            return True
        names = " and ".join(f"{APP_LABEL}.{codename}" for codename in NEEDS[what])
        self.message = f"This needs the {names} permission."
        return False


def required(request: Any, view: Any) -> str:
    """What a request does, for ``django_jobs.permissions.user_may``."""
    explicit = getattr(view, "jobs_permission", None)
    if explicit:
        return explicit
    action = getattr(view, "action", None)
    if action in ACTIONS:
        return ACTIONS[action]
    if request.method in SAFE_METHODS:
        return "view"
    return "delete" if request.method == "DELETE" else "change"


def configured_permissions() -> list[BasePermission]:
    """Instances of ``DJANGO_JOBS["API_PERMISSION_CLASSES"]``, read at request time.

    The dotted paths come from settings only, never from a request.
    """
    return [import_string(path)() for path in jobs_settings.API_PERMISSION_CLASSES]
