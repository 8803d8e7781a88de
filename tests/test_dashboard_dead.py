"""The dashboard's jobs list can show dead jobs only."""

import pytest
from django.urls import reverse

from django_jobs.models import Job, JobStatus

from .test_dead import dead_job

pytestmark = pytest.mark.django_db


def test_the_jobs_list_filters_dead_jobs(admin_client):
    dead = dead_job()
    Job.objects.create(name="r", handler="echo", schedule="1h", status=JobStatus.FAILED)
    Job.objects.create(name="c", handler="echo", status=JobStatus.COMPLETED)
    response = admin_client.get(reverse("django_jobs_dashboard:jobs"), {"status": "dead"})
    assert response.status_code == 200
    assert [job.pk for job in response.context["rows"]] == [dead.pk]
    assert 'value="dead"' in response.content.decode()
