"""Mount with ``path("api/", include("django_jobs.urls"))``; every route works with or
without its trailing slash."""

from django.urls import re_path
from rest_framework.routers import SimpleRouter

from .api.views import JobViewSet, RunnerSwitchView, RunnerView

app_name = "django_jobs"

router = SimpleRouter()
router.trailing_slash = "/?"
router.register("jobs", JobViewSet, basename="job")

urlpatterns = [
    re_path(r"^jobs/runner/?$", RunnerView.as_view(), name="runner"),
    re_path(
        r"^jobs/runner/start/?$",
        RunnerSwitchView.as_view(running=True),
        name="runner-start",
    ),
    re_path(r"^jobs/runner/stop/?$", RunnerSwitchView.as_view(running=False), name="runner-stop"),
    *router.urls,
]
