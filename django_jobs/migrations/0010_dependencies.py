"""Dependencies: the links between jobs, the flags and count that spare jobs outside a graph
any cost, and a check that a job waiting for dependencies is never due."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("django_jobs", "0009_limits"),
    ]

    operations = [
        migrations.CreateModel(
            name="JobDependency",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("settled", models.BooleanField(default=False)),
            ],
        ),
        migrations.RemoveConstraint(
            model_name="job",
            name="django_jobs_pending_has_next_run_at",
        ),
        migrations.AddField(
            model_name="job",
            name="has_dependencies",
            field=models.BooleanField(default=False),
        ),
        migrations.AddField(
            model_name="job",
            name="has_dependents",
            field=models.BooleanField(default=False),
        ),
        migrations.AddField(
            model_name="job",
            name="on_dependency_failure",
            field=models.CharField(
                choices=[("cancel", "Cancel"), ("run", "Run anyway")],
                default="cancel",
                max_length=8,
            ),
        ),
        migrations.AddField(
            model_name="job",
            name="waiting_on",
            field=models.PositiveIntegerField(default=0, help_text="dependencies not finished yet"),
        ),
        migrations.AddConstraint(
            model_name="job",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("status", "pending"), _negated=True),
                    ("next_run_at__isnull", False),
                    ("waiting_on__gt", 0),
                    _connector="OR",
                ),
                name="django_jobs_pending_has_next_run_at",
            ),
        ),
        migrations.AddConstraint(
            model_name="job",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("waiting_on", 0),
                    models.Q(
                        models.Q(("status", "running"), _negated=True),
                        ("next_run_at__isnull", True),
                    ),
                    _connector="OR",
                ),
                name="django_jobs_waiting_not_due",
            ),
        ),
        migrations.AddField(
            model_name="jobdependency",
            name="depends_on",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.CASCADE,
                related_name="dependent_links",
                to="django_jobs.job",
            ),
        ),
        migrations.AddField(
            model_name="jobdependency",
            name="job",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="dependency_links",
                to="django_jobs.job",
            ),
        ),
        migrations.AddConstraint(
            model_name="jobdependency",
            constraint=models.UniqueConstraint(
                fields=("job", "depends_on"), name="django_jobs_one_dependency"
            ),
        ),
    ]
