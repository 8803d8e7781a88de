"""Who may see the dashboard and press its buttons.

The rule is the API's: active staff users holding Django's model permission on
``Job`` for what they do (``view`` to look, ``change`` to steer, ``delete`` to
delete). ``allowed`` is the one place the dashboard asks.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.urls import reverse

# What each dashboard action needs, as Job model permissions.
ACTIONS = {"view": "view", "change": "change", "delete": "delete", "add": "add"}


def allowed(user: Any, action: str) -> bool:
    """Whether ``user`` may ``action`` ("view", "change", "delete", "add") jobs."""
    if not (user and user.is_authenticated and user.is_active and user.is_staff):
        return False
    return bool(user.has_perm(f"django_jobs.{ACTIONS[action]}_job"))


def permissions(user: Any) -> dict[str, bool]:
    """The actions ``user`` may take, for templates to show only usable buttons."""
    return {action: allowed(user, action) for action in ACTIONS}


def requires(action: str) -> Callable[[Callable[..., HttpResponse]], Callable[..., HttpResponse]]:
    """Anonymous users go to the admin's login page; others without the permission get 403."""

    def decorate(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view)
        def guarded(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path(), reverse("admin:login"))
            if not allowed(request.user, action):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return guarded

    return decorate
