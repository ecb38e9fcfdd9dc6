from rest_framework.routers import SimpleRouter

from apikeys import views

router = SimpleRouter(trailing_slash=False)
router.register("api/auth/register", views.RegistrationViewSet, basename="register")
router.register("api/auth/api-key", views.CurrentKeyViewSet, basename="current-key")
router.register("api/auth/keys", views.ApiKeyViewSet, basename="api-key")
router.register("api/auth/revoke", views.RevokeViewSet, basename="revoke")

urlpatterns = router.urls
