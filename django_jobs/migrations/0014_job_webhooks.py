from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("django_jobs", "0013_lighter_job_indexes"),
    ]

    operations = [
        migrations.AddField(
            model_name="job",
            name="webhooks",
            field=models.CharField(
                blank=True,
                default="",
                help_text="Endpoints of DJANGO_JOBS['WEBHOOKS'] that get this job's events "
                "whatever their filters, comma-separated.",
                max_length=500,
            ),
        ),
    ]
