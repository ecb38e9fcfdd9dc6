import logging
import re
import time
import uuid

from analytics_project.errors import (
    API_PATH_PREFIXES,
    database_unavailable_response,
    internal_error_response,
    is_database_outage,
)
from analytics_project.logging import mask_keys

request_logger = logging.getLogger("analytics.request")
error_logger = logging.getLogger("analytics.errors")

_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class RequestLogMiddleware:
    """One JSON line per request, and its id in ``X-Request-ID`` so a client's report can be found.

    It logs the path without the query string and the key's masked prefix, never a key.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.headers.get("X-Request-ID", "")
        request.request_id = incoming if _SAFE_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        started = time.perf_counter()
        response = self.get_response(request)
        api_key = getattr(request, "uea_api_key", None)
        path = mask_keys(request.path)  # analytics.js loads its settings from a URL with the key in it
        request_logger.info(
            "%s %s %s",
            request.method,
            path,
            response.status_code,
            extra={
                "requestId": request.request_id,
                "method": request.method,
                "path": path,
                "status": response.status_code,
                "durationMs": round((time.perf_counter() - started) * 1000, 2),
                "appId": str(getattr(api_key, "app_id", None) or getattr(request, "uea_app_id", "")) or None,
                "keyPrefix": api_key.prefix if api_key else None,
            },
        )
        response["X-Request-ID"] = request.request_id
        return response


class DatabaseUnavailableMiddleware:
    """Errors raised outside DRF views (plain Django views, other middleware) still answer in JSON:
    503 with Retry-After when the database is down, and on API paths a 500 body with no traceback."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if is_database_outage(exception):
            error_logger.error("database unavailable: %s", exception.__class__.__name__)
            return database_unavailable_response()
        if request.path.startswith(API_PATH_PREFIXES):
            error_logger.exception("unhandled error", exc_info=exception)
            return internal_error_response()
        return None
