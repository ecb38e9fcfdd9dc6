"""GET /metrics: the ingestion figures of events.metrics in Prometheus's text format.

Not part of the JSON API (and so not in the OpenAPI schema), nor of its authentication: a scraper
sends `Authorization: Bearer <METRICS_TOKEN>` or scrapes from METRICS_ALLOWED_NETWORKS. The counters
are shared by every process through Redis; without Redis (the embedded default) there are none to
report, and the answer holds only the ingest mode. With Redis configured and unreachable it is a 503,
so the scrape fails visibly rather than reporting counters as absent.
"""

import hmac
import ipaddress
import logging

import redis
from django.conf import settings
from django.core.cache import caches
from django.http import HttpResponse, JsonResponse
from django.views.decorators.http import require_safe
from django_redis.cache import RedisCache
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import InfoMetricFamily

from analytics_project.client_ip import client_ip
from analytics_project.errors import DATABASE_RETRY_AFTER_SECONDS, error_body
from events import buffer
from events.metrics import IngestCollector

logger = logging.getLogger(__name__)


class ModeCollector:
    def collect(self):
        yield InfoMetricFamily(
            "uea_ingest_mode", "How collect stores events (INGEST_MODE).", {"mode": settings.INGEST_MODE}
        )


@require_safe
def metrics_view(request):
    if not (_has_token(request) or _from_allowed_network(request)):
        detail = "Send `Authorization: Bearer <METRICS_TOKEN>`, or scrape from METRICS_ALLOWED_NETWORKS."
        return JsonResponse(error_body("permission_denied", detail), status=403)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ModeCollector())
    if isinstance(caches["default"], RedisCache):
        registry.register(IngestCollector(buffer.web_client()))
    try:
        body = generate_latest(registry)
    except redis.RedisError as exc:
        logger.warning("metrics: Redis unavailable (%s)", exc.__class__.__name__)
        response = JsonResponse(
            error_body("service_unavailable", "The ingest figures live in Redis, which is unreachable."), status=503
        )
        response["Retry-After"] = str(DATABASE_RETRY_AFTER_SECONDS)
        return response
    return HttpResponse(body, content_type=CONTENT_TYPE_LATEST)


def _has_token(request) -> bool:
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    token = settings.METRICS_TOKEN
    return bool(token) and scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())


def _from_allowed_network(request) -> bool:
    try:
        address = ipaddress.ip_address(client_ip(request))
    except ValueError:
        return False
    # An IPv4 client on a dual-stack socket arrives as ::ffff:a.b.c.d; the networks name it as IPv4.
    address = getattr(address, "ipv4_mapped", None) or address
    return any(address in network for network in settings.METRICS_ALLOWED_NETWORKS)
