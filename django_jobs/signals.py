"""Hooks for job events, as Django signals.

=================  ====================================================
signal             keyword arguments
=================  ====================================================
job_enqueued       ``job``
job_started        ``job``, ``attempt``
job_succeeded      ``job``, ``attempt``, ``result``, ``duration_ms``
job_failed         ``job``, ``attempt``, ``error``, ``will_retry``
job_dead           ``job``, ``attempt``, ``error`` (a one-time job failed for good)
job_cancelled      ``job`` (a pending job was cancelled, or a running one stopped)
worker_started     ``worker`` (the ``Worker`` row)
worker_stopped     ``worker``
=================  ====================================================

``job_started``, ``job_succeeded``, ``job_failed`` and ``job_dead`` are sent
from the worker process after the state is written (``job_failed`` also for an
attempt failed by the recovery of a vanished worker, by the worker that
recovers it, and for one a stopping worker interrupted); receivers must not raise
(errors are logged and ignored). ``job_started`` is sent when the handler of
an attempt starts, from the thread that runs it (with ``--pool process``,
from the worker as it hands the job to a child process): the job is
``running`` and its ``attempts`` count includes this attempt. ``job_dead``
follows the last ``job_failed`` of a one-time job that has no retries left; it
is also sent, once the state is written, for a one-time job that dies with no
handler outcome: its worker vanished (sent by the worker that recovers it) or
stopped with its last attempt cut off, or the database refused to start it.
Recurring jobs never die (``Job.objects.dead()``).
``job_cancelled`` is sent by ``steering.cancel`` for a pending job and by the
worker for a running one that stopped after a cancel. Sent by the worker for
an attempt, the job signals also carry ``run``: the attempt's ``JobHistory``
row (None with ``ENABLE_HISTORY`` off); sent from elsewhere (a cancel of a
pending job, a job the database refused to start), they do not.
"""

from django.dispatch import Signal

job_enqueued = Signal()
job_started = Signal()
job_succeeded = Signal()
job_failed = Signal()
job_dead = Signal()
job_cancelled = Signal()
worker_started = Signal()
worker_stopped = Signal()
