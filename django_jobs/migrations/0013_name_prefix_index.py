"""On PostgreSQL, search the start of job names through a B-tree instead of every trigram.

The trigram index of 0008 made every claim and every completion write a dozen
GIN entries for the job's name: measured at the database, 40 % of the cost of
running a job. A B-tree on ``UPPER(name)`` with pattern operators finds the
start of a name (what the dashboard searches elsewhere too) for one entry a
row version. A project that wants any part of the name found can create the
trigram index itself (docs/dashboard.md): the dashboard notices it.
"""

from django.db import migrations

TRIGRAM_INDEX = "django_jobs_name_trgm_idx"
PREFIX_INDEX = "django_jobs_name_prefix_idx"


def to_prefix_index(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(f"DROP INDEX IF EXISTS {TRIGRAM_INDEX}")
    # The expression Django's istartswith writes: UPPER("name"::text) LIKE UPPER(...).
    schema_editor.execute(
        f"CREATE INDEX IF NOT EXISTS {PREFIX_INDEX} ON django_jobs_job "
        '((UPPER("name"::text)) text_pattern_ops)'
    )


def drop_prefix_index(apps, schema_editor):
    """Going back leaves the trigram index out: 0008 may create it again when unapplied."""
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX IF EXISTS {PREFIX_INDEX}")


class Migration(migrations.Migration):
    dependencies = [
        ("django_jobs", "0012_job_progress"),
    ]

    operations = [
        migrations.RunPython(to_prefix_index, drop_prefix_index, elidable=False),
    ]
