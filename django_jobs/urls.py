"""Mount with ``path("api/", include("django_jobs.urls"))``; every route works with or
without its trailing slash."""

from django.urls import re_path
from rest_framework.routers import SimpleRouter

from .api.views import JobViewSet, RunnerStartView, RunnerStopView, RunnerView

app_name = "django_jobs"

router = SimpleRouter()
router.trailing_slash = "/?"
router.register("jobs", JobViewSet, basename="job")

urlpatterns = [
    re_path(r"^jobs/runner/?$", RunnerView.as_view(), name="runner"),
    re_path(
        r"^jobs/runner/start/?$",
        RunnerStartView.as_view(),
        name="runner-start",
    ),
    re_path(r"^jobs/runner/stop/?$", RunnerStopView.as_view(), name="runner-stop"),
    *router.urls,
]
