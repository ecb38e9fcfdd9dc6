import json

from django.conf import settings
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    PolymorphicProxySerializer,
    extend_schema,
)
from rest_framework import exceptions, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from analytics_project.errors import error_body, exception_handler
from apikeys.permissions import HasApiKey
from apikeys.throttling import IngestRateThrottle
from events import segment
from events.http import json_body
from events.intake import ingest, key_in_body
from events.models import EventSource
from events.serializers import (
    BatchInput,
    CollectErrorOutput,
    EventInput,
    IngestOutput,
    QueuedOutput,
    SegmentError,
    SegmentSuccess,
)
from events.validation import EventRejected


def _native_events(body) -> list:
    if not isinstance(body, dict):
        raise exceptions.ValidationError({"body": ['Send one event object or {"events": [...]}.']}, code="invalid_body")
    if "events" not in body:
        return [{key: value for key, value in body.items() if key != "apiKey"}]
    events = body["events"]
    if not isinstance(events, list) or not events:
        raise exceptions.ValidationError({"events": ["Must be a non-empty list of event objects."]})
    if len(events) > settings.INGEST_MAX_BATCH:
        raise exceptions.ValidationError({"events": [f"At most {settings.INGEST_MAX_BATCH} events per request."]})
    return events


def _segment_body(request):
    # Segment's API reads JSON whatever the Content-Type; RudderStack's Node SDK labels its gzip JSON
    # application/x-www-form-urlencoded and drops the batch on a 415.
    return json_body(request, any_content_type=True)


def _example(name: str, value, status: str = "400") -> OpenApiExample:
    return OpenApiExample(name, value=value, response_only=True, status_codes=[status])


class CollectViewSet(viewsets.ViewSet):
    permission_classes = [HasApiKey]
    throttle_classes = [IngestRateThrottle]
    api_key_from_body = key_in_body("apiKey")  # sendBeacon cannot set headers

    @extend_schema(
        summary="Send events",
        description='One event object, or `{"events": [...]}` with up to 1000. Valid events are stored '
        "even when others in the batch are rejected; an event whose `eventId` the app already has counts as "
        "a duplicate and is not stored again. Body ≤ 1 MiB (`text/plain` JSON accepted, for `sendBeacon`; "
        "gzip accepted). Any key kind may send.",
        request=PolymorphicProxySerializer("CollectBody", [EventInput, BatchInput], resource_type_field_name=None),
        responses={
            201: OpenApiResponse(IngestOutput, description="Stored (INGEST_MODE=direct, the default)."),
            202: OpenApiResponse(
                QueuedOutput,
                description="Queued for the ingest workers to store (INGEST_MODE=buffered); visible in reports "
                "within seconds. A full queue answers 503 `buffer_full` with `Retry-After`.",
            ),
            400: OpenApiResponse(
                CollectErrorOutput,
                description="No valid event (`no_valid_events`, with `rejected`), or a malformed body "
                "(`validation_error` with `fields`, `malformed_json`, `key_in_query_string`).",
                examples=[
                    _example(
                        "no_valid_events",
                        {
                            "code": "no_valid_events",
                            "detail": "No event in the request is valid; see `rejected`.",
                            "rejected": [{"index": 0, "code": "missing_event", "detail": "`event` is required."}],
                        },
                    ),
                    _example(
                        "validation_error",
                        {
                            "code": "validation_error",
                            "detail": "The request has invalid fields.",
                            "fields": {"events": ["Must be a non-empty list of event objects."]},
                        },
                    ),
                ],
            ),
        },
        examples=[
            OpenApiExample(
                "One event",
                value={
                    "event": "signup",
                    "userId": "u_42",
                    "url": "https://shop.example/join?utm_source=ads",
                    "metadata": {"plan": "pro"},
                },
                request_only=True,
            ),
            OpenApiExample(
                "Partly accepted batch",
                value={
                    "accepted": 2,
                    "duplicates": 1,
                    "warnings": [],
                    "rejected": [{"index": 3, "code": "missing_event", "detail": "`event` is required."}],
                },
                response_only=True,
                status_codes=["201"],
            ),
            OpenApiExample(
                "Queued batch",
                value={
                    "queued": 2,
                    "warnings": [],
                    "rejected": [{"index": 2, "code": "missing_event", "detail": "`event` is required."}],
                },
                response_only=True,
                status_codes=["202"],
            ),
        ],
    )
    def create(self, request):
        source = EventSource.BROWSER if request.headers.get("Origin") else EventSource.API
        result = ingest(request, _native_events(json_body(request)), source)
        output = result.as_response()
        if not result.valid:
            body = error_body("no_valid_events", "No event in the request is valid; see `rejected`.")
            return Response({**body, "rejected": output["rejected"]}, status=status.HTTP_400_BAD_REQUEST)
        queued = result.queued is not None
        return Response(output, status=status.HTTP_202_ACCEPTED if queued else status.HTTP_201_CREATED)


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


_TRACK = {
    "type": "track",
    "event": "Order Completed",
    "userId": "u_42",
    "messageId": "ajs-next-1b2c3d",
    "timestamp": "2026-01-06T08:12:44Z",
    "properties": {"revenue": 42.5},
    "context": {"page": {"url": "https://shop.example/checkout"}},
}
_SEGMENT_ERRORS = (
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
_BATCH = {
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


def _segment_schema(body: dict, request_example: OpenApiExample) -> dict:
    return {
        "request": {"application/json": body},
        "examples": [
            request_example,
            _example("Success", {"success": True}, "200"),
            *(_example(code, {"code": code, "message": message}, status) for status, code, message in _SEGMENT_ERRORS),
        ],
        # Every error in Segment's own {code, message} shape (segment_exception_handler), not the native one.
        "responses": {
            200: SegmentSuccess,
            **dict.fromkeys((int(status) for status, _, _ in _SEGMENT_ERRORS), SegmentError),
        },
        "tags": ["segment"],
    }


class SegmentViewSet(viewsets.ViewSet):
    permission_classes = [HasApiKey]
    throttle_classes = [IngestRateThrottle]
    accepts_basic_auth = True
    api_key_from_body = key_in_body("writeKey", _segment_body)

    def get_exception_handler(self):
        return segment_exception_handler

    def _accept(self, request, messages: list, *, kind: str | None, sent_at=None, context=None):
        natives, positions, rejected = [], [], []
        for index, message in enumerate(messages):
            try:
                natives.append(segment.to_native(segment.merge_context(context, message), kind=kind, sent_at=sent_at))
                positions.append(index)
            except EventRejected as rejection:
                rejected.append((index, rejection.detail))
        result = ingest(request, natives, EventSource.SEGMENT) if natives else None
        if result is None or not result.valid:
            rejected += [(positions[r.index], r.detail) for r in (result.rejected if result else [])]
            reasons = [f"message {index}: {detail}" for index, detail in sorted(rejected)[:5]]
            return Response(
                {"code": "invalid_request", "message": "; ".join(reasons) or "No valid message."},
                status=status.HTTP_400_BAD_REQUEST,
            )
        return Response({"success": True}, status=status.HTTP_200_OK)

    @extend_schema(
        summary="Segment-compatible batch",
        description="The Segment HTTP Tracking API, so Segment's and RudderStack's SDKs can point here. "
        "Write key as the Basic-auth user name, `writeKey` in the body, or `X-API-Key`. `messageId` is the "
        "idempotency key; batch `context` is merged into each message. gzip bodies accepted.",
        **_segment_schema(
            _BATCH,
            OpenApiExample(
                "Batch",
                value={"batch": [_TRACK, {"type": "identify", "userId": "u_42", "traits": {"plan": "pro"}}]},
                request_only=True,
            ),
        ),
    )
    @action(detail=False, methods=["post"])
    def batch(self, request):
        body = _segment_body(request)
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
        return self._accept(request, messages, kind=None, sent_at=body.get("sentAt"), context=body.get("context"))

    @extend_schema(
        summary="Segment-compatible track, page, screen, identify, group or alias",
        description="One Segment message of the type in the path. "
        + "Authentication, idempotency and errors as for `/v1/batch`.",
        parameters=[OpenApiParameter("kind", str, OpenApiParameter.PATH, enum=list(segment.MESSAGE_TYPES))],
        **_segment_schema(_MESSAGE, OpenApiExample("Track", value=_TRACK, request_only=True)),
    )
    @action(detail=False, methods=["post"], url_path=f"(?P<kind>{'|'.join(segment.MESSAGE_TYPES)})")
    def single(self, request, kind: str):
        return self._accept(request, [_segment_body(request)], kind=kind)
