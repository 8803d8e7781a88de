"""What every schedule offers, whatever its kind."""

from __future__ import annotations

from abc import ABC, abstractmethod
from datetime import datetime, timedelta


class Schedule(ABC):
    """What every schedule offers; build one with :func:`parse_schedule`."""

    expression: str
    timezone: str
    is_interval: bool
    is_wildcard_time: bool
    interval: timedelta | None

    @abstractmethod
    def next_after(self, after: datetime) -> datetime:
        """The first run strictly after ``after`` (aware), as an aware UTC datetime."""

    @abstractmethod
    def describe(self) -> str:
        """The schedule in plain English."""

    def next_slot(self, after: datetime, anchor: datetime | None = None) -> datetime:
        """The next run for a job created at ``anchor``; only intervals use the anchor."""
        return self.next_after(after)

    def next_runs(
        self, after: datetime, count: int = 5, anchor: datetime | None = None
    ) -> list[datetime]:
        """The next ``count`` runs strictly after ``after``, for previews."""
        if count < 0:
            raise ValueError(f"count must not be negative, got {count}")
        runs: list[datetime] = []
        current = after
        for _ in range(count):
            current = self.next_slot(current, anchor)
            runs.append(current)
        return runs
