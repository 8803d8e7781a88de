"""Schedule expressions: when a recurring job runs next.

Two kinds of expression are accepted:

* fixed intervals such as ``30s``, ``5m``, ``2h`` or ``1d`` (1 second to 365 days), and
* five-field cron expressions (and ``@daily`` style nicknames), evaluated in a time zone.

Cron follows cronie, including its daylight-saving rules. A *wildcard* job (minute or
hour field starting with ``*``) follows the real clock: local times skipped when clocks
go forward simply do not happen, and local times repeated when clocks go back happen
twice. Any other job is *fixed-time*: if its local time is skipped it runs once at the
first instant after the gap, and if its local time is repeated it runs only the first
time. All instants returned are aware datetimes in UTC.

The modules, one concept each: ``parsing`` (the entry point), ``intervals`` and
``durations``, ``cron`` (the schedule), ``cron_fields`` / ``cron_parsing`` (reading the
five fields), ``cron_matching`` (which wall-clock minutes match), ``describing`` (plain
words), ``zones`` and ``wallclock`` (time zones and the daylight-saving rules).
"""

from ..exceptions import InvalidSchedule
from .base import Schedule
from .cron import CronSchedule
from .durations import parse_duration
from .intervals import IntervalSchedule
from .parsing import parse_schedule
from .zones import validate_timezone

__all__ = [
    "CronSchedule",
    "IntervalSchedule",
    "InvalidSchedule",
    "Schedule",
    "parse_duration",
    "parse_schedule",
    "validate_timezone",
]
