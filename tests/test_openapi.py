"""The OpenAPI schema describes the API: schemathesis fuzzes every operation against it.

Checks: no 500, documented status codes and content types, bodies that match
their documented schemas, and nothing written when the answer is a 4xx. Bodies
the schema allows for one-time jobs are accepted (schema and server agree).
Examples are derandomized and bounded (``EXAMPLES`` per operation), so the file
runs in a minute or two on each database; tests/test_api_fuzz.py adds the
hostile values a schema does not describe.
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

from django_jobs.models import Job, JobHistory, Runner, Worker

schemathesis = pytest.importorskip("schemathesis")
pytest.importorskip("drf_spectacular")

from hypothesis import HealthCheck, settings  # noqa: E402
from schemathesis import checks  # noqa: E402

pytestmark = [pytest.mark.openapi, pytest.mark.django_db]

EXAMPLES = 40
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
        "/api/jobs/{id}/pause/",
        "/api/jobs/{id}/resume/",
        "/api/jobs/{id}/retry/",
        "/api/jobs/{id}/trigger/",
        "/api/jobs/bulk/",
        "/api/jobs/dead/",
        "/api/jobs/dead/purge/",
        "/api/jobs/dead/requeue/",
        "/api/jobs/handlers/",
        "/api/jobs/limits/",
        "/api/jobs/runner/",
        "/api/jobs/runner/start/",
        "/api/jobs/runner/stop/",
        "/api/jobs/schedule/validate/",
        "/api/jobs/stats/",
    }
    assert set(paths["/api/jobs/{id}/"]) == {"get", "put", "patch", "delete"}


def fuzzable_schema() -> dict:
    """The schema with ``handler`` narrowed to registered names, so creates can succeed.

    ``depends_on`` is narrowed to no ids: which ids exist is data, not schema
    (tests/test_dependencies_api.py covers it).
    """
    raw = generate_schema()
    for name, component in raw["components"]["schemas"].items():
        if name.startswith(("JobCreate", "JobUpdate", "PatchedJobUpdate", "BulkJob")):
            component["properties"]["handler"]["enum"] = ["echo", "noop", "add"]
            if "depends_on" in component["properties"]:
                component["properties"]["depends_on"]["maxItems"] = 0
    preview = raw["components"]["schemas"]["SchedulePreviewRequest"]["properties"]
    preview["schedule"]["enum"] = ["*/5 * * * *", "10m", "0 3 * * 1-5", "61 * * * *"]
    return raw


schema = schemathesis.openapi.from_dict(fuzzable_schema())
schema.app = get_wsgi_application()


@pytest.fixture
def staff_headers():
    fast = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    with override_settings(PASSWORD_HASHERS=fast):
        get_user_model().objects.create_superuser("admin", password="admin")
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


def snapshot():
    """Every row a request could write."""
    return (
        list(Job.objects.order_by("pk").values()),
        list(JobHistory.objects.order_by("pk").values()),
        list(Runner.objects.values()),
        list(Worker.objects.order_by("pk").values()),
    )


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
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
    before = snapshot()
    response = case.call(headers=staff_headers)
    case.validate_response(response, checks=CHECKS)
    if 400 <= response.status_code < 500:
        assert snapshot() == before, f"{case.method} {case.path}: a {response.status_code} wrote"


def one_time_job_schema() -> dict:
    """The schema without the fields whose rules no JSON Schema states in full.

    ``schedule`` (cron grammar) and ``timezone`` (the zone database) are
    checked by the server alone, with a 400 saying why; so are ``data``'s
    NUL characters, lone surrogates and depth, which its description states
    (generation below leaves NUL out for that reason). A ``unique_key`` that a
    live job holds answers that job instead of creating one (test_api_unique.py).
    ``limit_key`` needs a ``limit``, which a schema of independent fields cannot
    say (test_api_limits.py); nor can it say that the ``ref`` of the items of
    one bulk request differ (test_dependencies_api.py).
    """
    raw = fuzzable_schema()
    for component in raw["components"]["schemas"].values():
        for field in ("schedule", "timezone", "unique_key", "on_conflict", "limit_key", "ref"):
            component.get("properties", {}).pop(field, None)
    return raw


accepting = schemathesis.openapi.from_dict(one_time_job_schema()).include(
    operation_id=["jobs_create", "jobs_bulk_create"]
)
accepting.app = schema.app
accepting.config.generation.update(modes=[schemathesis.GenerationMode.POSITIVE], allow_x00=False)


@accepting.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_every_one_time_job_the_schema_allows_is_created(case, staff_headers, in_test_transaction):
    response = case.call(headers=staff_headers)
    if case.body == []:
        # The one bound drf-spectacular cannot put on a list body (no minItems hook):
        # the operation's description says it takes at least one job.
        assert response.status_code == 400
        assert response.json() == {"non_field_errors": ["This list may not be empty."]}
        return
    assert response.status_code == 201, (case.body, response.text)


def test_schedule_validate_says_an_empty_schedule_is_refused(api_client):
    field = generate_schema()["components"]["schemas"]["SchedulePreviewRequest"]
    assert field["properties"]["schedule"]["minLength"] == 1
    response = api_client.post("/api/jobs/schedule/validate", {"schedule": ""}, format="json")
    assert response.status_code == 400
    assert "schedule" in response.json()


@pytest.fixture
def api_client(db):
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_login(get_user_model().objects.create_superuser("staff"))
    return client
