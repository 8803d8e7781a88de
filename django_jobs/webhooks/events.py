"""From job outcomes to deliveries: the signal receivers that enqueue one job per endpoint.

Deliveries are enqueued with ``transaction.on_commit``, so they are created
only once the outcome they announce is committed, and never inside its
transaction. A delivery's own outcome never produces webhooks.
"""

from __future__ import annotations

import json
import logging
import uuid
from typing import Any

from django.db import router, transaction
from django.utils import timezone

from .. import signals
from ..conf import jobs_settings
from . import config

logger = logging.getLogger("django_jobs.webhooks")

DELIVER = "django_jobs.webhook"
# Kept when a payload is over WEBHOOK_MAX_BODY_BYTES; result and error are dropped.
_TRUNCATED_ERROR_CHARS = 1000


def connect() -> None:
    pairs = (
        (signals.job_succeeded, _succeeded),
        (signals.job_failed, _failed),
        (signals.job_dead, _dead),
        (signals.job_cancelled, _cancelled),
    )
    for signal, receiver in pairs:
        signal.connect(receiver, dispatch_uid=f"django_jobs.webhooks.{receiver.__name__}")


def _succeeded(sender: Any, job: Any, attempt: int, result: Any = None, **kwargs: Any) -> None:
    announce(
        "job.succeeded",
        job,
        {"attempt": attempt, "result": result, "duration_ms": kwargs.get("duration_ms")},
    )


def _failed(
    sender: Any, job: Any, attempt: int, error: str = "", will_retry: bool = False, **kwargs: Any
) -> None:
    announce("job.failed", job, {"attempt": attempt, "error": error, "will_retry": will_retry})


def _dead(sender: Any, job: Any, attempt: int, error: str = "", **kwargs: Any) -> None:
    announce("job.dead", job, {"attempt": attempt, "error": error})


def _cancelled(sender: Any, job: Any, **kwargs: Any) -> None:
    announce("job.cancelled", job, {})


def announce(event: str, job: Any, details: dict[str, Any]) -> None:
    """Enqueue, after the current transaction commits, a delivery to each subscribed endpoint."""
    if job.handler == DELIVER:
        return
    configured = config.endpoints()
    if not configured:
        return
    named = config.job_webhooks(job.webhooks)
    targets = [e.name for e in configured if e.wants(event, job.handler, job.queue, named)]
    if not targets:
        return
    payload = build_payload(event, job, details)
    using = router.db_for_write(type(job))
    transaction.on_commit(lambda: enqueue_deliveries(targets, payload), using=using)


def build_payload(event: str, job: Any, details: dict[str, Any]) -> dict[str, Any]:
    """The JSON body: ``type``, ``timestamp`` and ``data`` as Standard Webhooks suggests."""
    data = {
        "job": {
            "id": job.pk,
            "name": job.name,
            "handler": job.handler,
            "queue": job.queue,
            "status": job.status,
            "attempts": job.attempts,
            "max_attempts": job.max_attempts,
            "recurring": bool(job.schedule),
            "scheduled_for": _instant(job.scheduled_for),
        },
        **details,
    }
    payload = {"type": event, "timestamp": timezone.now().isoformat(), "data": data}
    return _bounded(payload)


def _instant(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def _bounded(payload: dict[str, Any]) -> dict[str, Any]:
    """Drop the result and shorten the error when the body would pass the size limit."""
    limit = int(jobs_settings.WEBHOOK_MAX_BODY_BYTES)
    if len(body(payload).encode()) <= limit:
        return payload
    data = payload["data"]
    data.pop("result", None)
    if isinstance(data.get("error"), str):
        data["error"] = data["error"][:_TRUNCATED_ERROR_CHARS]
    data["truncated"] = True
    return payload


def body(payload: Any) -> str:
    """The exact text that is signed and sent."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False, default=str)


def enqueue_deliveries(endpoint_names: list[str], payload: dict[str, Any]) -> None:
    """One delivery job per endpoint, each with its own message id (kept across retries)."""
    job = payload["data"]["job"]
    try:
        _create(endpoint_names, payload)
    except Exception:
        # The outcome is committed already: say loudly what was not sent, and go on.
        logger.exception(
            "webhook deliveries NOT created event=%s job=%s endpoints=%s",
            payload["type"],
            job["id"],
            ",".join(endpoint_names),
        )
        return
    logger.info(
        "webhooks enqueued event=%s job=%s endpoints=%s",
        payload["type"],
        job["id"],
        ",".join(endpoint_names),
    )


def _create(endpoint_names: list[str], payload: dict[str, Any]) -> None:
    from ..creating import enqueue_many

    job = payload["data"]["job"]
    enqueue_many(
        [
            {
                "data": {
                    "endpoint": name,
                    "message_id": f"msg_{uuid.uuid4().hex}",
                    "payload": payload,
                },
                "name": f"webhook {payload['type']} job {job['id']} to {name}"[:200],
            }
            for name in endpoint_names
        ],
        handler=DELIVER,
        max_attempts=int(jobs_settings.WEBHOOK_MAX_ATTEMPTS),
        queue=jobs_settings.WEBHOOK_QUEUE,
        timeout=float(jobs_settings.WEBHOOK_TIMEOUT) * 2 + 5,
    )
