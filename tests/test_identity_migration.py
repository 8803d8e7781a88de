"""The migration that gives recurring jobs their identity repairs names held twice.

It runs against a real schema: the app is migrated back to the migration before
it, rows are written as the old code left them, and the migration is applied.
"""

from datetime import timedelta

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from django_jobs import schedule
from django_jobs.models import Job

pytestmark = pytest.mark.django_db(transaction=True)


def identity_migration(executor):
    graph = executor.loader.graph
    (node,) = [
        key for key in graph.nodes if key[0] == "django_jobs" and key[1].endswith("_identity")
    ]
    (parent,) = [p.key for p in graph.node_map[node].parents if p.key[0] == "django_jobs"]
    return node, parent


@pytest.fixture
def migrate_to():
    """Migrate django_jobs to a node; afterwards, back to the latest schema."""

    def migrate(node):
        executor = MigrationExecutor(connection)
        executor.migrate([node])
        return MigrationExecutor(connection).loader.project_state([node]).apps

    yield migrate
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())


def old_rows(apps):
    """Rows as the code before the migration could leave them."""
    Job = apps.get_model("django_jobs", "Job")
    JobHistory = apps.get_model("django_jobs", "JobHistory")
    t0 = timezone.now() - timedelta(days=3)

    def job(name, created, **fields):
        values = {"handler": "echo", "schedule": "1h", "next_run_at": t0, "created_at": created}
        return Job.objects.create(name=name, **{**values, **fields})

    rows = {
        "api": job("Nightly", t0, last_error="older error"),
        "declared": job("Nightly", t0 + timedelta(hours=1), key="Nightly"),
        "running": job("Nightly", t0 + timedelta(hours=2), status="running", next_run_at=None),
        "solo": job("Solo", t0),
        "renamed": job("Renamed", t0, key="Old"),
        "one_time_keyed": job("stale", t0, schedule="", key="stale"),
        "one_time": job("Nightly", t0, schedule=""),
    }
    for name in ("api", "declared"):
        JobHistory.objects.create(job=rows[name], status="completed", scheduled_for=t0)
    return {name: row.pk for name, row in rows.items()}


def test_duplicates_are_renamed_and_cancelled_and_every_recurring_job_gets_its_key(
    migrate_to, capsys
):
    node, parent = identity_migration(MigrationExecutor(connection))
    ids = old_rows(migrate_to(parent))
    capsys.readouterr()
    apps = migrate_to(node)
    output = capsys.readouterr().out
    Job = apps.get_model("django_jobs", "Job")
    rows = {name: Job.objects.get(pk=pk) for name, pk in ids.items()}

    kept = rows["api"]
    assert (kept.name, kept.key, kept.status) == ("Nightly", "Nightly", "pending")
    assert kept.last_error == "older error"
    declared, running = rows["declared"], rows["running"]
    assert declared.name == declared.key == f"Nightly (duplicate #{declared.pk})"
    assert (declared.status, declared.next_run_at) == ("cancelled", None)
    assert f"#{kept.pk} is older" in declared.last_error
    assert running.name == running.key == f"Nightly (duplicate #{running.pk})"
    assert (running.status, running.cancel_requested) == ("running", True)
    assert rows["solo"].key == "Solo" and rows["renamed"].key == "Renamed"
    assert rows["one_time_keyed"].key is None
    assert (rows["one_time"].name, rows["one_time"].key) == ("Nightly", None)
    History = apps.get_model("django_jobs", "JobHistory")
    assert History.objects.filter(job_id__in=[kept.pk, declared.pk]).count() == 2
    assert "2 recurring job(s) shared a name" in output
    assert f"#{declared.pk} 'Nightly' -> 'Nightly (duplicate #{declared.pk})'" in output
    assert f"(kept: #{kept.pk})" in output


def test_after_the_repair_schedule_updates_the_oldest(migrate_to):
    node, parent = identity_migration(MigrationExecutor(connection))
    ids = old_rows(migrate_to(parent))
    migrate_to(node)
    MigrationExecutor(connection).migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())
    job = schedule("Nightly", "noop", "5m")
    assert job.pk == ids["api"]
    assert Job.objects.recurring().filter(name="Nightly").count() == 1
    assert Job.objects.recurring().filter(status="pending").count() == 3  # Nightly, Solo, Renamed


def test_a_clean_table_is_left_as_it_is(migrate_to, capsys):
    node, parent = identity_migration(MigrationExecutor(connection))
    apps = migrate_to(parent)
    apps.get_model("django_jobs", "Job").objects.create(
        name="Only", handler="echo", schedule="1h", next_run_at=timezone.now(), key="Only"
    )
    capsys.readouterr()
    apps = migrate_to(node)
    assert "django_jobs" not in capsys.readouterr().out
    assert list(apps.get_model("django_jobs", "Job").objects.values_list("name", "key")) == [
        ("Only", "Only")
    ]
