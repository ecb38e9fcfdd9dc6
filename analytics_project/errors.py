"""One error body for the whole native API: ``{"code", "detail", "fields"?}`` (SPEC §6)."""

import logging

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.db import DatabaseError, InterfaceError, OperationalError
from django.http import Http404, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response

logger = logging.getLogger(__name__)

DATABASE_RETRY_AFTER_SECONDS = 5
API_PATH_PREFIXES = ("/api/", "/v1/", "/health")


class ServiceUnavailable(exceptions.APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "A back-end service is unavailable; try again shortly."
    default_code = "service_unavailable"
    wait = DATABASE_RETRY_AFTER_SECONDS  # the exception handler sends it as Retry-After


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."
    default_code = "payload_too_large"


_CODE_OVERRIDES = {
    exceptions.NotAuthenticated: "authentication_required",
    exceptions.Throttled: "rate_limited",
    exceptions.ParseError: "malformed_request",
}


def error_body(code: str, detail: str, fields: dict | None = None) -> dict:
    body = {"code": code, "detail": detail}
    if fields:
        body["fields"] = fields
    return body


# SQLSTATE classes that mean the server, not the statement, failed: connection (08), resources such as
# disk or connections (53), operator intervention such as a shutdown or statement timeout (57), system
# errors (58), lock waits (55) and transaction rollbacks like deadlocks (40). Retrying later can succeed.
# An OperationalError outside them is the statement's own fault: PostgreSQL raises "index row size
# exceeds maximum" (54000) as one, and retrying that event forever would never store it.
_OUTAGE_SQLSTATE_CLASSES = frozenset({"08", "40", "53", "55", "57", "58"})


def is_database_outage(exc: Exception) -> bool:
    """A lost or refused connection, or a server that cannot work right now: 503, try again."""
    if isinstance(exc, InterfaceError):
        return True
    if not isinstance(exc, OperationalError):
        return False
    sqlstate = getattr(exc.__cause__, "sqlstate", None)  # psycopg's error, which Django wraps
    return sqlstate is None or sqlstate[:2] in _OUTAGE_SQLSTATE_CLASSES


def database_unavailable_response() -> JsonResponse:
    response = JsonResponse(
        error_body("database_unavailable", "The database is unavailable; try again shortly."),
        status=status.HTTP_503_SERVICE_UNAVAILABLE,
    )
    response["Retry-After"] = str(DATABASE_RETRY_AFTER_SECONDS)
    return response


def internal_error_response() -> JsonResponse:
    return JsonResponse(
        error_body("internal_error", "Something went wrong on our side; it has been logged."),
        status=status.HTTP_500_INTERNAL_SERVER_ERROR,
    )


def _validation_body(exc: exceptions.ValidationError) -> dict:
    detail = exc.detail
    if isinstance(detail, dict):
        messages = detail.get("non_field_errors")
        fields = {key: value for key, value in detail.items() if key != "non_field_errors"}
        summary = " ".join(str(m) for m in messages) if messages else "The request has invalid fields."
        return error_body("validation_error", summary, fields)
    messages = detail if isinstance(detail, list) else [detail]
    return error_body("validation_error", " ".join(str(m) for m in messages))


def _code_of(exc: exceptions.APIException) -> str:
    for exception_class, code in _CODE_OVERRIDES.items():
        if type(exc) is exception_class and exc.get_codes() in (exception_class.default_code, None):
            return code
    codes = exc.get_codes()
    return codes if isinstance(codes, str) else exc.default_code


def exception_handler(exc, context):
    """DRF's EXCEPTION_HANDLER: every exception becomes the SPEC §6 body; nothing leaks a traceback."""
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()

    if isinstance(exc, exceptions.ValidationError):
        return Response(_validation_body(exc), status=exc.status_code)
    if isinstance(exc, exceptions.APIException):
        headers = {}
        if getattr(exc, "auth_header", None):
            headers["WWW-Authenticate"] = exc.auth_header
        if getattr(exc, "wait", None):
            headers["Retry-After"] = str(max(1, int(exc.wait)))
        return Response(error_body(_code_of(exc), str(exc.detail)), status=exc.status_code, headers=headers)
    if is_database_outage(exc):
        logger.error("database unavailable: %s", exc.__class__.__name__)
        return database_unavailable_response()
    if isinstance(exc, DatabaseError):
        logger.exception("database error")
        return internal_error_response()
    logger.exception("unhandled error")
    return internal_error_response()
