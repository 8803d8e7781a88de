"""Webhook targets: refused schemes and addresses never see a connection; time and size bounded."""

from __future__ import annotations

import base64
import time

import pytest
from django.test import override_settings

from django_jobs import enqueue
from django_jobs.models import Job, JobStatus
from django_jobs.webhooks import transport
from django_jobs.webhooks.events import DELIVER
from django_jobs.worker import WorkerLoop

from .webhook_receiver import Receiver, watch_connects

SECRET = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()
LOCAL = {"WEBHOOK_ALLOW_HTTP": True, "WEBHOOK_ALLOWED_NETWORKS": ["127.0.0.1/32"]}


@pytest.fixture
def receiver():
    server = Receiver()
    yield server
    server.close()


def settings(**extra):
    return override_settings(DJANGO_JOBS={"RETRY_JITTER": False, **extra})


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("https://10.0.0.1/hooks", "10.0.0.1, a private address"),
        ("https://192.168.1.20/hooks", "a private address"),
        ("https://169.254.169.254/latest/meta-data", "a link-local address"),
        ("https://[::1]:{port}/hooks", "::1, a loopback address"),
        ("https://[fe80::1]/hooks", "a link-local address"),
        ("https://[::ffff:10.1.2.3]/hooks", "a private address"),
        ("https://224.0.0.1/hooks", "a multicast address"),
        ("https://0.0.0.0/hooks", "an unspecified address"),
        ("https://240.0.0.1/hooks", "a reserved address"),
        ("http://127.0.0.1:{port}/hooks", "127.0.0.1, a loopback address"),
        ("http://localhost:{port}/hooks", "a loopback address"),
    ],
)
def test_non_public_addresses_are_refused_without_connecting(receiver, url, reason):
    connects = watch_connects()
    url = url.format(port=receiver.port)
    with settings(WEBHOOK_ALLOW_HTTP=True):
        with pytest.raises(transport.BlockedTarget) as caught:
            transport.post(url, b"{}", {})
    message = str(caught.value)
    assert reason in message
    assert "WEBHOOK_ALLOWED_NETWORKS" in message
    assert connects == []
    assert receiver.requests == []


def test_plain_http_is_refused_unless_allowed(receiver):
    connects = watch_connects()
    with settings(WEBHOOK_ALLOWED_NETWORKS=["127.0.0.1/32"]):
        with pytest.raises(transport.BlockedTarget, match="plain http is not allowed"):
            transport.post(receiver.url, b"{}", {})
    assert connects == []
    assert receiver.requests == []


def test_an_allowed_network_is_reached_at_the_address_that_was_checked(receiver):
    connects = watch_connects()
    url = f"http://localhost:{receiver.port}/hooks"
    with settings(WEBHOOK_ALLOW_HTTP=True, WEBHOOK_ALLOWED_NETWORKS=["127.0.0.1/32", "::1/128"]):
        response = transport.post(url, b"{}", {"Content-Type": "application/json"})
    assert response.status == 200
    # The socket went to a resolved, checked address, never to the name itself.
    assert connects and all(address[0] in ("127.0.0.1", "::1") for address in connects)
    (request,) = receiver.requests
    assert request["headers"]["Host"] == f"localhost:{receiver.port}"


@pytest.mark.django_db(transaction=True)
def test_a_refused_target_fails_the_delivery_job_with_the_reason(receiver):
    connects = watch_connects()
    endpoint = {"url": receiver.url, "secret": SECRET, "events": ["job.succeeded"]}
    with settings(WEBHOOK_ALLOW_HTTP=True, WEBHOOKS={"main": endpoint}):
        enqueue("noop")
        WorkerLoop(listen=False).run_once()
        WorkerLoop(listen=False).run_once()
    delivery = Job.objects.get(handler=DELIVER)
    assert delivery.status == JobStatus.PENDING  # retried later, like any failed attempt
    assert "127.0.0.1, a loopback address" in delivery.last_error
    assert receiver.requests == []
    assert all(address[1] != receiver.port for address in connects if len(address) > 1)


def test_a_slow_receiver_is_cut_off_at_the_timeout(receiver):
    receiver.plan = [(200, {}, 3.0)]
    with settings(WEBHOOK_TIMEOUT=0.5, **LOCAL):
        started = time.monotonic()
        with pytest.raises(transport.DeliveryError, match=r"no answer within 0\.5s|timed out"):
            transport.post(receiver.url, b"{}", {})
        assert time.monotonic() - started < 2.0


def test_redirects_are_not_followed_by_default(receiver):
    receiver.plan = [(302, {"Location": "/elsewhere"}, 0)]
    with settings(**LOCAL):
        response = transport.post(receiver.url, b"{}", {})
    assert response.status == 302
    assert [r["path"] for r in receiver.requests] == ["/hooks"]


def test_an_allowed_redirect_is_followed_and_checked_again(receiver):
    receiver.plan = [(307, {"Location": "/final"}, 0), (308, {"Location": "https://10.0.0.1/"}, 0)]
    connects = watch_connects()
    with settings(WEBHOOK_MAX_REDIRECTS=3, **LOCAL):
        with pytest.raises(transport.BlockedTarget, match=r"10\.0\.0\.1, a private address"):
            transport.post(receiver.url, b"{}", {})
    assert [r["path"] for r in receiver.requests] == ["/hooks", "/final"]
    assert all(address[0] == "127.0.0.1" for address in connects)


def test_the_answer_read_is_bounded(receiver):
    with settings(WEBHOOK_MAX_RESPONSE_BYTES=1, **LOCAL):
        response = transport.post(receiver.url, b"{}", {})
    assert response.body == b"o"


def test_an_unresolvable_host_is_a_delivery_error():
    with settings():
        with pytest.raises(transport.DeliveryError, match="cannot resolve"):
            transport.checked_addresses("https://no-such-host.invalid/hooks")


def test_a_public_address_passes_the_check():
    with settings():
        assert transport.blocked_reason(__import__("ipaddress").ip_address("8.8.8.8")) is None
        assert transport.blocked_reason(__import__("ipaddress").ip_address("100.64.0.1"))


@pytest.mark.django_db(transaction=True)
def test_a_hanging_receiver_does_not_hold_back_other_deliveries(receiver):
    """Each delivery is its own job: a receiver that hangs costs one worker slot, not the queue."""
    fast = Receiver()
    receiver.plan = [(200, {}, 2.0)]
    endpoints = {
        "slow": {"url": receiver.url, "secret": SECRET, "events": ["job.succeeded"]},
        "fast": {"url": fast.url, "secret": SECRET, "events": ["job.succeeded"]},
    }
    try:
        with settings(WEBHOOKS=endpoints, WEBHOOK_TIMEOUT=5.0, **LOCAL):
            enqueue("noop")
            WorkerLoop(listen=False).run_once()
            WorkerLoop(listen=False, concurrency=4).run_once()
        (slow_request,) = receiver.requests
        (fast_request,) = fast.requests
        # The fast receiver was answered while the slow one was still sleeping.
        assert fast_request["at"] < slow_request["at"] + 1.5
        assert set(Job.objects.filter(handler=DELIVER).values_list("status", flat=True)) == {
            JobStatus.COMPLETED
        }
    finally:
        fast.close()


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    """A self-signed certificate for ``localhost`` only (not for 127.0.0.1), made by openssl."""
    import shutil
    import subprocess

    if not shutil.which("openssl"):
        pytest.skip("needs the openssl command")
    where = tmp_path_factory.mktemp("tls")
    cert, key = str(where / "cert.pem"), str(where / "key.pem")
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            "-keyout", key, "-out", cert, "-subj", "/CN=localhost",
            "-addext", "subjectAltName=DNS:localhost",
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


@pytest.fixture
def tls_receiver(certificate):
    server = Receiver(tls=certificate)
    yield server
    server.close()


HTTPS_LOCAL = {"WEBHOOK_ALLOWED_NETWORKS": ["127.0.0.1/32", "::1/128"]}


def test_https_to_the_checked_address_verifies_the_certificate_for_the_host_name(
    tls_receiver, certificate, monkeypatch
):
    monkeypatch.setenv("SSL_CERT_FILE", certificate[0])  # trust the test's certificate
    connects = watch_connects()
    with settings(**HTTPS_LOCAL):
        response = transport.post(tls_receiver.url, b"{}", {})
    assert response.status == 200
    assert connects and all(address[0] in ("127.0.0.1", "::1") for address in connects)
    (request,) = tls_receiver.requests
    assert request["headers"]["Host"] == f"localhost:{tls_receiver.port}"


def test_https_refuses_an_untrusted_certificate(tls_receiver):
    with settings(**HTTPS_LOCAL):
        with pytest.raises(transport.DeliveryError, match="CERTIFICATE_VERIFY_FAILED"):
            transport.post(tls_receiver.url, b"{}", {})
    assert tls_receiver.requests == []


def test_https_refuses_a_certificate_for_another_name(tls_receiver, certificate, monkeypatch):
    monkeypatch.setenv("SSL_CERT_FILE", certificate[0])
    url = f"https://127.0.0.1:{tls_receiver.port}/hooks"  # the certificate names localhost only
    with settings(**HTTPS_LOCAL):
        with pytest.raises(transport.DeliveryError, match=r"IP address mismatch|doesn.t match"):
            transport.post(url, b"{}", {})
    assert tls_receiver.requests == []
