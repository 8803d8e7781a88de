"""Webhook endpoints from ``DJANGO_JOBS["WEBHOOKS"]``: parsed and validated in one place.

The system checks and the senders both read endpoints through here, so a
setting ``manage.py check`` accepts is exactly a setting the senders use.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.dispatch import receiver

from ..conf import jobs_settings

EVENTS = ("job.succeeded", "job.failed", "job.dead", "job.cancelled")
SECRET_PREFIX = "whsec_"
ENDPOINT_KEYS = {"url", "secret", "events", "handlers", "queues", "named_only"}
# How a job's own endpoints are stored in its ``webhooks`` column (names never hold it).
SEPARATOR = ","
WEBHOOKS_COLUMN = 500  # Job.webhooks' max_length

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class Endpoint:
    name: str
    url: str
    secret: str
    events: frozenset[str]
    handlers: frozenset[str] | None = None
    queues: frozenset[str] | None = None
    # Only jobs that name this endpoint (their ``webhooks``) send it their events.
    named_only: bool = False

    def wants(self, event: str, handler: str, queue: str, named: frozenset[str]) -> bool:
        """Whether this endpoint gets ``event`` of a job of ``handler`` on ``queue`` that
        names the endpoints ``named``: a job naming it gets its events whatever the filters."""
        if event not in self.events:
            return False
        if self.name in named:
            return True
        if self.named_only:
            return False
        if self.handlers is not None and handler not in self.handlers:
            return False
        return self.queues is None or queue in self.queues


_parsed: list[Endpoint] | None = None


def endpoints() -> list[Endpoint]:
    """Every configured endpoint; raises ``ImproperlyConfigured`` on a bad setting.

    Parsed once and kept until the settings change: every job outcome asks.
    """
    global _parsed
    if _parsed is None:
        raw = jobs_settings.WEBHOOKS
        if not isinstance(raw, Mapping):
            raise ImproperlyConfigured("DJANGO_JOBS['WEBHOOKS'] must map endpoint names to dicts.")
        _parsed = [parse_endpoint(name, spec) for name, spec in raw.items()]
    return _parsed


@receiver(setting_changed)
def _forget(*, setting: str, **kwargs: Any) -> None:
    global _parsed
    if setting == "DJANGO_JOBS":
        _parsed = None


def endpoint(name: str) -> Endpoint:
    """The endpoint called ``name``; ``LookupError`` when it is no longer configured."""
    for found in endpoints():
        if found.name == name:
            return found
    raise LookupError(f"webhook endpoint {name!r} is not configured in DJANGO_JOBS['WEBHOOKS']")


def problems() -> list[str]:
    """What is wrong with the webhook settings, one message each (empty: all good)."""
    found = []
    raw = jobs_settings.WEBHOOKS
    if not isinstance(raw, Mapping):
        return ["DJANGO_JOBS['WEBHOOKS'] must map endpoint names to dicts."]
    for name, spec in raw.items():
        try:
            parse_endpoint(name, spec)
        except ImproperlyConfigured as exc:
            found.append(str(exc))
    try:
        allowed_networks()
    except ImproperlyConfigured as exc:
        found.append(str(exc))
    return found


def parse_endpoint(name: Any, spec: Any) -> Endpoint:
    where = f"DJANGO_JOBS['WEBHOOKS'][{name!r}]"
    if not isinstance(name, str) or not name or SEPARATOR in name:
        raise ImproperlyConfigured(
            f"{where}: endpoint names must be non-empty strings without {SEPARATOR!r}."
        )
    if not isinstance(spec, Mapping):
        raise ImproperlyConfigured(f"{where} must be a dict with 'url', 'secret' and 'events'.")
    unknown = set(spec) - ENDPOINT_KEYS
    if unknown:
        raise ImproperlyConfigured(f"{where}: unknown keys {sorted(unknown)}.")
    return Endpoint(
        name=name,
        url=_url(where, spec.get("url")),
        secret=_secret(where, spec.get("secret")),
        events=_events(where, spec.get("events")),
        handlers=_names(where, "handlers", spec.get("handlers")),
        queues=_names(where, "queues", spec.get("queues")),
        named_only=_flag(where, "named_only", spec.get("named_only", False)),
    )


def _flag(where: str, key: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ImproperlyConfigured(f"{where}: {key!r} must be True or False.")
    return value


def _url(where: str, url: Any) -> str:
    if not isinstance(url, str) or not url:
        raise ImproperlyConfigured(f"{where}: 'url' must be an http(s) URL.")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ImproperlyConfigured(f"{where}: 'url' must be an http(s) URL, got {url!r}.")
    if parts.scheme == "http" and not jobs_settings.WEBHOOK_ALLOW_HTTP:
        raise ImproperlyConfigured(
            f"{where}: {url!r} is plain http; use https or set "
            "DJANGO_JOBS['WEBHOOK_ALLOW_HTTP'] = True."
        )
    return url


def _secret(where: str, secret: Any) -> str:
    """A Standard Webhooks secret: ``whsec_`` and base64 of at least 24 bytes."""
    if not isinstance(secret, str) or not secret.startswith(SECRET_PREFIX):
        raise ImproperlyConfigured(f"{where}: 'secret' must be a string starting with 'whsec_'.")
    try:
        key = base64.b64decode(secret[len(SECRET_PREFIX) :], validate=True)
    except (binascii.Error, ValueError):
        raise ImproperlyConfigured(f"{where}: 'secret' after 'whsec_' must be base64.") from None
    if len(key) < 24:
        raise ImproperlyConfigured(f"{where}: 'secret' must hold at least 24 random bytes.")
    return secret


def _events(where: str, events: Any) -> frozenset[str]:
    if isinstance(events, str) or not events or not all(isinstance(e, str) for e in events):
        raise ImproperlyConfigured(f"{where}: 'events' must be a list of {', '.join(EVENTS)}.")
    unknown = sorted(set(events) - set(EVENTS))
    if unknown:
        raise ImproperlyConfigured(
            f"{where}: unknown events {unknown}; choose from {', '.join(EVENTS)}."
        )
    return frozenset(events)


def _names(where: str, key: str, names: Any) -> frozenset[str] | None:
    if names is None:
        return None
    if isinstance(names, str) or not all(isinstance(n, str) and n for n in names):
        raise ImproperlyConfigured(f"{where}: {key!r} must be a list of names.")
    return frozenset(names)


def allowed_networks() -> list[Network]:
    """``WEBHOOK_ALLOWED_NETWORKS``: addresses receivers may have though not public."""
    raw = jobs_settings.WEBHOOK_ALLOWED_NETWORKS
    if isinstance(raw, str):
        raw = [raw]
    networks = []
    for item in raw or ():
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except (TypeError, ValueError):
            raise ImproperlyConfigured(
                f"DJANGO_JOBS['WEBHOOK_ALLOWED_NETWORKS']: {item!r} is not an address or network."
            ) from None
    return networks


# A job's own endpoints ---------------------------------------------------------------


def clean_job_webhooks(value: Any) -> str:
    """Names of configured endpoints a job's events also go to, as its column stores them.

    A list of names (or one string of comma-separated names); an unknown name is
    refused with ``InvalidJob("webhooks")``, so a typo never silences a webhook.
    """
    from ..exceptions import InvalidJob

    if value is None or value == "" or value == []:
        return ""
    if isinstance(value, str):
        value = [part.strip() for part in value.split(SEPARATOR) if part.strip()]
    if not isinstance(value, list | tuple | set | frozenset) or not all(
        isinstance(n, str) and n for n in value
    ):
        raise InvalidJob("webhooks", "a list of endpoint names from DJANGO_JOBS['WEBHOOKS']")
    try:
        known = {e.name for e in endpoints()}
    except ImproperlyConfigured as exc:
        raise InvalidJob("webhooks", f"the webhook settings are broken: {exc}") from None
    unknown = [name for name in value if name not in known]
    if unknown:
        raise InvalidJob(
            "webhooks",
            f"no endpoint {', '.join(map(repr, unknown))} in DJANGO_JOBS['WEBHOOKS']"
            + (f" (configured: {', '.join(sorted(known))})" if known else ""),
        )
    stored = SEPARATOR.join(sorted(set(value)))
    if len(stored) > WEBHOOKS_COLUMN:
        raise InvalidJob("webhooks", f"at most {WEBHOOKS_COLUMN} characters of names in all")
    return stored


def job_webhooks(stored: str) -> frozenset[str]:
    """The names a job's ``webhooks`` column holds."""
    return frozenset(stored.split(SEPARATOR)) if stored else frozenset()


def names_schema() -> dict[str, Any]:
    """The OpenAPI keywords of a ``webhooks`` list: the configured names, or nothing."""
    try:
        names = sorted(e.name for e in endpoints())
    except ImproperlyConfigured:
        names = []
    return {"items": {"type": "string", "enum": names}} if names else {"maxItems": 0}
