"""Webhooks end to end: a real worker, a real HTTP receiver on 127.0.0.1, real signatures."""

from __future__ import annotations

import base64
import json
import time
from datetime import timedelta

import pytest
from django.test import override_settings
from django.utils import timezone
from standardwebhooks.webhooks import Webhook

from django_jobs import enqueue, schedule, steering
from django_jobs.models import Job, JobHistory, JobStatus, RunStatus
from django_jobs.webhooks.events import DELIVER
from django_jobs.worker import WorkerLoop

from .webhook_receiver import Receiver

pytestmark = pytest.mark.django_db(transaction=True)

SECRET = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()
BASE = {
    "POLL_INTERVAL": 0.05,
    "WORKER_TIMEOUT": 3.0,
    "HEARTBEAT_INTERVAL": 0.5,
    "RETRY_BACKOFF_BASE": 0.1,
    "RETRY_BACKOFF_MAX": 1.0,
    "RETRY_JITTER": False,
    "WEBHOOK_ALLOW_HTTP": True,
    "WEBHOOK_ALLOWED_NETWORKS": ["127.0.0.1/32", "::1/128"],
    "WEBHOOK_TIMEOUT": 2.0,
}
ALL_EVENTS = ["job.succeeded", "job.failed", "job.dead", "job.cancelled"]


@pytest.fixture
def receiver():
    server = Receiver()
    yield server
    server.close()


def hooks(receiver, **endpoint):
    """Settings with one endpoint ``main`` pointed at ``receiver``."""
    spec = {"url": receiver.url, "secret": SECRET, "events": ALL_EVENTS, **endpoint}
    return override_settings(DJANGO_JOBS={**BASE, "WEBHOOKS": {"main": spec}})


def run(now=None):
    return WorkerLoop(listen=False).run_once(now=now)


def deliveries():
    return list(Job.objects.filter(handler=DELIVER).order_by("pk"))


def verified(request):
    """The payload, verified by the standardwebhooks library exactly as a receiver would."""
    return Webhook(SECRET).verify(request["body"], request["headers"])


def test_success_is_delivered_signed_and_the_library_verifies_it(receiver):
    with hooks(receiver, events=["job.succeeded"]):
        job = enqueue("add", {"a": 2, "b": 3})
        run()
        assert receiver.requests == []  # the delivery is a job of its own, run next
        (delivery,) = deliveries()
        assert delivery.data["payload"]["data"]["job"]["id"] == job.pk
        run()
    (request,) = receiver.requests
    assert request["path"] == "/hooks"
    assert request["headers"]["Content-Type"] == "application/json"
    assert request["headers"]["webhook-id"].startswith("msg_")
    assert request["headers"]["webhook-signature"].startswith("v1,")
    assert abs(int(request["headers"]["webhook-timestamp"]) - time.time()) < 60
    payload = verified(request)
    assert payload["type"] == "job.succeeded"
    assert payload["data"]["job"]["id"] == job.pk
    assert payload["data"]["job"]["handler"] == "add"
    assert payload["data"]["result"] == {"sum": 5}
    assert payload["data"]["attempt"] == 1
    delivery.refresh_from_db()
    assert delivery.status == JobStatus.COMPLETED
    (row,) = JobHistory.objects.filter(job=delivery)
    assert row.result["status"] == 200


def test_a_tampered_body_or_another_secret_fails_verification(receiver):
    with hooks(receiver):
        enqueue("noop")
        run()
        run()
    (request,) = receiver.requests
    from standardwebhooks.webhooks import WebhookVerificationError

    tampered = dict(request, body=request["body"].replace(b"noop", b"nope"))
    with pytest.raises(WebhookVerificationError):
        verified(tampered)
    other = "whsec_" + base64.b64encode(b"x" * 32).decode()
    with pytest.raises(WebhookVerificationError):
        Webhook(other).verify(request["body"], request["headers"])


def test_a_500_is_retried_with_backoff_and_the_same_message_id(receiver):
    receiver.plan = [(500, {}, 0), (503, {}, 0)]
    with hooks(receiver, events=["job.succeeded"]):
        enqueue("noop")
        run()
        run()
        (delivery,) = deliveries()
        delivery.refresh_from_db()
        assert delivery.status == JobStatus.PENDING
        assert delivery.attempts == 1
        assert "answered 500" in delivery.last_error
        assert delivery.next_run_at > timezone.now() - timedelta(seconds=1)
        later = timezone.now() + timedelta(seconds=5)
        run(now=later)
        run(now=later + timedelta(seconds=5))
    assert [r for r in receiver.requests if r] and len(receiver.requests) == 3
    ids = {r["headers"]["webhook-id"] for r in receiver.requests}
    assert len(ids) == 1
    for request in receiver.requests:
        assert verified(request)["type"] == "job.succeeded"
    delivery.refresh_from_db()
    assert delivery.status == JobStatus.COMPLETED
    assert delivery.attempts == 3
    statuses = list(
        JobHistory.objects.filter(job=delivery).order_by("attempt").values_list("status", flat=True)
    )
    assert statuses == [RunStatus.FAILED, RunStatus.FAILED, RunStatus.COMPLETED]


def test_failed_attempts_and_the_dead_job_each_send_their_event(receiver):
    with hooks(receiver, events=["job.failed", "job.dead"]):
        job = enqueue("fail", {}, max_attempts=2)
        run()
        run(now=timezone.now() + timedelta(seconds=5))
        run(now=timezone.now() + timedelta(seconds=10))
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED
    payloads = [verified(r) for r in receiver.requests]
    by_type = sorted((p["type"], p["data"].get("will_retry")) for p in payloads)
    assert by_type == [("job.dead", None), ("job.failed", False), ("job.failed", True)]
    dead = next(p for p in payloads if p["type"] == "job.dead")
    assert dead["data"]["job"]["id"] == job.pk
    assert dead["data"]["error"]


def test_a_recurring_job_that_fails_is_not_dead(receiver):
    with hooks(receiver, events=["job.dead", "job.failed"]):
        job = schedule("nightly-fail", "fail", "1h", max_attempts=1)
        Job.objects.filter(pk=job.pk).update(next_run_at=timezone.now())
        run()
        run()
    assert [verified(r)["type"] for r in receiver.requests] == ["job.failed"]


def test_cancelling_a_pending_job_sends_job_cancelled(receiver):
    with hooks(receiver, events=["job.cancelled"]):
        job = enqueue("noop", run_at=timezone.now() + timedelta(hours=1))
        steering.cancel(job)
        run()
    (request,) = receiver.requests
    payload = verified(request)
    assert payload["type"] == "job.cancelled"
    assert payload["data"]["job"]["status"] == "cancelled"


@pytest.mark.parametrize("fails", [False, True], ids=["returns", "raises"])
def test_a_running_job_stopped_by_a_cancel_sends_job_cancelled_not_dead(receiver, fails):
    import threading

    with hooks(receiver, events=["job.cancelled", "job.dead"]):
        job = enqueue("sleep", {"seconds": 10, "fail_when_cancelled": fails}, max_attempts=1)
        worker = threading.Thread(target=run)
        worker.start()
        deadline = time.monotonic() + 20
        while Job.objects.get(pk=job.pk).status != JobStatus.RUNNING:
            assert time.monotonic() < deadline, "the job never started"
            time.sleep(0.02)
        steering.cancel(job)
        worker.join(30)
        run()
    job.refresh_from_db()
    assert job.status == JobStatus.CANCELLED
    assert [verified(r)["type"] for r in receiver.requests] == ["job.cancelled"]


def test_filters_by_handler_and_queue(receiver):
    with hooks(receiver, events=["job.succeeded"], handlers=["add"], queues=["mail"]):
        enqueue("add", {"a": 1, "b": 1})  # default queue: filtered out
        enqueue("noop", queue="mail")  # other handler: filtered out
        wanted = enqueue("add", {"a": 1, "b": 2}, queue="mail")
        run()
        assert len(deliveries()) == 1
        run()
    (request,) = receiver.requests
    assert verified(request)["data"]["job"]["id"] == wanted.pk


def test_a_delivery_never_announces_itself(receiver):
    receiver.plan = [(500, {}, 0)]
    with hooks(receiver):  # every event, no filters
        enqueue("noop")
        run()
        run()
        run(now=timezone.now() + timedelta(seconds=5))
    assert len(deliveries()) == 1
    assert len(receiver.requests) == 2


def test_an_endpoint_removed_from_settings_fails_the_delivery_clearly(receiver):
    with hooks(receiver, events=["job.succeeded"]):
        enqueue("noop")
        run()
    with override_settings(DJANGO_JOBS={**BASE, "WEBHOOKS": {}}):
        run()
    (delivery,) = deliveries()
    delivery.refresh_from_db()
    assert "'main' is not configured" in delivery.last_error
    assert receiver.requests == []


def test_a_big_result_is_dropped_to_keep_the_body_bounded(receiver):
    with override_settings(
        DJANGO_JOBS={
            **BASE,
            "WEBHOOK_MAX_BODY_BYTES": 2000,
            "WEBHOOKS": {"main": {"url": receiver.url, "secret": SECRET, "events": ALL_EVENTS}},
        }
    ):
        enqueue("echo", {"big": "x" * 5000})
        run()
        run()
    (request,) = receiver.requests
    assert len(request["body"]) <= 2000
    payload = verified(request)
    assert payload["data"]["truncated"] is True
    assert "result" not in payload["data"]


def test_a_webhook_is_enqueued_only_once_the_outcome_commits(receiver):
    from django.db import transaction

    with hooks(receiver, events=["job.cancelled"]):
        job = enqueue("noop", run_at=timezone.now() + timedelta(hours=1))
        with pytest.raises(RuntimeError), transaction.atomic():
            steering.cancel(job)
            raise RuntimeError("rolled back")
        assert deliveries() == []
        with transaction.atomic():
            steering.cancel(job)
            assert deliveries() == []
        assert len(deliveries()) == 1


def test_payload_is_json_with_type_timestamp_and_data(receiver):
    with hooks(receiver, events=["job.succeeded"]):
        job = enqueue("add", {"a": 1, "b": 1}, name="sum")
        run()
        run()
    (request,) = receiver.requests
    payload = json.loads(request["body"])
    assert set(payload) == {"type", "timestamp", "data"}
    assert payload["data"]["job"]["name"] == "sum" and payload["data"]["job"]["id"] == job.pk
    assert payload["data"]["duration_ms"] is not None


def test_deliveries_are_jobs_seen_in_the_api_and_the_admin(receiver, admin_client):
    from django.urls import reverse

    receiver.plan = [(500, {}, 0)]
    with hooks(receiver, events=["job.succeeded"]):
        enqueue("noop")
        run()
        run()
    (delivery,) = deliveries()
    listing = admin_client.get("/api/jobs", {"handler": DELIVER})
    assert listing.status_code == 200
    (shown,) = listing.json()["results"]
    assert shown["id"] == delivery.pk and shown["status"] == "pending"
    assert "secret" not in json.dumps(shown) and SECRET not in json.dumps(shown)
    history = admin_client.get(f"/api/jobs/{delivery.pk}/history").json()["results"]
    assert [row["status"] for row in history] == ["failed"]
    assert "answered 500" in history[0]["error"]
    page = admin_client.get(reverse("admin:django_jobs_job_change", args=[delivery.pk]))
    assert page.status_code == 200 and b"answered 500" in page.content


def test_runjobs_processes_deliver_signed_webhooks(receiver, worker_env, manage_cmd):
    """Real ``runjobs --once`` processes: the job, then its delivery (retried after a 500)."""
    import subprocess

    receiver.plan = [(500, {}, 0)]
    extra = {
        **{k: v for k, v in BASE.items() if k.startswith("WEBHOOK_")},
        "WEBHOOKS": {"main": {"url": receiver.url, "secret": SECRET, "events": ["job.dead"]}},
    }
    env = {**worker_env, "DJANGO_JOBS_TEST_EXTRA": json.dumps(extra)}
    job = enqueue("fail", {}, max_attempts=1)

    def runjobs():
        subprocess.run([*manage_cmd, "runjobs", "--once"], env=env, check=True, timeout=60)

    runjobs()  # the job fails for good: job.dead, a delivery job
    runjobs()  # the receiver answers 500: retried
    time.sleep(1.2)  # RETRY_BACKOFF_MAX of the test settings
    runjobs()
    assert len(receiver.requests) == 2
    first, second = (verified(r) for r in receiver.requests)
    assert first == second and first["type"] == "job.dead"
    assert first["data"]["job"]["id"] == job.pk
    (delivery,) = deliveries()
    assert delivery.status == JobStatus.COMPLETED and delivery.attempts == 2
