"""Webhooks: signed JSON POSTs (Standard Webhooks) when jobs succeed, fail, die or are cancelled.

Endpoints live in ``DJANGO_JOBS["WEBHOOKS"]``; each delivery is a job of the
internal handler ``django_jobs.webhook``. Receivers check requests with
``verify(request, secret)`` or the ``@verified_webhook(secret)`` decorator.
Importing this package does not import models.
"""

from .config import EVENTS
from .verify import WebhookVerificationError, verified_webhook, verify

__all__ = ["EVENTS", "WebhookVerificationError", "verified_webhook", "verify"]
