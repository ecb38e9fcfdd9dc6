from django.urls import include, path
from rest_framework.routers import SimpleRouter

from events import tracker, views
from events.protocols import plausible, rudderstack, segment, umami

router = SimpleRouter(trailing_slash=False)
router.register("api/analytics/collect", views.CollectViewSet, basename="collect")
router.register("v1/projects", segment.SegmentSettingsViewSet, basename="segment-settings")
router.register("v1", segment.SegmentViewSet, basename="segment")
router.register("beacon/v1", rudderstack.RudderStackBeaconViewSet, basename="rudderstack-beacon")
router.register("api/event", plausible.PlausibleEventViewSet, basename="plausible")
router.register("api", umami.UmamiViewSet, basename="umami")  # /api/send and /api/batch

urlpatterns = [
    path("t.js", tracker.tracker_script, name="tracker"),
    # RudderStack JS appends `/sourceConfig/` to its configUrl, with the slash.
    path(
        "sourceConfig/",
        rudderstack.RudderStackSourceConfigViewSet.as_view({"get": "source_config"}),
        name="rudderstack-source-config",
    ),
    *router.urls,
    path("", include("events.protocols.posthog.urls")),
]
