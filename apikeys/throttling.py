"""DRF throttles on django-ratelimit's counters, kept in the shared cache (Redis in production).

When the cache is down, ingestion and reports fail open (a logged warning, the request goes on);
registration and key management fail closed with 503 (SPEC §6).
"""

import logging
import math
import time

from django.conf import settings
from django.core.cache import caches
from django_ratelimit import ALL
from django_ratelimit.core import EXPIRATION_FUDGE, _get_window, _make_cache_key, _split_rate, get_usage
from django_redis.cache import RedisCache
from rest_framework.throttling import BaseThrottle

from analytics_project.client_ip import client_ip
from analytics_project.errors import ServiceUnavailable

logger = logging.getLogger(__name__)


def _count_hit(request, *, group: str, key: str, rate: str) -> dict | None:
    """django-ratelimit's ``get_usage(increment=True)``, in one Redis round trip where the cache is Redis.

    get_usage makes two (an ADD that creates the window's counter, then an INCR); on the ingestion hot
    path each round trip cost about as much as validating and enriching an event. A pipelined
    ``SET NX EX`` + ``INCR`` on the same key, with the same window and expiry, keeps the counters
    interchangeable with get_usage's.
    """
    cache = caches[settings.RATELIMIT_USE_CACHE]
    if not isinstance(cache, RedisCache) or not getattr(settings, "RATELIMIT_ENABLE", True):
        return get_usage(request, group=group, key=lambda _group, _request: key, rate=rate, increment=True)
    limit, period = _split_rate(rate)
    window = _get_window(key, period)
    counter = cache.make_and_validate_key(_make_cache_key(group, window, rate, key, ALL))
    pipeline = cache.client.get_client(write=True).pipeline(transaction=False)
    pipeline.set(counter, 0, nx=True, ex=period + EXPIRATION_FUDGE)
    pipeline.incr(counter)
    count = pipeline.execute()[1]
    return {"count": count, "limit": limit, "should_limit": count > limit, "time_left": window - int(time.time())}


def rate_limit_wait(request, *, group: str, key: str, rate: str, fail_open: bool) -> int | None:
    """Count one hit; the whole seconds to wait when over ``rate``, else None."""
    try:
        usage = _count_hit(request, group=group, key=key, rate=rate)
    except Exception as exc:  # any cache failure: redis-py, socket and pickling errors alike
        if not fail_open:
            raise ServiceUnavailable(
                "The rate-limit store is unavailable; try again shortly.", code="cache_unavailable"
            ) from exc
        logger.warning("rate limit %s not enforced: cache unavailable (%s)", group, exc.__class__.__name__)
        return None
    if usage is None or not usage["should_limit"]:
        return None
    return max(1, math.ceil(usage["time_left"]))


class CacheRateThrottle(BaseThrottle):
    group: str
    fail_open: bool

    def get_rate(self, request) -> str:
        raise NotImplementedError

    def get_key(self, request) -> str:
        raise NotImplementedError

    def allow_request(self, request, view) -> bool:
        self._wait = rate_limit_wait(
            request, group=self.group, key=self.get_key(request), rate=self.get_rate(request), fail_open=self.fail_open
        )
        return self._wait is None

    def wait(self) -> int | None:
        return self._wait


class _PerKeyThrottle(CacheRateThrottle):
    key_rate_field: str
    setting: str

    def get_key(self, request) -> str:
        return str(request.auth.pk)

    def get_rate(self, request) -> str:
        return getattr(request.auth, self.key_rate_field) or getattr(settings, self.setting)


class IngestRateThrottle(_PerKeyThrottle):
    group, fail_open, key_rate_field, setting = "ingest", True, "ingest_rate", "INGEST_RATE"


class ReportRateThrottle(_PerKeyThrottle):
    group, fail_open, key_rate_field, setting = "reports", True, "report_rate", "REPORT_RATE"


class KeyManagementRateThrottle(_PerKeyThrottle):
    group, fail_open, key_rate_field, setting = "key-management", False, "report_rate", "REPORT_RATE"


class RegistrationRateThrottle(CacheRateThrottle):
    group, fail_open = "registration", False

    def get_key(self, request) -> str:
        return client_ip(request)

    def get_rate(self, request) -> str:
        return settings.REGISTRATION_RATE
