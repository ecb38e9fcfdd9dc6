from rest_framework.routers import SimpleRouter

from apikeys import personal_views, views

router = SimpleRouter(trailing_slash=False)
router.register("api/auth/register", views.RegistrationViewSet, basename="register")
router.register("api/auth/api-key", views.CurrentKeyViewSet, basename="current-key")
router.register("api/auth/keys", views.ApiKeyViewSet, basename="api-key")
router.register("api/auth/revoke", views.RevokeViewSet, basename="revoke")
router.register("api/me", personal_views.MeViewSet, basename="me")
router.register("api/me/personal-keys", personal_views.PersonalKeyViewSet, basename="personal-key")

urlpatterns = router.urls
