"""Segment's HTTP Tracking API (SPEC §4.3) and what analytics.js adds to it (SPEC §4.5): the settings it
loads from Segment's CDN, and the one-letter paths it posts to.

Messages map to native events in events/segment.py; RudderStack's SDKs speak the same API
(events/protocols/rudderstack.py adds what only RudderStack JS needs).
"""

import json

from django.conf import settings
from django.urls import reverse
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import AllowAny
from rest_framework.response import Response

from analytics_project.errors import exception_handler
from analytics_project.schema import response_example
from apikeys.authentication import ApiKeyAuthentication
from apikeys.permissions import HasApiKey
from apikeys.throttling import IngestRateThrottle
from events import segment
from events.http import json_body
from events.intake import check_origin, ingest_messages, key_in_body
from events.models import EventSource
from events.serializers import SegmentError, SegmentSuccess


def segment_body(request):
    # Segment's API reads JSON whatever the Content-Type; RudderStack's Node SDK labels its gzip JSON
    # application/x-www-form-urlencoded and drops the batch on a 415.
    return json_body(request, any_content_type=True)


def segment_exception_handler(exc, context):
    """Segment's clients expect ``{"code", "message"}`` bodies."""
    response = exception_handler(exc, context)
    if isinstance(response, Response):
        if isinstance(response.data, dict) and "detail" in response.data:
            response.data = {"code": response.data["code"], "message": response.data["detail"]}
    elif response is not None:  # a database outage or an internal error: an already rendered JsonResponse
        body = json.loads(response.content)
        response.content = json.dumps({"code": body["code"], "message": body["detail"]})
    return response


def segment_error_examples(errors) -> list[OpenApiExample]:
    return [
        response_example(code, {"code": code, "message": message}, status_code) for status_code, code, message in errors
    ]


_TRACK = {
    "type": "track",
    "event": "Order Completed",
    "userId": "u_42",
    "messageId": "ajs-next-1b2c3d",
    "timestamp": "2026-01-06T08:12:44Z",
    "properties": {"revenue": 42.5},
    "context": {"page": {"url": "https://shop.example/checkout"}},
}
SEGMENT_ERRORS = (
    ("400", "invalid_request", "message 0: `event` is required."),
    ("401", "invalid_api_key", "The API key is not valid."),
    ("403", "origin_not_allowed", "This origin is not in the app's allowed domains."),
    ("413", "payload_too_large", "The request body may be at most 1048576 bytes."),
    ("415", "unsupported_media_type", 'Unsupported media type "text/xml" in request.'),
    ("429", "rate_limited", "Request was throttled. Expected available in 30 seconds."),
    ("503", "database_unavailable", "The database is unavailable; try again shortly."),
)


# Segment's messages carry fields of their own, and unknown ones are ignored, not refused.
_MESSAGE = {"type": "object", "additionalProperties": True}
BATCH_BODY = {
    "type": "object",
    "properties": {
        "batch": {"type": "array", "items": _MESSAGE, "minItems": 1, "maxItems": settings.INGEST_MAX_BATCH},
        "context": {**_MESSAGE, "description": "Merged into each message."},
        "sentAt": {"type": "string", "description": "Client send time; corrects clock skew."},
        "writeKey": {"type": "string", "description": "The write key, when not in the Authorization header."},
    },
    "required": ["batch"],
    "additionalProperties": True,
}


def batch_example(media_type: str = "application/json") -> OpenApiExample:
    return OpenApiExample(
        "Batch",
        value={"batch": [_TRACK, {"type": "identify", "userId": "u_42", "traits": {"plan": "pro"}}]},
        request_only=True,
        media_type=media_type,
    )


def segment_schema(body: dict, request_example: OpenApiExample, *, media_types=("application/json",)) -> dict:
    return {
        "request": dict.fromkeys(media_types, body),
        "examples": [
            request_example,
            response_example("Success", {"success": True}, "200"),
            *segment_error_examples(SEGMENT_ERRORS),
        ],
        # Every error in Segment's own {code, message} shape (segment_exception_handler), not the native one.
        "responses": {
            200: SegmentSuccess,
            **dict.fromkeys((int(status_code) for status_code, _, _ in SEGMENT_ERRORS), SegmentError),
        },
        "tags": ["segment"],
    }


BATCH_SCHEMA = segment_schema(BATCH_BODY, batch_example())


class SegmentIntake(viewsets.ViewSet):
    """Accepts Segment messages, answering as Segment's API does; the subclasses' actions are its paths."""

    permission_classes = [HasApiKey]
    throttle_classes = [IngestRateThrottle]
    accepts_basic_auth = True
    api_key_from_body = key_in_body("writeKey", segment_body)

    def get_exception_handler(self):
        return segment_exception_handler

    def accept(self, request, messages: list, *, kind: str | None, sent_at=None, context=None) -> Response:
        def to_native(message) -> dict:
            return segment.to_native(segment.merge_context(context, message), kind=kind, sent_at=sent_at)

        result, refused = ingest_messages(request, messages, to_native, EventSource.SEGMENT)
        if result is None or not result.valid:
            reasons = [f"message {index}: {detail}" for index, detail in refused[:5]]
            return Response(
                {"code": "invalid_request", "message": "; ".join(reasons) or "No valid message."},
                status=status.HTTP_400_BAD_REQUEST,
            )
        return Response({"success": True}, status=status.HTTP_200_OK)

    def accept_batch(self, request) -> Response:
        body = segment_body(request)
        messages = body.get("batch") if isinstance(body, dict) else None
        if not isinstance(messages, list) or not messages:
            return Response(
                {"code": "invalid_request", "message": "`batch` must be a non-empty list of messages."},
                status=status.HTTP_400_BAD_REQUEST,
            )
        if len(messages) > settings.INGEST_MAX_BATCH:
            return Response(
                {"code": "invalid_request", "message": f"At most {settings.INGEST_MAX_BATCH} messages per batch."},
                status=status.HTTP_400_BAD_REQUEST,
            )
        return self.accept(request, messages, kind=None, sent_at=body.get("sentAt"), context=body.get("context"))


_KINDS = (*segment.MESSAGE_TYPES, *segment.SHORT_PATHS)


class SegmentViewSet(SegmentIntake):
    @extend_schema(
        summary="Segment-compatible batch",
        description="The Segment HTTP Tracking API, so Segment's and RudderStack's SDKs can point here. "
        "Write key as the Basic-auth user name, `writeKey` in the body, or `X-API-Key`. `messageId` is the "
        "idempotency key; batch `context` is merged into each message. gzip bodies accepted.",
        **BATCH_SCHEMA,
    )
    @action(detail=False, methods=["post"])
    def batch(self, request):
        return self.accept_batch(request)

    @extend_schema(
        summary="Segment-compatible batch (analytics.js)",
        description="`/v1/batch` under the path analytics.js posts to with its batching delivery strategy "
        "(`text/plain` JSON with `writeKey` in it). Everything else as for `/v1/batch`.",
        **BATCH_SCHEMA,
    )
    @action(detail=False, methods=["post"], url_path="b")
    def short_batch(self, request):
        return self.accept_batch(request)

    @extend_schema(
        summary="Segment-compatible track, page, screen, identify, group or alias",
        description="One Segment message of the type in the path: its name, or the first letter of it "
        "(`t`, `p`, `s`, `i`, `g`, `a`) where analytics.js posts. "
        "Authentication, idempotency and errors as for `/v1/batch`.",
        parameters=[OpenApiParameter("kind", str, OpenApiParameter.PATH, enum=list(_KINDS))],
        **segment_schema(_MESSAGE, OpenApiExample("Track", value=_TRACK, request_only=True)),
    )
    @action(detail=False, methods=["post"], url_path=f"(?P<kind>{'|'.join(_KINDS)})")
    def single(self, request, kind: str):
        return self.accept(request, [segment_body(request)], kind=segment.SHORT_PATHS.get(kind, kind))


_SETTINGS = {
    "type": "object",
    "properties": {
        "integrations": {
            "type": "object",
            "properties": {
                "Segment.io": {
                    "type": "object",
                    "properties": {
                        "apiKey": {"type": "string", "description": "The write key, as sent."},
                        "apiHost": {"type": "string", "description": "This server's host and `/v1`, no scheme."},
                        "protocol": {"type": "string", "enum": ["http", "https"]},
                    },
                    "required": ["apiKey", "apiHost", "protocol"],
                }
            },
            "required": ["Segment.io"],
        },
        "metrics": {"type": "object", "properties": {"sampleRate": {"type": "number"}}},
    },
    "required": ["integrations"],
    "additionalProperties": True,
}
SETTINGS_ERRORS = (
    ("403", "origin_not_allowed", "This origin is not in the app's allowed domains."),
    ("404", "invalid_write_key", "Invalid path or write key provided."),
    ("429", "rate_limited", "Too many failed authentication attempts."),
    ("503", "database_unavailable", "The database is unavailable; try again shortly."),
)


class SegmentSettingsViewSet(viewsets.ViewSet):
    """The settings analytics.js loads before it sends anything, as Segment's CDN serves them."""

    # The key is in the path, where analytics.js puts it, so it is checked in the view.
    authentication_classes = []
    permission_classes = [AllowAny]
    lookup_field = "write_key"
    lookup_value_regex = "[^/]+"  # any text is looked up, so that every miss is Segment's 404

    def get_exception_handler(self):
        return segment_exception_handler

    @extend_schema(
        summary="analytics.js settings",
        description="What `AnalyticsBrowser.load({writeKey, cdnURL: 'https://HOST'})` fetches: tells it to "
        "deliver to this server's `/v1`, with the protocol of this request (behind `TRUSTED_PROXY_COUNT` "
        "proxies, `X-Forwarded-Proto`). Any working key of the app, secret or publishable. A key that does "
        "not work is a 404, as on Segment's CDN; failed attempts count toward `AUTH_FAILURE_RATE`. A page "
        "outside the app's allowed domains gets a 403, so analytics.js stops there instead of failing on "
        "every event.",
        parameters=[OpenApiParameter("write_key", str, OpenApiParameter.PATH, description="A key of the app.")],
        responses={
            200: OpenApiResponse(_SETTINGS, description="The settings."),
            **{int(status_code): SegmentError for status_code, _, _ in SETTINGS_ERRORS},
        },
        examples=[
            response_example(
                "Settings",
                segment.cdn_settings(write_key="pk_AbCd1234…", api_host="analytics.example/v1", protocol="https"),
                "200",
            ),
            *segment_error_examples(SETTINGS_ERRORS),
        ],
        tags=["segment"],
    )
    @action(detail=True, methods=["get"], url_path="settings")
    def project_settings(self, request, write_key: str):
        try:
            request.user, request.auth = ApiKeyAuthentication().authenticate_key(request, write_key)
        except exceptions.AuthenticationFailed:
            raise exceptions.NotFound("Invalid path or write key provided.", code="invalid_write_key") from None
        check_origin(request)
        api_base = request.build_absolute_uri(reverse("segment-batch")).removesuffix("/batch")
        protocol, _, api_host = api_base.partition("://")
        return Response(segment.cdn_settings(write_key=write_key, api_host=api_host, protocol=protocol))
