from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView
from rest_framework.routers import SimpleRouter

from analytics_project.health import HealthViewSet
from analytics_project.metrics import metrics_view
from reports import sharing


class SpectacularSwaggerGetView(SpectacularSwaggerView):
    """GET (and HEAD) only: DRF would render an OPTIONS answer's metadata with the page's template renderer,
    which has no template for it (a 500). A 405 renders as plain text."""

    http_method_names = ["get", "head"]


class SpectacularRedocGetView(SpectacularRedocView):
    """As SpectacularSwaggerGetView: OPTIONS would answer the HTML page, not metadata."""

    http_method_names = ["get", "head"]


router = SimpleRouter(trailing_slash=False)
router.register("health", HealthViewSet, basename="health")

urlpatterns = [
    # Ingestion first: it takes most of the requests, and URL resolution tries patterns in order.
    path("", include("events.urls")),
    path("", include("apikeys.urls")),
    path("", include("reports.urls")),
    path("admin/", admin.site.urls),
    path("accounts/", include("allauth.urls")),
    path("dashboard/", include("reports.dashboard_urls")),
    path("", include("console.urls")),
    path("share/<str:token>/", sharing.shared_app_page, name="shared-app-page"),
    path("share/<str:token>/panels/<slug:name>", sharing.shared_app_panel, name="shared-app-panel"),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerGetView.as_view(url_name="schema"), name="swagger-ui"),
    path("api/redoc/", SpectacularRedocGetView.as_view(url_name="schema"), name="redoc"),
    path("metrics", metrics_view, name="metrics"),
    *router.urls,
]

handler404 = "analytics_project.views.not_found"
handler500 = "analytics_project.views.server_error"
