"""What every ingestion protocol's views share: the request's facts, the origin check, the key in a
body, and handing native events (SPEC §4.1) to events_ingest.

Each protocol (events/views.py's collect and Segment, events/protocols/*) maps its own messages to
native events and answers its clients in its own shape; these are the steps they have in common.
"""

import json
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.utils import timezone
from rest_framework import exceptions
from rest_framework.response import Response

from analytics_project.client_ip import client_ip
from analytics_project.errors import exception_handler
from events.cors import origin_allowed
from events.enrichment import user_agent_facts
from events.http import body_size, json_body
from events.models import DeviceType, EventSource
from events.services import IngestResult, RequestFacts, events_ingest
from events.validation import MAX_EVENT_BYTES, EventRejected


def request_facts(request, source: str) -> RequestFacts:
    country = ""
    if settings.COUNTRY_HEADER and settings.TRUSTED_PROXY_COUNT:
        country = request.META.get("HTTP_" + settings.COUNTRY_HEADER.upper().replace("-", "_"), "")[:2].upper()
        country = country if country.isalpha() else ""
    # A Segment or PostHog request comes from an SDK (often on a server): its own User-Agent says nothing
    # about the end user's device, which only the message's context.userAgent ($raw_user_agent) describes.
    sdk = source in (EventSource.SEGMENT, EventSource.POSTHOG)
    user_agent = "" if sdk else request.META.get("HTTP_USER_AGENT", "")[:1024]
    return RequestFacts(
        api_key=request.auth,
        ip=client_ip(request),
        user_agent=user_agent,
        received_at=timezone.now(),
        source=source,
        country=country,
    )


def check_origin(request) -> None:
    origin = request.headers.get("Origin")
    if origin and not origin_allowed(origin, request.auth.app.domains):
        raise exceptions.PermissionDenied("This origin is not in the app's allowed domains.", code="origin_not_allowed")


def ingest(request, raw_events: list, source: str) -> IngestResult:
    check_origin(request)
    return events_ingest(
        raw_events=raw_events,
        facts=request_facts(request, source),
        # An event cannot be larger than the body it came in: skip measuring each one for small bodies.
        measure_size=body_size(request) > MAX_EVENT_BYTES,
    )


def ingest_messages(
    request, messages: list, to_native: Callable[[Any], dict], source: str
) -> tuple[IngestResult | None, list[tuple[int, str]]]:
    """Map each of a protocol's messages to a native event and ingest the ones that map: the result
    (None when none did), and every message refused, by the mapping or by validation, as (its index
    in ``messages``, why), in index order."""
    natives, positions, refused = [], [], []
    for index, message in enumerate(messages):
        try:
            natives.append(to_native(message))
            positions.append(index)
        except EventRejected as rejection:
            refused.append((index, rejection.detail))
    result = ingest(request, natives, source) if natives else None
    if result is not None:
        refused += [(positions[rejection.index], rejection.detail) for rejection in result.rejected]
    return result, sorted(refused)


def key_in_body(field: str, read_body=json_body):
    """A view's ``api_key_from_body`` (apikeys.authentication) reading the key from a body field: for
    clients that cannot set headers, like ``sendBeacon``."""

    def api_key_from_body(self, request) -> str | None:
        body = read_body(request)
        key = body.get(field) if isinstance(body, dict) else None
        return key.strip() if isinstance(key, str) and key.strip() else None

    return api_key_from_body


def is_bot(user_agent: str) -> bool:
    """Plausible and Umami drop what their user-agent parsers call a bot (headless browsers included),
    answering as if it were stored; the protocols that mimic them ask this project's parser."""
    return user_agent_facts(user_agent).device_type == DeviceType.BOT


def errors_shaped(shape: Callable[[int, dict], dict]):
    """A view's exception handler that answers every error, SPEC §6 body and status alike, in a
    protocol's own shape: ``shape(status, {"code", "detail", "fields"?})`` -> the body to send."""

    def handler(exc, context):
        response = exception_handler(exc, context)
        if isinstance(response, Response):
            response.data = shape(response.status_code, response.data)
        elif response is not None:  # a database outage or an internal error: an already rendered JsonResponse
            response.content = json.dumps(shape(response.status_code, json.loads(response.content)))
        return response

    return handler
