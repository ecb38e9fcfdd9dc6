"""The JSON parser of every DRF view that reads request.data (registration, key management, funnels)."""

from rest_framework import exceptions, parsers


class JSONParser(parsers.JSONParser):
    """DRF's strict JSON parser, except that a body nested deeper than Python's decoder can follow is
    a 400 like any other malformed body: DRF lets the RecursionError through as a 500."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise exceptions.ParseError("The body is not valid JSON.", code="malformed_json") from None
