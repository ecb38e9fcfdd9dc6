"""Umami's tracker and API, ``POST /api/send`` and ``POST /api/batch`` -> native events (SPEC §4.5).

The rules follow Umami 3.1's routes (src/app/api/send/route.ts, src/app/api/batch/route.ts) and its
tracker (src/tracker/index.js): the website id is the app's id; a send without ``name`` is a page
view; ``identify`` stores traits; bots are answered ``{"beep": "boop"}`` and dropped; errors come as
``{"error": {"message", "code", "status"}}``. The ``cache`` token Umami's tracker stores and sends back
in ``x-umami-cache`` is random here and never read: every request is checked in full.
"""

import secrets
import uuid
from urllib.parse import unquote, urlsplit

from django.conf import settings
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, PolymorphicProxySerializer, extend_schema
from rest_framework import exceptions, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import AllowAny
from rest_framework.response import Response

from analytics_project.request_body import has_unstorable_text
from apikeys.authentication import SiteAuthentication
from apikeys.models import App
from apikeys.throttling import SiteIngestRateThrottle
from events.enrichment import anonymous_distinct_id
from events.http import json_body
from events.intake import errors_shaped, ingest, is_bot, request_facts
from events.models import EventSource
from events.services import RequestFacts
from events.validation import EventRejected

PAGEVIEW = "pageview"
TYPES = ("event", "identify", "performance")
# Umami's zod schema: the longest text each payload field may be.
_LIMITS = {"hostname": 100, "language": 35, "screen": 11, "name": 50, "tag": 50}
_TEXTS = ("hostname", "language", "screen", "title", "url", "referrer", "name", "tag", "id", "userAgent")
_IDS = uuid.UUID("2f4b8c1e-9a3d-4e6f-8b7a-5c0d1e2f3a4b")  # names the session and visit ids answered
BOT_ANSWER = {"beep": "boop"}
WEBSITE_NOT_FOUND = "Website not found."
ONE_WEBSITE = "A batch is for one website, its first send's; send the others in a batch of their own."
# Umami's codes for the statuses it has; for the others this project's own code says what happened.
_UMAMI_CODES = {400: "bad-request", 403: "forbidden"}


def _umami_shape(status_code: int, body: dict) -> dict:
    code = _UMAMI_CODES.get(status_code) or body["code"]
    return {"error": {"message": body["detail"], "code": code, "status": status_code}}


def _website(body) -> uuid.UUID | None:
    payload = body.get("payload") if isinstance(body, dict) else None
    try:
        return uuid.UUID(payload["website"]) if isinstance(payload, dict) else None
    except (KeyError, TypeError, ValueError, AttributeError):
        return None


def _payload(body) -> dict:
    """The payload of a valid send body; EventRejected naming the first rule it breaks."""
    if not isinstance(body, dict):
        raise EventRejected("invalid_body", "The body must be an object with `type` and `payload`.")
    if body.get("type") not in TYPES:
        raise EventRejected("invalid_type", f"`type` must be one of {', '.join(TYPES)}.")
    payload = body.get("payload")
    if not isinstance(payload, dict):
        raise EventRejected("invalid_payload", "`payload` must be an object.")
    if _website(body) is None:
        raise EventRejected("invalid_website", "`payload.website` must be a website id (a UUID).")
    for field in _TEXTS:
        value = payload.get(field)
        if value is not None and not isinstance(value, str):
            raise EventRejected("invalid_field", f"`payload.{field}` must be a string.")
        if value is not None and len(value) > _LIMITS.get(field, len(value)):
            raise EventRejected("field_too_long", f"`payload.{field}` may be at most {_LIMITS[field]} characters.")
    if payload.get("data") is not None and not isinstance(payload["data"], dict):
        raise EventRejected("invalid_field", "`payload.data` must be an object.")
    if has_unstorable_text(payload):  # a lone surrogate or NUL: nothing can hash, parse or store it
        raise EventRejected("invalid_text", "`payload` holds a NUL or a lone surrogate (not valid Unicode).")
    timestamp = payload.get("timestamp")
    if timestamp is not None and (isinstance(timestamp, bool) or not isinstance(timestamp, int)):
        raise EventRejected("invalid_field", "`payload.timestamp` must be whole seconds since the epoch.")
    return payload


def _absolute(url: str | None, hostname: str | None) -> str | None:
    """Umami reads a path against ``https://<hostname>``, as its route does."""
    if not url:
        return None
    try:
        has_host = bool(urlsplit(url).netloc)
    except ValueError:
        return url  # native validation names what is wrong with it
    return url if has_host or not url.startswith("/") else f"https://{hostname or 'localhost'}{url}"


def _visitor(facts: RequestFacts, payload: dict) -> str:
    """The daily-salted visitor hash events_ingest gives an event without ids, for the ids answered and
    for ``identify`` to link the visitor's anonymous events to the user."""
    return anonymous_distinct_id(
        secret=settings.SECRET_KEY,
        app_id=str(facts.api_key.app_id),
        day=facts.received_at.date(),
        ip=facts.ip,
        user_agent=payload.get("userAgent") or facts.user_agent,
    )


def to_native(body_type: str, payload: dict, visitor: str) -> dict | None:
    """The native event of a valid send, or None for what is not stored: a performance report (web
    vitals of a page view already stored) and an identify with neither an id nor traits."""
    if body_type == "performance" or (body_type == "identify" and not (payload.get("id") or payload.get("data"))):
        return None
    data = payload.get("data") or {}
    page = {key: payload[key] for key in ("title", "tag") if payload.get(key)}
    if "title" in page:  # Umami 2's tracker sent it URI-encoded; Umami decodes it, leniently, as unquote does
        page["title"] = unquote(page["title"])
    native = {
        "userId": payload.get("id") or None,
        "url": _absolute(payload.get("url"), payload.get("hostname")),
        "referrer": _absolute(payload.get("referrer"), payload.get("hostname")),
        "screen": payload.get("screen"),
        "locale": payload.get("language"),
        "userAgent": payload.get("userAgent"),
        "timestamp": payload["timestamp"] * 1000 if payload.get("timestamp") is not None else None,
    }
    if body_type == "identify":
        native |= {"event": "identify", "anonymousId": visitor, "metadata": data}
    else:
        native |= {"event": payload.get("name") or PAGEVIEW, "metadata": {**page, **data}}
    return {key: value for key, value in native.items() if value is not None and value != ""}


def _ids(app_id: uuid.UUID, distinct_id: str, facts: RequestFacts) -> dict:
    session = uuid.uuid5(_IDS, f"{app_id}:{distinct_id}")
    visit = uuid.uuid5(session, facts.received_at.strftime("%Y-%m-%dT%H"))  # Umami's visit: the hour
    return {"sessionId": str(session), "visitId": str(visit)}


class UmamiError(serializers.Serializer):
    class Detail(serializers.Serializer):
        message = serializers.CharField()
        code = serializers.CharField(help_text="`bad-request`, `forbidden`, or this server's code: `rate_limited`...")
        status = serializers.IntegerField()

    error = Detail()


class UmamiSendOutput(serializers.Serializer):
    cache = serializers.CharField(help_text="An opaque token the tracker sends back in `x-umami-cache`; never read.")
    sessionId = serializers.UUIDField()
    visitId = serializers.UUIDField()


class UmamiBotOutput(serializers.Serializer):
    beep = serializers.ChoiceField(choices=["boop"], help_text="A bot's user agent: nothing stored.")


class UmamiBatchOutput(serializers.Serializer):
    class Failure(serializers.Serializer):
        index = serializers.IntegerField()
        response = UmamiError()

    size = serializers.IntegerField()
    processed = serializers.IntegerField()
    errors = serializers.IntegerField()
    details = Failure(many=True)
    cache = serializers.CharField(allow_null=True)


_PAYLOAD = {
    "type": "object",
    "properties": {
        "website": {"type": "string", "format": "uuid", "description": "The app's id."},
        "url": {"type": "string"},
        "referrer": {"type": "string"},
        "hostname": {"type": "string", "maxLength": 100},
        "title": {"type": "string"},
        "screen": {"type": "string", "maxLength": 11},
        "language": {"type": "string", "maxLength": 35},
        "name": {"type": "string", "maxLength": 50, "description": "A custom event's name; none for a page view."},
        "tag": {"type": "string", "maxLength": 50},
        "id": {"type": "string", "description": "The identified user's id."},
        "data": {"type": "object", "additionalProperties": True, "description": "Event data, or traits."},
        "timestamp": {"type": "integer", "description": "Seconds since the epoch; default now."},
        "userAgent": {"type": "string"},
    },
    "required": ["website"],
    "additionalProperties": True,
}
_SEND = {
    "type": "object",
    "properties": {"type": {"type": "string", "enum": list(TYPES)}, "payload": _PAYLOAD},
    "required": ["type", "payload"],
}
_PAGEVIEW = {
    "type": "event",
    "payload": {
        "website": "0c2e5a7b-1d3f-4a6b-8c9d-0e1f2a3b4c5d",
        "url": "https://example.com/pricing",
        "hostname": "example.com",
        "title": "Pricing",
    },
}


def _request_examples(name: str, value) -> list[OpenApiExample]:
    return [
        OpenApiExample(name, value=value, request_only=True, media_type=media_type)
        for media_type in ("application/json", "text/plain")
    ]


_ANSWER = {
    "cache": "q0xY3kQbXn7m9VdE2rT1uZ8sLwA4cHfG",
    "sessionId": "7d6f1c2e-5b8a-5e3f-9c4d-2a1b0e9f8d7c",
    "visitId": "3e2d1c0b-9a8f-5e7d-8c6b-5a4f3e2d1c0b",
}
_ERRORS = {
    400: "Invalid body, or `Website not found.` (`bad-request`).",
    403: "A browser `Origin` outside the app's allowed domains (`forbidden`).",
    413: "Body too large (`payload_too_large`).",
    415: "A Content-Encoding other than gzip (`unsupported_media_type`).",
    429: "The app's INGEST_RATE is used up (`rate_limited`); see `Retry-After`.",
    503: "Database or queue unavailable (`database_unavailable`, `buffer_full`); see `Retry-After`.",
}
_ERROR_RESPONSES = {code: OpenApiResponse(UmamiError, description=text) for code, text in _ERRORS.items()}


class UmamiViewSet(viewsets.ViewSet):
    authentication_classes = [SiteAuthentication]
    permission_classes = [AllowAny]  # an unknown website is Umami's 400, answered by the view
    throttle_classes = [SiteIngestRateThrottle]

    def get_exception_handler(self):
        return errors_shaped(_umami_shape)

    def app_from_body(self, request) -> App | None:
        """The app whose id is the website id (of a batch's first send: a batch is for one website)."""
        body = json_body(request, any_content_type=True)  # Umami reads JSON whatever the Content-Type
        website = _website(body[0] if isinstance(body, list) and body else body)
        return App.objects.filter(id=website).first() if website else None

    def _accept(self, request, bodies: list) -> tuple[list[tuple[int, str]], dict | None]:
        """Ingest the sends; their failures by index (with the reason) and the ids of the last stored."""
        facts = request_facts(request, EventSource.UMAMI)
        natives, positions, failures, answer = [], [], [], None
        for index, body in enumerate(bodies):
            try:
                payload = _payload(body)
            except EventRejected as rejection:
                failures.append((index, rejection.detail))
                continue
            if request.auth is None or _website(body) != request.auth.app_id:
                failures.append((index, WEBSITE_NOT_FOUND if request.auth is None or index == 0 else ONE_WEBSITE))
                continue
            if is_bot(payload.get("userAgent") or facts.user_agent):
                continue
            visitor = _visitor(facts, payload)
            answer = _ids(request.auth.app_id, payload.get("id") or visitor, facts)
            native = to_native(body["type"], payload, visitor)
            if native is not None:
                natives.append(native)
                positions.append(index)
        if natives:
            result = ingest(request, natives, EventSource.UMAMI)
            failures += [(positions[rejection.index], rejection.detail) for rejection in result.rejected]
        return sorted(failures), answer

    @extend_schema(
        summary="Umami: record a page view, an event or an identify",
        description="Umami's `/api/send`, for its unchanged tracker (`data-host-url`) and API clients. "
        "`payload.website` is the app's id; a send without `name` is a page view, with `name` a custom event "
        "whose `data` become its properties; `identify` stores an `identify` event with `payload.id` as the "
        "user id and `data` as traits. `performance` sends are answered and not stored. A bot's user agent "
        'gets `{"beep": "boop"}` and nothing is stored. The `x-umami-cache` header is accepted and ignored.',
        auth=[],
        request={"application/json": _SEND, "text/plain": _SEND},
        responses={
            200: OpenApiResponse(
                PolymorphicProxySerializer("UmamiSendAnswer", [UmamiSendOutput, UmamiBotOutput], None),
                description='Accepted; for a bot\'s user agent `{"beep": "boop"}`, and nothing stored.',
            ),
            **_ERROR_RESPONSES,
        },
        examples=[
            *_request_examples("Page view", _PAGEVIEW),
            OpenApiExample("Accepted", value=_ANSWER, response_only=True, status_codes=["200"]),
            OpenApiExample("A bot", value=BOT_ANSWER, response_only=True, status_codes=["200"]),
            OpenApiExample(
                "Website not found",
                value={"error": {"message": WEBSITE_NOT_FOUND, "code": "bad-request", "status": 400}},
                response_only=True,
                status_codes=["400"],
            ),
        ],
        tags=["umami"],
    )
    @action(detail=False, methods=["post"])
    def send(self, request):
        failures, answer = self._accept(request, [json_body(request, any_content_type=True)])
        if failures:
            raise exceptions.ValidationError(failures[0][1])
        if answer is None:
            return Response(BOT_ANSWER)
        return Response({"cache": secrets.token_urlsafe(24), **answer})

    @extend_schema(
        summary="Umami: record a batch of sends",
        description="Umami's `/api/batch`: an array of `/api/send` bodies, all for one website (the first "
        "one's). Always 200 unless the whole request is refused; failed sends are counted and named by index.",
        auth=[],
        request={"application/json": {"type": "array", "items": _SEND, "minItems": 1}},
        responses={200: UmamiBatchOutput, **_ERROR_RESPONSES},
        examples=[
            OpenApiExample(
                "Batch", value=[_PAGEVIEW, {"type": "event", "payload": {"website": "?"}}], request_only=True
            ),
            OpenApiExample(
                "One send failed",
                value={
                    "size": 2,
                    "processed": 1,
                    "errors": 1,
                    "details": [
                        {
                            "index": 1,
                            "response": {
                                "error": {
                                    "message": "`payload.website` must be a website id (a UUID).",
                                    "code": "bad-request",
                                    "status": 400,
                                }
                            },
                        }
                    ],
                    "cache": _ANSWER["cache"],
                },
                response_only=True,
                status_codes=["200"],
            ),
        ],
        tags=["umami"],
    )
    @action(detail=False, methods=["post"])
    def batch(self, request):
        bodies = json_body(request, any_content_type=True)
        if not isinstance(bodies, list) or not bodies:
            raise exceptions.ValidationError("The body must be a non-empty array of send bodies.")
        if len(bodies) > settings.INGEST_MAX_BATCH:
            raise exceptions.ValidationError(f"At most {settings.INGEST_MAX_BATCH} sends per batch.")
        failures, answer = self._accept(request, bodies)
        details = [
            {"index": index, "response": _umami_shape(400, {"code": "bad-request", "detail": detail})}
            for index, detail in failures
        ]
        return Response(
            {
                "size": len(bodies),
                "processed": len(bodies) - len(failures),
                "errors": len(failures),
                "details": details,
                "cache": secrets.token_urlsafe(24) if answer else None,
            },
            status=status.HTTP_200_OK,
        )
