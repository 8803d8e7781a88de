"""``django_jobs.testing.run_jobs()`` inside Django's ``TestCase``, on every database."""

from datetime import timedelta

from django.contrib.auth.models import User
from django.core.management import call_command
from django.db import connection
from django.test import TestCase
from django.utils import timezone

from django_jobs import enqueue
from django_jobs.models import Job, JobHistory, JobStatus, RunStatus, Worker
from django_jobs.testing import run_jobs


class RunJobsTests(TestCase):
    def test_runs_due_jobs_and_keeps_the_tests_connection_and_transaction(self):
        job = enqueue("add", {"a": 2, "b": 3})
        later = enqueue("noop", run_at=timezone.now() + timedelta(hours=1))
        self.assertEqual(run_jobs(), 1)
        self.assertTrue(connection.in_atomic_block)  # still inside the test's transaction
        job.refresh_from_db()
        self.assertEqual(job.status, JobStatus.COMPLETED)
        run = JobHistory.objects.get(job=job)
        self.assertEqual((run.status, run.result), (RunStatus.COMPLETED, {"sum": 5}))
        self.assertEqual(Job.objects.get(pk=later.pk).status, JobStatus.PENDING)
        self.assertFalse(Worker.objects.exists())
        self.assertEqual(run_jobs(), 0)

    def test_handlers_see_the_rows_the_test_made(self):
        User.objects.create(username="ada")
        job = enqueue("count_users")
        run_jobs()
        self.assertEqual(JobHistory.objects.get(job=job).result, {"users": 1})

    def test_a_failed_attempt_is_retried_when_its_retry_is_due(self):
        job = enqueue("fail", {"n": 1}, max_attempts=2)
        self.assertEqual(run_jobs(), 1)
        job.refresh_from_db()
        self.assertEqual((job.status, job.attempts), (JobStatus.PENDING, 1))
        self.assertIn("boom", job.last_error)
        self.assertEqual(run_jobs(now=timezone.now() + timedelta(minutes=5)), 1)
        job.refresh_from_db()
        self.assertEqual(job.status, JobStatus.FAILED)
        self.assertEqual(JobHistory.objects.filter(job=job, status=RunStatus.FAILED).count(), 2)

    def test_async_handlers_run_too(self):
        job = enqueue("async_echo", {"x": 1})
        run_jobs()
        self.assertEqual(JobHistory.objects.get(job=job).result, {"async": {"x": 1}})

    def test_runjobs_once_no_longer_closes_the_tests_connection(self):
        job = enqueue("noop")
        call_command("runjobs", "--once", "--no-sync", verbosity=0)
        self.assertTrue(connection.in_atomic_block)
        self.assertEqual(Job.objects.get(pk=job.pk).status, JobStatus.COMPLETED)
