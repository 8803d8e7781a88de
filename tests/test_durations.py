"""The one duration parser, as interval schedules and the pruning age read it (no database)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from django_jobs.pruning import parse_age
from django_jobs.schedules import InvalidSchedule, parse_duration, parse_schedule


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("45s", timedelta(seconds=45)),
        ("90m", timedelta(minutes=90)),
        ("12h", timedelta(hours=12)),
        ("30d", timedelta(days=30)),
        ("99999999s", timedelta(seconds=99999999)),
    ],
)
def test_parse_duration(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["30s", "5m", "2h", "1d", "365d", "8760h"])
def test_intervals_and_ages_read_the_same_text_the_same_way(text: str) -> None:
    interval = parse_schedule(text, "UTC").interval
    assert interval == parse_duration(text) == parse_age(text)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "expected a duration such as 30s"),
        ("5", "expected a duration such as 30s"),
        ("5w", "unknown duration unit 'w' in '5w'"),
        ("0s", "duration must be at least 1 second"),
        ("05m", "duration must not start with 0, got '05m'; write '5m'"),
        ("999999999s", "duration must be at most 99999999s"),
        (" 5m", "expected a duration"),
        ("\uff15m", "expected a duration"),
    ],
)
def test_parse_duration_rejects(text: str, message: str) -> None:
    with pytest.raises(InvalidSchedule, match=re.escape(message)):
        parse_duration(text)


def test_parse_duration_maximum_and_default_unit() -> None:
    assert parse_duration("7", default_unit="d") == timedelta(days=7)
    assert parse_duration("2d", maximum=timedelta(days=2)) == timedelta(days=2)
    with pytest.raises(InvalidSchedule, match="interval must be at most 2 days"):
        parse_duration("49h", what="interval", maximum=timedelta(days=2))


@pytest.mark.parametrize(
    ("text", "expected"),
    [("30d", timedelta(days=30)), ("7", timedelta(days=7)), (" 12h\n", timedelta(hours=12))],
)
def test_parse_age(text: str, expected: timedelta) -> None:
    assert parse_age(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("abc", "expected an age like 30d, 12h or 90m, got 'abc'"),
        ("1.5d", "expected an age like 30d, 12h or 90m"),
        ("3w", "unknown age unit 'w'"),
        ("0d", "age must be at least 1 second"),
        ("36501d", "age must be at most 36500 days"),
        ("99999999999", "age must be at most 36500 days"),
    ],
)
def test_parse_age_rejects_with_a_value_error(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        parse_age(text)
