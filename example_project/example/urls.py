from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    # The API; with drf-spectacular installed also /api/schema/ and /api/docs/.
    path("api/", include("django_jobs.urls")),
    path("dashboard/", include("django_jobs.dashboard.urls")),
]

try:
    # Redoc beside the package's Swagger UI, from drf-spectacular-sidecar's files (no CDN).
    import drf_spectacular_sidecar  # noqa: F401
    from drf_spectacular.views import SpectacularRedocView

    urlpatterns.append(
        path(
            "api/redoc/",
            SpectacularRedocView.as_view(url_name="django_jobs:schema"),
            name="redoc",
        )
    )
except ImportError:
    pass
