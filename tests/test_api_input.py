"""Hostile input to the API, the admin's job form and the Python API: a 400 (or a form
error, or ``InvalidJob``) naming what is wrong, never a 500, and nothing written.

NUL characters and lone surrogates are refused by PostgreSQL's ``jsonb`` and
MariaDB's JSON check; MariaDB's check also refuses 32 levels of nesting; ``json``
recurses once per level; Python refuses to convert integers of more than 4,300
digits. Each is caught by the one data rule (``validation.clean_data``) or the
API's parser before it reaches any of them.
"""

import json

import pytest
from django.test import override_settings
from django.urls import reverse

from django_jobs import enqueue
from django_jobs.exceptions import InvalidJob
from django_jobs.models import Job, JobHistory
from django_jobs.validation import DATA_DEPTH_MAX

from .test_admin import form_data

pytest_plugins = ["tests.api_fixtures"]
pytestmark = pytest.mark.django_db

JOBS = "/api/jobs"


def send(api, method, url, body):
    """``body`` as JSON text (lone surrogates escaped as ``\\ud800``) or raw text."""
    text = body if isinstance(body, str) else json.dumps(body)
    return api.generic(method, url, text.encode(), "application/json")


def nested(depth, leaf=1):
    value = leaf
    for _ in range(depth):
        value = [value]
    return value


def rows():
    """Everything a request could have written."""
    return list(Job.objects.order_by("pk").values()), JobHistory.objects.count()


@pytest.fixture
def target(make_job):
    return make_job(name="target", data={"keep": 1})


def write(api, target, endpoint, fields):
    """Send ``fields`` to one of the writing endpoints."""
    if endpoint == "create":
        return send(api, "POST", JOBS, {"handler": "echo", **fields})
    if endpoint == "bulk":
        return send(
            api, "POST", f"{JOBS}/bulk", [{"handler": "echo"}, {"handler": "echo", **fields}]
        )
    return send(api, endpoint.upper(), f"{JOBS}/{target.pk}", fields)


def field_messages(body, field):
    """The messages for ``field``, at the top level or under a bulk item's index."""
    if isinstance(body, list):
        return [m for item in body for m in item.get(field, [])]
    if field in body:
        return body[field]
    return [m for item in body.values() if isinstance(item, dict) for m in item.get(field, [])]


ENDPOINTS = ["create", "patch", "put", "bulk"]


# Item 4: NUL and lone surrogates in data ------------------------------------------------


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize(
    ("data", "words"),
    [
        ({"text": "before\x00after"}, "NUL character"),
        ({"a\x00": 1}, "NUL character"),
        ("\x00", "NUL character"),
        ([1, {"deep": [{"x": "\ud800"}]}], "lone surrogate"),
        ({"\udfff": "key"}, "lone surrogate"),
        ({"pair": "\ud83d\udca5 and \udc00"}, "lone surrogate"),
    ],
)
def test_data_no_database_stores_is_a_400_on_data(api, target, endpoint, data, words):
    before = rows()
    response = write(api, target, endpoint, {"data": data})
    assert response.status_code == 400, response.content
    messages = field_messages(response.json(), "data")
    assert any(words in message for message in messages), response.json()
    assert rows() == before


def test_the_message_says_where_the_bad_character_is(api):
    response = send(api, "POST", JOBS, {"handler": "echo", "data": {"a": [0, "x\x00"]}})
    assert response.json() == {"data": ["a string at data['a'][1] holds a NUL character (\\u0000)"]}


def test_any_other_unicode_is_stored_and_read_back_unchanged(api):
    data = {"emoji": "\U0001f4a5", "ключ": "日本語", "tab\t": "\u2028\ufeff\x7f", "\U0001d11e": 1}
    response = send(api, "POST", JOBS, {"handler": "echo", "data": data})
    assert response.status_code == 201, response.content
    assert Job.objects.get().data == data
    assert api.get(f"{JOBS}/{response.json()['id']}").json()["data"] == data


@pytest.mark.parametrize("data", [{"a": "\x00"}, ["\ud800"], {"\x00": 1}])
def test_the_python_api_refuses_the_same_data(data):
    with pytest.raises(InvalidJob) as caught:
        enqueue("echo", data)
    assert caught.value.field == "data"
    assert not Job.objects.exists()


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ('{"a": "\\u0000"}', "NUL character"),
        ('["\\ud800"]', "lone surrogate"),
        ('{"\\udc00": 1}', "lone surrogate"),
    ],
)
def test_the_admin_form_refuses_the_same_data(admin_client, text, words):
    response = admin_client.post(reverse("admin:django_jobs_job_add"), form_data(data=text))
    assert response.status_code == 200
    assert words in str(response.context["adminform"].form.errors["data"])
    assert not Job.objects.exists()


# Item 5: deep nesting ------------------------------------------------------------------

DEEP_BODY = '{"handler": "echo", "data": ' + "[" * 1000 + "]" * 1000 + "}"


@pytest.mark.parametrize(
    ("method", "url", "body"),
    [
        ("POST", JOBS, DEEP_BODY),
        ("PATCH", "{job}", '{"data": ' + "[" * 1000 + "]" * 1000 + "}"),
        ("PUT", "{job}", '{"data": ' + "{" + '"a": {' * 999 + "}" * 1000 + "}"),
        ("POST", f"{JOBS}/bulk", "[" + DEEP_BODY + "]"),
        ("POST", f"{JOBS}/schedule/validate", '{"schedule": ' + "[" * 1000 + "]" * 1000 + "}"),
        ("POST", f"{JOBS}/schedule/validate", "[" * 1000 + "]" * 1000),
    ],
)
def test_a_body_nested_a_thousand_levels_deep_is_a_400(api, target, method, url, body):
    before = rows()
    response = send(api, method, url.format(job=f"{JOBS}/{target.pk}"), body)
    assert response.status_code == 400, response.content
    assert "nested more than" in response.json()["detail"]
    assert rows() == before


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_data_deeper_than_the_limit_is_a_400_on_data(api, target, endpoint):
    before = rows()
    response = write(api, target, endpoint, {"data": {"a": nested(DATA_DEPTH_MAX)}})
    assert response.status_code == 400, response.content
    expected = f"data must be nested at most {DATA_DEPTH_MAX} levels deep"
    assert field_messages(response.json(), "data") == [expected]
    assert rows() == before


def test_data_at_the_limit_is_stored_on_every_database(api):
    data = {"a": nested(DATA_DEPTH_MAX - 2, leaf={})}  # 31 levels: the object, 29 lists, {}
    response = send(api, "POST", JOBS, {"handler": "echo", "data": data})
    assert response.status_code == 201, response.content
    assert Job.objects.get().data == data


def test_brackets_inside_strings_do_not_count_as_nesting(api):
    data = {"text": "[" * 5000, "quote": '\\"[[[' + "{" * 100}
    response = send(api, "POST", JOBS, {"handler": "echo", "data": data})
    assert response.status_code == 201, response.content
    assert Job.objects.get().data == data


def test_the_python_api_refuses_data_nested_past_the_recursion_limit():
    with pytest.raises(InvalidJob) as caught:
        enqueue("echo", nested(5000))
    assert caught.value.field == "data"
    assert not Job.objects.exists()


@pytest.mark.parametrize("depth", [DATA_DEPTH_MAX + 1, 1000, 100_000])
def test_the_admin_form_refuses_deep_data(admin_client, depth):
    text = "[" * depth + "]" * depth
    response = admin_client.post(reverse("admin:django_jobs_job_add"), form_data(data=text))
    assert response.status_code == 200
    assert "levels deep" in str(response.context["adminform"].form.errors["data"])
    assert not Job.objects.exists()


# Item 6: huge numbers ------------------------------------------------------------------

HUGE = int("1" + "0" * 400)


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize("field", ["timeout", "misfire_grace"])
@pytest.mark.parametrize("value", [HUGE, -HUGE])
def test_a_400_digit_number_of_seconds_is_a_400(api, target, endpoint, field, value):
    before = rows()
    response = write(api, target, endpoint, {field: value})
    assert response.status_code == 400, response.content
    messages = field_messages(response.json(), field)
    assert messages == [f"{field} must be more than 0 and at most 604800 seconds"]
    assert rows() == before


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize("field", ["max_attempts", "priority"])
def test_a_400_digit_whole_number_is_a_400(api, target, endpoint, field):
    before = rows()
    response = write(api, target, endpoint, {field: HUGE})
    assert response.status_code == 400, response.content
    assert field_messages(response.json(), field)
    assert rows() == before


def test_a_5000_digit_integer_in_the_admins_data_field_is_a_form_error(admin_client):
    text = '{"n": 1' + "0" * 5000 + "}"
    response = admin_client.post(reverse("admin:django_jobs_job_add"), form_data(data=text))
    assert response.status_code == 200
    assert "data is not valid JSON" in str(response.context["adminform"].form.errors["data"])
    assert not Job.objects.exists()


@pytest.mark.parametrize("field", ["timeout", "misfire_grace"])
def test_a_400_digit_number_in_the_admins_seconds_fields_is_a_form_error(admin_client, field):
    response = admin_client.post(
        reverse("admin:django_jobs_job_add"), form_data(**{field: str(HUGE)})
    )
    assert response.status_code == 200
    assert field in response.context["adminform"].form.errors
    assert not Job.objects.exists()


def test_a_400_digit_integer_in_data_is_stored(api):
    response = send(api, "POST", JOBS, {"handler": "echo", "data": {"n": HUGE}})
    assert response.status_code == 201, response.content
    assert Job.objects.get().data == {"n": HUGE}


# Item 7: empty ordering terms ------------------------------------------------------------


@pytest.mark.parametrize(
    ("ordering", "same_as"),
    [("name,", "name"), (",name", "name"), (",", None), (",,-name,", "-name"), ("", None)],
)
def test_empty_ordering_terms_are_skipped(api, make_job, ordering, same_as):
    for name in ("b", "c", "a"):
        make_job(name=name)
    response = api.get(JOBS, {"ordering": ordering})
    assert response.status_code == 200, response.content
    expected = api.get(JOBS, {"ordering": same_as} if same_as else {})
    ids = [job["id"] for job in response.json()["results"]]
    assert ids == [job["id"] for job in expected.json()["results"]]


def test_an_unknown_ordering_term_beside_an_empty_one_is_still_a_400(api):
    response = api.get(JOBS, {"ordering": "name,,secret"})
    assert response.status_code == 400
    assert "ordering" in response.json()


# Item 8: a body over the upload limit ------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("POST", JOBS),
        ("PATCH", "{job}"),
        ("PUT", "{job}"),
        ("POST", f"{JOBS}/bulk"),
        ("POST", f"{JOBS}/schedule/validate"),
    ],
)
def test_a_body_over_the_upload_limit_is_a_json_400(api, target, method, url):
    body = json.dumps({"handler": "echo", "data": "x" * 5000})
    before = rows()
    with override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=1000):
        response = send(api, method, url.format(job=f"{JOBS}/{target.pk}"), body)
    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert "DATA_UPLOAD_MAX_MEMORY_SIZE" in response.json()["detail"]
    assert rows() == before


def test_a_body_under_the_upload_limit_still_works(api):
    with override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=1000):
        assert send(api, "POST", JOBS, {"handler": "echo"}).status_code == 201


# The API answers JSON, always ------------------------------------------------------------


@pytest.mark.parametrize("endpoint", ["create", "patch", "bulk"])
def test_an_error_echoing_a_lone_surrogate_is_still_json(api, target, endpoint):
    before = rows()
    response = write(api, target, endpoint, {"\ud800": 1})
    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert "unknown field" in json.dumps(response.json())
    assert rows() == before


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "jobs/1/nope"),
        ("POST", "jobs/%2F"),
        ("DELETE", "jobs//"),
        ("PATCH", "jobs/1/history/2"),
        ("GET", "jobs/runner/start/now"),
    ],
)
def test_an_unknown_path_under_jobs_is_a_json_404(api, method, path):
    response = api.generic(method, f"/api/{path}")
    assert response.status_code == 404
    assert response.json() == {"detail": "No such route in this API."}


def test_an_unknown_path_under_jobs_still_needs_staff(anon_api):
    assert anon_api.get("/api/jobs/1/nope").status_code in (401, 403)


@pytest.mark.parametrize("charset", ["bz2_codec", "zlib_codec"])
def test_a_body_in_a_charset_that_is_not_text_is_a_400(api, charset):
    response = api.generic(
        "POST", JOBS, b'{"handler": "echo"}', f"application/json; charset={charset}"
    )
    assert response.status_code == 400
    assert "charset" in response.json()["detail"]
    assert not Job.objects.exists()


@pytest.mark.parametrize("field", ["name", "queue"])
@pytest.mark.parametrize("text", ["a\x00b", "\ud800", "x\udfff"])
def test_names_and_queues_no_database_stores_are_refused_everywhere(api, field, text):
    with pytest.raises(InvalidJob) as caught:
        enqueue("echo", **{field: text})
    assert caught.value.field == field
    response = send(api, "POST", JOBS, {"handler": "echo", field: text})
    assert response.status_code == 400
    assert field in response.json()
    assert not Job.objects.exists()
