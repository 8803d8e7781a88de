"""Limits: a job's limit and key, the rows their claimers lock and the starts a rate counts.

The claim index leaves limited jobs out; MySQL and MariaDB, which have no
partial indexes, get the limit as the claim index's second column instead.
"""

from django.db import migrations, models

MYSQL_INDEX = "django_jobs_claim_mysql_idx"


def _mysql_claim_index(columns):
    def change(apps, schema_editor):
        if schema_editor.connection.vendor != "mysql":
            return
        qn = schema_editor.quote_name
        table = qn(apps.get_model("django_jobs", "Job")._meta.db_table)
        schema_editor.execute(f"DROP INDEX {MYSQL_INDEX} ON {table}")
        schema_editor.execute(f"CREATE INDEX {MYSQL_INDEX} ON {table} ({columns(qn)})")

    return change


with_limit = _mysql_claim_index(
    lambda qn: (
        f"{qn('status')}, {qn('limit')}, {qn('priority')} DESC, {qn('next_run_at')}, {qn('id')}"
    )
)
without_limit = _mysql_claim_index(
    lambda qn: f"{qn('status')}, {qn('priority')} DESC, {qn('next_run_at')}, {qn('id')}"
)


class Migration(migrations.Migration):
    dependencies = [
        ("django_jobs", "0008_dashboard_speed"),
    ]

    operations = [
        migrations.CreateModel(
            name="LimitKey",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("limit", models.CharField(max_length=100)),
                ("key", models.CharField(blank=True, default="", max_length=200)),
                ("claimed_at", models.DateTimeField(blank=True, null=True)),
            ],
        ),
        migrations.CreateModel(
            name="LimitStart",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("limit", models.CharField(max_length=100)),
                ("key", models.CharField(blank=True, default="", max_length=200)),
                ("started_at", models.DateTimeField()),
                ("count", models.PositiveIntegerField(default=1)),
            ],
        ),
        migrations.RemoveIndex(
            model_name="job",
            name="django_jobs_claim_idx",
        ),
        migrations.AddField(
            model_name="job",
            name="limit",
            field=models.CharField(blank=True, default="", max_length=100),
        ),
        migrations.AddField(
            model_name="job",
            name="limit_key",
            field=models.CharField(blank=True, default="", max_length=200),
        ),
        migrations.AddIndex(
            model_name="job",
            index=models.Index(
                condition=models.Q(("limit", ""), ("status", "pending")),
                fields=["-priority", "next_run_at", "id"],
                name="django_jobs_claim_idx",
            ),
        ),
        migrations.AddIndex(
            model_name="job",
            index=models.Index(
                condition=models.Q(("status", "pending"), models.Q(("limit", ""), _negated=True)),
                fields=["limit", "limit_key", "-priority", "next_run_at", "id"],
                name="django_jobs_limited_idx",
            ),
        ),
        migrations.AddConstraint(
            model_name="limitkey",
            constraint=models.UniqueConstraint(
                fields=("limit", "key"), name="django_jobs_one_limit_key"
            ),
        ),
        migrations.AddIndex(
            model_name="limitstart",
            index=models.Index(
                fields=["limit", "key", "started_at"], name="django_jobs_limit_start_idx"
            ),
        ),
        migrations.RunPython(with_limit, without_limit, atomic=False),
    ]
