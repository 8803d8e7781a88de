"""Unique jobs: ``unique_key``, unique among live (pending or running) jobs.

PostgreSQL and SQLite get the partial unique index of the model's constraint.
MySQL and MariaDB have no partial indexes, so they get a stored generated
column that the database sets to the key while the job is live and to NULL
otherwise, under a plain unique index (NULLs never collide). The database
computes it from ``status``, so no statement of the worker changes.
"""

from django.db import migrations, models

COLUMN = "live_unique_key"
INDEX = "django_jobs_live_unique_mysql"


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "mysql":
        table = schema_editor.quote_name(apps.get_model("django_jobs", "Job")._meta.db_table)
        schema_editor.execute(
            f"ALTER TABLE {table} ADD COLUMN {COLUMN} varchar(200) GENERATED ALWAYS AS "
            "(CASE WHEN status IN ('pending', 'running') THEN unique_key END) STORED"
        )
        schema_editor.execute(f"CREATE UNIQUE INDEX {INDEX} ON {table} ({COLUMN})")


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "mysql":
        table = schema_editor.quote_name(apps.get_model("django_jobs", "Job")._meta.db_table)
        schema_editor.execute(f"DROP INDEX {INDEX} ON {table}")
        schema_editor.execute(f"ALTER TABLE {table} DROP COLUMN {COLUMN}")


class Migration(migrations.Migration):
    dependencies = [("django_jobs", "0006_dashboard_figures_and_pause")]

    operations = [
        migrations.AddField(
            model_name="job",
            name="unique_key",
            field=models.CharField(blank=True, max_length=200, null=True),
        ),
        migrations.AddConstraint(
            model_name="job",
            constraint=models.UniqueConstraint(
                condition=models.Q(("status__in", ["pending", "running"])),
                fields=("unique_key",),
                name="django_jobs_live_unique_key",
            ),
        ),
        migrations.RunPython(create, drop, atomic=False),
    ]
