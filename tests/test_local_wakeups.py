"""Wake-ups on this machine (any database): a datagram after commit, or an event in-process.

Workers poll every LONG_POLL seconds here, far longer than any wait: only a
wake-up makes them start a job in time.
"""

import shutil
import socket
import tempfile
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection, transaction
from django.test import override_settings

from django_jobs import autostart, enqueue, enqueue_many
from django_jobs.engines import for_alias, local
from django_jobs.models import Job, JobStatus
from django_jobs.worker import WorkerLoop

pytestmark = pytest.mark.django_db(transaction=True)

LONG_POLL = 30.0
# Generous for a loaded 2-core machine, and still far below LONG_POLL.
SOON = 5.0


def _wait(condition, timeout=SOON):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.005)
    return False


def _done(job):
    return Job.objects.filter(pk=job.pk, status=JobStatus.COMPLETED).exists()


# An idle worker also wakes for its upkeep rounds (each HEARTBEAT_INTERVAL): these are
# rare here, so only a wake-up can start a job within SOON.
QUIET = {**settings.DJANGO_JOBS, "WORKER_TIMEOUT": 300.0, "HEARTBEAT_INTERVAL": 60.0}


@contextmanager
def _idle_worker(**overrides):
    with override_settings(DJANGO_JOBS={**settings.DJANGO_JOBS, **overrides}):
        worker = WorkerLoop(poll_interval=LONG_POLL, listen=True, queues=["default"])
        thread = threading.Thread(target=worker.run, daemon=True)
        thread.start()
        assert _wait(lambda: worker.row is not None)
        time.sleep(0.3)  # its first claims found nothing: it sleeps for LONG_POLL now
        try:
            yield worker
        finally:
            worker.stop()
            thread.join(timeout=30)


@pytest.fixture
def idle_worker():
    with _idle_worker(**QUIET) as worker:
        yield worker


@pytest.fixture
def heartbeating_worker():
    """An idle worker of the test settings: an upkeep round every 0.5 s."""
    with _idle_worker() as worker:
        yield worker


def test_an_enqueue_in_the_same_process_wakes_the_worker(idle_worker):
    started = time.monotonic()
    job = enqueue("noop")
    assert _wait(lambda: _done(job))
    assert time.monotonic() - started < SOON


def test_the_wake_up_waits_for_the_commit(idle_worker):
    with transaction.atomic():
        job = enqueue("noop")
        time.sleep(0.3)
        assert not idle_worker._wake.is_set()
    assert _wait(lambda: _done(job))


def test_a_rolled_back_transaction_does_not_swallow_the_next_wake_up(idle_worker):
    with pytest.raises(RuntimeError), transaction.atomic():
        enqueue("noop")
        raise RuntimeError("rolled back")
    with transaction.atomic():
        job = enqueue("noop")
    assert _wait(lambda: _done(job))


def test_a_bulk_enqueue_wakes_the_worker(idle_worker):
    jobs = enqueue_many([{"handler": "noop"}] * 30)
    assert _wait(lambda: all(_done(job) for job in jobs))


def test_a_job_for_other_queues_does_not_wake_the_worker(idle_worker):
    enqueue("noop", queue="elsewhere")
    time.sleep(0.3)
    assert not idle_worker._wake.is_set()


def test_many_enqueues_in_one_transaction_send_one_wake_up(idle_worker):
    with transaction.atomic():
        for _ in range(20):
            enqueue("noop")
        assert len(connection.run_on_commit) == 1


def test_a_dependency_that_completes_wakes_its_dependents_worker(idle_worker):
    with transaction.atomic():  # whole before the worker wakes: nothing it claims is locked
        jobs = [enqueue("noop")]
        for _ in range(20):
            jobs.append(enqueue("noop", depends_on=[jobs[-1]]))
    # A poll per link would take 20 * LONG_POLL.
    assert _wait(lambda: _done(jobs[-1]), timeout=SOON * 2)


@pytest.mark.skipif(connection.vendor == "sqlite", reason="SQLite's claims wait for the lock")
def test_a_job_a_claim_skipped_while_a_dependent_locked_it_is_announced(idle_worker):
    from datetime import timedelta

    from django.utils import timezone

    first = enqueue("noop", run_at=timezone.now() + timedelta(seconds=0.3))  # due, unannounced
    time.sleep(0.4)
    with transaction.atomic():
        enqueue("noop", depends_on=[first])  # locks ``first``
        idle_worker._wake.set()  # a claim now skips it
        time.sleep(0.3)
        assert not idle_worker._wake.is_set()
    assert _wait(lambda: _done(first))


def test_trigger_and_retry_wake_the_worker(idle_worker):
    from datetime import timedelta

    from django.utils import timezone

    from django_jobs import steering

    later = enqueue("noop", run_at=timezone.now() + timedelta(hours=1))
    steering.trigger(later)
    assert _wait(lambda: _done(later))
    failed = enqueue("fail", max_attempts=1)
    assert _wait(lambda: Job.objects.get(pk=failed.pk).status == JobStatus.FAILED)
    Job.objects.filter(pk=failed.pk).update(handler="noop")
    steering.retry(failed)
    assert _wait(lambda: _done(failed))


def test_switching_the_runner_on_wakes_a_stopped_worker():
    from django_jobs import runner

    runner.stop()
    with _idle_worker(**QUIET) as worker:
        job = enqueue("noop")  # wakes it: it reads the switch, still off
        time.sleep(0.3)
        assert not _done(job) and not worker.runner_on
        runner.start()
        assert _wait(lambda: _done(job))


def test_the_setting_turns_local_wake_ups_off():
    with override_settings(DJANGO_JOBS={"LOCAL_WAKEUPS": False, "NOTIFY": False}):
        worker = WorkerLoop(poll_interval=LONG_POLL, listen=True)
        worker.start()
        try:
            assert worker._local is None
            enqueue("noop")
            assert not worker._wake.is_set()
        finally:
            worker.shutdown(grace=0)


def test_the_in_process_runner_is_woken_by_an_enqueue(wait_for):
    with override_settings(DJANGO_JOBS={**QUIET, "POLL_INTERVAL": LONG_POLL}):
        runner = autostart.start()
        try:
            wait_for(lambda: runner.worker is not None and runner.worker.row is not None)
            time.sleep(0.3)
            job = enqueue("noop")
            assert _wait(lambda: _done(job))
        finally:
            autostart.stop(timeout=30)


# Datagrams: workers of other processes -------------------------------------------------

needs_datagrams = pytest.mark.skipif(
    not for_alias("default").local_wakeups(), reason="this database wakes its workers itself"
)


def _socket_in(room):
    room.mkdir(parents=True, exist_ok=True)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    path = room / f"test-{time.monotonic_ns()}{local.SUFFIX}"
    sock.bind(str(path))
    sock.settimeout(2.0)
    return sock, path


@needs_datagrams
def test_a_committed_job_sends_its_queue_to_the_database_s_workers():
    room = local.room_of("default")
    sock, path = _socket_in(room)
    other, other_path = _socket_in(room.parent / "another-database")
    try:
        with transaction.atomic():
            enqueue("noop", queue="mail")
            enqueue("noop", queue="reports")
            sock.settimeout(0.2)
            with pytest.raises(TimeoutError):
                sock.recv(100)  # nothing before the commit
            sock.settimeout(2.0)
        assert sock.recv(100) == b"mail\nreports"
        other.settimeout(0.2)
        with pytest.raises(TimeoutError):
            other.recv(100)
    finally:
        for s, p in ((sock, path), (other, other_path)):
            s.close()
            p.unlink(missing_ok=True)


@needs_datagrams
def test_a_dead_or_deaf_listener_neither_fails_nor_slows_enqueue():
    room = local.room_of("default")
    dead, dead_path = _socket_in(room)
    dead.close()  # its file stays, as after kill -9
    deaf, deaf_path = _socket_in(room)  # bound, never read: its buffer fills up
    try:
        started = time.monotonic()
        for _ in range(500):
            enqueue("noop")
        took = time.monotonic() - started
        assert Job.objects.count() == 500
        assert not dead_path.exists()  # a refused send removes the file
        # 500 enqueues on a loaded machine: seconds would mean a send blocked.
        assert took < 15
    finally:
        deaf.close()
        deaf_path.unlink(missing_ok=True)


def test_no_listener_directory_at_all_is_fine(tmp_path, monkeypatch):
    nowhere = tmp_path / "nowhere"
    monkeypatch.setattr(local, "_rooms", {})
    monkeypatch.setattr(local, "_base", lambda: nowhere)
    job = enqueue("noop")
    assert Job.objects.filter(pk=job.pk).exists()
    assert not nowhere.exists()  # announcing creates nothing


@needs_datagrams
def test_nothing_is_sent_through_a_directory_that_is_not_this_user_s(monkeypatch):
    top = Path(tempfile.mkdtemp(prefix="djw"))  # short: socket paths have a length limit
    real, base = top / "real", top / "base"
    real.mkdir()
    base.symlink_to(real, target_is_directory=True)  # planted: a link, not our directory
    monkeypatch.setattr(local, "_rooms", {})
    monkeypatch.setattr(local, "_trusted", set())
    monkeypatch.setattr(local, "_base", lambda: base)
    sock, _ = _socket_in(local.room_of("default"))
    try:
        enqueue("noop")
        sock.settimeout(0.3)
        with pytest.raises(TimeoutError):
            sock.recv(100)
    finally:
        sock.close()
        shutil.rmtree(top)


# Pacing of an idle worker ------------------------------------------------------------


def test_an_idle_worker_keeps_its_heartbeat_however_long_its_poll(heartbeating_worker):
    idle_worker = heartbeating_worker
    from django_jobs.models import Worker as WorkerRow

    first = WorkerRow.objects.get(pk=idle_worker.row.pk).last_heartbeat
    # The test settings' WORKER_TIMEOUT of 3 s wants a heartbeat every 0.5 s; the poll is 30 s.
    assert _wait(lambda: WorkerRow.objects.get(pk=idle_worker.row.pk).last_heartbeat > first)


def test_a_woken_worker_claims_before_any_upkeep_round(heartbeating_worker):
    """Upkeep due while the worker waits runs before the wait, not between wake-up and claim."""
    idle_worker = heartbeating_worker
    rounds, claims = [], []
    run, claim = idle_worker.upkeep.run, idle_worker._claim

    def recording_run(now, *ahead):
        before, at = idle_worker.upkeep.next_round, time.monotonic()
        run(now, *ahead)
        if idle_worker.upkeep.next_round != before:
            rounds.append(at)

    def recording_claim(now):
        at, taken = time.monotonic(), claim(now)
        if taken:
            claims.append(at)
        return taken

    idle_worker.upkeep.run, idle_worker._claim = recording_run, recording_claim
    sent = []
    for i in range(30):
        time.sleep(0.15 + 0.01 * (i * 7 % 10))  # 0.15-0.24 s apart
        sent.append(time.monotonic())
        enqueue("noop")
    assert _wait(lambda: len(claims) == len(sent), timeout=SOON * 2)
    assert len(rounds) >= 5  # a round every 0.5 s
    waits = zip(sent, claims, strict=True)
    late = sum(any(at <= r <= taken for r in rounds) for at, taken in waits)
    # Only a round that falls due at the very moment a job arrives may come first.
    assert late <= 4, f"{late} of {len(sent)} claims waited for an upkeep round"
