"""Reading what PostHog's SDKs send: the body in each of its encodings, the project token, the events.

posthog-python and posthog-node send JSON (``Content-Encoding: gzip`` when compressing); posthog-js
sends gzip labelled ``text/plain`` with no Content-Encoding, so gzip is recognised by its magic bytes;
on page unload, via ``sendBeacon``, a form ``data=<base64 of JSON>``, which the oldest clients also
put in the query string.
"""

import base64
import binascii
import io
from urllib.parse import parse_qs

from django.conf import settings
from rest_framework import exceptions, status

from analytics_project.request_body import parse_json, read_body
from events.protocols.posthog.mapping import instant

GZIP_MAGIC = b"\x1f\x8b"
TOKEN_FIELDS = ("api_key", "token", "$token")


class InvalidPayload(exceptions.APIException):
    status_code = status.HTTP_400_BAD_REQUEST
    default_code = "invalid_payload"


def _decode_data(data: str):
    """``data=``'s value: JSON, or base64 of it. Form decoding turned base64's ``+`` into spaces."""
    text = data.strip()
    if text.startswith(("{", "[")):
        return parse_json(text.encode())
    try:
        decoded = base64.b64decode(text.replace(" ", "+") + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise InvalidPayload("`data` is neither JSON nor base64 of JSON.") from None
    return parse_json(decoded)


def _decode(raw: bytes, query_data: str | None):
    text = raw.strip()
    if not text:
        return _decode_data(query_data) if query_data else None
    if b"=" not in text or text.startswith((b"{", b"[")):
        return parse_json(text)
    try:
        form = parse_qs(text.decode(), keep_blank_values=True, max_num_fields=100)
    except (UnicodeDecodeError, ValueError):
        form = {}
    if not form.get("data"):
        raise InvalidPayload("The body is neither JSON, gzip of JSON nor a `data=` form.")
    return _decode_data(form["data"][0])


def posthog_body(request):
    """The decoded payload (None when there is none), read once per request: authentication needs the
    token in it before the view runs."""
    django_request = getattr(request, "_request", request)
    if not hasattr(django_request, "_uea_posthog_body"):
        limit = settings.INGEST_MAX_BODY_BYTES
        raw = read_body(django_request, django_request.META, limit=limit)
        if raw.startswith(GZIP_MAGIC):
            raw = read_body(io.BytesIO(raw), {"HTTP_CONTENT_ENCODING": "gzip"}, limit=limit)
        django_request._uea_posthog_body = _decode(raw, django_request.GET.get("data"))
        django_request._uea_body_bytes = len(raw)  # events.http.body_size: whether to measure each event
    return django_request._uea_posthog_body


def tokens(payload) -> list[str]:
    """Every token in the payload, where PostHog's clients put it: the body's ``api_key`` (server SDKs),
    ``token``, ``$token`` (``/engage/``) or ``properties.token`` (posthog-js), and the same per event."""
    if isinstance(payload, dict):
        owners = [payload, *(payload.get("batch") if isinstance(payload.get("batch"), list) else [])]
    else:
        owners = payload if isinstance(payload, list) else []
    found = []
    for owner in filter(lambda item: isinstance(item, dict), owners):
        properties = owner.get("properties") if isinstance(owner.get("properties"), dict) else {}
        for value in [*(owner.get(field) for field in TOKEN_FIELDS), properties.get("token")]:
            if isinstance(value, str) and value.strip() and value.strip() not in found:
                found.append(value.strip())
    return found


def capture_events(payload) -> list:
    """The events of a capture body: one event, an array of them, or ``{"batch": [...]}``."""
    if payload is None:
        raise InvalidPayload("No data found. Send the events in the body of a POST request.")
    events = payload.get("batch", [payload]) if isinstance(payload, dict) else payload
    if not isinstance(events, list) or not events:
        raise InvalidPayload('Send an event object, an array of events or {"batch": [...]} with at least one.')
    if len(events) > settings.INGEST_MAX_BATCH:
        raise InvalidPayload(f"At most {settings.INGEST_MAX_BATCH} events per request.")
    return events


def batch_sent_at(payload, query_params):
    """When the client sent the request, by its own clock: the body's ``sent_at`` (server SDKs), else
    posthog-js's ``?sent_at=`` or ``?_=`` (epoch ms)."""
    sent_at = payload.get("sent_at") if isinstance(payload, dict) else None
    return instant(sent_at or query_params.get("sent_at") or query_params.get("_") or None)
