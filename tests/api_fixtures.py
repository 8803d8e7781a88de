"""Users and API clients for the REST API tests (imported by tests/test_api*.py)."""

import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient


def _staff_with(username, codenames=None):
    """A staff user holding the named django_jobs permissions (None: every one)."""
    from django.contrib.auth.models import Permission

    user = get_user_model().objects.create_user(username, is_staff=True)
    held = Permission.objects.filter(content_type__app_label="django_jobs")
    if codenames is not None:
        held = held.filter(codename__in=codenames)
    user.user_permissions.set(held)
    return user


@pytest.fixture
def staff_api(db):
    """``staff_api(codenames)``: a client logged in as a staff user with just those permissions."""

    def make(codenames, username="partial"):
        client = APIClient()
        client.force_login(_staff_with(username, codenames))
        return client

    return make


@pytest.fixture
def staff_user(db):
    """A staff user with every permission of the jobs models."""
    return _staff_with("staff")


@pytest.fixture
def plain_user(db):
    return get_user_model().objects.create_user("plain")


@pytest.fixture
def api(staff_user):
    """A client logged in as a staff user (session authentication)."""
    client = APIClient()
    client.force_login(staff_user)
    return client


@pytest.fixture
def anon_api():
    return APIClient()


@pytest.fixture
def plain_api(plain_user):
    client = APIClient()
    client.force_login(plain_user)
    return client


def _make_job(**fields):
    """A job row as the worker would leave it; defaults to a pending one-time ``echo`` job."""
    from django.utils import timezone

    from django_jobs.models import Job

    values = {"name": "job", "handler": "echo", "status": "pending", "next_run_at": timezone.now()}
    values.update(fields)
    if values["status"] != "pending" and "next_run_at" not in fields:
        values["next_run_at"] = None
    return Job.objects.create(**values)


def _make_worker(name="w1", **fields):
    from django_jobs.models import Worker

    return Worker.objects.create(name=name, hostname="host", pid=123, **fields)


@pytest.fixture
def make_job(db):
    return _make_job


@pytest.fixture
def make_worker(db):
    return _make_worker
