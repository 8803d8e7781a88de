"""Limits under four real ``runjobs`` processes, one of them killed with SIGKILL mid-run.

The test samples the running jobs of each (limit, key) while the workers drain,
and checks afterwards that the handlers' own run intervals never overlapped
more than the concurrency allows and that no window of the rate's period holds
more starts than the rate.
"""

import json
import signal
from collections import Counter

import pytest
from django.conf import settings
from django.test import override_settings

from django_jobs import enqueue_many
from django_jobs.models import Job, JobHistory, JobStatus, RunStatus
from django_jobs.models import Worker as WorkerRow

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.subprocess]

LIMITS = {"pair": {"concurrency": 2}, "five_a_second": {"rate": "5/s"}}
EXTRA = {"LIMITS": LIMITS, "POLL_INTERVAL": 0.02}


def most_at_once(intervals):
    """The largest number of (start, end) intervals that overlap at one instant."""
    events = sorted([(s, 1) for s, _ in intervals] + [(e, -1) for _, e in intervals])
    level = peak = 0
    for _, step in events:
        level += step
        peak = max(peak, level)
    return peak


def most_in_a_window(instants, seconds):
    """The largest number of ``instants`` inside any half-open window of ``seconds``."""
    instants = sorted(instants)
    peak, first = 0, 0
    for last, at in enumerate(instants):
        while at - instants[first] >= seconds:
            first += 1
        peak = max(peak, last - first + 1)
    return peak


def test_limits_hold_across_four_workers_and_a_kill_9(runjobs, wait_for, tmp_path):
    out = tmp_path / "runs.txt"
    env = {"DJANGO_JOBS_TEST_EXTRA": json.dumps(EXTRA)}
    workers = [runjobs("--concurrency", "4", env=env) for _ in range(4)]
    wait_for(lambda: WorkerRow.objects.count() == 4, message="four workers registered")
    spec = {"handler": "timed", "max_attempts": 5}
    with override_settings(DJANGO_JOBS={**settings.DJANGO_JOBS, **EXTRA}):
        enqueue_many(
            [
                {
                    **spec,
                    "data": {"path": str(out), "key": k, "seconds": 0.1},
                    "limit": "pair",
                    "limit_key": k,
                }
                for k in ["a", "b"] * 12
            ]
            + [
                {
                    **spec,
                    "data": {"path": str(out), "key": "rate", "seconds": 0.02},
                    "limit": "five_a_second",
                }
                for _ in range(20)
            ]
            + [{**spec, "data": {"path": str(out), "key": "free", "seconds": 0.1}}] * 40
        )
    peaks: Counter = Counter()
    killed = []

    def sample():
        running = Counter(
            Job.objects.filter(status=JobStatus.RUNNING).values_list("limit", "limit_key")
        )
        for group, n in running.items():
            peaks[group] = max(peaks[group], n)
        if not killed:
            # Kill a worker while it holds a slot of the concurrency limit.
            holder = (
                Job.objects.filter(status=JobStatus.RUNNING, limit="pair")
                .values_list("worker__pid", flat=True)
                .first()
            )
            victim = next((w for w in workers if w.pid == holder), None)
            if victim is not None:
                victim.send_signal(signal.SIGKILL)
                victim.wait()
                killed.append(victim)
        return Job.objects.filter(status=JobStatus.COMPLETED).count() == 84

    wait_for(sample, timeout=120, interval=0.01, message="every job done")
    assert killed, "a worker holding a slot was killed"
    assert peaks[("pair", "a")] <= 2 and peaks[("pair", "b")] <= 2, peaks
    assert peaks[("pair", "a")] == 2, "the limit was used, not just respected"

    runs: dict[str, list] = {}
    for line in out.read_text().splitlines():
        key, start, end, _ = line.split()
        runs.setdefault(key, []).append((float(start), float(end)))
    assert most_at_once(runs["a"]) <= 2 and most_at_once(runs["b"]) <= 2
    assert most_at_once(runs["free"]) > 2, "jobs without a limit are not held back"
    rate_starts = [
        h.started_at.timestamp() for h in JobHistory.objects.filter(job__limit="five_a_second")
    ]
    assert len(rate_starts) >= 20
    assert most_in_a_window(rate_starts, 1.0) <= 5
    # The killed worker's runs were failed by the recovery and run again.
    lost = JobHistory.objects.filter(status=RunStatus.FAILED, error__contains="worker lost")
    assert lost.filter(job__limit="pair").exists()
    assert all(w.poll() is None for w in workers if w not in killed)
