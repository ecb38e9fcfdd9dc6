"""The JSON parser of every DRF view that reads request.data (registration, key management, funnels)."""

from django.conf import settings
from rest_framework import exceptions, parsers

from analytics_project.request_body import has_unstorable_text, parse_json, read_body


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, bounded: a body over ``JSON_MAX_BODY_BYTES`` is a 413 before it is read (DRF
    would parse 10 MiB whole), an encoding other than gzip a 415, and a NUL or a lone surrogate anywhere
    a 400, since no field of these endpoints can store one and an error echoing it could not be sent."""

    def parse(self, stream, media_type=None, parser_context=None):
        request = (parser_context or {})["request"]
        body = read_body(stream, request.META, limit=settings.JSON_MAX_BODY_BYTES)
        document = parse_json(body)
        if has_unstorable_text(document):
            raise exceptions.ParseError(
                "The body contains a NUL character or a lone surrogate (not valid Unicode).", code="malformed_json"
            )
        return document
