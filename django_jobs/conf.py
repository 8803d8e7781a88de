"""One settings object for the ``DJANGO_JOBS`` dict, read when used.

The merged dict is cached and dropped on ``setting_changed`` so that
``override_settings(DJANGO_JOBS=...)`` works in tests.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver

DEFAULTS: dict[str, Any] = {
    # Workers run jobs at all; False makes ``runjobs`` refuse to start.
    "ENABLED": True,
    # Run an in-process worker thread in every process that serves the site
    # (runserver, each gunicorn/uvicorn worker); see ``django_jobs.autostart``.
    "AUTO_START": False,
    # Value of the runner switch before anybody used start/stop.
    "RUNNER_ENABLED": True,
    # Seconds between polls when nothing wakes the worker earlier.
    "POLL_INTERVAL": 1.0,
    "DEFAULT_MAX_ATTEMPTS": 3,
    "MAX_ATTEMPTS_LIMIT": 100,
    "ENABLE_HISTORY": True,
    "HANDLERS": {},
    # Recurring jobs declared in settings: name -> {"handler", "schedule", ...};
    # ``runjobs`` creates or updates them with schedule() when it starts.
    "SCHEDULES": {},
    # Seconds without a heartbeat after which a worker counts as dead.
    "WORKER_TIMEOUT": 30.0,
    # Seconds between heartbeats; None means WORKER_TIMEOUT / 6.
    "HEARTBEAT_INTERVAL": None,
    # Seconds a worker retries a database step that fails for a reason other than a
    # lost connection before it stops claiming and says why.
    "STALL_TIMEOUT": 60.0,
    "CONCURRENCY": 10,
    # Largest number of jobs one claim statement takes.
    "BATCH_SIZE": 100,
    "DEFAULT_QUEUE": "default",
    "RETRY_BACKOFF_BASE": 2.0,
    "RETRY_BACKOFF_MAX": 3600.0,
    "RETRY_JITTER": True,
    # Seconds a handler may run (None: no limit); per-job ``timeout`` overrides it.
    "DEFAULT_TIMEOUT": None,
    # Seconds after its slot a missed recurring run still fires (None: always once).
    "MISFIRE_GRACE": None,
    # Seconds in-flight jobs get to finish after SIGTERM before they are put back.
    "SHUTDOWN_GRACE": 30.0,
    # Largest JSON ``data`` accepted from the API and the admin, in bytes.
    "MAX_DATA_BYTES": 64 * 1024,
    # Wake idle workers with LISTEN/NOTIFY on PostgreSQL (off for PgBouncer transaction mode).
    "NOTIFY": True,
    # Wake idle workers on this machine with a datagram after each commit that makes a
    # job due, and workers of the same process directly (any database; see engines.local).
    "LOCAL_WAKEUPS": True,
    # Prepare the worker's claim and completion statements on PostgreSQL (off for
    # PgBouncer in transaction mode before 1.21).
    "PREPARED_STATEMENTS": True,
    # Days to keep finished one-time jobs and history rows (None: forever); dead jobs
    # and their history follow DEAD_RETENTION_DAYS instead.
    "RETENTION_DAYS": None,
    # Days to keep dead jobs (one-time jobs that failed for good) and their history,
    # counted from when they died (None: forever). RETENTION_DAYS does not apply to them.
    "DEAD_RETENTION_DAYS": 30,
    # Staff with the model permissions each endpoint needs (see docs/api.md).
    "API_PERMISSION_CLASSES": ["django_jobs.api.permissions.StaffModelPermissions"],
    "API_PAGE_SIZE": 50,
    "API_MAX_PAGE_SIZE": 500,
    "API_MAX_BULK": 1000,
    # Named limits: name -> {"concurrency": N, "rate": "N/s|m|h"} (see limits.py).
    "LIMITS": {},
    # Webhook endpoints: name -> {"url", "secret", "events", "handlers", "queues"}.
    "WEBHOOKS": {},
    # Deliveries to plain http URLs (https only by default).
    "WEBHOOK_ALLOW_HTTP": False,
    # Addresses or networks receivers may have although loopback, private, link-local...
    "WEBHOOK_ALLOWED_NETWORKS": [],
    # Seconds one delivery attempt may take, connecting and answering included.
    "WEBHOOK_TIMEOUT": 10.0,
    # Largest payload sent (the result is dropped beyond it), and largest answer read.
    "WEBHOOK_MAX_BODY_BYTES": 256 * 1024,
    "WEBHOOK_MAX_RESPONSE_BYTES": 64 * 1024,
    "WEBHOOK_MAX_REDIRECTS": 0,
    "WEBHOOK_MAX_ATTEMPTS": 8,
    "WEBHOOK_QUEUE": "default",
    # A secret a Prometheus scraper sends as "Authorization: Bearer <token>" to read
    # the dashboard's metrics/ without a staff session (None: staff sessions only).
    "METRICS_TOKEN": None,
}


class JobsSettings:
    """Attribute access to ``settings.DJANGO_JOBS`` merged over ``DEFAULTS``."""

    def __init__(self) -> None:
        self._cache: dict[str, Any] | None = None

    @property
    def _merged(self) -> dict[str, Any]:
        if self._cache is None:
            user = getattr(settings, "DJANGO_JOBS", None) or {}
            self._cache = {**DEFAULTS, **user}
        return self._cache

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self._merged[name]
        except KeyError:
            raise AttributeError(f"unknown django-jobs setting {name!r}") from None

    @property
    def heartbeat_interval(self) -> float:
        configured = self._merged["HEARTBEAT_INTERVAL"]
        if configured is not None:
            return float(configured)
        return max(0.05, float(self._merged["WORKER_TIMEOUT"]) / 6)

    def user_keys(self) -> set[str]:
        return set((getattr(settings, "DJANGO_JOBS", None) or {}).keys())

    def reload(self) -> None:
        self._cache = None


jobs_settings = JobsSettings()


@receiver(setting_changed)
def _reload(*, setting: str, **kwargs: Any) -> None:
    if setting == "DJANGO_JOBS":
        jobs_settings.reload()
