"""Every API operation fed hostile strings and numbers (hypothesis): never a 500, always
JSON, and nothing written when the answer is a 4xx.

The schema-driven fuzz (tests/test_openapi.py) sends what the OpenAPI schema
describes, encoded as UTF-8; this one sends what an attacker would: NUL
characters, lone surrogates (as ``\\ud800`` escapes), control and bidi
characters, 400-digit integers, ``1e400``, ``NaN``, deep and wide JSON, and
values of the wrong type in every field. Each example runs inside a savepoint
that is rolled back, so every example starts from the same rows. Examples are
derandomized and bounded: the file runs in about a minute per database.
"""

import json
import string
from dataclasses import dataclass
from urllib.parse import quote

import pytest
from django.db import transaction
from django.utils import timezone

from django_jobs.models import Job, JobHistory, Runner, Worker

pytest.importorskip("hypothesis")

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytest_plugins = ["tests.api_fixtures"]
pytestmark = pytest.mark.django_db

JOBS = "/api/jobs"
EXAMPLES = 120

FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)


@dataclass(frozen=True)
class Raw:
    """A JSON token written as is: numbers Python would not produce, constants, junk."""

    text: str


def encode(value):
    """JSON text for ``value``; ``Raw`` tokens are inserted verbatim at any depth."""
    if isinstance(value, Raw):
        return value.text
    if isinstance(value, dict):
        items = (f"{json.dumps(key)}: {encode(item)}" for key, item in value.items())
        return "{" + ", ".join(items) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(encode(item) for item in value) + "]"
    return json.dumps(value)


SPECIAL_TEXT = [
    "",
    " ",
    "\x00",
    "a\x00b",
    "\ud800",
    "\udfff",
    "x\udc00y",
    "\ud83d\udca5",
    "\u202e\u2066",
    "\ufeff",
    "\x1b[31m",
    "\r\n",
    "'; DROP TABLE django_jobs_job; --",
    "%s%s%n",
    "{{ 7*7 }}",
    "<script>",
    "../../etc/passwd",
    "a,b",
    "*/5 * * * *",
    "10m",
    "Europe/Berlin",
    "2030-01-01T00:00:00+14:00",
    "9999-12-31T23:59:59-12:00",
    "0001-01-01T00:00:00+14:00",
    "x" * 300,
]
RAW_NUMBERS = [
    "1e400",
    "-1e400",
    "1E+999999",
    "NaN",
    "Infinity",
    "-0",
    "-0.0",
    "0.0",
    "5e-324",
    "1" + "0" * 400,
    "-1" + "0" * 400,
    "9" * 4299,
    "9" * 5000,
    "18446744073709551616",
    "-9223372036854775809",
    "1.5",
    "true",
    "null",
]

texts = st.one_of(
    st.sampled_from(SPECIAL_TEXT),
    st.text(st.characters(codec=None, exclude_categories=()), max_size=40),
)
numbers = st.one_of(
    st.sampled_from(RAW_NUMBERS).map(Raw),
    st.integers(),
    st.integers(min_value=-(10**400), max_value=10**400),
    st.floats(allow_nan=False, allow_infinity=False),
)
scalars = st.one_of(st.none(), st.booleans(), numbers, texts)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(texts, inner, max_size=4),
    max_leaves=25,
)
deep = st.integers(min_value=1, max_value=120).flatmap(
    lambda depth: st.sampled_from(["[", '{"k": ']).map(
        lambda opening: Raw(opening * depth + "1" + ("]" if opening == "[" else "}") * depth)
    )
)
values = st.one_of(scalars, json_values, deep)

# Values each field accepts: a body is built from these, then some fields are made hostile,
# so that most hostile values travel next to valid ones as far as the database.
GOOD = {
    "name": st.sampled_from(["report", "nightly report", "Ünïcødé \U0001f4a5"]),
    "data": st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=10),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
        max_leaves=8,
    ),
    "schedule": st.sampled_from(["", "10m", "*/5 * * * *"]),
    "timezone": st.sampled_from(["", "UTC", "Asia/Kathmandu"]),
    "max_attempts": st.integers(min_value=1, max_value=5),
    "run_at": st.sampled_from(["2030-01-01T06:00:00+01:00", "2020-02-29T23:59:59Z"]),
    "queue": st.sampled_from(["default", "emails"]),
    "priority": st.integers(min_value=-5, max_value=5),
    "timeout": st.floats(min_value=0.5, max_value=3600),
    "misfire_grace": st.floats(min_value=0.5, max_value=3600),
    "allow_overlap": st.booleans(),
}
HOSTILE = {field: values for field in GOOD}
BAD_TEXT = st.sampled_from(["\x00", "a\x00", "\ud800", "x\udfff", "\udc00\ud800"])
HOSTILE["data"] = st.one_of(
    BAD_TEXT.flatmap(lambda bad: st.sampled_from([bad, {bad: 1}, {"k": [1, bad]}, [[{"x": bad}]]])),
    json_values,
    deep,
)
HOSTILE["handler"] = st.one_of(st.sampled_from(["nope", ""]), values)
HOSTILE.update({extra: values for extra in ("status", "id", "\x00", "\ud800")})


@st.composite
def job_body(draw, handler_required=True):
    """Some valid fields, then zero to two of them (or unknown keys) made hostile."""
    body = draw(st.fixed_dictionaries({}, optional=GOOD))
    if handler_required or draw(st.booleans()):
        body["handler"] = draw(st.sampled_from(["echo", "noop", "add"]))
    for field in draw(st.lists(st.sampled_from(sorted(HOSTILE)), max_size=2, unique=True)):
        body[field] = draw(HOSTILE[field])
    return body


bodies = job_body()
raw_bodies = st.one_of(values, st.binary(max_size=60).map(lambda b: Raw(b.decode("latin-1"))))


def snapshot():
    """Every row a request could write."""
    return (
        list(Job.objects.order_by("pk").values()),
        list(JobHistory.objects.order_by("pk").values_list("pk", "status")),
        list(Runner.objects.values()),
        Worker.objects.count(),
    )


def exchange(send):
    """Send one request in a savepoint; check the answer; roll the savepoint back."""
    point = transaction.savepoint()
    try:
        before = snapshot()
        response = send()
        assert response.status_code < 500, response.content[:500]
        if response.status_code != 204:
            assert response["Content-Type"] == "application/json", response.content[:500]
            response.json()
        if 400 <= response.status_code < 500:
            assert snapshot() == before, f"a {response.status_code} wrote rows"
        return response
    finally:
        transaction.savepoint_rollback(point)


def send_json(api, method, url, value):
    text = value.text if isinstance(value, Raw) else encode(value)
    return api.generic(method, url, text.encode("utf-8", "surrogatepass"), "application/json")


@pytest.fixture
def ids():
    """A job in each state, and an id that does not exist."""
    now = timezone.now()
    worker = Worker.objects.create(name="w", hostname="h", pid=1)
    rows = [
        Job(name="one", handler="echo", next_run_at=now, data={"keep": 1}),
        Job(name="rec", handler="noop", schedule="*/5 * * * *", next_run_at=now),
        Job(name="run", handler="echo", status="running", worker=worker, started_at=now),
        Job(name="bad", handler="echo", status="failed", last_error="boom"),
        Job(name="ok", handler="echo", status="completed", last_run_at=now),
    ]
    pks = [job.pk for job in Job.objects.bulk_create(rows)]
    return [*pks, max(pks) + 1000]


def test_create(api):
    @FUZZ
    @given(body=st.one_of(bodies, raw_bodies))
    def run(body):
        exchange(lambda: send_json(api, "POST", JOBS, body))

    run()


def test_change(api, ids):
    @FUZZ
    @given(
        job=st.sampled_from(ids),
        method=st.sampled_from(["PATCH", "PUT"]),
        body=st.one_of(job_body(handler_required=False), raw_bodies),
    )
    def run(job, method, body):
        exchange(lambda: send_json(api, method, f"{JOBS}/{job}", body))

    run()


def test_bulk(api):
    @FUZZ
    @given(body=st.one_of(st.lists(bodies, min_size=1, max_size=3), raw_bodies))
    def run(body):
        exchange(lambda: send_json(api, "POST", f"{JOBS}/bulk", body))

    run()


def test_schedule_validate(api):
    schedules = st.one_of(st.sampled_from(["*/5 * * * *", "10m", "0 3 * * 1-5"]), values)
    zones = st.one_of(st.sampled_from(["UTC", "Europe/Berlin", "Asia/Kathmandu"]), values)
    body = st.fixed_dictionaries(
        {"schedule": schedules}, optional={"timezone": zones, "count": values, "x": values}
    )

    @FUZZ
    @given(body=st.one_of(body, raw_bodies))
    def run(body):
        exchange(lambda: send_json(api, "POST", f"{JOBS}/schedule/validate", body))

    run()


query_text = st.one_of(
    st.sampled_from(SPECIAL_TEXT + RAW_NUMBERS + ["name,", ",", "-id,,name", "pending"]),
    st.text(st.characters(codec="utf-8"), max_size=30),
)
LIST_PARAMS = ["status", "handler", "queue", "search", "recurring", "ordering", "page", "page_size"]


def query(params):
    """A query string with every character percent-encoded (surrogates as their UTF-8 bytes)."""
    return "&".join(
        f"{quote(key)}={quote(value.encode('utf-8', 'surrogatepass'))}"
        for key, value in params.items()
    )


def test_lists(api, ids):
    @FUZZ
    @given(
        job=st.sampled_from(ids),
        history=st.booleans(),
        params=st.dictionaries(st.sampled_from(LIST_PARAMS), query_text, max_size=4),
    )
    def run(job, history, params):
        url = f"{JOBS}/{job}/history" if history else JOBS
        exchange(lambda: api.get(f"{url}?{query(params)}"))

    run()


def test_steering_and_ids(api, ids):
    segments = st.one_of(
        st.sampled_from([str(pk) for pk in ids]),
        st.sampled_from([*RAW_NUMBERS, "0", "-1", "1.0", "0x10", " 1", "\uff11"]),
        st.text(string.printable, min_size=1, max_size=20),
    )
    verbs = st.sampled_from(["GET", "DELETE", "trigger", "cancel", "retry", "history"])

    @FUZZ
    @given(segment=segments, verb=verbs, body=st.one_of(st.none(), raw_bodies))
    def run(segment, verb, body):
        path = f"{JOBS}/{quote(segment, safe='')}"
        if verb in ("GET", "DELETE"):
            method, url = verb, path
        else:
            method, url = ("GET" if verb == "history" else "POST"), f"{path}/{verb}"
        if body is None:
            exchange(lambda: api.generic(method, url))
        else:
            exchange(lambda: send_json(api, method, url, body))

    run()
