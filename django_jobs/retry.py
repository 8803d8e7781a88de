"""The retry decision: pure functions of the attempt and a random source."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from .conf import jobs_settings


def backoff_delay(
    attempt: int,
    *,
    base: float,
    cap: float,
    jitter: bool = True,
    rand: random.Random | None = None,
) -> float:
    """Seconds to wait before the attempt after ``attempt`` (1-based).

    Exponential growth capped at ``cap``; "equal jitter" keeps at least half
    the delay so retries stay spread out without ever firing at once.
    """
    if attempt < 1:
        raise ValueError("attempt is 1-based")
    delay = min(cap, base * (2 ** min(attempt - 1, 62)))
    if not jitter:
        return delay
    rng = rand or random
    return delay / 2 + rng.uniform(0, delay / 2)


def retry_at(
    now: datetime, attempt: int, *, base: float, cap: float, jitter: bool = True
) -> datetime:
    return now + timedelta(seconds=backoff_delay(attempt, base=base, cap=cap, jitter=jitter))


def retry_at_configured(now: datetime, attempt: int) -> datetime:
    """``retry_at`` with the backoff settings of ``DJANGO_JOBS``."""
    return retry_at(
        now,
        attempt,
        base=float(jobs_settings.RETRY_BACKOFF_BASE),
        cap=float(jobs_settings.RETRY_BACKOFF_MAX),
        jitter=bool(jobs_settings.RETRY_JITTER),
    )
