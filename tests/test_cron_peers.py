"""The new cron forms against croniter and cronsim, where they read a form the same way.

croniter is a dependency; cronsim is installed for the tests only (the dev extra), and its
tests are skipped without it. Where django-jobs deliberately reads a form differently
(see the README's schedule section), a test says how.
"""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from croniter import croniter

from django_jobs.schedules import parse_schedule

UTC = timezone.utc
NOWS = [datetime(2023, 12, 31, 23, 59), datetime(2024, 2, 10, 7, 30), datetime(2025, 5, 31)]
COUNT = 40


def ours(expr: str, now: datetime, count: int = COUNT) -> list[datetime]:
    runs = parse_schedule(expr, "UTC").next_runs(now.replace(tzinfo=UTC), count)
    return [run.replace(tzinfo=None) for run in runs]


def with_croniter(expr: str, now: datetime, count: int = COUNT) -> list[datetime]:
    iterator = croniter(expr, now)
    return [iterator.get_next(datetime) for _ in range(count)]


def with_cronsim(expr: str, now: datetime, count: int = COUNT) -> list[datetime]:
    cronsim = pytest.importorskip("cronsim")
    iterator = cronsim.CronSim(expr, now)
    return [next(iterator) for _ in range(count)]


CRONITER_AGREES = [
    "0 0 15W * *",
    "0 0 1W * *",
    "0 0 2W * *",
    "30 9 28W * *",
    "0 0 31W 1,3,5,7,8,10,12 *",
    "0 0 * * L5",
    "0 9 * * FRI-SUN",
    "0 9 * * 5-0",
    "0 9 * * 6-0",
    "0 9 * * 3-0/2",
    "5/15 * * * *",
    "0 3/6 * * *",
    "0 0 5/10 * *",
    "0 0 1 2/3 *",
]
CRONSIM_AGREES = [
    "0 0 LW * *",
    "0 18 LW 2 *",
    "0 0 * * 5L",
    "0 0 * * 7L",
    "0 0 * * 0L",
    "0 0 * * 1#1,5L",
    "0 0 LW * 1",
    "0 0 L,LW * *",
    "5/15 * * * *",
    "0 3/6 * * *",
    "0 0 5/10 * *",
    "0 0 1 2/3 *",
    "0 0 * * 1/2",
]


@pytest.mark.parametrize("now", NOWS)
@pytest.mark.parametrize("expr", CRONITER_AGREES)
def test_same_runs_as_croniter(expr: str, now: datetime) -> None:
    assert ours(expr, now) == with_croniter(expr, now)


@pytest.mark.parametrize("now", NOWS)
@pytest.mark.parametrize("expr", CRONSIM_AGREES)
def test_same_runs_as_cronsim(expr: str, now: datetime) -> None:
    assert ours(expr, now) == with_cronsim(expr, now)


@pytest.mark.parametrize(("expr", "spelling"), [("0 0 * * FRIL", "0 0 * * 5L")])
def test_names_with_l_read_like_cronsims_numbers(expr: str, spelling: str) -> None:
    now = NOWS[0]
    assert ours(expr, now) == with_cronsim(spelling, now)


# Deliberate differences, as the README lists them.


def test_nearest_weekday_of_a_day_the_month_lacks_does_not_run() -> None:
    # croniter moves 31W to the weekday nearest the last day of a shorter month; plain 31
    # never runs in February, and neither does 31W here.
    now = datetime(2024, 2, 1)
    assert with_croniter("0 0 31W * *", now, 1) == [datetime(2024, 2, 29)]
    assert ours("0 0 31W * *", now, 1) == [datetime(2024, 3, 29)]


def test_a_weekday_step_from_a_value_runs_to_sunday_as_7() -> None:
    # 1/2 is 1-7/2, so Sunday (7) is in, as cronsim reads it; croniter stops at 6.
    now = datetime(2024, 1, 1)  # a Monday
    assert datetime(2024, 1, 7) in ours("0 0 * * 1/2", now, 4)
    assert datetime(2024, 1, 7) not in with_croniter("0 0 * * 1/2", now, 4)


@pytest.mark.parametrize("expr", ["0 0 * * 0-0", "0 0 * * SUN-SUN", "0 0 * * 7-0"])
def test_a_range_from_sunday_to_sunday_is_sunday(expr: str) -> None:
    # croniter reads a range ending at 0 as ending at 7 even from 0 or 7 (every day);
    # 0-0 has always meant Sunday here, and 7-0 means the same.
    now = datetime(2024, 1, 1)  # a Monday
    assert ours(expr, now, 2) == [datetime(2024, 1, 7), datetime(2024, 1, 14)]
    assert with_croniter(expr, now, 2) == [datetime(2024, 1, 2), datetime(2024, 1, 3)]


@pytest.mark.parametrize("expr", ["0 0 L-2 * *", "0 0 LW * *", "0 0 * * 5L", "0 0 * * FRIL"])
def test_forms_croniter_refuses(expr: str) -> None:
    assert ours(expr, datetime(2024, 1, 1), 1)
    with pytest.raises(ValueError):
        with_croniter(expr, datetime(2024, 1, 1), 1)
