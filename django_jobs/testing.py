"""Running jobs in tests: ``run_jobs()`` runs what is due, in the test's own thread.

    from django.test import TestCase
    from django_jobs import enqueue
    from django_jobs.testing import run_jobs

    class SignupTests(TestCase):
        def test_welcome_mail_is_sent(self):
            signup("ada@example.com")          # enqueues "send_welcome"
            self.assertEqual(run_jobs(), 1)
            self.assertEqual(len(mail.outbox), 1)

Handlers run one after another in the calling thread, on the test's
connection and inside its transaction, so they see the rows the test made
and a ``TestCase`` rolls back what they wrote. Claims, outcomes, retries and
history are the worker's own (it is the ``runjobs`` loop with an inline
executor); the connection is never closed. Timeouts are not enforced.
"""

from __future__ import annotations

from datetime import datetime

__all__ = ["run_jobs"]


def run_jobs(
    *,
    now: datetime | None = None,
    queues: list[str] | None = None,
    using: str | None = None,
) -> int:
    """Run every job due at ``now`` (default: the current time); return the attempts that finished.

    A failed attempt is retried only once its retry is due: call again with a
    later ``now`` to run it. Jobs they enqueue that are due run in the same call.
    """
    from .runner import new_worker
    from .worker.executors import InlineExecutor

    worker = new_worker(queues=queues, pool=InlineExecutor(), listen=False, using=using)
    return worker.run_once(now)
