"""Unit tests for schedule parsing and run-time computation (no database, no settings)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from croniter import croniter

from django_jobs.schedules import (
    CronSchedule,
    IntervalSchedule,
    InvalidSchedule,
    parse_schedule,
    validate_timezone,
)

pytestmark = []

UTC = timezone.utc


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def runs(expr: str, tz: str, after: datetime, count: int) -> list[datetime]:
    return parse_schedule(expr, tz).next_runs(after, count)


# Intervals


@pytest.mark.parametrize(
    ("expr", "seconds"),
    [
        ("1s", 1),
        ("30s", 30),
        ("5m", 300),
        ("90m", 5400),
        ("2h", 7200),
        ("1d", 86400),
        ("365d", 365 * 86400),
        ("8760h", 365 * 86400),
        ("31536000s", 365 * 86400),
    ],
)
def test_interval_parses(expr: str, seconds: int) -> None:
    schedule = parse_schedule(expr, "UTC")
    assert isinstance(schedule, IntervalSchedule)
    assert schedule.is_interval is True
    assert schedule.is_wildcard_time is False
    assert schedule.expression == expr
    assert schedule.timezone == "UTC"
    assert schedule.interval == timedelta(seconds=seconds)
    assert schedule.next_after(utc(2024, 1, 1)) == utc(2024, 1, 1) + timedelta(seconds=seconds)


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        ("5 m", "expected an interval such as 30s, 5m, 2h or 1d"),
        ("-5m", "expected an interval"),
        ("+5m", "expected an interval"),
        (" 5m", "expected an interval"),
        ("5m ", "expected an interval"),
        ("5m\n", "expected an interval"),
        ("\u0665m", "expected an interval"),  # Arabic-Indic digit five
        ("\uff15m", "expected an interval"),  # fullwidth digit five
        ("5.5m", "expected an interval"),
        ("m", "expected an interval"),
        ("5", "expected an interval"),
        ("*", "expected an interval"),
        ("0s", "at least 1 second"),
        ("00m", "at least 1 second"),
        ("05m", "must not start with 0"),
        ("366d", "at most 365 days"),
        ("8761h", "at most 365 days"),
        ("31536001s", "at most 365 days"),
        ("9" * 5000 + "s", "at most 365 days"),
        ("5w", "unknown interval unit 'w'"),
        ("5M", "unknown interval unit 'M'"),
        ("5min", "unknown interval unit 'min'"),
    ],
)
def test_interval_rejected(expr: str, message: str) -> None:
    with pytest.raises(InvalidSchedule, match=message):
        parse_schedule(expr, "UTC")


@pytest.mark.parametrize("expr", ["", "   ", "\n", None, 5, b"5m", ["5m"]])
def test_empty_or_non_string_rejected(expr: object) -> None:
    with pytest.raises(InvalidSchedule) as info:
        parse_schedule(expr, "UTC")  # type: ignore[arg-type]
    assert isinstance(info.value, ValueError)
    assert str(info.value)


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("1s", "every second"),
        ("10s", "every 10 seconds"),
        ("1m", "every minute"),
        ("5m", "every 5 minutes"),
        ("1h", "every hour"),
        ("2h", "every 2 hours"),
        ("1d", "every day"),
        ("7d", "every 7 days"),
    ],
)
def test_interval_describe(expr: str, expected: str) -> None:
    assert parse_schedule(expr, "Europe/London").describe() == expected


def test_interval_next_after_returns_utc_and_keeps_the_instant() -> None:
    after = datetime(2024, 11, 3, 1, 30, tzinfo=ZoneInfo("America/New_York"))  # 05:30 UTC
    result = parse_schedule("1h", "UTC").next_after(after)
    assert result == utc(2024, 11, 3, 6, 30)
    assert result.tzinfo is UTC


# Anchored interval slots


@pytest.mark.parametrize(
    ("expr", "anchor", "after", "expected"),
    [
        ("10m", utc(2024, 1, 1, 0, 0, 7), utc(2024, 1, 1, 5, 3), utc(2024, 1, 1, 5, 10, 7)),
        # exactly on a slot: strictly after, so the following slot
        ("10m", utc(2024, 1, 1, 0, 0, 7), utc(2024, 1, 1, 5, 10, 7), utc(2024, 1, 1, 5, 20, 7)),
        # just before a slot
        (
            "10m",
            utc(2024, 1, 1, 0, 0, 7),
            utc(2024, 1, 1, 5, 10, 6, 999999),
            utc(2024, 1, 1, 5, 10, 7),
        ),
        ("7s", utc(2024, 1, 1), utc(2024, 1, 1, 0, 1), utc(2024, 1, 1, 0, 1, 3)),
        # many steps later
        ("1d", utc(2000, 1, 1, 0, 0, 30), utc(2024, 6, 15, 12), utc(2024, 6, 16, 0, 0, 30)),
        # at the anchor itself: one interval later
        ("1h", utc(2024, 1, 1, 12), utc(2024, 1, 1, 12), utc(2024, 1, 1, 13)),
        # before the anchor: k may be zero or negative
        ("1h", utc(2024, 1, 1, 12), utc(2024, 1, 1, 11, 45), utc(2024, 1, 1, 12)),
        ("1h", utc(2024, 1, 1, 12), utc(2024, 1, 1, 10, 30), utc(2024, 1, 1, 11)),
    ],
)
def test_interval_next_slot_is_aligned_to_anchor(
    expr: str, anchor: datetime, after: datetime, expected: datetime
) -> None:
    assert parse_schedule(expr, "UTC").next_slot(after, anchor=anchor) == expected


def test_interval_next_slot_counts_real_time_across_a_fall_back() -> None:
    new_york = ZoneInfo("America/New_York")
    anchor = datetime(2024, 11, 3, 0, 0, tzinfo=new_york)  # 04:00 UTC
    after = datetime(2024, 11, 3, 1, 30, fold=1, tzinfo=new_york)  # 06:30 UTC
    result = parse_schedule("1h", "America/New_York").next_slot(after, anchor=anchor)
    assert result == utc(2024, 11, 3, 7, 0)
    assert result.tzinfo is UTC


def test_interval_next_slot_without_anchor_is_next_after() -> None:
    schedule = parse_schedule("15m", "UTC")
    assert schedule.next_slot(utc(2024, 1, 1, 0, 1)) == utc(2024, 1, 1, 0, 16)


def test_interval_next_runs_with_anchor() -> None:
    schedule = parse_schedule("15m", "UTC")
    assert schedule.next_runs(utc(2024, 1, 1, 0, 1), 3, anchor=utc(2024, 1, 1)) == [
        utc(2024, 1, 1, 0, 15),
        utc(2024, 1, 1, 0, 30),
        utc(2024, 1, 1, 0, 45),
    ]


def test_cron_next_slot_ignores_anchor() -> None:
    schedule = parse_schedule("0 * * * *", "UTC")
    assert schedule.next_slot(utc(2024, 1, 1, 0, 1), anchor=utc(2023, 5, 5, 0, 7)) == utc(
        2024, 1, 1, 1
    )


# Naive datetimes and counts


@pytest.mark.parametrize("expr", ["5m", "0 * * * *"])
def test_naive_datetime_rejected(expr: str) -> None:
    schedule = parse_schedule(expr, "UTC")
    with pytest.raises(ValueError, match="aware"):
        schedule.next_after(datetime(2024, 1, 1))
    with pytest.raises(ValueError, match="aware"):
        schedule.next_slot(datetime(2024, 1, 1), anchor=utc(2024, 1, 1))
    with pytest.raises(ValueError, match="aware"):
        schedule.next_runs(datetime(2024, 1, 1))


def test_naive_anchor_rejected() -> None:
    with pytest.raises(ValueError, match="anchor"):
        parse_schedule("5m", "UTC").next_slot(utc(2024, 1, 1), anchor=datetime(2024, 1, 1))


def test_next_runs_count() -> None:
    schedule = parse_schedule("0 0 * * *", "UTC")
    assert schedule.next_runs(utc(2024, 1, 1)) == [utc(2024, 1, day) for day in range(2, 7)]
    assert schedule.next_runs(utc(2024, 1, 1), 0) == []
    with pytest.raises(ValueError):
        schedule.next_runs(utc(2024, 1, 1), -1)


# Time zones


def test_validate_timezone() -> None:
    assert validate_timezone("Europe/London") == "Europe/London"
    assert validate_timezone("UTC") == "UTC"


@pytest.mark.parametrize("name", ["Mars/Base", "", "America", "../etc/passwd", "/etc/localtime"])
def test_validate_timezone_rejects(name: str) -> None:
    with pytest.raises(InvalidSchedule, match="unknown time zone"):
        validate_timezone(name)


@pytest.mark.parametrize("expr", ["5m", "0 0 * * *"])
def test_unknown_time_zone_rejected(expr: str) -> None:
    with pytest.raises(InvalidSchedule, match="unknown time zone 'Mars/Base'"):
        parse_schedule(expr, "Mars/Base")


@pytest.mark.parametrize(
    ("tz", "name"),
    [
        ("Europe/London", "Europe/London"),
        (ZoneInfo("Europe/London"), "Europe/London"),
        (timezone.utc, "UTC"),
    ],
)
def test_time_zone_forms(tz: object, name: str) -> None:
    schedule = parse_schedule("0 12 * * *", tz)  # type: ignore[arg-type]
    assert schedule.timezone == name
    # 12:00 in London in summer is 11:00 UTC; in UTC it is 12:00
    expected = utc(2024, 7, 1, 11) if name == "Europe/London" else utc(2024, 7, 1, 12)
    assert schedule.next_after(utc(2024, 7, 1)) == expected


def test_fixed_offset_time_zone_rejected() -> None:
    with pytest.raises(InvalidSchedule, match="time zone must be a name"):
        parse_schedule("0 12 * * *", timezone(timedelta(hours=2)))


def test_default_time_zone() -> None:
    from django.conf import settings

    expected = (settings.TIME_ZONE or "UTC") if settings.configured else "UTC"
    assert parse_schedule("0 0 * * *").timezone == expected


# Cron parsing


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        ("61 * * * *", "minute must be 0-59, got 61"),
        ("60 * * * *", "minute must be 0-59, got 60"),
        ("* 24 * * *", "hour must be 0-23, got 24"),
        ("0 0 0 * *", "day-of-month must be 1-31"),
        ("0 0 32 * *", "day-of-month must be 1-31"),
        ("0 0 * 0 *", "month must be 1-12 or JAN-DEC, got 0"),
        ("0 0 * 13 *", "month must be 1-12 or JAN-DEC, got 13"),
        ("0 0 * FOO *", "month must be 1-12 or JAN-DEC, got 'FOO'"),
        ("0 0 * * 8", "day-of-week must be 0-7 or SUN-SAT, got 8"),
        ("0 0 * * FUNDAY", "day-of-week must be 0-7 or SUN-SAT, got 'FUNDAY'"),
        ("0 MON * * *", "hour must be 0-23, got 'MON'"),
        ("0 0 * JAN-MON *", "month must be 1-12 or JAN-DEC, got 'MON'"),
        ("x * * * *", "minute must be 0-59, got 'X'"),
        ("-1 * * * *", "minute must be 0-59"),
        ("\uff15 * * * *", "minute must be 0-59"),
        ("99999999999 * * * *", "minute must be 0-59, got '99999999999'"),
        ("*/0 * * * *", "minute step must be at least 1"),
        ("0 1-5/0 * * *", "hour step must be at least 1"),
        ("*/x * * * *", "minute step must be a whole number"),
        ("*/ * * * *", "minute step must be a whole number"),
        ("*/5/2 * * * *", "minute step must be a whole number"),
        ("30-10 * * * *", "minute range '30-10' runs backwards"),
        ("0 22-2 * * *", "hour range '22-2' runs backwards"),
        ("0 0 * * FRI-MON", "day-of-week range 'FRI-MON' runs backwards"),
        ("0 0 * * 7-1", "day-of-week range '7-1' runs backwards"),
        ("1,,2 * * * *", "minute has an empty item"),
        ("1, * * * *", "minute has an empty item"),
        ("0 0 * * MON#6", "the number after '#' must be 1-5"),
        ("0 0 * * MON#0", "the number after '#' must be 1-5"),
        ("0 0 * * 1-5#2", "day-of-week must be 0-7 or SUN-SAT"),
        ("0 0 ? * *", "day-of-month must be 1-31"),
        ("0 0 L * L", "day-of-week must be 0-7"),
        ("* * * *", "expected 5 fields (minute hour day-of-month month day-of-week), got 4"),
        ("* * *", "expected 5 fields (minute hour day-of-month month day-of-week), got 3"),
        ("@reboot", "@reboot is not supported"),
        ("@every", "unknown nickname '@every'"),
        ("@daily 5", "unknown nickname"),
    ],
)
def test_cron_rejected_with_message(expr: str, message: str) -> None:
    with pytest.raises(InvalidSchedule, match=re.escape(message)):
        parse_schedule(expr, "UTC")


@pytest.mark.parametrize(
    ("expr", "count"),
    [("0 0 * * * *", 6), ("0 0 0 * * * 2024", 7), ("*/5 * * * * *", 6)],
)
def test_six_and_seven_fields_rejected(expr: str, count: int) -> None:
    with pytest.raises(InvalidSchedule) as info:
        parse_schedule(expr, "UTC")
    assert str(info.value) == (
        f"expected 5 fields (minute hour day-of-month month day-of-week), got {count}"
    )


@pytest.mark.parametrize(
    "expr",
    ["0 0 31 2 *", "0 0 30 2 *", "0 0 30,31 FEB *", "0 0 31 4,6,9,11 *", "0 0 31 APR-JUN/2 *"],
)
def test_never_fires_rejected(expr: str) -> None:
    with pytest.raises(InvalidSchedule, match="never runs"):
        parse_schedule(expr, "UTC")


@pytest.mark.parametrize(
    ("expr", "after", "expected"),
    [
        ("0 0 29 2 *", utc(2025, 1, 1), utc(2028, 2, 29)),
        # fifth Monday of February: only when 29 February is a Monday
        ("0 0 * 2 1#5", utc(2024, 3, 1), utc(2044, 2, 29)),
        # both day fields restricted: OR, so 31 February still runs on Mondays of February
        ("0 0 31 2 1", utc(2024, 1, 1), utc(2024, 2, 5)),
    ],
)
def test_rare_but_possible_schedules_accepted(
    expr: str, after: datetime, expected: datetime
) -> None:
    assert parse_schedule(expr, "UTC").next_after(after) == expected


@pytest.mark.parametrize(
    ("expr", "normalised"),
    [
        ("0 9 * * mon-fri", "0 9 * * MON-FRI"),
        ("  0   9\t*  * Mon  ", "0 9 * * MON"),
        ("0 0 l * *", "0 0 L * *"),
        ("@hourly", "0 * * * *"),
        ("@daily", "0 0 * * *"),
        ("@DAILY", "0 0 * * *"),
        ("@midnight", "0 0 * * *"),
        ("@weekly", "0 0 * * 0"),
        ("@monthly", "0 0 1 * *"),
        ("@yearly", "0 0 1 1 *"),
        ("@annually", "0 0 1 1 *"),
        (" @weekly ", "0 0 * * 0"),
    ],
)
def test_cron_expression_is_normalised(expr: str, normalised: str) -> None:
    schedule = parse_schedule(expr, "UTC")
    assert isinstance(schedule, CronSchedule)
    assert schedule.expression == normalised
    assert schedule.is_interval is False
    assert schedule.interval is None
    assert schedule.timezone == "UTC"


@pytest.mark.parametrize(
    ("nickname", "after", "expected"),
    [
        ("@hourly", utc(2024, 5, 17, 13, 27), utc(2024, 5, 17, 14)),
        ("@daily", utc(2024, 5, 17, 13, 27), utc(2024, 5, 18)),
        ("@midnight", utc(2024, 5, 17, 13, 27), utc(2024, 5, 18)),
        ("@weekly", utc(2024, 5, 17, 13, 27), utc(2024, 5, 19)),  # Sunday
        ("@monthly", utc(2024, 5, 17, 13, 27), utc(2024, 6, 1)),
        ("@yearly", utc(2024, 5, 17, 13, 27), utc(2025, 1, 1)),
        ("@annually", utc(2024, 5, 17, 13, 27), utc(2025, 1, 1)),
    ],
)
def test_nicknames(nickname: str, after: datetime, expected: datetime) -> None:
    assert parse_schedule(nickname, "UTC").next_after(after) == expected


@pytest.mark.parametrize(
    ("expr", "wildcard"),
    [
        ("* * * * *", True),
        ("*/15 * * * *", True),
        ("5 * * * *", True),
        ("* 2 * * *", True),
        ("*/2 3 * * *", True),
        ("@hourly", True),
        ("0 0 * * *", False),
        ("30 2 * * *", False),
        ("0-59 0-23 * * *", False),
        ("0 */2 * * *", True),
        ("0,30 1,2 * * *", False),
        ("@daily", False),
    ],
)
def test_is_wildcard_time(expr: str, wildcard: bool) -> None:
    assert parse_schedule(expr, "UTC").is_wildcard_time is wildcard


@pytest.mark.parametrize(
    ("expr", "after", "expected"),
    [
        # names, case-insensitive
        ("0 9 * * mon", utc(2024, 5, 17), [utc(2024, 5, 20, 9), utc(2024, 5, 27, 9)]),
        ("0 9 * * Sun", utc(2024, 5, 17), [utc(2024, 5, 19, 9), utc(2024, 5, 26, 9)]),
        ("0 0 1 jan,Jul *", utc(2024, 5, 17), [utc(2024, 7, 1), utc(2025, 1, 1)]),
        ("0 0 1 JAN-MAR *", utc(2024, 1, 15), [utc(2024, 2, 1), utc(2024, 3, 1)]),
        # 7 is Sunday, like 0
        ("0 0 * * 7", utc(2024, 5, 17), [utc(2024, 5, 19), utc(2024, 5, 26)]),
        ("0 0 * * 5-7", utc(2024, 5, 16), [utc(2024, 5, 17), utc(2024, 5, 18)]),
        # ranges, lists and steps
        ("*/20 * * * *", utc(2024, 1, 1, 0, 50), [utc(2024, 1, 1, 1), utc(2024, 1, 1, 1, 20)]),
        (
            "1-30/10 * * * *",
            utc(2024, 1, 1, 0, 25),
            [utc(2024, 1, 1, 1, 1), utc(2024, 1, 1, 1, 11)],
        ),
        ("0 8-10,14 * * *", utc(2024, 1, 1, 10), [utc(2024, 1, 1, 14), utc(2024, 1, 2, 8)]),
        ("0 0 * * 1-7/2", utc(2024, 5, 13), [utc(2024, 5, 15), utc(2024, 5, 17)]),
        ("0 0 * * */3", utc(2024, 5, 13), [utc(2024, 5, 15), utc(2024, 5, 18)]),
        ("0 0 * * */90", utc(2024, 5, 13), [utc(2024, 5, 19), utc(2024, 5, 26)]),
        # L: last day of the month
        ("0 0 L * *", utc(2024, 1, 31), [utc(2024, 2, 29), utc(2024, 3, 31)]),
        ("0 0 L 2 *", utc(2025, 1, 1), [utc(2025, 2, 28), utc(2026, 2, 28)]),
        ("0 0 15,L * *", utc(2024, 4, 1), [utc(2024, 4, 15), utc(2024, 4, 30)]),
        # weekday#n: n-th weekday of the month
        ("0 0 * * MON#2", utc(2024, 5, 1), [utc(2024, 5, 13), utc(2024, 6, 10)]),
        ("0 0 * * 5#3", utc(2024, 5, 1), [utc(2024, 5, 17), utc(2024, 6, 21)]),
        ("0 0 * * 0#5", utc(2024, 5, 1), [utc(2024, 6, 30), utc(2024, 9, 29)]),
        ("0 0 * * 7#1,1#1", utc(2024, 5, 1), [utc(2024, 5, 5), utc(2024, 5, 6)]),
    ],
)
def test_cron_field_syntax(expr: str, after: datetime, expected: list[datetime]) -> None:
    assert runs(expr, "UTC", after, len(expected)) == expected


@pytest.mark.parametrize(
    "expr",
    [
        "*/5 * * * *",
        "1-30/7 */3 * * *",
        "0 8-10,14 * JAN,mar-may *",
        "15,45 0-23/6 * */2 *",
        "0 0 * * MON-FRI",
        "0 0 * * 5-7",
        "0 0 * * 1-7/2",
        "0 12 * 2-11/3 SAT,sun",
    ],
)
def test_time_fields_expand_like_croniter(expr: str) -> None:
    schedule = parse_schedule(expr, "UTC")
    assert isinstance(schedule, CronSchedule)
    expanded = croniter.expand(expr)[0]

    def values(index: int, low: int, high: int) -> set[int]:
        field = expanded[index]
        return set(range(low, high + 1)) if field == ["*"] else set(field)

    assert set(schedule.fields.minutes) == values(0, 0, 59)
    assert set(schedule.fields.hours) == values(1, 0, 23)
    assert set(schedule.fields.months) == values(3, 1, 12)
    assert set(schedule.fields.weekdays) == {day % 7 for day in values(4, 0, 6)}


@pytest.mark.parametrize(
    "expr",
    [
        "0 0 1-15/2,20 * *",
        "0 0 */2 * 1-5",
        "0 0 L * *",
        "0 0 15,L * SUN",
        "0 0 * * MON#2",
        "0 0 * * 7#1,1#1",
        "0 0 * * fri#5,fri#1",
    ],
)
def test_day_fields_expand_like_croniter(expr: str) -> None:
    schedule = parse_schedule(expr, "UTC")
    assert isinstance(schedule, CronSchedule)
    expanded, nth = croniter.expand(expr)
    days = expanded[2]
    numbers = {day for day in days if day != "l"}
    assert set(schedule.fields.days) == (set(range(1, 32)) if numbers == {"*"} else numbers)
    assert schedule.fields.last_day is ("l" in days)
    pairs = {(day, week) for day, weeks in nth.items() for week in weeks}
    assert schedule.fields.nth_weekdays == pairs
    weekdays = set(range(7)) if expanded[4] == ["*"] else set(expanded[4])
    assert set(schedule.fields.weekdays) == (set() if pairs else weekdays)


@pytest.mark.parametrize(
    ("expr", "after", "expected"),
    [
        # a one-value range is that value (croniter widens 5-5 to the whole field)
        ("5-5 * * * *", utc(2024, 1, 1), [utc(2024, 1, 1, 0, 5), utc(2024, 1, 1, 1, 5)]),
        ("0 0 * * 7-7/3", utc(2024, 5, 13), [utc(2024, 5, 19), utc(2024, 5, 26)]),
        # L is not one more day (croniter reads 2-31,L as every day, the 1st included)
        ("0 0 2-31,L * *", utc(2024, 4, 30, 1), [utc(2024, 5, 2), utc(2024, 5, 3)]),
        # plain weekdays and weekday#n in one field (croniter refuses or merges them)
        ("0 0 * * 5,1#1", utc(2024, 5, 1), [utc(2024, 5, 3), utc(2024, 5, 6), utc(2024, 5, 10)]),
        ("0 0 * * 1,1#1", utc(2024, 5, 1), [utc(2024, 5, 6), utc(2024, 5, 13)]),
        # * inside a list still covers the whole field
        ("0 0 1 *,7 *", utc(2024, 1, 15), [utc(2024, 2, 1), utc(2024, 3, 1)]),
    ],
)
def test_cronie_reading_where_croniter_differs(
    expr: str, after: datetime, expected: list[datetime]
) -> None:
    assert runs(expr, "UTC", after, len(expected)) == expected


# Day-of-month and day-of-week: OR when both restricted, AND when either starts with '*'


@pytest.mark.parametrize(
    ("expr", "after", "expected"),
    [
        # October 2024 starts on a Tuesday; the 13th is a Sunday.
        # Both restricted: the 13th OR any Friday.
        (
            "0 0 13 * 5",
            utc(2024, 10, 1),
            [utc(2024, 10, 4), utc(2024, 10, 11), utc(2024, 10, 13), utc(2024, 10, 18)],
        ),
        # Day-of-month starts with '*': odd days that are also Fridays.
        (
            "0 0 */2 * 5",
            utc(2024, 10, 1),
            [utc(2024, 10, 11), utc(2024, 10, 25), utc(2024, 11, 1), utc(2024, 11, 15)],
        ),
        # Odd days that are Mondays: not 14 or 28 October, not 4 or 18 November.
        (
            "0 0 */2 * 1",
            utc(2024, 10, 1),
            [utc(2024, 10, 7), utc(2024, 10, 21), utc(2024, 11, 11), utc(2024, 11, 25)],
        ),
        # Day-of-week starts with '*': the 13th that is also an even weekday number.
        ("0 0 13 * */2", utc(2024, 10, 1), [utc(2024, 10, 13), utc(2025, 2, 13)]),
        # Day-of-month '*': plain Mondays.
        ("*/30 0 * * 1", utc(2024, 10, 1), [utc(2024, 10, 7), utc(2024, 10, 7, 0, 30)]),
        # '1-31' does not start with '*': OR with Monday, so every day.
        ("0 0 1-31 * 1", utc(2024, 10, 1), [utc(2024, 10, 2), utc(2024, 10, 3)]),
        # Day-of-week '*': the 1st only.
        ("0 0 1 * *", utc(2024, 10, 1), [utc(2024, 11, 1), utc(2024, 12, 1)]),
        # OR with L and with weekday#n.
        (
            "0 0 L * 1#1",
            utc(2024, 10, 1),
            [utc(2024, 10, 7), utc(2024, 10, 31), utc(2024, 11, 4), utc(2024, 11, 30)],
        ),
    ],
)
def test_day_of_month_and_day_of_week(expr: str, after: datetime, expected: list[datetime]) -> None:
    assert runs(expr, "UTC", after, len(expected)) == expected


# next_after is strictly after and returns UTC


@pytest.mark.parametrize(
    ("after", "expected"),
    [
        (utc(2024, 1, 1, 10), utc(2024, 1, 1, 11)),
        (utc(2024, 1, 1, 9, 59, 59, 999999), utc(2024, 1, 1, 10)),
        (utc(2024, 1, 1, 10, 0, 0, 1), utc(2024, 1, 1, 11)),
        (utc(2024, 12, 31, 23, 30), utc(2025, 1, 1)),
    ],
)
def test_cron_next_after_is_strictly_after(after: datetime, expected: datetime) -> None:
    assert parse_schedule("0 * * * *", "UTC").next_after(after) == expected


def test_cron_result_is_utc_whatever_the_input_zone() -> None:
    tokyo = ZoneInfo("Asia/Tokyo")
    result = parse_schedule("0 9 * * *", "Europe/Paris").next_after(
        datetime(2024, 1, 1, 12, tzinfo=tokyo)  # 03:00 UTC, 04:00 in Paris
    )
    assert result == utc(2024, 1, 1, 8)
    assert result.tzinfo is UTC


def test_cron_in_half_hour_zone() -> None:
    # India is UTC+05:30 all year.
    assert runs("0 * * * *", "Asia/Kolkata", utc(2024, 1, 1, 0, 10), 2) == [
        utc(2024, 1, 1, 0, 30),
        utc(2024, 1, 1, 1, 30),
    ]


# describe()


@pytest.mark.parametrize(
    ("expr", "tz", "expected"),
    [
        ("*/5 * * * *", "UTC", "every 5 minutes"),
        ("* * * * *", "UTC", "every minute"),
        ("*/7 * * * *", "UTC", "every 7th minute"),
        ("0 0 * * *", "UTC", "every day at 00:00"),
        ("@daily", "UTC", "every day at 00:00"),
        ("30 2 * * *", "Europe/London", "every day at 02:30 (Europe/London)"),
        ("0 9,17 * * *", "UTC", "every day at 09:00 and 17:00"),
        ("0 9 * * 1", "UTC", "at 09:00 on Monday"),
        ("0 9 * * MON,WED,FRI", "UTC", "at 09:00 on Monday, Wednesday and Friday"),
        ("0 9 * * 0,6", "UTC", "at 09:00 on Saturday and Sunday"),
        ("0 9 * * MON-FRI", "America/New_York", "at 09:00 on weekdays (America/New_York)"),
        ("0 9 * * MON#2", "UTC", "at 09:00 on the 2nd Monday of every month"),
        ("0 0 1 * *", "UTC", "at 00:00 on day 1 of every month"),
        ("0 0 1,15 * *", "UTC", "at 00:00 on days 1 and 15 of every month"),
        ("0 0 L * *", "UTC", "at 00:00 on the last day of every month"),
        ("0 0 1 1 *", "UTC", "at 00:00 on 1 January"),
        ("0 * * * *", "UTC", "at minute 0 of every hour"),
        ("@hourly", "Asia/Kolkata", "at minute 0 of every hour (Asia/Kolkata)"),
        ("15 */2 * * *", "UTC", "every 2 hours at minute 15"),
        ("0 */5 * * *", "UTC", "at minute 0 of every 5th hour"),
        ("0 0 */2 * 1", "Europe/London", "cron '0 0 */2 * 1' in Europe/London"),
        ("0 0 13 * 5", "UTC", "cron '0 0 13 * 5' in UTC"),
        ("1-5 * * * *", "UTC", "cron '1-5 * * * *' in UTC"),
    ],
)
def test_cron_describe(expr: str, tz: str, expected: str) -> None:
    assert parse_schedule(expr, tz).describe() == expected


# Daylight saving time, with the transitions written out:
#   America/New_York   2024-03-10 02:00 EST -> 03:00 EDT at 07:00 UTC
#                      2024-11-03 02:00 EDT -> 01:00 EST at 06:00 UTC
#   Europe/London      2024-03-31 01:00 GMT -> 02:00 BST at 01:00 UTC
#                      2024-10-27 02:00 BST -> 01:00 GMT at 01:00 UTC
#   Australia/Sydney   2024-04-07 03:00 AEDT -> 02:00 AEST at 16:00 UTC on 6 April
#                      2024-10-06 02:00 AEST -> 03:00 AEDT at 16:00 UTC on 5 October
#   Australia/Lord_Howe 2024-04-07 02:00 +11 -> 01:30 +10:30 at 15:00 UTC on 6 April
#                      2024-10-06 02:00 +10:30 -> 02:30 +11 at 15:30 UTC on 5 October

DST_CASES = [
    # New York, spring forward: 02:00-02:59 does not exist.
    (
        "30 2 * * *",
        "America/New_York",
        utc(2024, 3, 10, 6),
        [utc(2024, 3, 10, 7), utc(2024, 3, 11, 6, 30)],
    ),
    ("30 2 * * *", "America/New_York", utc(2024, 3, 9, 12), [utc(2024, 3, 10, 7)]),
    (
        "0,30 2 * * *",
        "America/New_York",
        utc(2024, 3, 10, 6),
        [utc(2024, 3, 10, 7), utc(2024, 3, 11, 6)],
    ),
    (
        "0 3 * * *",
        "America/New_York",
        utc(2024, 3, 10, 6),
        [utc(2024, 3, 10, 7), utc(2024, 3, 11, 7)],
    ),
    (
        "59 1 * * *",
        "America/New_York",
        utc(2024, 3, 10, 6),
        [utc(2024, 3, 10, 6, 59), utc(2024, 3, 11, 5, 59)],
    ),
    (
        "*/30 * * * *",
        "America/New_York",
        utc(2024, 3, 10, 6, 15),
        [utc(2024, 3, 10, 6, 30), utc(2024, 3, 10, 7), utc(2024, 3, 10, 7, 30)],
    ),
    ("30 * * * *", "America/New_York", utc(2024, 3, 10, 6, 45), [utc(2024, 3, 10, 7, 30)]),
    (
        "* 2 * * *",
        "America/New_York",
        utc(2024, 3, 10, 6),
        [utc(2024, 3, 11, 6), utc(2024, 3, 11, 6, 1)],
    ),
    # New York, fall back: 01:00-01:59 happens twice (05:00-05:59 and 06:00-06:59 UTC).
    (
        "30 1 * * *",
        "America/New_York",
        utc(2024, 11, 3, 4),
        [utc(2024, 11, 3, 5, 30), utc(2024, 11, 4, 6, 30)],
    ),
    ("30 1 * * *", "America/New_York", utc(2024, 11, 3, 6, 10), [utc(2024, 11, 4, 6, 30)]),
    ("0 1 * * *", "America/New_York", utc(2024, 11, 3, 5, 50), [utc(2024, 11, 4, 6)]),
    ("0 2 * * *", "America/New_York", utc(2024, 11, 3, 5), [utc(2024, 11, 3, 7)]),
    (
        "30 * * * *",
        "America/New_York",
        utc(2024, 11, 3, 5),
        [utc(2024, 11, 3, 5, 30), utc(2024, 11, 3, 6, 30), utc(2024, 11, 3, 7, 30)],
    ),
    (
        "0 * * * *",
        "America/New_York",
        utc(2024, 11, 3, 5, 50),
        [utc(2024, 11, 3, 6), utc(2024, 11, 3, 7)],
    ),
    (
        "*/15 * * * *",
        "America/New_York",
        utc(2024, 11, 3, 5, 40),
        [
            utc(2024, 11, 3, 5, 45),
            utc(2024, 11, 3, 6),
            utc(2024, 11, 3, 6, 15),
            utc(2024, 11, 3, 6, 30),
        ],
    ),
    (
        "* 1 * * *",
        "America/New_York",
        utc(2024, 11, 3, 5, 58, 30),
        [utc(2024, 11, 3, 5, 59), utc(2024, 11, 3, 6), utc(2024, 11, 3, 6, 1)],
    ),
    # London, spring forward: 01:00-01:59 does not exist.
    (
        "30 1 * * *",
        "Europe/London",
        utc(2024, 3, 31),
        [utc(2024, 3, 31, 1), utc(2024, 4, 1, 0, 30)],
    ),
    (
        "*/20 * * * *",
        "Europe/London",
        utc(2024, 3, 31, 0, 30),
        [utc(2024, 3, 31, 0, 40), utc(2024, 3, 31, 1), utc(2024, 3, 31, 1, 20)],
    ),
    ("30 * * * *", "Europe/London", utc(2024, 3, 31, 0, 30), [utc(2024, 3, 31, 1, 30)]),
    # London, fall back: 01:00-01:59 happens twice (00:00-00:59 and 01:00-01:59 UTC).
    (
        "30 1 * * *",
        "Europe/London",
        utc(2024, 10, 26, 23),
        [utc(2024, 10, 27, 0, 30), utc(2024, 10, 28, 1, 30)],
    ),
    (
        "30 * * * *",
        "Europe/London",
        utc(2024, 10, 27, 0, 30),
        [utc(2024, 10, 27, 1, 30), utc(2024, 10, 27, 2, 30)],
    ),
    # Sydney, fall back: 02:00-02:59 happens twice (15:00-15:59 and 16:00-16:59 UTC).
    (
        "30 2 * * *",
        "Australia/Sydney",
        utc(2024, 4, 6, 12),
        [utc(2024, 4, 6, 15, 30), utc(2024, 4, 7, 16, 30)],
    ),
    (
        "*/30 * * * *",
        "Australia/Sydney",
        utc(2024, 4, 6, 15, 45),
        [utc(2024, 4, 6, 16), utc(2024, 4, 6, 16, 30)],
    ),
    # Sydney, spring forward: 02:00-02:59 does not exist.
    (
        "30 2 * * *",
        "Australia/Sydney",
        utc(2024, 10, 5, 12),
        [utc(2024, 10, 5, 16), utc(2024, 10, 6, 15, 30)],
    ),
    ("30 * * * *", "Australia/Sydney", utc(2024, 10, 5, 15, 31), [utc(2024, 10, 5, 16, 30)]),
    # Lord Howe, fall back by 30 minutes: 01:30-01:59 happens twice (14:30-14:59, 15:00-15:29 UTC).
    (
        "45 1 * * *",
        "Australia/Lord_Howe",
        utc(2024, 4, 6, 12),
        [utc(2024, 4, 6, 14, 45), utc(2024, 4, 7, 15, 15)],
    ),
    (
        "*/15 * * * *",
        "Australia/Lord_Howe",
        utc(2024, 4, 6, 14, 20),
        [
            utc(2024, 4, 6, 14, 30),
            utc(2024, 4, 6, 14, 45),
            utc(2024, 4, 6, 15),
            utc(2024, 4, 6, 15, 15),
            utc(2024, 4, 6, 15, 30),
        ],
    ),
    ("*/15 * * * *", "Australia/Lord_Howe", utc(2024, 4, 6, 14, 50), [utc(2024, 4, 6, 15)]),
    (
        "45 * * * *",
        "Australia/Lord_Howe",
        utc(2024, 4, 6, 14, 45),
        [utc(2024, 4, 6, 15, 15), utc(2024, 4, 6, 16, 15)],
    ),
    # Lord Howe, spring forward by 30 minutes: 02:00-02:29 does not exist.
    (
        "15 2 * * *",
        "Australia/Lord_Howe",
        utc(2024, 10, 5, 12),
        [utc(2024, 10, 5, 15, 30), utc(2024, 10, 6, 15, 15)],
    ),
    ("45 2 * * *", "Australia/Lord_Howe", utc(2024, 10, 5, 12), [utc(2024, 10, 5, 15, 45)]),
    (
        "*/15 * * * *",
        "Australia/Lord_Howe",
        utc(2024, 10, 5, 15),
        [utc(2024, 10, 5, 15, 15), utc(2024, 10, 5, 15, 30), utc(2024, 10, 5, 15, 45)],
    ),
    ("15 * * * *", "Australia/Lord_Howe", utc(2024, 10, 5, 15), [utc(2024, 10, 5, 16, 15)]),
]


@pytest.mark.parametrize(("expr", "tz", "after", "expected"), DST_CASES)
def test_daylight_saving_transitions(
    expr: str, tz: str, after: datetime, expected: list[datetime]
) -> None:
    assert runs(expr, tz, after, len(expected)) == expected


# A brute-force model of cronie, minute by real minute, checks the same transitions.

TRANSITIONS = [
    ("America/New_York", utc(2024, 3, 10, 7)),
    ("America/New_York", utc(2024, 11, 3, 6)),
    ("Europe/London", utc(2024, 3, 31, 1)),
    ("Europe/London", utc(2024, 10, 27, 1)),
    ("Australia/Sydney", utc(2024, 4, 6, 16)),
    ("Australia/Sydney", utc(2024, 10, 5, 16)),
    ("Australia/Lord_Howe", utc(2024, 4, 6, 15)),
    ("Australia/Lord_Howe", utc(2024, 10, 5, 15, 30)),
]
MODEL_EXPRESSIONS = [
    "*/15 * * * *",
    "0 * * * *",
    "30 * * * *",
    "* 2 * * *",
    "0,30 1,2 * * *",
    "15,45 1-3 * * *",
    "0 3 * * *",
    "*/20 1-3 * * *",
]


def _model_matcher(expr: str):
    expanded = croniter.expand(expr)[0]
    minutes, hours = (set(expanded[0]), set(expanded[1]))
    minutes = set(range(60)) if minutes == {"*"} else minutes
    hours = set(range(24)) if hours == {"*"} else hours
    return lambda wall: wall.minute in minutes and wall.hour in hours


def _cronie_model(expr: str, tz: str, start: datetime, minutes: int) -> list[datetime]:
    """Walk real minutes; wildcard jobs follow the wall clock, fixed-time jobs catch up on
    skipped wall times and do not repeat when the wall clock goes back."""
    zone = ZoneInfo(tz)
    matches = _model_matcher(expr)
    wildcard = expr.split()[0].startswith("*") or expr.split()[1].startswith("*")
    fired = []
    previous = (start - timedelta(minutes=1)).astimezone(zone).replace(tzinfo=None)
    for step in range(minutes):
        instant = start + timedelta(minutes=step)
        local = instant.astimezone(zone)
        wall = local.replace(tzinfo=None, fold=0)
        if wildcard:
            fire = matches(wall)
        else:
            fire = matches(wall) and local.fold == 0
            skipped = previous + timedelta(minutes=1)
            while skipped < wall:
                fire = fire or matches(skipped)
                skipped += timedelta(minutes=1)
        if fire:
            fired.append(instant)
        previous = wall
    return fired


@pytest.mark.parametrize("expr", MODEL_EXPRESSIONS)
@pytest.mark.parametrize(("tz", "transition"), TRANSITIONS)
def test_daylight_saving_matches_a_minute_by_minute_model(
    expr: str, tz: str, transition: datetime
) -> None:
    zone = ZoneInfo(tz)
    start, end = transition - timedelta(hours=4), transition + timedelta(hours=4)
    assert start.astimezone(zone).utcoffset() != end.astimezone(zone).utcoffset()
    expected = _cronie_model(expr, tz, start, 8 * 60)
    schedule = parse_schedule(expr, tz)
    actual = []
    current = start - timedelta(seconds=1)
    while (current := schedule.next_after(current)) < end:
        actual.append(current)
    assert actual == expected
