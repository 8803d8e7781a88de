from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", include("django_jobs.urls")),
]

try:
    from drf_spectacular.views import SpectacularAPIView

    urlpatterns.append(path("api/schema/", SpectacularAPIView.as_view(), name="schema"))
except ImportError:
    pass
try:
    # The browsable docs need their JavaScript from drf-spectacular-sidecar (no CDN).
    import drf_spectacular_sidecar  # noqa: F401
    from drf_spectacular.views import SpectacularRedocView, SpectacularSwaggerView

    urlpatterns += [
        path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
        path("api/redoc/", SpectacularRedocView.as_view(url_name="schema"), name="redoc"),
    ]
except ImportError:
    pass
