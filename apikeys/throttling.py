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


class Hit:
    """One request counted against ``rate`` in django-ratelimit's counter for (group, key, rate)."""

    def __init__(self, group: str, key: str, rate: str):
        self.group, self.key, self.rate = group, key, rate
        self.limit, period = _split_rate(rate)
        self.window = _get_window(key, period)
        self.expiry = period + EXPIRATION_FUDGE

    def is_for(self, group: str, key: str, rate: str) -> bool:
        return (self.group, self.key, self.rate) == (group, key, rate)

    def queue(self, pipeline, cache: RedisCache) -> None:
        """Add the counting to a Redis pipeline; the count is the last of its results.

        django-ratelimit's get_usage makes two round trips (an ADD that creates the window's counter,
        then an INCR); on the ingestion hot path each round trip cost about as much as validating and
        enriching an event. SET NX EX + INCR on the same key, with the same window and expiry, keep
        the counters interchangeable with get_usage's.
        """
        counter = cache.make_and_validate_key(_make_cache_key(self.group, self.window, self.rate, self.key, ALL))
        pipeline.set(counter, 0, nx=True, ex=self.expiry)
        pipeline.incr(counter)

    def usage(self, count: int) -> dict:
        return {
            "count": count,
            "limit": self.limit,
            "should_limit": count > self.limit,
            "time_left": self.window - int(time.time()),
        }


def redis_counters() -> RedisCache | None:
    """The rate-limit cache when counts can be pipelined with other Redis commands, else None."""
    cache = caches[settings.RATELIMIT_USE_CACHE]
    return cache if isinstance(cache, RedisCache) and getattr(settings, "RATELIMIT_ENABLE", True) else None


def _count_hit(request, hit: Hit) -> dict | None:
    cache = redis_counters()
    if cache is None:
        return get_usage(request, group=hit.group, key=lambda _group, _request: hit.key, rate=hit.rate, increment=True)
    pipeline = cache.client.get_client(write=True).pipeline(transaction=False)
    hit.queue(pipeline, cache)
    return hit.usage(pipeline.execute()[-1])


def rate_limit_wait(
    request, *, group: str, key: str, rate: str, fail_open: bool, counted: tuple[Hit, int] | None = None
) -> int | None:
    """Count one hit, unless ``counted`` already holds this one's count; the whole seconds to wait
    when over ``rate``, else None."""
    try:
        if counted is not None and counted[0].is_for(group, key, rate):
            usage = counted[0].usage(counted[1])
        else:
            usage = _count_hit(request, Hit(group, key, rate))
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

    def counted(self, request) -> tuple[Hit, int] | None:
        return None

    def allow_request(self, request, view) -> bool:
        self._wait = rate_limit_wait(
            request,
            group=self.group,
            key=self.get_key(request),
            rate=self.get_rate(request),
            fail_open=self.fail_open,
            counted=self.counted(request),
        )
        return self._wait is None

    def wait(self) -> int | None:
        return self._wait


# The rate each key was last limited at, per (group, digest of the whole key), in this process: a guess
# that lets authentication count the hit in the same Redis round trip as its key lookup
# (apikeys.key_cache). Keyed by the digest, not the lookup id that logs and pages show, so only requests
# bearing the very key that was limited before are counted ahead of their authentication: a forged key
# with someone else's lookup id is never counted against that key. A wrong guess (a changed rate) costs
# one more round trip and one count on the old rate's counter, which no longer limits anything.
_rates_seen: dict[tuple[str, str], str] = {}
_RATES_SEEN_MAX = 10_000


class PerKeyThrottle(CacheRateThrottle):
    """A rate per API key (the key's own rate field, else a setting), counted by lookup id."""

    key_rate_field: str
    setting: str

    @classmethod
    def expected_hit(cls, lookup_id: str, key_digest: str) -> Hit | None:
        """The hit the next request with this key will count, when this process has limited it before."""
        rate = _rates_seen.get((cls.group, key_digest))
        return Hit(cls.group, lookup_id, rate) if rate else None

    def get_key(self, request) -> str:
        return request.auth.lookup_id

    def get_rate(self, request) -> str:
        return getattr(request.auth, self.key_rate_field) or getattr(settings, self.setting)

    def counted(self, request) -> tuple[Hit, int] | None:
        return request.auth.counted_hit

    def allow_request(self, request, view) -> bool:
        if len(_rates_seen) >= _RATES_SEEN_MAX:
            _rates_seen.clear()
        _rates_seen[self.group, request.auth.digest] = self.get_rate(request)
        return super().allow_request(request, view)


class IngestRateThrottle(PerKeyThrottle):
    group, fail_open, key_rate_field, setting = "ingest", True, "ingest_rate", "INGEST_RATE"


class SiteIngestRateThrottle(CacheRateThrottle):
    """INGEST_RATE per app for the keyless protocols (apikeys.authentication.SiteAuthentication), whose
    requests name an app but no key. A request naming no known app stores nothing and is not counted."""

    group, fail_open = "ingest-site", True

    def get_key(self, request) -> str:
        return str(request.auth.app_id)

    def get_rate(self, request) -> str:
        return settings.INGEST_RATE

    def allow_request(self, request, view) -> bool:
        return request.auth is None or super().allow_request(request, view)


class ReportRateThrottle(PerKeyThrottle):
    group, fail_open, key_rate_field, setting = "reports", True, "report_rate", "REPORT_RATE"


class KeyManagementRateThrottle(PerKeyThrottle):
    group, fail_open, key_rate_field, setting = "key-management", False, "report_rate", "REPORT_RATE"


class PersonalKeyManagementThrottle(CacheRateThrottle):
    """REPORT_RATE per person for managing their own personal keys, by session or by personal key;
    closed when the counters are unreachable, like the app keys' management."""

    group, fail_open = "personal-key-management", False

    def get_key(self, request) -> str:
        return str(request.user.pk)

    def get_rate(self, request) -> str:
        return settings.REPORT_RATE


class RegistrationRateThrottle(CacheRateThrottle):
    group, fail_open = "registration", False

    def get_key(self, request) -> str:
        return client_ip(request)

    def get_rate(self, request) -> str:
        return settings.REGISTRATION_RATE
