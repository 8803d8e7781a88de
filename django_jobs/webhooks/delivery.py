"""The ``django_jobs.webhook`` handler: sign one payload and POST it to one endpoint.

It is an ordinary job, so a failed delivery is retried with the usual backoff
and every attempt is in the job's history. Any answer but 2xx is a failure.
"""

from __future__ import annotations

import time
from typing import Any

from . import config, events, signing, transport

_RESPONSE_CHARS = 500


class DeliveryFailed(Exception):
    """The receiver answered, but not with 2xx."""


def deliver(data: dict[str, Any]) -> dict[str, Any]:
    endpoint = config.endpoint(data["endpoint"])
    text = events.body(data["payload"])
    headers = signing.signed_headers(endpoint.secret, data["message_id"], int(time.time()), text)
    headers.update(
        {
            "Content-Type": "application/json",
            "User-Agent": "django-jobs-webhooks",
        }
    )
    response = transport.post(endpoint.url, text.encode(), headers)
    answer = response.body[:_RESPONSE_CHARS].decode("utf-8", "replace")
    if not 200 <= response.status < 300:
        hint = ""
        if response.status in transport.REDIRECTS:
            hint = f" to {response.location} (redirects not followed past WEBHOOK_MAX_REDIRECTS)"
        raise DeliveryFailed(
            f"{endpoint.url} answered {response.status}{hint}: {answer}".rstrip(": ")
        )
    return {"endpoint": endpoint.name, "url": endpoint.url, "status": response.status}
