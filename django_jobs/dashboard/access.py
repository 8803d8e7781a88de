"""Who may see the dashboard and press its buttons.

The rule is the API's and the admin's, owned by ``django_jobs.permissions``:
active staff users holding Django's model permission for what they do.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.urls import reverse

from ..permissions import NEEDS, user_may


def allowed(user: Any, action: str) -> bool:
    """Whether ``user`` may ``action`` (a key of ``django_jobs.permissions.NEEDS``)."""
    return user_may(user, action)


def permissions(user: Any) -> dict[str, bool]:
    """What ``user`` may do, for templates to show only usable buttons."""
    return {action: user_may(user, action) for action in NEEDS}


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
