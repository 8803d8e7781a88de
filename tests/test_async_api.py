"""``aenqueue`` and ``aschedule`` from async code: async tests and an async view."""

from asgiref.sync import sync_to_async
from django.core.exceptions import SynchronousOnlyOperation
from django.db import transaction
from django.test import TestCase, TransactionTestCase

from django_jobs import aenqueue, aschedule, enqueue
from django_jobs.exceptions import InvalidJob
from django_jobs.models import Job, JobDependency, JobStatus


class AsyncEnqueueTests(TestCase):
    async def test_enqueue_itself_cannot_run_in_async_code(self):
        with self.assertRaises(SynchronousOnlyOperation):
            enqueue("echo")

    async def test_aenqueue_creates_the_job_with_its_options(self):
        job = await aenqueue("echo", {"x": 1}, name="async", priority=4, queue="mail")
        stored = await Job.objects.aget(pk=job.pk)
        self.assertEqual((stored.name, stored.data), ("async", {"x": 1}))
        self.assertEqual((stored.priority, stored.queue, stored.status), (4, "mail", "pending"))

    async def test_aenqueue_validates_like_enqueue(self):
        with self.assertRaises(InvalidJob):
            await aenqueue("echo", max_attempts=0)
        self.assertEqual(await Job.objects.acount(), 0)

    async def test_aenqueue_takes_depends_on_and_a_unique_key_like_enqueue(self):
        root = await aenqueue("echo", unique_key="root")
        again = await aenqueue("echo", unique_key="root")
        self.assertEqual(again.pk, root.pk)
        child = await aenqueue("echo", depends_on=[root], on_dependency_failure="run")
        stored = await Job.objects.aget(pk=child.pk)
        self.assertEqual((stored.waiting_on, stored.on_dependency_failure), (1, "run"))
        self.assertIsNone(stored.next_run_at)
        self.assertEqual(
            [link.depends_on_id async for link in JobDependency.objects.filter(job=child)],
            [root.pk],
        )
        self.assertTrue((await Job.objects.aget(pk=root.pk)).has_dependents)

    async def test_aenqueue_refuses_bad_dependencies_like_enqueue(self):
        for depends_on, mode in (([999999], None), ([1, "x"], None), ([], "skip")):
            with self.assertRaises(InvalidJob) as info:
                await aenqueue("echo", depends_on=depends_on, on_dependency_failure=mode)
            self.assertIn(info.exception.field, ("depends_on", "on_dependency_failure"))
        self.assertEqual(await Job.objects.acount(), 0)

    async def test_aschedule_creates_then_updates_by_name(self):
        first = await aschedule("Nightly", "echo", "0 3 * * *", {"v": 1})
        second = await aschedule("Nightly", "echo", "0 4 * * *", {"v": 2})
        self.assertEqual(first.pk, second.pk)
        stored = await Job.objects.aget(pk=first.pk)
        self.assertEqual((stored.schedule, stored.data), ("0 4 * * *", {"v": 2}))

    async def test_an_async_view_enqueues(self):
        response = await self.async_client.get("/async-signup/", {"user": "ada"})
        self.assertEqual(response.status_code, 200)
        job = await Job.objects.aget(pk=response.json()["job"])
        self.assertEqual((job.data, job.queue), ({"user": "ada"}, "mail"))


class AsyncTransactionTests(TransactionTestCase):
    async def test_a_job_enqueued_in_a_rolled_back_transaction_does_not_exist(self):
        def signup_that_fails():
            with transaction.atomic():
                enqueue("echo", {"user": "bob"})
                raise RuntimeError("the signup failed")

        with self.assertRaises(RuntimeError):
            await sync_to_async(signup_that_fails)()
        self.assertEqual(await Job.objects.acount(), 0)
        job = await aenqueue("echo")
        self.assertEqual((await Job.objects.aget(pk=job.pk)).status, JobStatus.PENDING)
