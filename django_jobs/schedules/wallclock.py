"""Wall-clock times turned into instants, with cronie's daylight-saving rules.

A *wildcard* job follows the real clock: local times skipped when clocks go forward do
not happen, and local times repeated when clocks go back happen twice. A *fixed-time* job
runs once at the first instant after a gap, and only the first time in a repeated hour.
"""

from __future__ import annotations

from datetime import datetime, timedelta, tzinfo

from .zones import UTC

_SECOND = timedelta(seconds=1)


def _utc(naive_utc: datetime) -> datetime:
    return naive_utc.replace(tzinfo=UTC)


def _offsets(naive: datetime, zone: tzinfo) -> tuple[timedelta, timedelta]:
    """UTC offsets of a wall time read before (fold=0) and after (fold=1) a transition."""
    early = naive.replace(tzinfo=zone, fold=0).utcoffset()
    late = naive.replace(tzinfo=zone, fold=1).utcoffset()
    assert early is not None and late is not None
    return early, late


def repeat_width(naive: datetime, zone: tzinfo) -> timedelta:
    """How long the clocks went back by, if this wall time happens twice; else zero."""
    early, late = _offsets(naive, zone)
    return max(early - late, timedelta(0))


def _gap_end(naive: datetime, zone: tzinfo, early: timedelta, late: timedelta) -> datetime:
    """The instant the clocks jumped forward over the skipped wall time ``naive``."""
    before = naive - late  # earlier than the jump: still on the old offset
    after = naive - early  # at or later than the jump: on the new offset
    while after - before > _SECOND:
        middle = before + _SECOND * ((after - before) // _SECOND // 2)
        if _utc(middle).astimezone(zone).utcoffset() == early:
            before = middle
        else:
            after = middle
    return _utc(after)


def firing_instants(naive: datetime, zone: tzinfo, wildcard: bool) -> list[datetime]:
    """The instants at which a job matching local wall time ``naive`` runs (cronie's rules)."""
    early, late = _offsets(naive, zone)
    if early == late:
        return [_utc(naive - early)]
    if early > late:  # clocks went back: the wall time happens twice
        first = _utc(naive - early)
        return [first, _utc(naive - late)] if wildcard else [first]
    # Clocks went forward: the wall time never happens.
    return [] if wildcard else [_gap_end(naive, zone, early, late)]
