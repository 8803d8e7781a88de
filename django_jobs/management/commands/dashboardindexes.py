"""``manage.py dashboardindexes``: the jobs list's sort and search indexes, for a big table."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections

from django_jobs.dashboard import indexes


class Command(BaseCommand):
    help = (
        "Create the indexes that let the dashboard's jobs list sort and search a "
        "big table a page at a time (--drop removes them, --list shows them). "
        "Each costs the workers a little on every job: see docs/dashboard.md."
    )

    def add_arguments(self, parser: Any) -> None:
        action = parser.add_mutually_exclusive_group()
        action.add_argument("--drop", action="store_true", help="Remove them.")
        action.add_argument("--list", action="store_true", help="Only show which exist.")
        parser.add_argument("--database", default=DEFAULT_DB_ALIAS)

    def handle(self, *args: Any, **options: Any) -> None:
        alias = options["database"]
        if alias not in connections:
            raise CommandError(f"no database {alias!r} in DATABASES")
        if options["list"]:
            there = indexes.present(alias)
            for name in indexes.names(alias):
                self.stdout.write(f"{name}: {'present' if name in there else 'missing'}")
            return
        try:
            changed = indexes.drop(alias) if options["drop"] else indexes.create(alias)
        except DatabaseError as exc:
            raise CommandError(f"the database refused: {exc}") from exc
        verb = "dropped" if options["drop"] else "created"
        summary = ", ".join(changed) if changed else "none (nothing to do)"
        self.stdout.write(f"{verb}: {summary}")
