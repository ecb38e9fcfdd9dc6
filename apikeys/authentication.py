import base64
from collections.abc import Callable

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication

from analytics_project.client_ip import client_ip
from apikeys.keys import PERSONAL_PREFIX
from apikeys.models import KeyStatus, SiteVisitor
from apikeys.selectors import api_key_authenticate, personal_key_authenticate
from apikeys.services import api_key_touch
from apikeys.throttling import Hit, PerKeyThrottle, rate_limit_wait

QUERY_STRING_KEY_NAMES = ("apiKey", "api_key", "apikey", "key", "writeKey")
# (detail, code) of the 403 a personal key gets where only app keys work; the OpenAPI schema names it too.
PERSONAL_KEY_NOT_ACCEPTED = (
    "A personal (uk_) key reads reports only; send events and manage keys with an app's key.",
    "personal_key_not_accepted",
)


def raw_key_from_headers(request) -> str | None:
    key = request.META.get("HTTP_X_API_KEY", "").strip()
    if key:
        return key
    scheme, _, credentials = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()
    return None


def raw_key_from_basic_auth(request) -> str | None:
    """Segment's convention: the write key is the Basic-auth user name, the password empty."""
    scheme, _, credentials = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    if scheme.lower() != "basic" or not credentials:
        return None
    try:
        user = base64.b64decode(credentials.strip(), validate=True).decode().partition(":")[0].strip()
    except ValueError:  # binascii.Error, UnicodeDecodeError, or non-ASCII header text b64decode refuses
        return None
    return user or None


class ApiKeyAuthentication(BaseAuthentication):
    """``X-API-Key: <key>`` or ``Authorization: Bearer <key>``; never a query string (it ends up in logs).

    Ingestion views may accept more places, declared on the view: ``accepts_basic_auth`` (Segment's
    write key), ``api_key_from_body(request)`` (``sendBeacon`` cannot set headers) and
    ``api_key_query_parameter`` (RudderStack JS puts its write key in the URL of its settings request
    and of its beacons; no other view takes a key there). One class for all,
    so the OpenAPI schema has one security scheme per way of sending a key.

    Failed attempts are counted per client IP (AUTH_FAILURE_RATE); past the limit every failing attempt
    from that IP gets 429 instead of 401, so keys cannot be probed at speed. Only failures touch the
    counter: a working key costs no cache round trip and is never locked out by another client
    behind the same address.
    """

    def authenticate(self, request):
        view = request.parser_context.get("view")
        query_parameter = getattr(view, "api_key_query_parameter", None)
        if any(name in request.query_params for name in QUERY_STRING_KEY_NAMES if name != query_parameter):
            raise exceptions.ParseError(
                "API keys are not accepted in the query string; send the X-API-Key header.",
                code="key_in_query_string",
            )
        raw_key = (
            (getattr(view, "accepts_basic_auth", False) and raw_key_from_basic_auth(request))
            or raw_key_from_headers(request)
            or (hasattr(view, "api_key_from_body") and view.api_key_from_body(request))
            or (query_parameter and request.query_params.get(query_parameter, "").strip())
        )
        if not raw_key:
            return None
        if is_personal_key(raw_key):
            if any(issubclass(auth, PersonalKeyAuthentication) for auth in getattr(view, "authentication_classes", ())):
                return None  # PersonalKeyAuthentication, next in the view's list, reads it
            detail, code = PERSONAL_KEY_NOT_ACCEPTED
            raise exceptions.PermissionDenied(detail, code=code)
        return self.authenticate_key(request, raw_key)

    def authenticate_key(self, request, raw_key: str):
        api_key = api_key_authenticate(raw_key=raw_key, expected_hit=self._expected_hit(request))
        status = api_key.status if api_key is not None else None
        if status not in (KeyStatus.ACTIVE, KeyStatus.ROTATING):
            refuse(request, status)
        api_key_touch(api_key=api_key)
        # The request log line names the app and the masked key, never the key itself.
        request._request.uea_api_key = api_key
        return AnonymousUser(), api_key

    def authenticate_header(self, request) -> str:
        if getattr(request.parser_context.get("view"), "accepts_basic_auth", False):
            return 'Basic realm="write key"'
        return 'Bearer realm="api"'

    @staticmethod
    def _expected_hit(request) -> Callable[[str, str], Hit | None] | None:
        """The view's per-key rate limit guesses its hit, so the key lookup can count it in passing."""
        view = request.parser_context.get("view")
        throttles = getattr(view, "throttle_classes", ())
        per_key = [throttle for throttle in throttles if issubclass(throttle, PerKeyThrottle)]
        return per_key[0].expected_hit if per_key else None


def is_personal_key(raw_key: str) -> bool:
    return raw_key.startswith(PERSONAL_PREFIX + "_")


class PersonalKeyAuthentication(BaseAuthentication):
    """A person's own key (``uk_…``), in the same headers as an app key; the request is then that
    person's, and which apps it may read is their memberships' business (reports.access.report_app).
    A key whose user is no longer active is refused like a key that does not exist."""

    def authenticate(self, request):
        raw_key = raw_key_from_headers(request)
        if not raw_key or not is_personal_key(raw_key):
            return None
        personal_key = personal_key_authenticate(raw_key=raw_key)
        if personal_key is not None and not personal_key.user.is_active:
            personal_key = None
        status = personal_key.status if personal_key is not None else None
        if status not in (KeyStatus.ACTIVE, KeyStatus.ROTATING):
            refuse(request, status)
        api_key_touch(api_key=personal_key)
        request._request.uea_api_key = personal_key
        return personal_key.user, personal_key

    def authenticate_header(self, request) -> str:
        return 'Bearer realm="api"'


def refuse(request, status: KeyStatus | None):
    """A key that does not work: 401 saying why, or 429 once the client IP has failed AUTH_FAILURE_RATE times."""
    wait = rate_limit_wait(
        request, group="auth-failure", key=client_ip(request), rate=settings.AUTH_FAILURE_RATE, fail_open=True
    )
    if wait:
        raise exceptions.Throttled(wait=wait, detail="Too many failed authentication attempts.")
    if status == KeyStatus.REVOKED:
        raise exceptions.AuthenticationFailed("This API key has been revoked.", code="api_key_revoked")
    if status == KeyStatus.EXPIRED:
        raise exceptions.AuthenticationFailed("This API key has expired.", code="api_key_expired")
    raise exceptions.AuthenticationFailed("The API key is not valid.", code="invalid_api_key")


class SiteAuthentication(BaseAuthentication):
    """For protocols without a key (Plausible's, Umami's): the body names the app, by its site domain or
    id, through the view's ``app_from_body(request)``. The caller is then a SiteVisitor; a body naming no
    app leaves the request unauthenticated, for the view to answer as the original service would."""

    def authenticate(self, request):
        if request.method == "OPTIONS":  # DRF's metadata answer: no body to read, nothing to authorise
            return None
        app = request.parser_context["view"].app_from_body(request)
        if app is None:
            return None
        request._request.uea_app_id = app.id  # for the request log, which has no key to name it by
        return AnonymousUser(), SiteVisitor(app)
