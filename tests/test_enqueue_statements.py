"""What one ``enqueue()`` sends to the database, counted by the driver itself.

Django's query log misses the prepared statements of PostgreSQL's engine, so
the statements are counted below Django: SQLite's trace callback and libpq's
protocol trace (each statement the server completes; each round trip ends
with a Sync or is one simple Query). MySQL's go through Django's cursor.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from django_jobs import enqueue
from django_jobs.models import Job

pytestmark = pytest.mark.django_db(transaction=True)


@dataclass
class Sent:
    statements: list[str] = field(default_factory=list)
    round_trips: int | None = None  # PostgreSQL only


@contextmanager
def sent() -> Iterator[Sent]:
    """The statements the database ran inside the block (and round trips, on PostgreSQL)."""
    connection.ensure_connection()
    raw, found = connection.connection, Sent()
    if connection.vendor == "sqlite":
        raw.set_trace_callback(found.statements.append)
        try:
            yield found
        finally:
            raw.set_trace_callback(None)
    elif connection.vendor == "postgresql":
        from psycopg import pq

        with tempfile.TemporaryFile() as log:
            raw.pgconn.trace(log.fileno())
            raw.pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS | pq.Trace.REGRESS_MODE)
            try:
                yield found
            finally:
                raw.pgconn.untrace()
                log.seek(0)
                messages = [line.split("\t") for line in log.read().decode().splitlines()]
        found.statements = [m[3] for m in messages if m[0] == "B" and m[2] == "CommandComplete"]
        found.round_trips = sum(1 for m in messages if m[0] == "F" and m[2] in ("Sync", "Query"))
    else:
        with CaptureQueriesContext(connection) as queries:
            yield found
        found.statements = [q["sql"] for q in queries.captured_queries]


@pytest.fixture(autouse=True)
def warm():
    """Statements built once per engine (or prepared once per connection) are, before counting.

    PostgreSQL prepares a statement once for each kind of parameters it is given
    (data or none, say): that first call takes one more round trip.
    """
    enqueue("echo", {"n": 0})
    enqueue("echo", {"n": 0}, unique_key="warm")


def test_an_enqueue_is_one_statement_and_one_round_trip():
    with sent() as plain:
        job = enqueue("echo", {"n": 1})
    assert len(plain.statements) == 1, plain.statements
    assert plain.round_trips in (None, 1)  # PostgreSQL: the insert also wakes the workers
    assert Job.objects.get(pk=job.pk).data == {"n": 1}


def test_inside_a_transaction_an_enqueue_adds_one_statement_and_no_savepoint():
    with sent() as inside:
        with transaction.atomic():
            enqueue("echo")
    assert len(inside.statements) == 3, inside.statements  # BEGIN, the insert, COMMIT
    assert not [s for s in inside.statements if "SAVEPOINT" in s.upper()]


def test_a_unique_key_in_autocommit_costs_no_begin_and_commit():
    with sent() as new:
        job = enqueue("echo", {"n": 1}, unique_key="k")
    assert len(new.statements) == 1, new.statements
    assert new.round_trips in (None, 1)
    with sent() as held:
        assert enqueue("echo", {"n": 1}, unique_key="k") == job
    # The refused insert, then the look-up of the holder (a failed statement
    # completes nothing on PostgreSQL, which also keeps its prepared statements).
    assert len(held.statements) == (1 if connection.vendor == "postgresql" else 2), held.statements
    assert held.round_trips in (None, 2)


def test_a_held_key_inside_a_transaction_leaves_it_usable():
    with transaction.atomic():
        first = enqueue("echo", unique_key="t")
        with sent() as held:
            assert enqueue("echo", unique_key="t") == first
        after = enqueue("echo")
    assert [s for s in held.statements if "SAVEPOINT" in s.upper()]
    assert Job.objects.filter(pk__in=[first.pk, after.pk]).count() == 2
