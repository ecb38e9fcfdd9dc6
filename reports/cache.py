"""Report cache keys with O(1) invalidation: every key embeds the app's generation number, and an
ingest bumps that number, so old entries simply stop being read and expire on their own (SPEC §5)."""

import logging
import time

from django.core.cache import cache

logger = logging.getLogger(__name__)


def _generation_key(app_id) -> str:
    return f"reports:generation:{app_id}"


def app_generation(app_id) -> int:
    key = _generation_key(app_id)
    generation = cache.get(key)
    if generation is None:
        # Start from the clock, not 1: if Redis evicted the counter, a restart at 1 could meet old
        # entries still cached under small numbers and serve them as fresh.
        cache.add(key, time.time_ns(), timeout=None)
        generation = cache.get(key)
    return generation


def app_generation_bump(app_id) -> None:
    """Called after new data for an app is committed. Fails open: a dead cache holds nothing stale."""
    key = _generation_key(app_id)
    try:
        try:
            cache.incr(key)
        except ValueError:  # no counter yet: nothing cached under it either
            cache.add(key, time.time_ns(), timeout=None)
    except Exception as exc:  # any cache client error
        logger.warning("report cache generation not bumped for app %s: %s", app_id, exc.__class__.__name__)
