"""Test settings plus drf-spectacular, for ``spectacular --validate --fail-on-warn``."""

from tests.settings import *  # noqa: F403
from tests.settings import INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "drf_spectacular"]
REST_FRAMEWORK = {"DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema"}
SPECTACULAR_SETTINGS = {
    "TITLE": "django-jobs",
    "DESCRIPTION": "Background jobs and schedules.",
    "VERSION": "0.1.0",
}
