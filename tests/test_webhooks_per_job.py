"""A job's own endpoints: ``webhooks=[...]`` names endpoints of WEBHOOKS its events go to."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings
from rest_framework.test import APIClient

from django_jobs import enqueue, enqueue_many, schedule
from django_jobs.exceptions import InvalidJob
from django_jobs.models import Job
from django_jobs.webhooks import config
from django_jobs.webhooks.events import DELIVER

from .test_webhooks import BASE, SECRET, run

pytestmark = pytest.mark.django_db(transaction=True)
EVENTS = ["job.succeeded", "job.failed"]


def endpoints(**specs):
    hooks = {
        name: {"url": "http://127.0.0.1:9/hooks", "secret": SECRET, "events": EVENTS, **spec}
        for name, spec in specs.items()
    }
    return override_settings(DJANGO_JOBS={**BASE, "WEBHOOKS": hooks})


def delivered_to():
    return sorted(job.data["endpoint"] for job in Job.objects.filter(handler=DELIVER))


def test_a_job_naming_an_endpoint_reaches_it_whatever_its_filters():
    with endpoints(partner={"named_only": True}, billing={"handlers": ["charge"]}):
        enqueue("add", {"a": 1, "b": 2})  # names none: billing's filter leaves it out
        run()
        assert delivered_to() == []
        job = enqueue("add", {"a": 1, "b": 2}, webhooks=["partner", "billing"])
        assert sorted(config.job_webhooks(Job.objects.get(pk=job.pk).webhooks)) == [
            "billing",
            "partner",
        ]
        run()
    assert delivered_to() == ["billing", "partner"]


def test_a_named_only_endpoint_hears_only_from_the_jobs_that_name_it():
    with endpoints(partner={"named_only": True}, everyone={}):
        enqueue("add", {"a": 1, "b": 2})
        enqueue("add", {"a": 1, "b": 2}, webhooks=["partner"])
        run()
    assert delivered_to() == ["everyone", "everyone", "partner"]


def test_the_endpoint_still_chooses_its_events():
    with endpoints(partner={"named_only": True, "events": ["job.failed"]}):
        enqueue("add", {"a": 1, "b": 2}, webhooks=["partner"])
        run()
    assert delivered_to() == []


def test_every_door_takes_a_jobs_endpoints():
    with endpoints(partner={"named_only": True}):
        many = enqueue_many([{"handler": "add", "data": {"a": 1, "b": 1}}], webhooks=["partner"])
        recurring = schedule("nightly", "add", "1d", {"a": 1, "b": 1}, webhooks="partner")
        assert Job.objects.get(pk=many[0].pk).webhooks == "partner"
        assert Job.objects.get(pk=recurring.pk).webhooks == "partner"


@pytest.mark.parametrize(
    "value, message",
    [
        (["nope"], "no endpoint 'nope'"),
        ([""], "a list of endpoint names"),
        ([5], "a list of endpoint names"),
        ({"partner": 1}, "a list of endpoint names"),
    ],
)
def test_unknown_or_malformed_names_are_refused_and_nothing_is_created(value, message):
    with endpoints(partner={}):
        with pytest.raises(InvalidJob, match=message) as caught:
            enqueue("add", {"a": 1, "b": 2}, webhooks=value)
    assert caught.value.field == "webhooks"
    assert not Job.objects.exists()


def test_the_rest_api_takes_and_shows_a_jobs_endpoints(admin_user):
    api = APIClient()
    api.force_authenticate(admin_user)
    with endpoints(partner={"named_only": True}):
        created = api.post("/api/jobs", {"handler": "add", "webhooks": ["partner"]}, format="json")
        assert created.status_code == 201, created.json()
        assert created.json()["webhooks"] == ["partner"]
        refused = api.post("/api/jobs", {"handler": "add", "webhooks": ["nope"]}, format="json")
        assert refused.status_code == 400
        assert "no endpoint 'nope'" in refused.json()["webhooks"][0]
        bad = api.post("/api/jobs", {"handler": "add", "webhooks": "partner"}, format="json")
        assert bad.status_code == 400 and "webhooks" in bad.json()
        changed = api.patch(f"/api/jobs/{created.json()['id']}", {"webhooks": []}, format="json")
        assert changed.status_code == 200, changed.json()
        assert changed.json()["webhooks"] == []
    assert Job.objects.count() == 1


def test_endpoint_settings_refuse_a_bad_named_only_and_names_with_the_separator():
    with pytest.raises(ImproperlyConfigured, match="'named_only' must be True or False"):
        config.parse_endpoint(
            "a",
            {"url": "https://x.example", "secret": SECRET, "events": EVENTS, "named_only": "yes"},
        )
    with pytest.raises(ImproperlyConfigured, match="without ','"):
        config.parse_endpoint(
            "a,b", {"url": "https://x.example", "secret": SECRET, "events": EVENTS}
        )


def test_the_admin_add_page_takes_a_jobs_endpoints(admin_client):
    from django.urls import reverse

    from .test_admin import form_data

    add = reverse("admin:django_jobs_job_add")
    with endpoints(partner={"named_only": True}):
        refused = admin_client.post(add, form_data(webhooks="nope"))
        assert refused.status_code == 200
        assert "no endpoint" in str(refused.context["adminform"].form.errors["webhooks"])
        assert not Job.objects.exists()
        created = admin_client.post(add, form_data(webhooks="partner"))
        assert created.status_code == 302, created.context["adminform"].form.errors
    assert Job.objects.get().webhooks == "partner"
