"""Reading ingestion bodies: size limit before parsing, gzip, and the content types SDKs and browsers send."""

from django.conf import settings
from rest_framework import exceptions

from analytics_project.request_body import parse_json, read_body

_JSON_TYPES = ("application/json", "text/plain", "")  # sendBeacon sends text/plain to avoid a CORS preflight


def json_body(request, *, any_content_type: bool = False):
    """The parsed JSON body, read once per request and cached on it (authentication may need it first)."""
    django_request = getattr(request, "_request", request)
    if hasattr(django_request, "_uea_json_body"):
        return django_request._uea_json_body
    content_type = django_request.META.get("CONTENT_TYPE", "").split(";")[0].strip().lower()
    if not any_content_type and content_type not in _JSON_TYPES:
        raise exceptions.UnsupportedMediaType(content_type)
    body = read_body(django_request, django_request.META, limit=settings.INGEST_MAX_BODY_BYTES)
    parsed = parse_json(body)
    django_request._uea_json_body = parsed
    django_request._uea_body_bytes = len(body)
    return parsed


def body_size(request) -> int:
    return getattr(getattr(request, "_request", request), "_uea_body_bytes", 0)
