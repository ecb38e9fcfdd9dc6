"""CORS for the ingestion endpoints, and the per-app origin allow-list.

The browser tracker sends ``text/plain`` bodies, which browsers send without a preflight; so CORS
headers alone would not stop another site from writing into an app. The real check is origin_allowed,
run by the views once the key (and so the app) is known.

A preflight is answered for any origin with the headers it asks for: each SDK sends its own (Segment's
X-Retry-Count, RudderStack's AnonymousId, SentAt and Rsa-*, Umami's x-umami-cache), a fixed list would
break the next SDK version that adds one, and no header grants anything: keys are checked in the views.
"""

import re
from urllib.parse import urlsplit

from django.http import HttpResponse

# Every path a tracker or SDK posts to or loads its settings from, whichever protocol it speaks.
INGEST_PATHS = re.compile(
    r"^/api/analytics/collect"
    r"|^/(v1|beacon)/"  # Segment and RudderStack; RudderStack JS's beacon on unload
    r"|^/sourceConfig/?$"  # RudderStack JS loads its settings
    r"|^/(e|engage|i/v0/e|batch|capture|track|flags|decide)/?$|^/array/"  # PostHog
    r"|^/api/(event|send|batch)$"  # Plausible; Umami
)
# When a preflight names none.
DEFAULT_HEADERS = "Content-Type, Content-Encoding, Authorization, X-API-Key"


def origin_allowed(origin: str, domains: list[str]) -> bool:
    """Exact host (with port if the entry has one), or any subdomain for ``*.example.com``."""
    if not domains:
        return True
    try:
        parts = urlsplit(origin)
        port = parts.port
    except ValueError:  # a port out of range or an unclosed IPv6 bracket: no domain can match it
        return False
    host = (parts.hostname or "").lower()
    host_with_port = f"{host}:{port}" if port else host
    for domain in domains:
        if domain.startswith("*."):
            suffix = domain[1:]
            if host.endswith(suffix) or host == domain[2:]:
                return True
        elif domain in (host, host_with_port):
            return True
    return False


class IngestCorsMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not INGEST_PATHS.match(request.path):
            return self.get_response(request)
        origin = request.headers.get("Origin")
        if request.method == "OPTIONS" and origin and "Access-Control-Request-Method" in request.headers:
            response = HttpResponse(status=204)
            response["Access-Control-Allow-Methods"] = "GET, POST, OPTIONS"
            response["Access-Control-Allow-Headers"] = request.headers.get(
                "Access-Control-Request-Headers", DEFAULT_HEADERS
            )
            response["Access-Control-Max-Age"] = "86400"
        else:
            response = self.get_response(request)
        if origin:
            response["Access-Control-Allow-Origin"] = origin
            # analytics.js waits out a 429's Retry-After, which a cross-origin fetch may read only if exposed.
            response["Access-Control-Expose-Headers"] = "Retry-After"
            response["Vary"] = "Origin"
        return response
