"""Reading a JSON request body safely, for ingestion and for every DRF endpoint alike.

The size limit is checked against the declared length before a byte is read, and again while reading
and inflating, so no body larger than its endpoint's limit is ever held in memory or parsed. Only
gzip is decoded; any other Content-Encoding is refused rather than parsed as if it were plain text.
"""

import json
import zlib

from rest_framework import exceptions

from analytics_project.errors import PayloadTooLarge

_PLAIN_ENCODINGS = ("", "identity")
_GZIP_ENCODINGS = ("gzip", "x-gzip")


def too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(f"The request body may be at most {limit} bytes.")


def read_body(stream, meta: dict, *, limit: int) -> bytes:
    """The body's bytes, gzip inflated: 413 past ``limit``, 415 for an encoding not decoded here,
    400 for gzip that is corrupt, truncated or followed by anything else."""
    try:
        declared = int(meta.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > limit:
        raise too_large(limit)
    encoding = meta.get("HTTP_CONTENT_ENCODING", "").strip().lower()
    if encoding not in _PLAIN_ENCODINGS + _GZIP_ENCODINGS:
        raise exceptions.UnsupportedMediaType(
            encoding, detail=f"Content-Encoding {encoding[:40]!r} is not supported; send gzip or no encoding."
        )
    body = stream.read(limit + 1)
    if len(body) > limit:
        raise too_large(limit)
    return _gunzip(body, limit) if encoding in _GZIP_ENCODINGS else body


def _gunzip(body: bytes, limit: int) -> bytes:
    decompressor = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        data = decompressor.decompress(body, limit + 1)
    except zlib.error:
        raise _bad_gzip("is not valid gzip") from None
    if len(data) > limit:
        raise too_large(limit)
    if not decompressor.eof:
        raise _bad_gzip("is truncated")
    if decompressor.unused_data:
        raise _bad_gzip("has bytes after its end")
    return data


def _bad_gzip(problem: str) -> exceptions.ParseError:
    return exceptions.ParseError(f"The gzip body {problem}.", code="malformed_request")


def _reject_constant(name: str):
    # NaN and Infinity are not JSON (RFC 8259); neither database's JSON type can store them.
    raise ValueError(f"{name} is not a JSON value")


def parse_json(body: bytes):
    try:
        return json.loads(body, parse_constant=_reject_constant)
    except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: nested past the parser's stack
        raise exceptions.ParseError("The body is not valid JSON.", code="malformed_json") from None


def has_unstorable_text(document) -> bool:
    """Whether any key or string holds a NUL or a lone surrogate: valid JSON escapes that no database
    text column (nor a UTF-8 response) can carry. Walked without recursion, however deep the document."""
    pending = [document]
    while pending:
        value = pending.pop()
        if isinstance(value, str):
            if _unstorable(value):
                return True
        elif isinstance(value, dict):
            if any(_unstorable(key) for key in value):
                return True
            pending.extend(value.values())
        elif isinstance(value, list):
            pending.extend(value)
    return False


def _unstorable(text: str) -> bool:
    if "\x00" in text:
        return True
    if text.isascii():
        return False
    try:
        text.encode()
    except UnicodeEncodeError:
        return True
    return False
