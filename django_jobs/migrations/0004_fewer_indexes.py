import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("django_jobs", "0003_claim_index_id"),
    ]

    # Every claim and completion rewrites each index of the rows it touches:
    # indexes nothing reads are dropped. The key's uniqueness moves to a
    # constraint (added before the field's own is dropped), the worker's
    # foreign key is indexed only where set (running jobs), and history's
    # job_id is led by two other indexes already.
    operations = [
        migrations.AddConstraint(
            model_name="job",
            constraint=models.UniqueConstraint(fields=("key",), name="django_jobs_unique_key"),
        ),
        migrations.RemoveIndex(
            model_name="job",
            name="django_jobs_running_idx",
        ),
        migrations.AlterField(
            model_name="job",
            name="key",
            field=models.CharField(blank=True, max_length=200, null=True),
        ),
        migrations.AlterField(
            model_name="job",
            name="worker",
            field=models.ForeignKey(
                blank=True,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="jobs",
                to="django_jobs.worker",
            ),
        ),
        migrations.AlterField(
            model_name="jobhistory",
            name="job",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="history",
                to="django_jobs.job",
            ),
        ),
        migrations.AddIndex(
            model_name="job",
            index=models.Index(
                condition=models.Q(("worker__isnull", False)),
                fields=["worker"],
                name="django_jobs_running_idx",
            ),
        ),
    ]
