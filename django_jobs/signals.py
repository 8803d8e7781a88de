"""Hooks for job events, as Django signals.

=================  ====================================================
signal             keyword arguments
=================  ====================================================
job_enqueued       ``job``
job_started        ``job``, ``attempt``
job_succeeded      ``job``, ``attempt``, ``result``, ``duration_ms``
job_failed         ``job``, ``attempt``, ``error``, ``will_retry``
worker_started     ``worker`` (the ``Worker`` row)
worker_stopped     ``worker``
=================  ====================================================

``job_started``, ``job_succeeded`` and ``job_failed`` are sent from the worker
process after the state is written; receivers must not raise (errors are
logged and ignored).
"""

from django.dispatch import Signal

job_enqueued = Signal()
job_started = Signal()
job_succeeded = Signal()
job_failed = Signal()
worker_started = Signal()
worker_stopped = Signal()
