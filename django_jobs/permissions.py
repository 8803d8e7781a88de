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
    load_model_permissions(user)
    return all(_holds(user, codename) for codename in NEEDS[what])


def _holds(user: Any, codename: str) -> bool:
    if user.has_perm(f"{APP_LABEL}.{codename}"):
        return True
    action, _, model = codename.partition("_")
    return action == "view" and user.has_perm(f"{APP_LABEL}.change_{model}")


def load_model_permissions(user: Any) -> None:
    """Fill ``ModelBackend``'s permission caches on ``user`` in one query instead of two.

    ``ModelBackend`` reads a user's own permissions and their groups' in two
    queries, then caches both on the user object (``_user_perm_cache``,
    ``_group_perm_cache``); as the user is loaded afresh for every request, each
    request pays both. Here the backend's own two querysets are read as one
    UNION and the caches are filled exactly as the backend fills them, so every
    backend still answers ``has_perm`` as before. A backend that fills its caches
    another way, a superuser (who needs no query) or caches already filled are
    left alone.
    """
    from django.contrib.auth import get_backends
    from django.contrib.auth.backends import ModelBackend
    from django.db.models import QuerySet, Value

    if user.is_superuser or hasattr(user, "_user_perm_cache") or hasattr(user, "_perm_cache"):
        return
    if not (hasattr(user, "user_permissions") and hasattr(user, "groups")):
        return  # a user model without PermissionsMixin answers has_perm its own way
    # The first ModelBackend fills the caches every later one reads, as in has_perm.
    backend: Any = next((b for b in get_backends() if isinstance(b, ModelBackend)), None)
    fills: Any = getattr(ModelBackend, "_get_permissions", None)
    if backend is None or fills is None or type(backend)._get_permissions is not fills:
        return
    own, groups = backend._get_user_permissions(user), backend._get_group_permissions(user)
    if not (isinstance(own, QuerySet) and isinstance(groups, QuerySet)):
        return
    columns = ("content_type__app_label", "codename", "source")
    rows = (
        own.annotate(source=Value("user"))
        .values_list(*columns)
        .order_by()
        .union(groups.annotate(source=Value("group")).values_list(*columns).order_by(), all=True)
        .order_by()  # Permission's Meta ordering names columns the union does not select
    )
    held: dict[str, set[str]] = {"user": set(), "group": set()}
    for app_label, codename, source in rows:
        held[source].add(f"{app_label}.{codename}")
    user._user_perm_cache = held["user"]
    user._group_perm_cache = held["group"]
