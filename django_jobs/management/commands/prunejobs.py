"""``manage.py prunejobs --older-than 30d``: delete old history and finished one-time jobs."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from django_jobs.conf import jobs_settings
from django_jobs.pruning import parse_age, prune


class Command(BaseCommand):
    help = (
        "Delete history rows and finished one-time jobs older than an age "
        "(default: the RETENTION_DAYS setting), and dead jobs with their history "
        "dead for longer than DEAD_RETENTION_DAYS. Recurring jobs are never deleted."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--older-than", help="An age: 30d, 12h, 90m, 45s, or a number of days.")
        parser.add_argument(
            "--dead-older-than",
            help="Dead jobs' age, as for --older-than (default: DEAD_RETENTION_DAYS).",
        )
        parser.add_argument("--batch-size", type=int, default=1000, help="Rows per transaction.")
        parser.add_argument("--dry-run", action="store_true", help="Only count what would go.")

    def handle(self, *args: Any, **options: Any) -> None:
        raw, raw_dead = options["older_than"], options["dead_older_than"]
        if raw is None and jobs_settings.RETENTION_DAYS is not None:
            raw = str(jobs_settings.RETENTION_DAYS)
        if raw is None and raw_dead is None:
            raise CommandError("give --older-than, or set DJANGO_JOBS['RETENTION_DAYS']")
        if raw_dead is None and jobs_settings.DEAD_RETENTION_DAYS is not None:
            raw_dead = str(jobs_settings.DEAD_RETENTION_DAYS)
        age = _age("--older-than", raw)
        dead_age = _age("--dead-older-than", raw_dead)
        if options["batch_size"] < 1:
            raise CommandError("--batch-size must be at least 1")
        result = prune(
            age,
            dead_older_than=dead_age,
            batch_size=options["batch_size"],
            dry_run=options["dry_run"],
        )
        verb = "would delete" if options["dry_run"] else "deleted"
        self.stdout.write(
            f"{verb} {result.history} history rows and {result.jobs} jobs, "
            f"and {result.dead} dead jobs with their history"
        )


def _age(option: str, raw: str | None) -> timedelta | None:
    if raw is None:
        return None
    try:
        return parse_age(raw)
    except ValueError as exc:
        raise CommandError(f"{option}: {exc}") from None
