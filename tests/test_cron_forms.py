"""The cron forms beyond cronie: W, LW, L-n, last given weekday, wrapping ranges, N/S.

Each form is checked against a small independent model of its meaning, month by month
over three years (2024 is a leap year; June 2024, February and March 2025, February and
March 2026 start on a weekend), from several starting instants. No database, no settings.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from django_jobs.schedules import CronSchedule, InvalidSchedule, parse_schedule

UTC = timezone.utc
FIRST_YEAR, LAST_YEAR = 2024, 2026
END = datetime(LAST_YEAR + 1, 1, 1, tzinfo=UTC)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def _month_days(year: int, month: int) -> list[date]:
    return [date(year, month, day) for day in range(1, calendar.monthrange(year, month)[1] + 1)]


def _weekdays(year: int, month: int) -> list[date]:
    """Monday to Friday days of the month."""
    return [day for day in _month_days(year, month) if day.weekday() < 5]


# Independent models: the days of one month each form names.


def nearest(target: int) -> Callable[[int, int], set[int]]:
    def days(year: int, month: int) -> set[int]:
        if target > calendar.monthrange(year, month)[1]:
            return set()
        best = min(_weekdays(year, month), key=lambda d: (abs(d.day - target), d.day))
        return {best.day}

    return days


def last_weekday(year: int, month: int) -> set[int]:
    return {_weekdays(year, month)[-1].day}


def before_last(count: int) -> Callable[[int, int], set[int]]:
    def days(year: int, month: int) -> set[int]:
        day = calendar.monthrange(year, month)[1] - count
        return {day} if day >= 1 else set()

    return days


def last_of(weekday: int) -> Callable[[int, int], set[int]]:
    """``weekday`` as Python numbers it (Monday 0)."""

    def days(year: int, month: int) -> set[int]:
        return {max(d.day for d in _month_days(year, month) if d.weekday() == weekday)}

    return days


def on_weekdays(*weekdays: int) -> Callable[[int, int], set[int]]:
    def days(year: int, month: int) -> set[int]:
        return {d.day for d in _month_days(year, month) if d.weekday() in weekdays}

    return days


def every(start: int, step: int) -> Callable[[int, int], set[int]]:
    def days(year: int, month: int) -> set[int]:
        length = calendar.monthrange(year, month)[1]
        return set(range(start, length + 1, step))

    return days


def union(*models: Callable[[int, int], set[int]]) -> Callable[[int, int], set[int]]:
    def days(year: int, month: int) -> set[int]:
        return set().union(*(model(year, month) for model in models))

    return days


FRIDAY, SATURDAY, SUNDAY = 4, 5, 6
FORMS = [
    ("0 0 15W * *", nearest(15)),
    ("0 0 1W * *", nearest(1)),
    ("0 0 2W * *", nearest(2)),
    ("0 0 30W * *", nearest(30)),
    ("0 0 31W * *", nearest(31)),
    ("0 0 LW * *", last_weekday),
    ("0 0 L-1 * *", before_last(1)),
    ("0 0 L-2 * *", before_last(2)),
    ("0 0 L-28 * *", before_last(28)),
    ("0 0 L-30 * *", before_last(30)),
    ("0 0 * * 5L", last_of(FRIDAY)),
    ("0 0 * * FRIL", last_of(FRIDAY)),
    ("0 0 * * L5", last_of(FRIDAY)),
    ("0 0 * * LFRI", last_of(FRIDAY)),
    ("0 0 * * 0L", last_of(SUNDAY)),
    ("0 0 * * 7L", last_of(SUNDAY)),
    ("0 0 * * FRI-SUN", on_weekdays(FRIDAY, SATURDAY, SUNDAY)),
    ("0 0 * * 5-0", on_weekdays(FRIDAY, SATURDAY, SUNDAY)),
    ("0 0 * * 6-0", on_weekdays(SATURDAY, SUNDAY)),
    ("0 0 * * 7-0", on_weekdays(SUNDAY)),
    ("0 0 * * 3-0/2", on_weekdays(2, FRIDAY, SUNDAY)),
    ("0 0 * * 1/2", on_weekdays(0, 2, FRIDAY, SUNDAY)),
    ("0 0 5/10 * *", every(5, 10)),
    ("0 0 29/2 * *", every(29, 2)),
    ("0 0 1W,15W,L * *", union(nearest(1), nearest(15), before_last(0))),
    ("0 0 LW,L-1 * *", union(last_weekday, before_last(1))),
    ("0 0 * * MON#1,5L", union(last_of(FRIDAY), lambda y, m: {min(on_weekdays(0)(y, m))})),
    ("0 0 * * 5L,SAT", union(last_of(FRIDAY), on_weekdays(SATURDAY))),
    # both day fields restricted: either matches (cronie's OR)
    ("0 0 15W * 5L", union(nearest(15), last_of(FRIDAY))),
    ("0 0 LW * 1", union(last_weekday, on_weekdays(0))),
]
NOWS = [utc(2023, 12, 31, 23, 59), utc(2024, 6, 2, 12), utc(2025, 2, 28), utc(2026, 3, 1)]


def _fires_until_end(expr: str, tz: str, now: datetime) -> list[datetime]:
    schedule = parse_schedule(expr, tz)
    fires: list[datetime] = []
    current = now
    while (current := schedule.next_after(current)) < END:
        fires.append(current)
    return fires


def _expected(model: Callable[[int, int], set[int]], hour: int, minute: int, tz: str, now):
    zone = ZoneInfo(tz)
    instants = [
        datetime(year, month, day, hour, minute, tzinfo=zone).astimezone(UTC)
        for year in range(FIRST_YEAR, LAST_YEAR + 2)  # local dates can run past END in UTC
        for month in range(1, 13)
        for day in sorted(model(year, month))
    ]
    return [instant for instant in instants if now < instant < END]


@pytest.mark.parametrize("now", NOWS)
@pytest.mark.parametrize(("expr", "model"), FORMS)
def test_each_form_runs_on_the_days_it_names(expr: str, model, now: datetime) -> None:
    assert _fires_until_end(expr, "UTC", now) == _expected(model, 0, 0, "UTC", now)


@pytest.mark.parametrize("now", NOWS[:2])
@pytest.mark.parametrize("tz", ["America/New_York", "Australia/Lord_Howe"])
@pytest.mark.parametrize(("expr", "model"), FORMS[::3])
def test_each_form_runs_on_the_wall_clock_of_its_zone(expr: str, model, tz: str, now) -> None:
    expr = "30 9 " + expr.split(" ", 2)[2]
    assert _fires_until_end(expr, tz, now) == _expected(model, 9, 30, tz, now)


@pytest.mark.parametrize(
    ("expr", "now", "expected"),
    [
        # 1 June 2024 is a Saturday: the nearest weekday in June is Monday the 3rd.
        ("0 0 1W * *", utc(2024, 5, 15), [utc(2024, 6, 3), utc(2024, 7, 1)]),
        # 31 March 2024 is a Sunday: the nearest weekday in March is Friday the 29th.
        ("0 0 31W * *", utc(2024, 3, 1), [utc(2024, 3, 29), utc(2024, 5, 31)]),
        # 15 June 2024 is a Saturday (Friday 14th); 15 September 2024 a Sunday (Monday 16th).
        ("0 0 15W 6,9 *", utc(2024, 1, 1), [utc(2024, 6, 14), utc(2024, 9, 16)]),
        # 28 February 2026 is a Saturday; 29 February 2024 a Thursday.
        ("0 0 LW 2 *", utc(2024, 1, 1), [utc(2024, 2, 29), utc(2025, 2, 28), utc(2026, 2, 27)]),
        ("0 0 L-1 2 *", utc(2024, 1, 1), [utc(2024, 2, 28), utc(2025, 2, 27)]),
        # The 30th before the last day only exists in 31-day months.
        ("0 0 L-30 * *", utc(2024, 1, 2), [utc(2024, 3, 1), utc(2024, 5, 1)]),
        ("0 9 * * 5L", utc(2024, 1, 1), [utc(2024, 1, 26, 9), utc(2024, 2, 23, 9)]),
        (
            "0 0 * * FRI-SUN",
            utc(2024, 5, 16),
            [utc(2024, 5, 17), utc(2024, 5, 18), utc(2024, 5, 19)],
        ),
        ("5/15 * * * *", utc(2024, 1, 1), [utc(2024, 1, 1, 0, 5), utc(2024, 1, 1, 0, 20)]),
        ("5/15 * * * *", utc(2024, 1, 1, 0, 50), [utc(2024, 1, 1, 1, 5)]),
        ("0 22/3 * * *", utc(2024, 1, 1, 1), [utc(2024, 1, 1, 22), utc(2024, 1, 2, 22)]),
        ("0 0 1 11/2 *", utc(2024, 1, 1), [utc(2024, 11, 1), utc(2025, 11, 1)]),
    ],
)
def test_named_instants(expr: str, now: datetime, expected: list[datetime]) -> None:
    assert parse_schedule(expr, "UTC").next_runs(now, len(expected)) == expected


@pytest.mark.parametrize(
    ("expr", "same_as"),
    [
        ("5/15 * * * *", "5-59/15 * * * *"),
        ("0 3/6 * * *", "0 3-23/6 * * *"),
        ("0 0 10/7 * *", "0 0 10-31/7 * *"),
        ("0 0 1 2/5 *", "0 0 1 2-12/5 *"),
        ("0 0 * * MON/2", "0 0 * * 1-7/2"),
        ("0 0 * * 5-0", "0 0 * * 5-7"),
        ("0 0 * * FRI-SUN", "0 0 * * FRI-7"),
        ("0 0 * * 2-0/2", "0 0 * * 2-7/2"),
        ("0 0 * * FRIL", "0 0 * * 5L"),
        ("0 0 * * L5", "0 0 * * 5L"),
    ],
)
def test_spellings_mean_the_same(expr: str, same_as: str) -> None:
    now = utc(2024, 1, 1)
    assert parse_schedule(expr, "UTC").next_runs(now, 40) == parse_schedule(
        same_as, "UTC"
    ).next_runs(now, 40)


def test_a_single_value_with_a_step_keeps_cronies_fixed_time_reading() -> None:
    # Like 5-59/15, 5/15 does not start with '*': with a fixed hour it is a fixed-time job.
    assert parse_schedule("5/15 3 * * *", "UTC").is_wildcard_time is False
    assert parse_schedule("5/15 * * * *", "UTC").is_wildcard_time is True


@pytest.mark.parametrize(
    ("expr", "shown"),
    [
        ("0 0 lw * *", "0 0 LW * *"),
        ("0 0 * * fril", "0 0 * * FRIL"),
        ("0 0 15w * *", "0 0 15W * *"),
    ],
)
def test_new_forms_are_normalised_to_upper_case(expr: str, shown: str) -> None:
    schedule = parse_schedule(expr, "UTC")
    assert isinstance(schedule, CronSchedule)
    assert schedule.expression == shown


# Descriptions


@pytest.mark.parametrize(
    ("expr", "tz", "expected"),
    [
        ("0 0 15W * *", "UTC", "at 00:00 on the weekday nearest the 15th of every month"),
        ("0 0 1W * *", "UTC", "at 00:00 on the weekday nearest the 1st of every month"),
        ("0 18 LW * *", "UTC", "at 18:00 on the last weekday of every month"),
        ("0 0 L-1 * *", "UTC", "at 00:00 on the day before the last day of every month"),
        ("0 0 L-2 * *", "UTC", "at 00:00 on the 2nd day before the last day of every month"),
        ("0 9 * * 5L", "UTC", "at 09:00 on the last Friday of every month"),
        (
            "0 9 * * FRIL",
            "Europe/Paris",
            "at 09:00 on the last Friday of every month (Europe/Paris)",
        ),
        ("0 9 * * L5", "UTC", "at 09:00 on the last Friday of every month"),
        (
            "0 9 * * MON#1,5L",
            "UTC",
            "at 09:00 on the 1st Monday and the last Friday of every month",
        ),
        ("0 9 * * FRI-SUN", "UTC", "at 09:00 on Friday, Saturday and Sunday"),
        ("0 9 * * 5-0", "UTC", "at 09:00 on Friday, Saturday and Sunday"),
        ("5/15 * * * *", "UTC", "every 15 minutes from minute 5"),
        ("5/7 * * * *", "UTC", "every 7th minute from minute 5"),
        ("15 3/6 * * *", "UTC", "every 6 hours from 03:15"),
        ("0 0 5/10 * *", "UTC", "at 00:00 on days 5, 15 and 25 of every month"),
        ("0 0 1 2/3 *", "UTC", "at 00:00 on day 1 of February, May, August and November"),
        ("0 0 LW 3,6 *", "UTC", "at 00:00 on the last weekday of March and June"),
        (
            "0 0 1W,15W,L * *",
            "UTC",
            "at 00:00 on the weekday nearest the 1st, the weekday nearest the 15th "
            "and the last day of every month",
        ),
        # Mixed or rare shapes keep the honest fallback.
        ("0 0 15W * 5L", "UTC", "cron '0 0 15W * 5L' in UTC"),
        ("0 0 * * 5L,SAT", "UTC", "cron '0 0 * * 5L,SAT' in UTC"),
    ],
)
def test_descriptions(expr: str, tz: str, expected: str) -> None:
    assert parse_schedule(expr, tz).describe() == expected


# Malformed variants


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        ("0 0 * * 15W", "day-of-week '15W': W is only for day-of-month"),
        ("0 0 * * LW", "day-of-week 'LW': W is only for day-of-month"),
        ("0 0 32W * *", "day-of-month '32W': the day before W must be 1-31, like 15W"),
        ("0 0 0W * *", "day-of-month '0W': the day before W must be 1-31"),
        ("0 0 W * *", "day-of-month 'W': W needs one day 1-31 right before it, like 15W"),
        ("0 0 W15 * *", "W needs one day 1-31 right before it"),
        ("0 0 15WW * *", "W needs one day 1-31 right before it"),
        ("0 0 1-5W * *", "day-of-month '1-5W': L and W cannot be part of a range"),
        ("0 0 15W/2 * *", "day-of-month '15W/2': L and W cannot take a step"),
        ("0 0 LW/2 * *", "day-of-month 'LW/2': L and W cannot take a step"),
        ("0 0 L/2 * *", "day-of-month 'L/2': L and W cannot take a step"),
        ("0 0 L-2/2 * *", "L and W cannot take a step"),
        ("0 0 1-L * *", "day-of-month '1-L': L and W cannot be part of a range"),
        ("0 0 L-2W * *", "L and W cannot be part of a range"),
        ("0 0 L-0 * *", "the number after 'L-' must be 1-30 (days before the last day of the"),
        ("0 0 L-0 * *", "write L for the last day itself"),
        ("0 0 L-31 * *", "day-of-month 'L-31': the number after 'L-' must be 1-30"),
        ("0 0 L- * *", "day-of-month 'L-': the number after 'L-' must be 1-30"),
        ("0 0 L-X * *", "day-of-month 'L-X': the number after 'L-' must be 1-30"),
        ("0 0 LX * *", "day-of-month must be 1-31, L, L-n, LW or nW, got 'LX'"),
        ("0 0 * * L", "day-of-week must be 0-7 or SUN-SAT, got 'L'; for the last given weekday"),
        ("0 0 * * 1-5L", "day-of-week '1-5L': L takes one weekday, without a range, step or '#'"),
        ("0 0 * * MON-FRIL", "L takes one weekday, without a range"),
        ("0 0 * * 5L/2", "day-of-week '5L/2': L takes one weekday"),
        ("0 0 * * 5L#2", "day-of-week '5L#2': L takes one weekday"),
        ("0 0 * * L-2", "day-of-week 'L-2': L takes one weekday"),
        ("0 0 * * 5LL", "L takes one weekday"),
        ("0 0 * * 8L", "day-of-week must be 0-7 or SUN-SAT, got 8"),
        ("0 0 * * FUNL", "day-of-week must be 0-7 or SUN-SAT, got 'FUN'"),
        ("0 0 * * 5XL", "day-of-week must be 0-7 or SUN-SAT, got '5X'"),
        ("0 0 * * L5L", "L takes one weekday"),
        ("L * * * *", "minute must be 0-59, got 'L'"),
        ("0 0 * L *", "month must be 1-12 or JAN-DEC, got 'L'"),
        ("0 0 * 5W *", "month must be 1-12 or JAN-DEC, got '5W'"),
        # other backwards ranges keep today's message
        ("0 0 * * SAT-FRI", "day-of-week range 'SAT-FRI' runs backwards"),
        ("0 0 * * 6-1", "day-of-week range '6-1' runs backwards"),
        ("0 0 * * 7-6", "day-of-week range '7-6' runs backwards"),
        ("0 0 * 12-1 *", "month range '12-1' runs backwards"),
        ("0 0 31-1 * *", "day-of-month range '31-1' runs backwards"),
        # a single value with a step is still checked like one
        ("60/5 * * * *", "minute must be 0-59, got 60"),
        ("5/0 * * * *", "minute step must be at least 1"),
        ("5/x * * * *", "minute step must be a whole number"),
        ("0 24/2 * * *", "hour must be 0-23, got 24"),
        ("0 0 * * 8/2", "day-of-week must be 0-7 or SUN-SAT, got 8"),
        # never runs: the nearest weekday to the 31st in February, L-29 in February
        ("0 0 31W 2 *", "never runs"),
        ("0 0 L-29 2 *", "never runs"),
        ("0 0 30W 2 *", "never runs"),
    ],
)
def test_malformed_forms_are_refused_with_a_reason(expr: str, message: str) -> None:
    with pytest.raises(InvalidSchedule, match=re.escape(message)):
        parse_schedule(expr, "UTC")


# Field separators: ASCII spaces and tabs only


@pytest.mark.parametrize(
    ("expr", "named"),
    [
        ("0\u00a09 * * *", "U+00A0 NO-BREAK SPACE at position 2"),
        ("0 9\u3000* * *", "U+3000 IDEOGRAPHIC SPACE at position 4"),
        ("0\u20029 * * * *", "U+2002 EN SPACE"),
        ("0 9 * *\u2028*", "U+2028 LINE SEPARATOR"),
        ("0 9\n* * *", "U+000A LINE FEED at position 4"),
        ("0 9 *\r\n* *", "U+000D CARRIAGE RETURN"),
        ("0 9 * *\x0b*", "U+000B LINE TABULATION"),
        ("0 9 * * *\u00a0", "U+00A0 NO-BREAK SPACE at position 10"),
        ("\u30000 9 * * *", "U+3000 IDEOGRAPHIC SPACE at position 1"),
        ("@daily\u00a0", "U+00A0 NO-BREAK SPACE"),
        ("0\u00a00\u00a01\u00a01\u00a0*", "U+00A0 NO-BREAK SPACE at position 2"),
    ],
)
def test_fields_are_separated_by_ascii_spaces_and_tabs_only(expr: str, named: str) -> None:
    with pytest.raises(
        InvalidSchedule, match="cron fields must be separated by spaces or tabs"
    ) as info:
        parse_schedule(expr, "UTC")
    assert named in str(info.value)


@pytest.mark.parametrize(
    "expr", ["0 9 * * *", "0\t9\t*\t*\t*", " \t0  9 *\t * *\n", "0 9 * * *\r\n", "\n@daily\n"]
)
def test_spaces_and_tabs_still_separate_fields(expr: str) -> None:
    schedule = parse_schedule(expr, "UTC")
    assert schedule.next_after(utc(2024, 1, 1, 10)) == utc(2024, 1, 2, 9 if "@" not in expr else 0)


# Formerly refused forms: these were errors, so no schedule in use changes meaning.


@pytest.mark.parametrize(
    ("expr", "now", "expected"),
    [
        ("5/10 * * * *", utc(2024, 1, 1), utc(2024, 1, 1, 0, 5)),
        ("0 0 LW * *", utc(2024, 3, 1), utc(2024, 3, 29)),
        ("0 0 * * 5L", utc(2024, 3, 1), utc(2024, 3, 29)),
    ],
)
def test_formerly_refused_forms_now_run(expr: str, now: datetime, expected: datetime) -> None:
    assert parse_schedule(expr, "UTC").next_after(now) == expected


# Daylight saving: the new forms follow the same rules as every other fixed-time job.
#   America/New_York    2024-03-10 (a Sunday) 02:00 EST -> 03:00 EDT at 07:00 UTC
#                       2024-11-03 (a Sunday) 02:00 EDT -> 01:00 EST at 06:00 UTC
#   Australia/Lord_Howe 2024-04-07 (a Sunday) 02:00 +11 -> 01:30 +10:30 at 15:00 UTC on 6 April
#                       2024-10-06 (a Sunday) 02:00 +10:30 -> 02:30 +11 at 15:30 UTC on 5 October

DST_CASES = [
    # skipped local time: once, at the end of the gap
    ("30 2 * * FRI-SUN", "America/New_York", utc(2024, 3, 9, 12), [utc(2024, 3, 10, 7)]),
    ("30 2 L-21 3 *", "America/New_York", utc(2024, 3, 1), [utc(2024, 3, 10, 7)]),
    ("30 2 10/7 3 *", "America/New_York", utc(2024, 3, 5), [utc(2024, 3, 10, 7)]),
    ("30 2 * 3 SUN#2,5L", "America/New_York", utc(2024, 3, 5), [utc(2024, 3, 10, 7)]),
    ("15 2 L-25 10 *", "Australia/Lord_Howe", utc(2024, 10, 1), [utc(2024, 10, 5, 15, 30)]),
    ("15 2 * * 5-0", "Australia/Lord_Howe", utc(2024, 10, 5, 12), [utc(2024, 10, 5, 15, 30)]),
    # 5/30 does not start with '*': with a fixed hour it is fixed-time, like 5-59/30
    (
        "5/30 2 * * 5-0",
        "America/New_York",
        utc(2024, 3, 10, 6),
        [utc(2024, 3, 10, 7), utc(2024, 3, 15, 6, 5)],
    ),
    # repeated local time: only the first time
    (
        "30 1 * * 5-0",
        "America/New_York",
        utc(2024, 11, 3, 4),
        [utc(2024, 11, 3, 5, 30), utc(2024, 11, 8, 6, 30)],
    ),
    ("30 1 L-27 11 *", "America/New_York", utc(2024, 11, 3, 5, 40), [utc(2025, 11, 3, 6, 30)]),
    (
        "45 1 L-23 4 *",
        "Australia/Lord_Howe",
        utc(2024, 4, 1),
        [utc(2024, 4, 6, 14, 45), utc(2025, 4, 6, 15, 15)],
    ),
    ("45 1 7/7 4 *", "Australia/Lord_Howe", utc(2024, 4, 6, 14, 50), [utc(2024, 4, 13, 15, 15)]),
    # wildcard jobs follow the real clock: both passes of a repeated hour, none of a gap
    (
        "*/30 1 * * FRI-SUN",
        "America/New_York",
        utc(2024, 11, 3, 5, 10),
        [utc(2024, 11, 3, 5, 30), utc(2024, 11, 3, 6), utc(2024, 11, 3, 6, 30)],
    ),
    (
        "5/15 * L-23 4 *",
        "Australia/Lord_Howe",
        utc(2024, 4, 6, 14, 40),
        [utc(2024, 4, 6, 14, 50), utc(2024, 4, 6, 15, 5), utc(2024, 4, 6, 15, 20)],
    ),
]


@pytest.mark.parametrize(("expr", "tz", "now", "expected"), DST_CASES)
def test_daylight_saving_rules_hold_for_the_new_forms(
    expr: str, tz: str, now: datetime, expected: list[datetime]
) -> None:
    assert parse_schedule(expr, tz).next_runs(now, len(expected)) == expected


def test_nearest_weekday_never_crosses_into_another_month() -> None:
    schedule = parse_schedule("0 0 1W,31W * *", "UTC")
    current = utc(2023, 12, 31, 1)
    for _ in range(48):
        previous_month = (current.year, current.month)
        current = schedule.next_after(current)
        day = current.date()
        assert day.weekday() < 5
        assert day.day <= 3 or day.day >= 29
        # a 1W run stays in its month, a 31W run only happens in months with 31 days
        if day.day >= 29:
            assert calendar.monthrange(day.year, day.month)[1] == 31
        assert (day.year, day.month) >= previous_month
    assert current - utc(2024, 1, 1) > timedelta(days=365)
