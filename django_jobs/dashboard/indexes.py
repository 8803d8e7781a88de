"""The indexes that keep the jobs list fast at hundreds of thousands of jobs: created on request.

Every version of a job's row (enqueue, claim, completion) writes an entry in
every index, so each index on the job table is paid for by the workers on
every job: these five cost them about a fifth of their database time
(bench/RESULTS.md). Without them the dashboard works the same and reads more
rows to sort; ``manage.py dashboardindexes`` creates them where the table is
big enough for that to matter, and the jobs list says when it is.
"""

from __future__ import annotations

import time

from django.db import DatabaseError, connections, models

from ..engines import for_alias
from ..models import Job

# Each sort column of the jobs list, and the index that makes a page of it an index range.
SORT_INDEXES = {
    "name": models.Index(fields=["name", "id"], name="django_jobs_name_idx"),
    "queue": models.Index(fields=["queue", "id"], name="django_jobs_queue_idx"),
    "last_run_at": models.Index(fields=["last_run_at", "id"], name="django_jobs_last_run_idx"),
    "next_run_at": models.Index(fields=["next_run_at", "id"], name="django_jobs_next_run_idx"),
}
# Where the name's own index cannot serve a search of the name's start (PostgreSQL).
NAME_SEARCH_INDEX = "django_jobs_name_prefix_idx"
# Below this many jobs a sort without its index reads the table in well under a second.
SMALL_TABLE = 100_000


def names(alias: str) -> list[str]:
    """The indexes this database gets: one per sort column, and a search index if it needs one."""
    found = [index.name for index in SORT_INDEXES.values()]
    if for_alias(alias).name_search_index(Job._meta.db_table, NAME_SEARCH_INDEX):
        found.append(NAME_SEARCH_INDEX)
    return found


def present(alias: str) -> set[str]:
    """Which of them exist (as ``existing`` last read them)."""
    return set(existing(alias)) & set(names(alias))


# How long a process trusts what it read of the job table's indexes: another
# process (``dashboardindexes``, the project's own migration) may change them,
# and a page must not advise creating what exists until the server restarts.
READ_FOR_SECONDS = 60.0
_read: dict[tuple[str, str], tuple[float, frozenset[str]]] = {}


def existing(alias: str) -> frozenset[str]:
    """The names of the job table's indexes and constraints, read at most once a minute."""
    key = (alias, str(connections[alias].settings_dict["NAME"]))
    now = time.monotonic()
    found = _read.get(key)
    if found is None or now - found[0] >= READ_FOR_SECONDS:
        found = _read[key] = (now, _read_names(alias))
    return found[1]


def forget() -> None:
    """Read the indexes again on the next question (after this process changed them)."""
    _read.clear()


def _read_names(alias: str) -> frozenset[str]:
    try:
        connection = connections[alias]
        with connection.cursor() as cursor:
            return frozenset(connection.introspection.get_constraints(cursor, Job._meta.db_table))
    except DatabaseError:
        return frozenset()


def create(alias: str) -> list[str]:
    """Create the missing ones; the names of those created."""
    return _change(alias, [name for name in names(alias) if name not in present(alias)], True)


def drop(alias: str) -> list[str]:
    """Drop those that exist; the names of those dropped."""
    return _change(alias, [name for name in names(alias) if name in present(alias)], False)


def _change(alias: str, which: list[str], add: bool) -> list[str]:
    search = for_alias(alias).name_search_index(Job._meta.db_table, NAME_SEARCH_INDEX)
    with connections[alias].schema_editor() as editor:
        for index in SORT_INDEXES.values():
            if index.name in which:
                (editor.add_index if add else editor.remove_index)(Job, index)
        if search and NAME_SEARCH_INDEX in which:
            editor.execute(search[0] if add else search[1])
    forget()
    return which


def slow_sort(column: str, alias: str) -> bool:
    """Whether sorting by ``column`` reads the whole table: no index, and a big table."""
    index = SORT_INDEXES.get(column)
    return index is not None and _missing_on_a_big_table(index.name, alias)


def slow_search(alias: str) -> bool:
    """Whether a search of the name's start reads the whole table."""
    engine = for_alias(alias)
    has_own = engine.name_search_index(Job._meta.db_table, NAME_SEARCH_INDEX)
    index = NAME_SEARCH_INDEX if has_own else SORT_INDEXES["name"].name
    return _missing_on_a_big_table(index, alias)


def _missing_on_a_big_table(index: str, alias: str) -> bool:
    if index in present(alias):
        return False
    estimate = for_alias(alias).table_estimate(Job)
    return estimate is not None and estimate >= SMALL_TABLE
