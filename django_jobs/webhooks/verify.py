"""Checking incoming webhooks in a Django view: ``verify()`` or ``@verified_webhook``."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

HEADERS = ("webhook-id", "webhook-timestamp", "webhook-signature")


class WebhookVerificationError(Exception):
    """The request is not a webhook signed with the expected secret (or it is too old)."""


def verify(request: HttpRequest, secret: str) -> Any:
    """Return the request's JSON payload if its Standard Webhooks signature is valid.

    Raises ``WebhookVerificationError`` when a header is missing, the signature
    does not match, or the timestamp is more than five minutes away from now
    (replays of old deliveries are refused).
    """
    from .signing import verified_payload

    headers = {name: request.headers.get(name, "") for name in HEADERS}
    return verified_payload(secret, request.body, headers)


def verified_webhook(secret: str | Callable[[], str]) -> Callable[..., Any]:
    """View decorator: 400 for unsigned requests, else ``request.webhook`` is the payload.

    ``secret`` may be a callable, so it can be read from settings at request time.
    """

    def decorate(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @csrf_exempt
        @functools.wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if request.method != "POST":
                return JsonResponse({"detail": "webhooks are POSTed"}, status=405)
            try:
                request.webhook = verify(request, secret() if callable(secret) else secret)  # type: ignore[attr-defined]
            except WebhookVerificationError as exc:
                return JsonResponse({"detail": f"invalid webhook: {exc}"}, status=400)
            return view(request, *args, **kwargs)

        return wrapped

    return decorate
