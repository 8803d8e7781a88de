"""Receiving webhooks in Django: ``verify()`` and ``@verified_webhook`` on real signed requests."""

from __future__ import annotations

import base64
import json
import time

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.http import JsonResponse
from django.test import RequestFactory, override_settings

from django_jobs.checks import check_settings
from django_jobs.webhooks import WebhookVerificationError, verified_webhook, verify
from django_jobs.webhooks.signing import signed_headers

SECRET = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()
OTHER = "whsec_" + base64.b64encode(b"another secret of 32 bytes!!!!!!").decode()


def signed_request(payload, secret=SECRET, timestamp=None, body=None):
    text = body if body is not None else json.dumps(payload)
    headers = signed_headers(secret, "msg_1", int(timestamp or time.time()), text)
    return RequestFactory().post(
        "/hooks", data=text, content_type="application/json", headers=headers
    )


def test_verify_returns_the_payload_of_a_signed_request():
    assert verify(signed_request({"type": "job.succeeded"}), SECRET) == {"type": "job.succeeded"}


@pytest.mark.parametrize(
    "request_",
    [
        lambda: signed_request({"a": 1}, secret=OTHER),
        lambda: signed_request({"a": 1}, timestamp=time.time() - 3600),
        lambda: RequestFactory().post("/hooks", data="{}", content_type="application/json"),
        lambda: RequestFactory().post(
            "/hooks",
            data="{}",
            content_type="application/json",
            headers={"webhook-id": "x", "webhook-timestamp": "1", "webhook-signature": "junk"},
        ),
    ],
    ids=["wrong-secret", "replayed-an-hour-later", "unsigned", "malformed"],
)
def test_verify_refuses_what_was_not_signed_now_with_the_secret(request_):
    with pytest.raises(WebhookVerificationError):
        verify(request_(), SECRET)


def test_a_changed_body_is_refused():
    request = signed_request({"amount": 1})
    request._body = json.dumps({"amount": 1000}).encode()
    with pytest.raises(WebhookVerificationError, match="No matching signature"):
        verify(request, SECRET)


def test_the_decorator_answers_400_or_calls_the_view_with_the_payload():
    @verified_webhook(lambda: SECRET)
    def view(request):
        return JsonResponse({"seen": request.webhook["type"]})

    good = view(signed_request({"type": "job.dead"}))
    assert good.status_code == 200 and json.loads(good.content) == {"seen": "job.dead"}
    bad = view(signed_request({"type": "job.dead"}, secret=OTHER))
    assert bad.status_code == 400
    assert "invalid webhook" in json.loads(bad.content)["detail"]
    assert view(RequestFactory().get("/hooks")).status_code == 405


GOOD = {"url": "https://hooks.example.com/in", "secret": SECRET, "events": ["job.dead"]}


@pytest.mark.parametrize(
    ("webhooks", "extra", "says"),
    [
        ({"a": {**GOOD, "secret": "plain"}}, {}, "must be a string starting with 'whsec_'"),
        ({"a": {**GOOD, "secret": "whsec_c2hvcnQ="}}, {}, "at least 24 random bytes"),
        ({"a": {**GOOD, "secret": "whsec_!!notbase64"}}, {}, "must be base64"),
        ({"a": {**GOOD, "events": ["job.done"]}}, {}, "unknown events ['job.done']"),
        ({"a": {**GOOD, "events": "job.dead"}}, {}, "'events' must be a list"),
        ({"a": {**GOOD, "url": "ftp://x/"}}, {}, "must be an http(s) URL"),
        ({"a": {**GOOD, "url": "http://hooks.example.com/"}}, {}, "WEBHOOK_ALLOW_HTTP"),
        ({"a": {**GOOD, "handlers": "add"}}, {}, "'handlers' must be a list of names"),
        ({"a": {**GOOD, "method": "PUT"}}, {}, "unknown keys ['method']"),
        ({"a": "https://x/"}, {}, "must be a dict"),
        ([GOOD], {}, "must map endpoint names to dicts"),
        ({"a": GOOD}, {"WEBHOOK_ALLOWED_NETWORKS": ["10.0.0.0/99"]}, "not an address or network"),
    ],
)
@pytest.mark.django_db  # Django 6 runs the models' database checks once a check has failed
def test_bad_webhook_settings_fail_the_system_check(webhooks, extra, says):
    with override_settings(DJANGO_JOBS={"WEBHOOKS": webhooks, **extra}):
        errors = [e for e in check_settings() if e.id == "django_jobs.E020"]
        assert len(errors) == 1 and says in errors[0].msg, [e.msg for e in errors]
        with pytest.raises(SystemCheckError):
            call_command("check")


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("WEBHOOK_TIMEOUT", 0),
        ("WEBHOOK_MAX_REDIRECTS", -1),
        ("WEBHOOK_MAX_ATTEMPTS", "3"),
        ("WEBHOOK_QUEUE", ""),
    ],
)
def test_bad_webhook_numbers_fail_the_system_check(key, value):
    with override_settings(DJANGO_JOBS={key: value}):
        assert [e.id for e in check_settings()] == ["django_jobs.E022"]


def test_good_webhook_settings_pass_the_system_check():
    extra = {"WEBHOOK_ALLOW_HTTP": True, "WEBHOOK_ALLOWED_NETWORKS": ["127.0.0.1", "fd00::/8"]}
    endpoint = {**GOOD, "url": "http://127.0.0.1:9/", "handlers": ["add"], "queues": ["mail"]}
    with override_settings(DJANGO_JOBS={"WEBHOOKS": {"a": GOOD, "b": endpoint}, **extra}):
        assert check_settings() == []


def test_webhooks_without_the_standardwebhooks_package_fail_the_check(monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "standardwebhooks.webhooks", None)
    with override_settings(DJANGO_JOBS={"WEBHOOKS": {"a": GOOD}}):
        errors = check_settings()
    assert [e.id for e in errors] == ["django_jobs.E021"]
    assert "django-jobs-queue[webhooks]" in errors[0].hint
