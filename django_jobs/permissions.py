"""Who may do what with jobs: active staff users holding Django's model permissions.

The REST API, the admin and the dashboard ask ``user_may``, so a user has the
same rights on each. The API's default permission class wraps it; a project can
replace that with ``DJANGO_JOBS["API_PERMISSION_CLASSES"]``.
"""

from __future__ import annotations

from typing import Any

APP_LABEL = "django_jobs"

# What a user does -> the model permissions it needs (all of them).
NEEDS: dict[str, tuple[str, ...]] = {
    "view": ("view_job",),
    "view_history": ("view_job", "view_jobhistory"),
    "add": ("add_job",),
    "change": ("change_job",),
    "trigger": ("change_job",),
    "cancel": ("change_job",),
    "retry": ("change_job",),
    "pause": ("change_job",),
    "resume": ("change_job",),
    "delete": ("delete_job",),
    # Starting or stopping every worker is a right of its own.
    "control_runner": ("change_runner",),
}


def is_active_staff(user: Any) -> bool:
    return bool(user and user.is_authenticated and user.is_active and user.is_staff)


def user_may(user: Any, what: str) -> bool:
    """Whether ``user`` may do ``what`` (a key of ``NEEDS``) with jobs.

    As in Django's admin, the change permission of a model implies its view
    permission; superusers hold every permission but must be staff too.
    """
    if not is_active_staff(user):
        return False
    return all(_holds(user, codename) for codename in NEEDS[what])


def _holds(user: Any, codename: str) -> bool:
    if user.has_perm(f"{APP_LABEL}.{codename}"):
        return True
    action, _, model = codename.partition("_")
    return action == "view" and user.has_perm(f"{APP_LABEL}.change_{model}")
