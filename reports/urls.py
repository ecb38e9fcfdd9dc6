from rest_framework.routers import SimpleRouter

from reports import views

router = SimpleRouter(trailing_slash=False)
router.register("api/analytics/event-summary", views.EventSummaryViewSet, basename="event-summary")
router.register("api/analytics/user-stats", views.UserStatsViewSet, basename="user-stats")
router.register("api/analytics/daily-stats", views.DailyStatsViewSet, basename="daily-stats")
router.register("api/analytics/timeseries", views.TimeseriesViewSet, basename="timeseries")
router.register("api/analytics/top-pages", views.TopPagesViewSet, basename="top-pages")
router.register("api/analytics/top-referrers", views.TopReferrersViewSet, basename="top-referrers")
router.register("api/analytics/breakdown", views.BreakdownViewSet, basename="breakdown")
router.register("api/analytics/web-stats", views.WebStatsViewSet, basename="web-stats")
router.register("api/analytics/active-users", views.ActiveUsersViewSet, basename="active-users")
router.register("api/analytics/export", views.ExportViewSet, basename="export")
router.register("api/analytics/funnels", views.FunnelViewSet, basename="funnels")
router.register("api/analytics/retention", views.RetentionViewSet, basename="retention")
router.register("api/analytics/users", views.JourneyViewSet, basename="user")
router.register("api/analytics/live", views.LiveViewSet, basename="live")

urlpatterns = router.urls
