"""Who may read which app's reports: an app's secret key its own app; a personal key the apps of its
person's organisations, by role (organisations.permissions); a staff session the apps the admin shows
it. The dashboard and its live socket show a signed-in person the apps of their organisations, by role,
and staff the apps the admin shows them (dashboard_apps)."""

from django.db.models import QuerySet
from rest_framework import exceptions
from rest_framework.permissions import BasePermission

from apikeys.models import ApiKey, App, PersonalApiKey
from apikeys.selectors import apps_allowing, apps_visible_to
from apikeys.throttling import ReportRateThrottle
from organisations.permissions import can


class IsSecretKeyOrStaff(BasePermission):
    """A secret key, a personal key (whose app and role report_app checks), or a staff session holding
    the admin's own permission to read events.

    Reports and the export are the events themselves (the export carries IP addresses and user agents), so
    a staff session needs what the admin asks before it lists them: `events.view_event`. The dashboard
    applies the same rule (reports/dashboard.py).
    """

    message = (
        "Reports need a secret (sk_) key, a personal (uk_) key or a staff session; publishable (pk_) keys "
        "can only send events."
    )
    code = "secret_key_required"
    staff_permission = "events.view_event"

    def has_permission(self, request, view) -> bool:
        if isinstance(request.auth, ApiKey):
            return request.auth.is_secret
        if isinstance(request.auth, PersonalApiKey):
            return True
        user = request.user
        if not (user and user.is_authenticated and user.is_active and user.is_staff):
            return False
        if not user.has_perm(self.staff_permission):
            raise exceptions.PermissionDenied(
                f"Reading reports needs the {self.staff_permission} permission; ask an administrator.",
                code="permission_required",
            )
        return True


class ReportKeyRateThrottle(ReportRateThrottle):
    """REPORT_RATE per key, app or personal. Staff sessions carry no key and are not counted."""

    def allow_request(self, request, view) -> bool:
        if not isinstance(request.auth, ApiKey | PersonalApiKey):
            return True
        return super().allow_request(request, view)

    def get_key(self, request) -> str:
        # Lookup ids are unique per table only: a personal key never shares an app key's counter.
        key = super().get_key(request)
        return f"personal:{key}" if isinstance(request.auth, PersonalApiKey) else key


def report_app(request, app_id, operation: str) -> App:
    if isinstance(request.auth, ApiKey):
        # Another app's id is answered like an id that does not exist: keys cannot probe for apps.
        if app_id is not None and app_id != request.auth.app_id:
            raise exceptions.NotFound("No such app.")
        return request.auth.app
    if app_id is None:
        raise exceptions.ValidationError(
            {"appId": ["Required with a personal key or a staff session: the app to report on."]}
        )
    if isinstance(request.auth, PersonalApiKey):
        return _member_app(request, app_id, operation)
    app = apps_visible_to(user=request.user).filter(pk=app_id).first()
    if app is None:
        raise exceptions.NotFound("No such app.")
    return app


ROLE_REQUIRED = (
    "Your role in this app's organisation does not allow this endpoint (the export needs the member role).",
    "role_required",
)


def _member_app(request, app_id, operation: str) -> App:
    """An app of one of the person's organisations. One they cannot see at all is a 404, like an id that
    does not exist; one they see but whose role does not allow ``operation`` (the export, for a viewer)
    is a 403."""
    app = apps_allowing(user=request.user, operation="reports.read").filter(pk=app_id).first()
    if app is None:
        raise exceptions.NotFound("No such app.")
    if not can(request.user, operation, app):
        detail, code = ROLE_REQUIRED
        raise exceptions.PermissionDenied(detail, code=code)
    request._request.uea_app_id = app.id  # for the request log, which names no app by a personal key
    return app


def is_operator(user) -> bool:
    """Staff who may read events in the admin: they see on the dashboard what the admin shows them."""
    return user.is_active and user.is_staff and user.has_perm(IsSecretKeyOrStaff.staff_permission)


def dashboard_apps(user) -> QuerySet[App]:
    """The apps the dashboard and the live socket show ``user``: those of their organisations whose role
    allows reports.read, and for an operator the apps the admin shows them."""
    apps = apps_allowing(user=user, operation="reports.read")
    if is_operator(user):
        apps = apps | apps_visible_to(user=user)
    return apps.distinct()


def dashboard_allows(user, operation: str, app: App) -> bool:
    """Whether a dashboard page may do ``operation`` on ``app``, one of dashboard_apps: an operator of the
    app everything the pages offer, as before organisations; a member what their role allows."""
    if is_operator(user) and apps_visible_to(user=user).filter(pk=app.pk).exists():
        return True
    return can(user, operation, app)
