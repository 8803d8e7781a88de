"""The OpenAPI schema describes the API: schemathesis fuzzes every operation against it.

Checks: no 500, documented status codes and content types, and bodies that
match their documented schemas. Examples are derandomized and bounded, so the
file runs in well under a minute on SQLite.
"""

import base64
import itertools

import pytest
from django.contrib.auth import get_user_model
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django.test import override_settings
from django.utils import timezone

from django_jobs.models import Job, Worker

schemathesis = pytest.importorskip("schemathesis")
pytest.importorskip("drf_spectacular")

from hypothesis import HealthCheck, settings  # noqa: E402
from schemathesis import checks  # noqa: E402

pytestmark = [pytest.mark.openapi, pytest.mark.django_db]

CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
]


def generate_schema() -> dict:
    """The schema drf-spectacular serves, generated in-process for the test URLconf."""
    from drf_spectacular.generators import SchemaGenerator

    spectacular = {"DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema"}
    with override_settings(REST_FRAMEWORK=spectacular):
        return SchemaGenerator().get_schema(request=None, public=True)


def test_schema_describes_every_route():
    paths = generate_schema()["paths"]
    assert set(paths) == {
        "/api/jobs/",
        "/api/jobs/{id}/",
        "/api/jobs/{id}/cancel/",
        "/api/jobs/{id}/history/",
        "/api/jobs/{id}/retry/",
        "/api/jobs/{id}/trigger/",
        "/api/jobs/bulk/",
        "/api/jobs/handlers/",
        "/api/jobs/runner/",
        "/api/jobs/runner/start/",
        "/api/jobs/runner/stop/",
        "/api/jobs/schedule/validate/",
        "/api/jobs/stats/",
    }
    assert set(paths["/api/jobs/{id}/"]) == {"get", "put", "patch", "delete"}


def fuzzable_schema() -> dict:
    """The schema with ``handler`` narrowed to registered names, so creates can succeed."""
    raw = generate_schema()
    for name, component in raw["components"]["schemas"].items():
        if name.startswith(("JobCreate", "JobUpdate", "PatchedJobUpdate", "BulkJob")):
            component["properties"]["handler"]["enum"] = ["echo", "noop", "add"]
    preview = raw["components"]["schemas"]["SchedulePreviewRequest"]["properties"]
    preview["schedule"]["enum"] = ["*/5 * * * *", "10m", "0 3 * * 1-5", "61 * * * *"]
    return raw


schema = schemathesis.openapi.from_dict(fuzzable_schema())
schema.app = get_wsgi_application()


@pytest.fixture
def staff_headers():
    fast = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    with override_settings(PASSWORD_HASHERS=fast):
        get_user_model().objects.create_user("admin", password="admin", is_staff=True)
        token = base64.b64encode(b"admin:admin").decode()
        yield {"Authorization": f"Basic {token}"}


@pytest.fixture
def in_test_transaction():
    """Keep Django's per-request connection cleanup off, as its test client does."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def job_ids():
    """Jobs in every state, so operations on an id reach real rows and their 409s."""
    now = timezone.now()
    worker = Worker.objects.create(name="w", hostname="h", pid=1)
    rows = [
        Job(name="one", handler="echo", next_run_at=now),
        Job(name="rec", handler="noop", schedule="*/5 * * * *", next_run_at=now),
        Job(name="run", handler="sleep", status="running", worker=worker, started_at=now),
        Job(name="bad", handler="fail", status="failed", last_error="boom"),
        Job(name="ok", handler="echo", status="completed", last_run_at=now),
    ]
    return [job.pk for job in Job.objects.bulk_create(rows)]


@pytest.fixture
def counter():
    return itertools.count()


@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_api_conforms_to_its_schema(case, staff_headers, in_test_transaction, job_ids, counter):
    if "id" in (case.path_parameters or {}):
        # Generated ids miss (and may spell a route, like "bulk"): use a job in each
        # state in turn, and now and then one that does not exist.
        choice = next(counter) % (len(job_ids) + 1)
        missing = max(job_ids) + 1000
        case.path_parameters["id"] = str(job_ids[choice] if choice < len(job_ids) else missing)
    case.call_and_validate(headers=staff_headers, checks=CHECKS)
