"""Plausible's tracker and Events API, ``POST /api/event`` -> native events (SPEC §4.5).

The rules follow Plausible's own ingestion (lib/plausible/ingestion/request.ex and event.ex, and
PlausibleWeb.Api.ExternalController): short and long field names, the same 400s with the same field
names and messages, and ``202 ok`` for everything accepted, stored or not. The app is the one whose
site domain is the event's domain; names pass unchanged (Plausible's ``pageview`` is this project's
page-view name too). What Plausible drops silently (an unknown domain, a bot), this
server drops silently too, with Plausible's ``x-plausible-dropped`` header.
"""

import json
from decimal import Decimal, InvalidOperation
from urllib.parse import urlsplit

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import exceptions, serializers, viewsets
from rest_framework.permissions import AllowAny

from analytics_project.request_body import has_unstorable_text
from apikeys.authentication import SiteAuthentication
from apikeys.models import App
from apikeys.throttling import SiteIngestRateThrottle
from apikeys.validators import normalize_site_domain
from events.http import json_body
from events.intake import errors_shaped, ingest, is_bot
from events.models import EventSource

ENGAGEMENT = "engagement"
MAX_NAME = 120
MAX_URL_BYTES = 2000
MAX_PROPS = 30
MAX_PROP_KEY_BYTES, MAX_PROP_VALUE_BYTES = 300, 2000
MAX_ENGAGEMENT_MS = 30 * 24 * 3600 * 1000  # older trackers sent huge times, which Plausible ignores too


def _first(body: dict, *names: str):
    """Elixir's ``body["n"] || body["name"]``: the first value that is neither null nor false."""
    for name in names:
        value = body.get(name)
        if value is not None and value is not False:
            return value
    return None


def _name(body: dict) -> str:
    name = _first(body, "n", "name")
    if isinstance(name, int) and not isinstance(name, bool):  # Plausible takes numbers, for 404 tracking
        name = str(name)
    if name is None or name == "":
        raise exceptions.ValidationError({"event_name": ["can't be blank"]})
    if not isinstance(name, str):
        raise exceptions.ValidationError({"event_name": ["is invalid"]})
    if len(name) > MAX_NAME:
        raise exceptions.ValidationError({"event_name": [f"should be at most {MAX_NAME} character(s)"]})
    return name


def _url(body: dict) -> str:
    url = _first(body, "u", "url")
    if url is None:
        raise exceptions.ValidationError({"url": ["is required"]})
    if not isinstance(url, str) or len(url.encode()) > MAX_URL_BYTES:
        raise exceptions.ValidationError({"url": ["must be a valid url"]})
    try:
        scheme = urlsplit(url).scheme
    except ValueError:  # an unclosed IPv6 bracket
        raise exceptions.ValidationError({"url": ["must be a valid url"]}) from None
    if scheme == "data":
        raise exceptions.ValidationError({"url": ["scheme is not allowed"]})
    return url


def domains(body: dict, url: str | None) -> list[str]:
    """``d`` (a comma-separated list for Plausible's rollups), else the URL's host."""
    raw = _first(body, "d", "domain")
    if isinstance(raw, str):
        if not raw.strip():
            raise exceptions.ValidationError({"domain": ["can't be blank"]})
        return [normalize_site_domain(domain) for domain in raw.split(",")]
    try:
        host = urlsplit(url).hostname if isinstance(url, str) else None
    except ValueError:
        host = None
    if not host:
        raise exceptions.ValidationError({"domain": ["can't be blank"]})
    return [normalize_site_domain(host)]


def _props(body: dict) -> dict:
    props = _first(body, "m", "meta", "p", "props")
    if isinstance(props, str):  # the legacy form: the props as a JSON text
        try:
            props = json.loads(props)
        except ValueError:
            props = None
    if not isinstance(props, dict):
        return {}
    # As Plausible: lists, objects and blank keys or values are left out; at most the first 30 are kept.
    kept = {
        key: value
        for key, value in props.items()
        if not isinstance(value, list | dict) and value is not None and key.strip() and str(value).strip()
    }
    kept = dict(list(kept.items())[:MAX_PROPS])
    for key, value in kept.items():
        if len(key.encode()) > MAX_PROP_KEY_BYTES or len(str(value).encode()) > MAX_PROP_VALUE_BYTES:
            message = f"keys should have at most {MAX_PROP_KEY_BYTES} bytes and values {MAX_PROP_VALUE_BYTES} bytes"
            raise exceptions.ValidationError({"props": [message]})
    return kept


def _revenue(body: dict) -> dict:
    """``{amount, currency}`` as two properties; Plausible ignores a revenue it cannot read, and so do we."""
    revenue = _first(body, "$", "revenue")
    if not isinstance(revenue, dict):
        return {}
    amount, currency = revenue.get("amount"), revenue.get("currency")
    if isinstance(amount, bool) or not isinstance(amount, int | float | str):
        return {}
    try:
        number = Decimal(str(amount))
    except InvalidOperation:
        return {}
    if not number.is_finite() or not (isinstance(currency, str) and len(currency) == 3 and currency.isalpha()):
        return {}
    return {"revenue_amount": float(number), "revenue_currency": currency.upper()}


def _engagement_value(value, *, ceiling: int) -> int | None:
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 16:  # not "²"
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        return None
    return value if value <= ceiling else None


def _check_engagement(body: dict) -> None:
    """Plausible refuses an engagement event with neither a scroll depth nor a time it can read."""
    scroll_depth = _engagement_value(body.get("sd"), ceiling=10**9)  # above 100 Plausible reads 100
    time_ms = _engagement_value(body.get("e"), ceiling=MAX_ENGAGEMENT_MS - 1)
    if scroll_depth is None and time_ms is None:
        message = "engagement event requires a valid integer value for at least one of 'sd' or 'e' fields"
        raise exceptions.ValidationError({"event_name": [message]})


def to_native(body) -> dict:
    """The native event a Plausible event becomes. Raises ValidationError for its first error, with
    Plausible's field name (event_name, url, domain, props, request) and message."""
    if not isinstance(body, dict):
        raise exceptions.ValidationError({"request": ["Unable to parse request body as json"]})
    if has_unstorable_text(body):  # a lone surrogate or NUL: no URL, domain or prop can hold one
        raise exceptions.ValidationError({"request": ["The body holds a NUL or a lone surrogate (not valid Unicode)"]})
    url = _url(body)
    name = _name(body)
    domains(body, url)  # the app was found by them already; a request without one is still refused
    metadata = {**_props(body), **_revenue(body)}
    if name == ENGAGEMENT:
        _check_engagement(body)
    if body.get("i") is False or body.get("interactive") is False:
        metadata["interactive"] = False  # Plausible leaves such events out of the bounce rate
    native = {"event": name, "url": url, "metadata": metadata}
    if _first(body, "h", "hashMode") in (1, True):  # a hash-based router: its page is in the fragment
        native["hashRouting"] = True
    referrer = _first(body, "r", "referrer")
    if isinstance(referrer, str) and referrer:
        native["referrer"] = referrer[:MAX_URL_BYTES]
    return native


class PlausibleErrors(serializers.Serializer):
    errors = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        help_text="Plausible's field names: `event_name`, `url`, `domain`, `props`, or `request` for the whole body.",
    )


def _plausible_shape(status: int, body: dict) -> dict:
    return {"errors": body.get("fields") or {"request": [body["detail"]]}}


def _accepted(*, dropped: bool) -> HttpResponse:
    # Phoenix's text/2, as Plausible answers: the tracker reads only the status.
    response = HttpResponse("ok", status=202, content_type="text/plain; charset=utf-8")
    if dropped:
        response["x-plausible-dropped"] = "1"
    return response


_EVENT = {
    "type": "object",
    "description": "Short names (the tracker's) or long ones (the Events API's); unknown fields are ignored.",
    "properties": {
        "n": {"type": "string", "description": "Event name (`name`); `pageview` for a page view."},
        "u": {"type": "string", "description": "Page URL (`url`)."},
        "d": {"type": "string", "description": "Site domain (`domain`); comma-separated for a rollup."},
        "r": {"type": "string", "nullable": True, "description": "Referrer (`referrer`)."},
        "p": {"type": "object", "additionalProperties": True, "description": "Custom properties (`props`)."},
        "$": {
            "type": "object",
            "description": "Revenue (`revenue`).",
            "properties": {"amount": {"type": "number"}, "currency": {"type": "string"}},
        },
        "i": {"type": "boolean", "description": "`false` for a non-interactive event (`interactive`)."},
        "h": {"type": "integer", "description": "1 for hash-based routing (`hashMode`)."},
        "sd": {"type": "integer", "description": "Scroll depth of an `engagement` event."},
        "e": {"type": "integer", "description": "Engagement time in ms of an `engagement` event."},
    },
    "additionalProperties": True,
}
_ERROR_EXAMPLES = (
    ("400", {"errors": {"url": ["is required"]}}),
    ("403", {"errors": {"request": ["This origin is not in the app's allowed domains."]}}),
    ("413", {"errors": {"request": ["The request body may be at most 1048576 bytes."]}}),
    ("415", {"errors": {"request": ['Unsupported media type "br" in request.']}}),
    ("429", {"errors": {"request": ["Request was throttled. Expected available in 30 seconds."]}}),
    ("503", {"errors": {"request": ["The database is unavailable; try again shortly."]}}),
)


class PlausibleEventViewSet(viewsets.ViewSet):
    authentication_classes = [SiteAuthentication]
    permission_classes = [AllowAny]  # an unknown domain is answered 202 and dropped, as Plausible does
    throttle_classes = [SiteIngestRateThrottle]

    def get_exception_handler(self):
        return errors_shaped(_plausible_shape)

    def app_from_body(self, request) -> App | None:
        """The app of the first of the event's domains that this server knows; a rollup's event is
        stored once, there, since one event stored in several apps would count in each."""
        body = json_body(request, any_content_type=True)  # Plausible reads JSON whatever the Content-Type
        try:
            candidates = domains(body, _first(body, "u", "url")) if isinstance(body, dict) else []
        except exceptions.ValidationError:
            return None  # the view answers it, with the event's other errors
        if has_unstorable_text(candidates):  # no site domain holds one; the database could not compare it
            return None
        apps = {app.site_domain: app for app in App.objects.filter(site_domain__in=candidates[:10])}
        return next((apps[domain] for domain in candidates if domain in apps), None)

    @extend_schema(
        summary="Plausible: record an event",
        description="Plausible's tracker and Events API, unchanged but for the host: `text/plain` or JSON. "
        "The app is the one whose `siteDomain` is the event's domain (`www.` ignored). An unknown domain, "
        "a bot's user agent and `engagement` events are answered `202 ok` and not stored "
        "(`x-plausible-dropped: 1`). No cookies: the visitor is a daily-salted hash of IP and User-Agent "
        "(the `User-Agent` header; `X-Forwarded-For` only from TRUSTED_PROXY_COUNT proxies).",
        auth=[],
        request={"text/plain": _EVENT, "application/json": _EVENT},
        responses={
            (202, "text/plain"): OpenApiResponse(OpenApiTypes.STR, description="`ok`: accepted."),
            **{
                int(status): OpenApiResponse(PlausibleErrors, description="Plausible's error body.")
                for status, _ in _ERROR_EXAMPLES
            },
        },
        examples=[
            OpenApiExample(
                "Custom event",
                value={"n": "Signup", "u": "https://example.com/join", "d": "example.com", "p": {"plan": "pro"}},
                request_only=True,
                media_type="text/plain",
            ),
            OpenApiExample(
                "Events API",
                value={"name": "pageview", "url": "https://example.com/", "domain": "example.com"},
                request_only=True,
            ),
            OpenApiExample("Accepted", value="ok", response_only=True, status_codes=["202"], media_type="text/plain"),
            *(
                OpenApiExample(status, value=value, response_only=True, status_codes=[status])
                for status, value in _ERROR_EXAMPLES
            ),
        ],
        tags=["plausible"],
    )
    def create(self, request):
        native = to_native(json_body(request, any_content_type=True))
        # An engagement event measures a page view already stored: this project keeps no engagement
        # figures, and as an event of its own it would count in every report.
        if request.auth is None or native["event"] == ENGAGEMENT or is_bot(request.META.get("HTTP_USER_AGENT", "")):
            return _accepted(dropped=True)
        result = ingest(request, [native], EventSource.PLAUSIBLE)
        if not result.valid:
            raise exceptions.ValidationError({"request": [rejection.detail for rejection in result.rejected]})
        return _accepted(dropped=False)
