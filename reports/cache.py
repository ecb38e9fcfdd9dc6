"""Report cache keys with O(1) invalidation: every key embeds the app's generation number, and an
ingest bumps that number, so old entries simply stop being read and expire on their own (SPEC §5)."""

import hashlib
import json
import logging
from collections.abc import Callable
from typing import TypeVar

from django.conf import settings
from django.core.cache import cache

from events.generation import app_generation

logger = logging.getLogger(__name__)
T = TypeVar("T")


def content_params(query: dict) -> dict:
    """The parameters that decide a report's content, normalised: two requests that mean the same
    (a default range and the same range spelled out, `tz` equal to the app's zone) share a cache entry."""
    params = {key: value for key, value in query.items() if key not in ("appId", "startDate", "endDate", "tz")}
    if "window" in params:
        params["window"] = params["window"].key()
    return params


def report_cache_key(*, app_id, generation: int, endpoint: str, query: dict) -> str:
    # default=str: a validated query may hold dataclasses (funnel steps), whose repr spells every field.
    text = json.dumps(content_params(query), sort_keys=True, default=str)
    digest = hashlib.sha256(text.encode()).hexdigest()[:32]
    return f"reports:{app_id}:{generation}:{endpoint}:{digest}"


def cached_report(
    *, app_id, endpoint: str, query: dict, compute: Callable[[], T], timeout: int | None = None
) -> tuple[T, bool]:
    """The report from the cache if this app's current generation has it, else computed and stored.

    Returns (report, hit). Fails open: with the cache down, every report is computed from the database.
    The generation is read before computing, so a report is only ever stored under a generation as old
    as, or older than, the data it saw: an ingest during the computation cannot leave it stale.
    """
    try:
        key = report_cache_key(app_id=app_id, generation=app_generation(app_id), endpoint=endpoint, query=query)
        report = cache.get(key)
    except Exception as exc:  # any cache client error
        logger.warning("report cache unavailable, computing %s: %s", endpoint, exc.__class__.__name__)
        return compute(), False
    if report is not None:
        return report, True
    report = compute()
    try:
        cache.set(key, report, timeout=settings.REPORT_CACHE_TTL if timeout is None else timeout)
    except Exception as exc:  # any cache client error
        logger.warning("report not cached (%s): %s", endpoint, exc.__class__.__name__)
    return report, False
