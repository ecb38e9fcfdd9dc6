from django.conf import settings
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiResponse,
    PolymorphicProxySerializer,
    extend_schema,
)
from rest_framework import exceptions, status, viewsets
from rest_framework.response import Response

from analytics_project.errors import error_body
from analytics_project.schema import response_example
from apikeys.permissions import HasApiKey
from apikeys.throttling import IngestRateThrottle
from events.http import json_body
from events.intake import ingest, key_in_body
from events.models import EventSource
from events.serializers import (
    BatchInput,
    CollectErrorOutput,
    EventInput,
    IngestOutput,
    QueuedOutput,
)


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
                    response_example(
                        "no_valid_events",
                        {
                            "code": "no_valid_events",
                            "detail": "No event in the request is valid; see `rejected`.",
                            "rejected": [{"index": 0, "code": "missing_event", "detail": "`event` is required."}],
                        },
                    ),
                    response_example(
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
