"""The worker's prepared statements on PostgreSQL, whatever the connection's own settings."""

import pytest
from django.db import connection

from django_jobs import enqueue
from django_jobs.engines.postgresql import fetch_all
from django_jobs.models import JobHistory
from django_jobs.worker import WorkerLoop

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="prepared statements"),
]


@pytest.fixture(params=[None, 5], ids=["django-default", "prepare_threshold=5"])
def threshold(request):
    """Django leaves prepare_threshold None; a project may set it in OPTIONS."""
    connection.ensure_connection()
    connection.connection.prepare_threshold = request.param
    yield request.param
    connection.close()


def test_jsonb_comes_back_as_its_text(threshold):
    rows = fetch_all(connection, "SELECT %s::jsonb, %s::int", ['{"a": [1, 2]}', 7])
    assert rows == [('{"a": [1, 2]}', 7)]


def test_a_worker_hands_the_handler_its_data(threshold):
    job = enqueue("echo", {"a": [1, "two"], "b": None})
    assert WorkerLoop(listen=False).run_once() == 1
    assert JobHistory.objects.get(job=job).result == {"a": [1, "two"], "b": None}
