"""System checks: bad settings and bad declared schedules fail ``manage.py check``.

======================  ================================================
id                      problem
======================  ================================================
django_jobs.E001        ``DJANGO_JOBS`` is not a dict
django_jobs.W001        unknown key in ``DJANGO_JOBS`` (probably a typo)
django_jobs.E002        a numeric setting is missing, not a number or out of range
django_jobs.E003        a ``HANDLERS`` entry cannot be imported or is not callable
django_jobs.E004        a ``SCHEDULES`` entry is malformed or its expression is invalid
django_jobs.E005        ``WORKER_TIMEOUT`` is not larger than ``HEARTBEAT_INTERVAL``
django_jobs.E006        an on/off setting (``ENABLED``, ``AUTO_START``...) is not True or False
django_jobs.E020        a ``WEBHOOKS`` endpoint or ``WEBHOOK_ALLOWED_NETWORKS`` is malformed
django_jobs.E021        ``WEBHOOKS`` is set but the ``standardwebhooks`` package is missing
django_jobs.E022        a ``WEBHOOK_*`` number is not a number or out of range
django_jobs.E030        a ``LIMITS`` entry is malformed (concurrency, rate), or a handler names
                        a limit that ``LIMITS`` does not have
======================  ================================================
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register
from django.utils.module_loading import import_string

from .conf import DEFAULTS, jobs_settings
from .exceptions import InvalidJob

POSITIVE_NUMBERS = (
    "POLL_INTERVAL",
    "WORKER_TIMEOUT",
    "SHUTDOWN_GRACE",
    "RETRY_BACKOFF_BASE",
    "RETRY_BACKOFF_MAX",
)
WEBHOOK_NUMBERS = ("WEBHOOK_TIMEOUT",)
WEBHOOK_INTEGERS = ("WEBHOOK_MAX_BODY_BYTES", "WEBHOOK_MAX_RESPONSE_BYTES", "WEBHOOK_MAX_ATTEMPTS")
POSITIVE_INTEGERS = (
    "DEFAULT_MAX_ATTEMPTS",
    "CONCURRENCY",
    "BATCH_SIZE",
    "MAX_DATA_BYTES",
    "API_PAGE_SIZE",
    "API_MAX_PAGE_SIZE",
    "API_MAX_BULK",
    "MAX_ATTEMPTS_LIMIT",
)
# Days, or None for "keep forever".
RETENTIONS = ("RETENTION_DAYS", "DEAD_RETENTION_DAYS")
SWITCHES = ("ENABLED", "AUTO_START", "RUNNER_ENABLED", "ENABLE_HISTORY")


@register(Tags.compatibility)
def check_settings(app_configs: Any = None, **kwargs: Any) -> list:
    raw = getattr(settings, "DJANGO_JOBS", {})
    if not isinstance(raw, dict):
        return [Error("DJANGO_JOBS must be a dict.", id="django_jobs.E001")]
    errors: list = [
        Warning(
            f"Unknown DJANGO_JOBS key {key!r}.", hint="Check the spelling.", id="django_jobs.W001"
        )
        for key in sorted(set(raw) - set(DEFAULTS))
    ]
    errors += _numbers()
    errors += _switches()
    errors += handler_errors()
    errors += _schedules()
    errors += _webhooks()
    errors += _limits()
    return errors


def _limits() -> list:
    from . import limits
    from .registry import registry

    found = limits.problems()
    if not found:
        names = set(limits.configured())
        found = [
            f"Handler {entry.name!r} has limit {entry.limit!r}, which DJANGO_JOBS['LIMITS'] "
            f"does not define."
            for entry in registry.all()
            if entry.limit and entry.limit not in names
        ]
    return [Error(message, id="django_jobs.E030") for message in found]


def _numbers() -> list:
    errors = []
    for key in POSITIVE_NUMBERS + POSITIVE_INTEGERS:
        value = getattr(jobs_settings, key)
        wants_int = key in POSITIVE_INTEGERS
        kind = int if wants_int else (int, float)
        if isinstance(value, bool) or not isinstance(value, kind) or value <= 0:
            what = "a positive whole number" if wants_int else "a positive number"
            errors.append(
                Error(f"DJANGO_JOBS[{key!r}] must be {what}, got {value!r}.", id="django_jobs.E002")
            )
    for key in RETENTIONS:
        value = getattr(jobs_settings, key)
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < 36500
        ):
            errors.append(
                Error(
                    f"DJANGO_JOBS[{key!r}] must be a positive number of days or None, "
                    f"got {value!r}.",
                    id="django_jobs.E002",
                )
            )
    if not errors and jobs_settings.WORKER_TIMEOUT <= jobs_settings.heartbeat_interval:
        errors.append(
            Error(
                "DJANGO_JOBS['WORKER_TIMEOUT'] must be larger than the heartbeat "
                "interval, or live workers will be declared dead.",
                id="django_jobs.E005",
            )
        )
    return errors


def _switches() -> list:
    # "false" or 0 would read as a value nobody meant; only booleans are clear.
    return [
        Error(
            f"DJANGO_JOBS[{key!r}] must be True or False, got {getattr(jobs_settings, key)!r}.",
            id="django_jobs.E006",
        )
        for key in SWITCHES
        if not isinstance(getattr(jobs_settings, key), bool)
    ]


def handler_errors() -> list:
    """What is wrong with ``HANDLERS`` (django_jobs.E003); empty when every entry loads."""
    handlers = jobs_settings.HANDLERS
    if not isinstance(handlers, dict):
        return [
            Error(
                "DJANGO_JOBS['HANDLERS'] must map names to callables or dotted paths.",
                id="django_jobs.E003",
            )
        ]
    errors = []
    for name, target in handlers.items():
        try:
            fn = import_string(target) if isinstance(target, str) else target
        except ImportError as exc:
            errors.append(
                Error(f"Handler {name!r}: cannot import {target!r}: {exc}", id="django_jobs.E003")
            )
            continue
        if not callable(fn):
            errors.append(
                Error(f"Handler {name!r}: {target!r} is not callable.", id="django_jobs.E003")
            )
    return errors


def _schedules() -> list:
    from .creating import declared_schedules

    try:
        declared_schedules(validate=True)
    except (InvalidJob, ValueError, TypeError) as exc:
        return [Error(f"DJANGO_JOBS['SCHEDULES']: {exc}", id="django_jobs.E004")]
    return []


def _webhooks() -> list:
    from .webhooks import config, signing

    errors = [Error(message, id="django_jobs.E020") for message in config.problems()]
    if jobs_settings.WEBHOOKS and not signing.installed():
        errors.append(
            Error(
                "DJANGO_JOBS['WEBHOOKS'] is set but 'standardwebhooks' is not installed.",
                hint="pip install 'django-jobs-queue[webhooks]'",
                id="django_jobs.E021",
            )
        )
    for key in WEBHOOK_NUMBERS + WEBHOOK_INTEGERS + ("WEBHOOK_MAX_REDIRECTS",):
        value = getattr(jobs_settings, key)
        wants_int = key != "WEBHOOK_TIMEOUT"
        kind = int if wants_int else (int, float)
        smallest = 0 if key == "WEBHOOK_MAX_REDIRECTS" else 1
        if isinstance(value, bool) or not isinstance(value, kind) or value < smallest:
            errors.append(
                Error(
                    f"DJANGO_JOBS[{key!r}] must be a number >= {smallest}, got {value!r}.",
                    id="django_jobs.E022",
                )
            )
    if not isinstance(jobs_settings.WEBHOOK_QUEUE, str) or not jobs_settings.WEBHOOK_QUEUE:
        errors.append(
            Error("DJANGO_JOBS['WEBHOOK_QUEUE'] must be a queue name.", id="django_jobs.E022")
        )
    return errors
