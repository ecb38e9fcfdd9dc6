"""Reading ingestion bodies: size limit before parsing, gzip, and the content types SDKs and browsers send."""

import json
import zlib

from django.conf import settings
from rest_framework import exceptions

from analytics_project.errors import PayloadTooLarge

_JSON_TYPES = ("application/json", "text/plain", "")  # sendBeacon sends text/plain to avoid a CORS preflight


def _too_large() -> PayloadTooLarge:
    return PayloadTooLarge(f"The request body may be at most {settings.INGEST_MAX_BODY_BYTES} bytes.")


def _gunzip(body: bytes, limit: int) -> bytes:
    decompressor = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        data = decompressor.decompress(body, limit + 1)
    except zlib.error:
        raise exceptions.ParseError("The body is not valid gzip.", code="malformed_request") from None
    if len(data) > limit:
        raise _too_large()
    return data


def _reject_constant(name: str):
    # NaN and Infinity are not JSON (RFC 8259); neither database's JSON type can store them.
    raise ValueError(f"{name} is not a JSON value")


def json_body(request):
    """The parsed JSON body, read once per request and cached on it (authentication may need it first)."""
    django_request = getattr(request, "_request", request)
    if hasattr(django_request, "_uea_json_body"):
        return django_request._uea_json_body
    limit = settings.INGEST_MAX_BODY_BYTES
    try:
        declared = int(django_request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > limit:
        raise _too_large()
    body = django_request.read(limit + 1)
    if len(body) > limit:
        raise _too_large()
    if django_request.META.get("HTTP_CONTENT_ENCODING", "").lower() == "gzip":
        body = _gunzip(body, limit)
    content_type = django_request.META.get("CONTENT_TYPE", "").split(";")[0].strip().lower()
    if content_type not in _JSON_TYPES:
        raise exceptions.UnsupportedMediaType(content_type)
    try:
        parsed = json.loads(body, parse_constant=_reject_constant)
    except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: nested past the parser's stack
        raise exceptions.ParseError("The body is not valid JSON.", code="malformed_json") from None
    django_request._uea_json_body = parsed
    django_request._uea_body_bytes = len(body)
    return parsed


def body_size(request) -> int:
    return getattr(getattr(request, "_request", request), "_uea_body_bytes", 0)
