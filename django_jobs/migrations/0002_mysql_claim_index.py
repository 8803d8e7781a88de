"""MySQL and MariaDB have no partial indexes: give their claim query a full one."""

from django.db import migrations

INDEX = "django_jobs_claim_mysql_idx"


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "mysql":
        table = schema_editor.quote_name(apps.get_model("django_jobs", "Job")._meta.db_table)
        schema_editor.execute(
            f"CREATE INDEX {INDEX} ON {table} (status, priority DESC, next_run_at, id)"
        )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "mysql":
        table = schema_editor.quote_name(apps.get_model("django_jobs", "Job")._meta.db_table)
        schema_editor.execute(f"DROP INDEX {INDEX} ON {table}")


class Migration(migrations.Migration):
    dependencies = [("django_jobs", "0001_initial")]
    operations = [migrations.RunPython(create, drop, atomic=False)]
