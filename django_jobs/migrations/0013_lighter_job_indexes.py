"""Fewer index entries for every version of a job's row.

Each job's row is written three times (enqueue, claim, completion) and, since
the claim and the completion change indexed columns, every version gets an
entry in every index whose condition it meets. Measured with the benchmark's
raw-SQL loop on PostgreSQL (WAL bytes and backend CPU per job), migration
0008's trigram index and four sort indexes made running a job cost 65 % more
at the database. This migration:

- drops them; the dashboard works without them (a text search matches the
  start of names) and ``manage.py dashboardindexes`` creates them again for an
  installation big enough to need them (dashboard/indexes.py);
- makes both unique constraints skip NULL keys, which nearly every row has:
  the same rule, without an entry per row version. MySQL and MariaDB have no
  partial indexes: Django leaves conditional constraints out there, so the
  recurring-job key gets a plain unique index (which lets NULLs repeat), and
  the live unique key keeps migration 0007's generated column.
"""

from django.db import migrations, models

TRIGRAM_INDEX = "django_jobs_name_trgm_idx"
KEY_INDEX = "django_jobs_unique_key"


def drop_trigram_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX IF EXISTS {TRIGRAM_INDEX}")


def plain_key_index(apps, schema_editor):
    if schema_editor.connection.vendor == "mysql":
        schema_editor.execute(f"CREATE UNIQUE INDEX {KEY_INDEX} ON django_jobs_job (`key`)")


def drop_plain_key_index(apps, schema_editor):
    if schema_editor.connection.vendor == "mysql":
        schema_editor.execute(f"DROP INDEX {KEY_INDEX} ON django_jobs_job")


class Migration(migrations.Migration):
    dependencies = [
        ("django_jobs", "0012_job_progress"),
    ]

    operations = [
        migrations.RunPython(
            drop_trigram_index, migrations.RunPython.noop, atomic=False, elidable=False
        ),
        migrations.RemoveIndex(model_name="job", name="django_jobs_name_idx"),
        migrations.RemoveIndex(model_name="job", name="django_jobs_queue_idx"),
        migrations.RemoveIndex(model_name="job", name="django_jobs_last_run_idx"),
        migrations.RemoveIndex(model_name="job", name="django_jobs_next_run_idx"),
        migrations.RemoveConstraint(model_name="job", name="django_jobs_unique_key"),
        migrations.AddConstraint(
            model_name="job",
            constraint=models.UniqueConstraint(
                condition=models.Q(key__isnull=False),
                fields=("key",),
                name="django_jobs_unique_key",
            ),
        ),
        migrations.RunPython(plain_key_index, drop_plain_key_index, atomic=False, elidable=False),
        migrations.RemoveConstraint(model_name="job", name="django_jobs_live_unique_key"),
        migrations.AddConstraint(
            model_name="job",
            constraint=models.UniqueConstraint(
                condition=models.Q(status__in=["pending", "running"], unique_key__isnull=False),
                fields=("unique_key",),
                name="django_jobs_live_unique_key",
            ),
        ),
    ]
