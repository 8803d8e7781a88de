"""drf-spectacular is optional: without it the API works; with it the include serves the schema.

Each case runs in a fresh interpreter, because which routes exist is decided
when ``django_jobs.urls`` is imported. "Without" hides drf_spectacular through
``sys.modules`` so that importing it fails exactly as when it is not installed.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

SCRIPT = """
import json, sys
HIDE = sys.argv[1] == "hide"
if HIDE:
    for name in ("drf_spectacular", "drf_spectacular_sidecar"):
        sys.modules[name] = None  # import drf_spectacular now raises ImportError
import django
django.setup()
from django.core.management import call_command
from django.test import Client
from django.test.utils import setup_test_environment
setup_test_environment()
call_command("check")
call_command("migrate", verbosity=0)
from django.contrib.auth import get_user_model
from django_jobs import enqueue
user = get_user_model().objects.create_superuser("staff", password="pw")
enqueue("noop", name="hello")
client = Client()
client.force_login(user)
out = {"spectacular_imported": "drf_spectacular.views" in sys.modules}
for path in ("/api/jobs", "/api/schema/", "/api/schema?format=json", "/api/docs/"):
    response = client.get(path)
    out[path] = [response.status_code, response.content.decode()]
print(json.dumps(out))
"""


def run(mode, settings):
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": settings,
        "DATABASE_URL": "sqlite://:memory:",
        "PYTHONPATH": str(ROOT),
    }
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, mode],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


def test_without_drf_spectacular_every_command_and_the_api_work():
    out = run("hide", "tests.settings")
    assert not out["spectacular_imported"]
    status, body = out["/api/jobs"]
    assert status == 200
    assert json.loads(body)["results"][0]["name"] == "hello"
    assert out["/api/schema/"][0] == 404
    assert out["/api/docs/"][0] == 404


def test_with_drf_spectacular_the_include_serves_schema_and_docs():
    pytest.importorskip("drf_spectacular")
    out = run("keep", "tests.settings_openapi")
    status, body = out["/api/schema?format=json"]
    assert status == 200
    schema = json.loads(body)
    assert "/api/jobs/" in schema["paths"]
    assert "jobs_create" in json.dumps(schema["paths"]["/api/jobs/"])
    status, body = out["/api/docs/"]
    assert status == 200
    assert "swagger" in body.lower()
    assert "/api/schema" in body


def test_installed_but_not_an_installed_app_serves_no_schema_routes():
    pytest.importorskip("drf_spectacular")
    out = run("keep", "tests.settings")
    assert out["/api/jobs"][0] == 200
    assert out["/api/schema/"][0] == 404
