"""Working keys held in the shared cache, so authenticating a request costs one cache read, not a query.

Measured on single-event ingestion (bench/ingest.py, CPU of every process per request): the key
lookup, with its query, its conversions and the database server's share, was a quarter of the request.

Only with a cache every worker shares (Redis: API_KEY_CACHE_SECONDS defaults to 0 without REDIS_URL),
since a worker's own memory would never hear of a revocation made in another process.

A change to a key or to its app marks the cached entries *stale* once it commits. Entries are only ever
added (SET NX), never overwritten, so a request that read the old row just before the change cannot
put it back over the mark; while the mark lasts, requests read the database.

With Redis the read also counts the request's per-key rate-limit hit, in the same pipeline, whenever
this process already knows the key's rate (apikeys.throttling.PerKeyThrottle): a single-event ingest
then makes two Redis round trips, not three (bench/ingest.py: 64% -> 71% of the bare insert view).
"""

import logging
from typing import NamedTuple

from django.conf import settings
from django.core.cache import cache, caches
from django.db import transaction
from django.db.models.signals import post_delete, post_save

from apikeys.models import ApiKey, App
from apikeys.throttling import Hit, redis_counters

logger = logging.getLogger(__name__)

_STALE = "stale"
# Long enough to outlive any request that read the row before the change; short, since while it
# lasts the key is read from the database.
STALE_SECONDS = 10


def _entry(lookup_id: str) -> str:
    return f"apikeys:auth:{lookup_id}"


def _touched(lookup_id: str) -> str:
    return f"apikeys:touched:{lookup_id}"


def enabled() -> bool:
    return settings.API_KEY_CACHE_SECONDS > 0


class Cached(NamedTuple):
    api_key: ApiKey | None = None
    may_store: bool = False  # whether a key read from the database may be stored
    use_recorded: bool = False  # whether a worker recorded the key's use within the last minute
    counted: tuple[Hit, int] | None = None  # the hit passed in, and its count


def cached(lookup_id: str, hit: Hit | None = None) -> Cached:
    """What the cache holds for this key, in one round trip; with Redis, ``hit`` (the rate-limit count
    the request is expected to make) is counted in that same round trip. Fails open to the database."""
    if not enabled():
        return Cached()
    names = [_entry(lookup_id), _touched(lookup_id)]
    try:
        values, count = _read(names, hit)
    except Exception as exc:  # any cache client error
        logger.warning("key cache unavailable: %s", exc.__class__.__name__)
        return Cached()
    entry = values.get(_entry(lookup_id))
    counted = None if count is None else (hit, count)
    if entry == _STALE:
        return Cached(counted=counted)
    return Cached(entry, entry is None, _touched(lookup_id) in values, counted)


def _read(names: list[str], hit: Hit | None) -> tuple[dict, int | None]:
    """The cached values of ``names``, and the count of ``hit`` when it can share their round trip."""
    store = caches["default"]
    if hit is None or redis_counters() is not store:
        return store.get_many(names), None
    pipeline = store.client.get_client(write=True).pipeline(transaction=False)
    pipeline.mget([store.client.make_key(name) for name in names])
    hit.queue(pipeline, store)
    results = pipeline.execute()
    found = zip(names, results[0], strict=True)
    return {name: store.client.decode(value) for name, value in found if value is not None}, results[-1]


def store(api_key: ApiKey) -> None:
    try:
        cache.add(_entry(api_key.lookup_id), api_key, timeout=settings.API_KEY_CACHE_SECONDS)
    except Exception as exc:  # any cache client error
        logger.warning("key not cached: %s", exc.__class__.__name__)


def mark_touched(lookup_id: str, *, seconds: int) -> None:
    if not enabled():
        return
    try:
        cache.set(_touched(lookup_id), 1, timeout=seconds)  # an int is stored as is, never pickled
    except Exception as exc:  # any cache client error
        logger.warning("key use not recorded in the cache: %s", exc.__class__.__name__)


def invalidate(lookup_ids: list[str]) -> None:
    """Mark these keys stale now, so nothing serves the cached row from here on, and again when the
    current transaction commits, so the mark outlasts the commit: until then readers still see the old
    row in the database, and the mark is what stops them storing it."""
    if not enabled() or not lookup_ids:
        return

    def mark() -> None:
        try:
            cache.set_many({_entry(lookup_id): _STALE for lookup_id in lookup_ids}, timeout=STALE_SECONDS)
        except Exception as exc:  # any cache client error
            # The entries expire on their own after API_KEY_CACHE_SECONDS; say loudly that until then
            # a changed key may still be served as it was.
            logger.error("key cache not invalidated for %d key(s): %s", len(lookup_ids), exc.__class__.__name__)

    mark()
    if transaction.get_connection().in_atomic_block:
        transaction.on_commit(mark)


# Every write to a key or an app goes through save() or delete() (the services, the admin, cascades
# from deleting an app), so these receivers see them all; the one .update() on keys is the
# last-used write, which the cache does not hold.
def _key_saved(sender, instance: ApiKey, created: bool, **kwargs) -> None:
    if not created:
        invalidate([instance.lookup_id])


def _key_deleted(sender, instance: ApiKey, **kwargs) -> None:
    invalidate([instance.lookup_id])


def _app_saved(sender, instance: App, created: bool, **kwargs) -> None:
    if not created:
        invalidate(list(ApiKey.objects.filter(app=instance).values_list("lookup_id", flat=True)))


def connect_receivers() -> None:
    post_save.connect(_key_saved, sender=ApiKey, dispatch_uid="key_cache_key_saved")
    post_delete.connect(_key_deleted, sender=ApiKey, dispatch_uid="key_cache_key_deleted")
    post_save.connect(_app_saved, sender=App, dispatch_uid="key_cache_app_saved")
