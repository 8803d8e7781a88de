"""Limits: concurrency and rate per (limit, key), kept by the claim on every database."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.core.checks import run_checks
from django.test import override_settings
from django.utils import timezone

from django_jobs import enqueue, enqueue_many, limits, schedule
from django_jobs.engines import claiming
from django_jobs.exceptions import InvalidJob
from django_jobs.models import Job, JobHistory, JobStatus, LimitStart
from django_jobs.registry import registry
from django_jobs.worker import WorkerLoop, liveness

pytestmark = pytest.mark.django_db(transaction=True)

LIMITS = {
    "pair": {"concurrency": 2},
    "three_a_minute": {"rate": "3/m"},
    "both": {"concurrency": 1, "rate": "2/s"},
}


@pytest.fixture(autouse=True)
def configured():
    with override_settings(DJANGO_JOBS={**settings.DJANGO_JOBS, "LIMITS": LIMITS}):
        yield


@pytest.fixture
def worker():
    return liveness.register(None, 10, "default")


def claim_limited(worker, free=10, now=None):
    batch = limits.claim(worker, None, free, now or timezone.now(), "default")
    return [claimed.job for claimed in batch]


def claim_plain(worker, free=10, now=None):
    batch = claiming.claim(worker, None, free, now or timezone.now(), "default")
    return [claimed.job for claimed in batch]


def finish(jobs):
    """Their runs end: the jobs complete (what a worker's outcome writes)."""
    Job.objects.filter(pk__in=[j.pk for j in jobs]).update(
        status=JobStatus.COMPLETED, worker=None, next_run_at=None
    )


# Settings and validation -----------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [("100/m", (100, 60.0)), ("5/s", (5, 1.0)), ("1000/h", (1000, 3600.0)), ("5/10s", (5, 10.0))],
)
def test_rates_parse(text, expected):
    assert limits.parse_rate(text) == expected
    assert limits.parse_rate(text.replace("m", "minute")) == expected or "m" not in text


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"concurrency": 0}, "concurrency must be a whole number >= 1"),
        ({"concurrency": "5"}, "concurrency must be a whole number >= 1"),
        ({"rate": "100/day"}, "rate must look like '100/m'"),
        ({"rate": "0/s"}, "at least one start"),
        ({}, "needs 'concurrency', 'rate' or both"),
        ({"concurency": 2}, "unknown key(s) concurency"),
        ("5/m", "must be a dict"),
    ],
)
def test_bad_limits_fail_the_system_check_with_the_reason(spec, message):
    with override_settings(DJANGO_JOBS={"LIMITS": {"mailer": spec}}):
        errors = [m for m in run_checks(tags=["compatibility"]) if m.id == "django_jobs.E030"]
    assert len(errors) == 1
    assert message in errors[0].msg
    assert "mailer" in errors[0].msg


def test_a_handler_naming_an_unknown_limit_fails_the_check():
    registry.register("limited_noop", lambda data: None, limit="nope")
    try:
        errors = [m for m in run_checks(tags=["compatibility"]) if m.id == "django_jobs.E030"]
    finally:
        registry.unregister("limited_noop")
    assert [e.msg for e in errors] == [
        "Handler 'limited_noop' has limit 'nope', which DJANGO_JOBS['LIMITS'] does not define."
    ]


def test_enqueue_takes_the_handlers_limit_unless_told_otherwise():
    registry.register("limited_noop", lambda data: None, limit="pair")
    try:
        assert enqueue("limited_noop").limit == "pair"
        job = enqueue("limited_noop", limit_key="customer-42")
        assert (job.limit, job.limit_key) == ("pair", "customer-42")
        assert enqueue("limited_noop", limit="three_a_minute").limit == "three_a_minute"
        assert enqueue("limited_noop", limit="").limit == ""
    finally:
        registry.unregister("limited_noop")
    assert enqueue("noop").limit == ""


def test_bad_limit_arguments_are_refused_with_the_field():
    with pytest.raises(InvalidJob) as unknown:
        enqueue("noop", limit="mailer")
    assert unknown.value.field == "limit"
    assert "unknown limit 'mailer'" in unknown.value.message
    with pytest.raises(InvalidJob) as keyless:
        enqueue("noop", limit_key="customer-1")
    assert keyless.value.field == "limit_key"
    with pytest.raises(InvalidJob):
        enqueue("noop", limit="pair", limit_key="x" * 201)
    assert not Job.objects.exists()


# Concurrency ---------------------------------------------------------------------


def test_concurrency_claims_only_what_is_free_per_key(worker):
    enqueue_many([{"handler": "noop", "limit": "pair"} for _ in range(5)])
    enqueue_many([{"handler": "noop", "limit": "pair", "limit_key": "b"} for _ in range(3)])
    first = claim_limited(worker)
    assert sorted(j.limit_key for j in first) == ["", "", "b", "b"]
    assert claim_limited(worker) == []  # full: the rest wait as pending
    waiting = Job.objects.filter(status=JobStatus.PENDING)
    assert waiting.count() == 4 and all(j.attempts == 0 for j in waiting)
    finish(first[:1])
    again = claim_limited(worker)
    assert [j.limit_key for j in again] == [first[0].limit_key]


def test_the_plain_claim_never_takes_limited_jobs_and_is_not_blocked_by_them(worker):
    # Limited jobs at the head of the claim order: more urgent and older.
    enqueue_many([{"handler": "noop", "limit": "pair", "priority": 9} for _ in range(50)])
    plain = enqueue("noop")
    assert [j.pk for j in claim_plain(worker, free=1)] == [plain.pk]
    assert claim_plain(worker) == []
    assert len(claim_limited(worker)) == 2


def test_a_dead_workers_slots_are_released_by_the_recovery_of_its_jobs(worker):
    enqueue_many([{"handler": "noop", "limit": "pair"} for _ in range(3)])
    held = claim_limited(worker)
    assert len(held) == 2 and claim_limited(worker) == []
    # The worker vanishes: its heartbeat stops.
    stale = timezone.now() - timedelta(seconds=settings.DJANGO_JOBS["WORKER_TIMEOUT"] * 3)
    type(worker).objects.filter(pk=worker.pk).update(last_heartbeat=stale)
    assert liveness.recover_lost() == 2
    other = liveness.register(None, 10, "default")
    later = timezone.now() + timedelta(seconds=5)  # past the retry backoff
    taken = claim_limited(other, now=later)
    assert len(taken) == 2
    assert Job.objects.filter(status=JobStatus.RUNNING, limit="pair").count() == 2


# Rate ----------------------------------------------------------------------------


def test_rate_is_a_sliding_window(worker):
    enqueue_many([{"handler": "noop", "limit": "three_a_minute"} for _ in range(8)])
    t0 = timezone.now()
    assert len(claim_limited(worker, now=t0)) == 3  # a burst takes the whole window
    finish(Job.objects.filter(status=JobStatus.RUNNING))
    assert claim_limited(worker, now=t0 + timedelta(seconds=30)) == []
    assert claim_limited(worker, now=t0 + timedelta(seconds=59.9)) == []
    assert len(claim_limited(worker, now=t0 + timedelta(seconds=60))) == 3
    # Starts older than the window are forgotten as the key is claimed.
    assert LimitStart.objects.filter(started_at__lte=t0).count() == 0


def test_concurrency_and_rate_together(worker):
    enqueue_many([{"handler": "noop", "limit": "both"} for _ in range(4)])
    t0 = timezone.now()
    assert len(claim_limited(worker, now=t0)) == 1
    assert claim_limited(worker, now=t0) == []
    finish(Job.objects.filter(status=JobStatus.RUNNING))
    assert len(claim_limited(worker, now=t0)) == 1  # second start of the window
    finish(Job.objects.filter(status=JobStatus.RUNNING))
    assert claim_limited(worker, now=t0 + timedelta(seconds=0.5)) == []  # rate used up
    assert len(claim_limited(worker, now=t0 + timedelta(seconds=1.01))) == 1


# The worker ----------------------------------------------------------------------


def test_a_worker_runs_limited_and_plain_jobs_to_the_end():
    enqueue_many([{"handler": "noop", "limit": "pair", "limit_key": str(i % 3)} for i in range(9)])
    enqueue_many([{"handler": "noop"} for _ in range(9)])
    assert WorkerLoop(listen=False, concurrency=4).run_once() == 18
    assert set(Job.objects.values_list("status", flat=True)) == {JobStatus.COMPLETED}
    assert JobHistory.objects.count() == 18


def test_only_finished_limited_jobs_are_written_ahead_of_the_limited_pass(monkeypatch):
    """Their outcomes free limit slots; the others wait for the claim's own round trip."""
    from django_jobs.outcomes import Outcome
    from django_jobs.worker import claiming as worker_claiming

    ahead = []
    write_ahead = worker_claiming._write_outcomes

    def spy(worker, now):
        ahead.append(sorted(item.job.limit for item in worker.outbox.items))
        write_ahead(worker, now)

    monkeypatch.setattr(worker_claiming, "_write_outcomes", spy)
    loop = WorkerLoop(listen=False, concurrency=4)
    loop.start()
    try:
        for limit in ("", "pair"):
            enqueue("noop", limit=limit or None)
            now = timezone.now()
            loop.limits_first = True  # this claim: the plain pass first
            [claimed] = worker_claiming.claim(loop, 4, now)
            loop.outbox.add(claimed, Outcome(claimed.job.pk, True, now, now, 0))
            worker_claiming.claim(loop, 4, now)  # the limited pass first
            assert not loop.outbox  # written, ahead or with the claim
            assert Job.objects.get(pk=claimed.job.pk).status == JobStatus.COMPLETED
    finally:
        loop.shutdown(grace=None)
    assert ahead == [["pair"]]  # the unlimited outcome went with the claim


def test_a_limited_job_waits_and_never_loses_an_attempt():
    enqueue_many([{"handler": "noop", "limit": "three_a_minute"} for _ in range(5)])
    assert WorkerLoop(listen=False).run_once() == 3
    waiting = Job.objects.filter(status=JobStatus.PENDING)
    assert waiting.count() == 2
    assert {(j.attempts, j.last_error) for j in waiting} == {(0, "")}
    later = timezone.now() + timedelta(minutes=1, seconds=1)
    assert WorkerLoop(listen=False).run_once(now=later) == 2


def test_recurring_jobs_carry_limits_too(worker):
    job = schedule("tick", "noop", "1s", limit="pair", limit_key="k")
    assert (job.limit, job.limit_key) == ("pair", "k")


def test_usage_shows_each_limit_its_use_and_what_waits(worker):
    enqueue_many([{"handler": "noop", "limit": "pair", "limit_key": "a"} for _ in range(3)])
    enqueue_many([{"handler": "noop", "limit": "three_a_minute"} for _ in range(4)])
    now = timezone.now()
    claim_limited(worker, now=now)
    by_name = {u["name"]: u for u in limits.usage(now, "default")}
    assert set(by_name) == set(LIMITS)
    pair = by_name["pair"]
    assert (pair["concurrency"], pair["running"], pair["waiting"]) == (2, 2, 1)
    assert pair["keys"] == [
        {"key": "a", "running": 2, "started_in_window": None, "waiting": 1, "due": 1}
    ]
    rate = by_name["three_a_minute"]
    assert (rate["rate"], rate["period_seconds"], rate["running"], rate["waiting"]) == (
        3,
        60.0,
        3,
        1,
    )
    assert rate["keys"][0]["started_in_window"] == 3
    assert by_name["both"]["keys"] == []


def test_an_overlapping_run_counts_against_its_jobs_limit():
    job = schedule("tick", "noop", "1s", limit="pair", allow_overlap=True)
    Job.objects.filter(pk=job.pk).update(next_run_at=timezone.now())
    loop = WorkerLoop(listen=False)
    loop.start()
    try:
        from django_jobs.worker import claiming as worker_claiming

        (run,) = worker_claiming.claim(loop, 1, timezone.now())
        assert run.job.pk != job.pk  # the slot went to a child run
        assert (run.job.limit, run.job.status) == ("pair", JobStatus.RUNNING)
        assert Job.objects.filter(status=JobStatus.RUNNING, limit="pair").count() == 1
    finally:
        loop.shutdown(grace=0)


def test_a_full_rate_window_says_when_it_opens(worker):
    enqueue_many([{"handler": "noop", "limit": "three_a_minute"} for _ in range(4)])
    t0 = timezone.now()
    taken, opens = limits.claim_pass(worker, None, 10, t0, "default")
    assert len(taken) == 3 and opens == t0 + timedelta(minutes=1)
    later = t0 + timedelta(seconds=10)
    assert limits.claim_pass(worker, None, 10, later, "default") == ([], t0 + timedelta(minutes=1))
    enqueue_many([{"handler": "noop", "limit": "pair"}])
    assert limits.claim_pass(worker, None, 10, later, "default")[1] == t0 + timedelta(minutes=1)
