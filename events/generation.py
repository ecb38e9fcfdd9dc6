"""Each app's data generation: a counter bumped after new events for the app are committed.

Anything derived from an app's events (the report cache, reports/cache.py) embeds the generation in its
keys, so a bump retires every old entry at once, in O(1), and the old entries expire on their own. It
lives with the writers, which bump it; readers only read it.
"""

import logging
import time

from django.core.cache import cache, caches
from django_redis.cache import RedisCache

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


def generation_bump_commands(pipeline, app_id) -> None:
    """Add an app's bump to a Redis pipeline, so a caller with more to send makes one round trip.

    SET NX + INCR cost Redis a sixth of the Lua script django-redis's incr() runs (INFO commandstats:
    1.1 against 6.5 µs a call), and every ingest request bumps.
    """
    counter = caches["default"].client.make_key(_generation_key(app_id))
    pipeline.set(counter, time.time_ns(), nx=True)
    pipeline.incr(counter)


def app_generation_bump(app_id) -> None:
    """Called after new data for an app is committed. Fails open: a dead cache holds nothing stale."""
    key = _generation_key(app_id)
    store = caches["default"]
    try:
        if isinstance(store, RedisCache):
            pipeline = store.client.get_client(write=True).pipeline(transaction=False)
            generation_bump_commands(pipeline, app_id)
            pipeline.execute()
            return
        try:
            store.incr(key)
        except ValueError:  # no counter yet: nothing cached under it either
            store.add(key, time.time_ns(), timeout=None)
    except Exception as exc:  # any cache client error
        logger.warning("report cache generation not bumped for app %s: %s", app_id, exc.__class__.__name__)
