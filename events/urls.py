from django.urls import include, path
from rest_framework.routers import SimpleRouter

from events import tracker, views
from events.protocols import plausible, umami

router = SimpleRouter(trailing_slash=False)
router.register("api/analytics/collect", views.CollectViewSet, basename="collect")
router.register("v1", views.SegmentViewSet, basename="segment")
router.register("api/event", plausible.PlausibleEventViewSet, basename="plausible")
router.register("api", umami.UmamiViewSet, basename="umami")  # /api/send and /api/batch

urlpatterns = [
    path("t.js", tracker.tracker_script, name="tracker"),
    *router.urls,
    path("", include("events.protocols.posthog.urls")),
]
