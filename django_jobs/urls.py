"""Mount with ``path("api/", include("django_jobs.urls"))``; every route works with or
without its trailing slash, and any other path under ``jobs/`` is a JSON 404.

With drf-spectacular in ``INSTALLED_APPS`` the same include also serves the OpenAPI
schema (``schema``) and Swagger UI (``docs``); without it those routes do not exist.
"""

from django.apps import apps
from django.urls import URLPattern, URLResolver, re_path
from rest_framework.routers import SimpleRouter

from .api.dead import DeadListView, DeadPurgeView, DeadRequeueView
from .api.limits import LimitsView
from .api.views import (
    JobViewSet,
    RunnerStartView,
    RunnerStopView,
    RunnerView,
    UnknownRouteView,
)

app_name = "django_jobs"

router = SimpleRouter()
router.trailing_slash = "/?"
router.register("jobs", JobViewSet, basename="job")


def openapi_urls() -> list[URLPattern | URLResolver]:
    """``schema`` and ``docs`` when drf-spectacular is an installed app, else nothing."""
    if not apps.is_installed("drf_spectacular"):
        return []
    from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

    return [
        re_path(r"^schema/?$", SpectacularAPIView.as_view(), name="schema"),
        re_path(
            r"^docs/?$",
            SpectacularSwaggerView.as_view(url_name="django_jobs:schema"),
            name="docs",
        ),
    ]


urlpatterns = [
    re_path(r"^jobs/runner/?$", RunnerView.as_view(), name="runner"),
    re_path(
        r"^jobs/runner/start/?$",
        RunnerStartView.as_view(),
        name="runner-start",
    ),
    re_path(r"^jobs/runner/stop/?$", RunnerStopView.as_view(), name="runner-stop"),
    # Before the router, whose jobs/<id> would take "dead" for an id.
    re_path(r"^jobs/dead/?$", DeadListView.as_view(), name="dead"),
    re_path(r"^jobs/dead/requeue/?$", DeadRequeueView.as_view(), name="dead-requeue"),
    re_path(r"^jobs/dead/purge/?$", DeadPurgeView.as_view(), name="dead-purge"),
    re_path(r"^jobs/limits/?$", LimitsView.as_view(), name="limits"),
    *router.urls,
    *openapi_urls(),
    re_path(r"^jobs(?:/.*)?$", UnknownRouteView.as_view(), name="unknown-route"),  # keep last
]
