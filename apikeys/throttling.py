"""DRF throttles on django-ratelimit's counters, kept in the shared cache (Redis in production).

When the cache is down, ingestion and reports fail open (a logged warning, the request goes on);
registration and key management fail closed with 503 (SPEC §6).
"""

import logging
import math

from django.conf import settings
from django_ratelimit.core import get_usage
from rest_framework.throttling import BaseThrottle

from analytics_project.client_ip import client_ip
from analytics_project.errors import ServiceUnavailable

logger = logging.getLogger(__name__)


def rate_limit_wait(request, *, group: str, key: str, rate: str, fail_open: bool) -> int | None:
    """Count one hit; the whole seconds to wait when over ``rate``, else None."""
    try:
        usage = get_usage(request, group=group, key=lambda _group, _request: key, rate=rate, increment=True)
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
