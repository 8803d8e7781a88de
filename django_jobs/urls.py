"""Mount with ``path("api/", include("django_jobs.urls"))``."""

urlpatterns: list = []
