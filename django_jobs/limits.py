"""Named limits: at most N jobs running at once, at most N starts per period, per key.

``DJANGO_JOBS["LIMITS"] = {"mailer": {"concurrency": 5, "rate": "100/m"}}``
names the limits; a job carries one in ``limit`` (from its handler's
``@handler(..., limit=...)`` or from ``enqueue(limit=...)``) and partitions
it by ``limit_key``: each key has the whole limit to itself.

The limits are kept by the claim, never by claiming and putting back. The
ordinary claim leaves limited jobs out (its partial index does not hold
them), so they cost jobs without limits nothing and never stand in front of
them. When ``LIMITS`` is set, a second pass (``claim``) takes limited jobs one
(limit, key) at a time: it locks that key's ``LimitKey`` row (``SKIP LOCKED``:
a worker passes over a key another worker is claiming), counts the key's
running jobs and its starts in the rate's window, claims only what both
leave room for, and commits. The count of running jobs is read from the
jobs themselves, so a worker that dies holding a slot gives it back when
recovery fails or requeues its jobs. Rates are a sliding window: at most N
starts in any period-long stretch of time, so a burst takes all N at once and
the next start waits until the oldest of them leaves the window.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import Count, Min, Q, Sum

from .claimed import Claimed
from .conf import jobs_settings
from .engines import for_alias
from .exceptions import InvalidJob
from .models import Job, JobStatus, LimitStart, Worker

PERIODS = {"s": 1, "m": 60, "h": 3600}
_UNITS = {"s": "s", "sec": "s", "second": "s", "m": "m", "min": "m", "minute": "m"}
_UNITS |= {"h": "h", "hour": "h"}
_RATE = re.compile(r"^\s*(\d+)\s*/\s*(\d*)\s*([a-z]+)\s*$")
MAX_NAME, MAX_KEY = 100, 200
# How many (limit, key) groups with due jobs one pass looks at, at most.
GROUPS_PER_PASS = 50


@dataclass(frozen=True)
class Limit:
    """One entry of ``LIMITS``: ``concurrency`` running at once, ``rate`` starts a ``period``."""

    name: str
    concurrency: int | None = None
    rate: int | None = None
    period: float | None = None  # seconds

    @property
    def window(self) -> timedelta | None:
        return timedelta(seconds=self.period) if self.period else None

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "concurrency": self.concurrency,
            "rate": self.rate,
            "period_seconds": self.period,
        }


def parse_rate(text: Any) -> tuple[int, float]:
    """``"100/m"`` -> (100, 60.0); ``"5/10s"`` -> (5, 10.0). ValueError with the reason."""
    match = _RATE.match(text.lower()) if isinstance(text, str) else None
    word = match.group(3) if match else ""
    unit = _UNITS.get(word) or (_UNITS.get(word[:-1]) if len(word) > 1 else None)
    if not match or unit is None:
        raise ValueError(
            f"rate must look like '100/m' (starts per s, m or h, e.g. '5/s', '1000/h'), "
            f"got {text!r}"
        )
    count, times = int(match.group(1)), int(match.group(2) or 1)
    if count < 1 or times < 1:
        raise ValueError(
            f"rate must allow at least one start in a period of 1 or more, got {text!r}"
        )
    return count, float(times * PERIODS[unit])


def parse(name: Any, spec: Any) -> Limit:
    """One ``LIMITS`` entry as a ``Limit``; ValueError says what is wrong with it."""
    if not isinstance(name, str) or not name or len(name) > MAX_NAME:
        raise ValueError(f"limit names must be strings of 1 to {MAX_NAME} characters: {name!r}")
    if not isinstance(spec, Mapping):
        raise ValueError(f"limit {name!r} must be a dict with 'concurrency' and/or 'rate'")
    unknown = set(spec) - {"concurrency", "rate"}
    if unknown:
        raise ValueError(f"limit {name!r}: unknown key(s) {', '.join(sorted(map(str, unknown)))}")
    if not spec:
        raise ValueError(f"limit {name!r} needs 'concurrency', 'rate' or both")
    concurrency = spec.get("concurrency")
    if concurrency is not None and (
        isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1
    ):
        raise ValueError(f"limit {name!r}: concurrency must be a whole number >= 1")
    rate = period = None
    if spec.get("rate") is not None:
        try:
            rate, period = parse_rate(spec["rate"])
        except ValueError as exc:
            raise ValueError(f"limit {name!r}: {exc}") from None
    if concurrency is None and rate is None:
        raise ValueError(f"limit {name!r} needs 'concurrency', 'rate' or both")
    return Limit(name, concurrency, rate, period)


_parsed: tuple[Any, dict[str, Limit]] | None = None


def configured() -> dict[str, Limit]:
    """The limits of the ``LIMITS`` setting, parsed once per value of it."""
    global _parsed
    raw = jobs_settings.LIMITS
    if _parsed is not None and _parsed[0] is raw:
        return _parsed[1]
    limits = {} if not raw else {name: parse(name, spec) for name, spec in raw.items()}
    _parsed = (raw, limits)
    return limits


def problems() -> list[str]:
    """What is wrong with ``LIMITS`` (system check django_jobs.E030)."""
    raw = jobs_settings.LIMITS
    if not isinstance(raw, Mapping):
        return [
            "DJANGO_JOBS['LIMITS'] must map limit names to dicts, e.g. "
            "{'mailer': {'concurrency': 5, 'rate': '100/m'}}"
        ]
    found = []
    for name, spec in raw.items():
        try:
            parse(name, spec)
        except ValueError as exc:
            found.append(f"DJANGO_JOBS['LIMITS']: {exc}")
    return found


def clean_name(limit: Any) -> str:
    """A limit name a job may carry: one of ``LIMITS``, or "" for none."""
    if limit == "":
        return ""
    if not isinstance(limit, str) or limit not in configured():
        names = ", ".join(sorted(configured())) or "none"
        raise InvalidJob("limit", f"unknown limit {limit!r}; DJANGO_JOBS['LIMITS'] has: {names}")
    return limit


def names_schema() -> dict[str, Any]:
    """The OpenAPI keywords of a ``limit`` field: the configured names, or ""."""
    return {"enum": ["", *sorted(configured())]}


def clean(handler_name: str, limit: str | None, limit_key: str | None) -> tuple[str, str]:
    """The (limit, limit_key) a new job carries; ``InvalidJob`` for a bad one.

    ``limit`` None takes the handler's (``@handler(..., limit=...)``); "" asks for none.
    """
    from .registry import registry

    if limit is None:
        limit = registry.limit_of(handler_name)
    if not isinstance(limit, str):
        raise InvalidJob("limit", "limit must be the name of a limit of DJANGO_JOBS['LIMITS']")
    if limit_key is not None and not isinstance(limit_key, str):
        raise InvalidJob("limit_key", "limit_key must be a string")
    key = limit_key or ""
    if len(key) > MAX_KEY:
        raise InvalidJob("limit_key", f"limit_key is at most {MAX_KEY} characters")
    if not limit:
        if key:
            raise InvalidJob("limit_key", "limit_key needs a limit (the job's or its handler's)")
        return "", ""
    return clean_name(limit), key


# The claim's second pass ---------------------------------------------------------


def claim(
    worker: Worker, queues: Sequence[str] | None, free: int, now: datetime, using: str
) -> list[Claimed]:
    """Claim up to ``free`` limited jobs, never more than their limits allow."""
    return claim_pass(worker, queues, free, now, using)[0]


def claim_pass(
    worker: Worker, queues: Sequence[str] | None, free: int, now: datetime, using: str
) -> tuple[list[Claimed], datetime | None]:
    """``claim``, and the soonest instant a rate whose window is full lets a job start.

    The worker sleeps no longer than until then, so a rate is used, not just kept.
    """
    from .engines.claiming import after_claim

    limits = configured()
    if free <= 0 or not limits:
        return [], None
    engine, batch, opens = for_alias(using), [], None
    for name, key in _candidates(limits, queues, now, using):
        if free <= 0:
            break
        with transaction.atomic(using=using):
            limit = limits.get(name)
            opening = None
            if limit is None:  # a name no longer configured: not held back
                room = free
            elif engine.lock_limit(name, key, now):
                room, left, oldest = _room(limit, key, now, using)
                room = min(free, room)
            else:
                continue  # another worker is claiming this key right now
            got = engine.claim_limited(worker, queues, name, key, room, now) if room > 0 else []
            if got and limit is not None and limit.rate:
                LimitStart.objects.using(using).create(
                    limit=name, key=key, started_at=now, count=len(got)
                )
            if limit is not None and limit.window and left is not None and left <= len(got):
                opening = (oldest or now) + limit.window
                opens = opening if opens is None else min(opens, opening)
        batch += got
        free -= len(got)
    return after_claim(batch, now, using), opens


def _candidates(
    limits: Mapping[str, Limit], queues: Sequence[str] | None, now: datetime, using: str
) -> list[tuple[str, str]]:
    """(limit, key) groups with due jobs, most urgent first, skipping those full for certain.

    A group whose running jobs already fill its concurrency is left out without
    a lock: that count can only be too high (jobs finish), never too low, since
    new runs of the group start only under its lock.
    """
    groups = for_alias(using).limit_groups(queues, now, GROUPS_PER_PASS)
    return [
        (name, key)
        for name, key, running in groups
        if name not in limits
        or limits[name].concurrency is None
        or running < limits[name].concurrency  # type: ignore[operator]
    ]


def _room(
    limit: Limit, key: str, now: datetime, using: str
) -> tuple[int, int | None, datetime | None]:
    """How many jobs of (limit, key) may start now; read under the key's lock.

    Also the starts its rate has left (None without a rate) and the oldest
    start in its window (None when none is).
    """
    room = left = oldest = None
    if limit.concurrency is not None:
        running = (
            Job.objects.using(using)
            .filter(status=JobStatus.RUNNING, limit=limit.name, limit_key=key)
            .count()
        )
        room = limit.concurrency - running
    if limit.rate and limit.window:
        starts = LimitStart.objects.using(using).filter(limit=limit.name, key=key)
        since = now - limit.window
        starts.filter(started_at__lte=since).delete()
        window = starts.filter(started_at__gt=since).aggregate(
            n=Sum("count"), oldest=Min("started_at")
        )
        left, oldest = limit.rate - (window["n"] or 0), window["oldest"]
        room = left if room is None else min(room, left)
    return max(0, room or 0), left, oldest


# What the API and the admin show --------------------------------------------------


def usage(now: datetime, using: str) -> list[dict[str, Any]]:
    """Each configured limit with its use: running, starts in its window, jobs waiting."""
    limits = configured()
    if not limits:
        return []
    names = set(limits)
    running = for_alias(using).running_limited(names)
    waiting_rows = (
        Job.objects.using(using)
        .filter(status=JobStatus.PENDING, limit__in=names)
        .values_list("limit", "limit_key")
        .annotate(n=Count("id"), due=Count("id", filter=_due(now)))
        .order_by()
    )
    waiting = {(name, key): (n, due) for name, key, n, due in waiting_rows}
    starts: dict[tuple[str, str], int] = {}
    for limit in limits.values():
        if limit.window:
            rows = (
                LimitStart.objects.using(using)
                .filter(limit=limit.name, started_at__gt=now - limit.window)
                .values_list("key")
                .annotate(n=Sum("count"))
                .order_by()
            )
            starts.update({(limit.name, key): n for key, n in rows})
    answer = []
    for name in sorted(limits):
        limit = limits[name]
        keys = sorted({k for n, k in [*running, *waiting, *starts] if n == name})
        per_key = [
            {
                "key": key,
                "running": running.get((name, key), 0),
                "started_in_window": starts.get((name, key), 0) if limit.window else None,
                "waiting": waiting.get((name, key), (0, 0))[0],
                "due": waiting.get((name, key), (0, 0))[1],
            }
            for key in keys
        ]
        answer.append(
            {
                **limit.describe(),
                "running": sum(k["running"] for k in per_key),
                "started_in_window": (
                    sum(k["started_in_window"] for k in per_key) if limit.window else None
                ),
                "waiting": sum(k["waiting"] for k in per_key),
                "due": sum(k["due"] for k in per_key),
                "keys": per_key,
            }
        )
    return answer


def _due(now: datetime) -> Q:
    return Q(next_run_at__lte=now, paused=False)
