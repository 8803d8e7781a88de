"""Test settings: the database comes from DATABASE_URL (default: SQLite)."""

import os
from importlib.util import find_spec

import dj_database_url

SECRET_KEY = "tests-only"
DEBUG = False
USE_TZ = True
TIME_ZONE = "UTC"
ROOT_URLCONF = "tests.urls"
ALLOWED_HOSTS = ["*"]

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get(
            "DATABASE_URL", "sqlite:///" + os.path.join(os.path.dirname(__file__), "test.sqlite3")
        )
    )
}
# One test database per test process, so parallel runs on a shared server never collide.
DATABASES["default"]["TEST"] = {
    "NAME": os.environ.get("TEST_DATABASE_NAME") or f"test_django_jobs_{os.getpid()}"
}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # A file, not memory, so real worker subprocesses share it with the tests.
    DATABASES["default"]["TEST"]["NAME"] = os.path.join(
        os.path.dirname(__file__), DATABASES["default"]["TEST"]["NAME"] + ".sqlite3"
    )
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        # Readers never block the writer: workers and the web server share the file.
        "init_command": "PRAGMA journal_mode=WAL;",
    }
if DATABASES["default"]["ENGINE"].endswith("mysql"):
    DATABASES["default"]["OPTIONS"] = {"charset": "utf8mb4", "isolation_level": "read committed"}
    DATABASES["default"]["TEST"]["CHARSET"] = "utf8mb4"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "django_jobs",
    "tests.testapp",
]

# Django's tasks framework (Django 6, or the django_tasks backport on 5.2) on django-jobs.
if find_spec("django.tasks") or find_spec("django_tasks"):
    if not find_spec("django.tasks"):
        INSTALLED_APPS.append("django_tasks")
    INSTALLED_APPS.append("tests.taskapp")
    TASKS = {
        "default": {"BACKEND": "django_jobs.tasks.JobsBackend", "QUEUES": ["default", "mail"]},
        "other": {"BACKEND": "django_jobs.tasks.JobsBackend", "QUEUES": []},
    }

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]

STATIC_URL = "/static/"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

DJANGO_JOBS = {
    "POLL_INTERVAL": 0.05,
    "WORKER_TIMEOUT": 3.0,
    "HEARTBEAT_INTERVAL": 0.5,
    "RETRY_BACKOFF_BASE": 0.1,
    "RETRY_BACKOFF_MAX": 1.0,
    "SHUTDOWN_GRACE": 5.0,
}
# Worker subprocesses of the webhook tests get their endpoints from the test (JSON).
if os.environ.get("DJANGO_JOBS_TEST_EXTRA"):
    import json

    DJANGO_JOBS.update(json.loads(os.environ["DJANGO_JOBS_TEST_EXTRA"]))

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"django_jobs": {"handlers": ["console"], "level": "WARNING"}},
}
