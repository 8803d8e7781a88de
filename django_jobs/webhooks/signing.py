"""Standard Webhooks signatures, made by ``standardwebhooks`` (the ``webhooks`` extra)."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from django.core.exceptions import ImproperlyConfigured


def _webhook_class() -> Any:
    try:
        from standardwebhooks.webhooks import Webhook
    except ImportError:
        raise ImproperlyConfigured(
            "Signed webhooks need the 'standardwebhooks' package: "
            "pip install 'django-jobs-queue[webhooks]'."
        ) from None
    return Webhook


def installed() -> bool:
    try:
        _webhook_class()
    except ImproperlyConfigured:
        return False
    return True


def signed_headers(secret: str, message_id: str, timestamp: int, body: str) -> dict[str, str]:
    """The three Standard Webhooks headers for ``body`` sent at ``timestamp`` (Unix seconds)."""
    when = datetime.fromtimestamp(timestamp, tz=timezone.utc)
    signature = _webhook_class()(secret).sign(message_id, when, body)
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature,
    }


def verified_payload(secret: str, body: bytes, headers: dict[str, str]) -> Any:
    """The decoded JSON body when the headers sign it with ``secret``; raises otherwise."""
    from standardwebhooks.webhooks import WebhookVerificationError as LibraryError

    from .verify import WebhookVerificationError

    webhook = _webhook_class()(secret)
    try:
        return webhook.verify(body, headers)
    except LibraryError as exc:
        raise WebhookVerificationError(str(exc)) from None
    except (ValueError, UnicodeError) as exc:  # malformed signature header, base64 or JSON
        raise WebhookVerificationError(f"malformed webhook: {exc}") from None
