"""Ingestion figures for /metrics: counters kept in Redis, so every web process and every worker adds
to the same totals (a per-process Prometheus registry would need gunicorn's multiprocess mode), and
the buffer's state read from the stream itself at scrape time.

The request path adds its counts in the round trip it makes anyway (the queue append, or the report
cache bump after a direct insert); a worker adds its flush's in the transaction that deletes the
entries it stored. Without Redis (the embedded default) there are no shared counters to keep.
"""

import logging
from collections import Counter

from django.core.cache import caches
from django_redis.cache import RedisCache
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

from events import buffer
from events.generation import app_generation_bump, generation_bump_commands

logger = logging.getLogger(__name__)

REJECTED_PREFIX = "rejected:"
FLUSH_ROWS_BUCKETS = (1, 10, 100, 500, 1000, 2000, 5000, 10000)
FLUSH_SECONDS_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)

# Requests this process stored directly because Redis was down: told to Redis with its next round trip.
_untold_fallbacks = 0


def rejection_counters(rejected) -> dict[str, int]:
    return {REJECTED_PREFIX + code: count for code, count in Counter(r.code for r in rejected).items()}


def count_fallback() -> None:
    global _untold_fallbacks
    _untold_fallbacks += 1


def take_fallbacks() -> dict[str, int]:
    """The fallbacks not yet counted in Redis, handed to a caller that is about to send them there."""
    global _untold_fallbacks
    untold, _untold_fallbacks = _untold_fallbacks, 0
    return {"direct_fallbacks": untold} if untold else {}


def record_stored(app_id, *, stored: int, duplicates: int, rejected) -> None:
    """After a direct insert: the app's report generation bump and the request's counts, one round trip."""
    cache = caches["default"]
    if not isinstance(cache, RedisCache):
        if stored:
            app_generation_bump(app_id)
        return
    counters = {"stored": stored, "duplicates": duplicates, **rejection_counters(rejected), **take_fallbacks()}
    try:
        pipeline = cache.client.get_client(write=True).pipeline(transaction=False)
        if stored:
            generation_bump_commands(pipeline, app_id)
        buffer.add_counters(pipeline, counters)
        pipeline.execute()
    except Exception as exc:  # any Redis client error: the insert is committed, figures are second
        logger.warning("ingest figures and report cache bump lost for app %s: %s", app_id, exc.__class__.__name__)
        return_fallbacks(counters)


def return_fallbacks(counters: dict) -> None:
    """Fallbacks taken for a round trip that failed: kept for the next one."""
    global _untold_fallbacks
    _untold_fallbacks += counters.get("direct_fallbacks", 0)


def flush_counters(*, rows: int, seconds: float, stored: int, duplicates: int) -> dict:
    """A flush's figures: totals, and the cumulative histogram buckets its size and duration fall in."""
    counters = {"stored": stored, "duplicates": duplicates, "flushes": 1, "flush_rows_sum": rows}
    counters["flush_seconds_sum"] = float(seconds)
    counters |= {f"flush_rows_le:{bound}": 1 for bound in FLUSH_ROWS_BUCKETS if rows <= bound}
    counters |= {f"flush_seconds_le:{bound}": 1 for bound in FLUSH_SECONDS_BUCKETS if seconds <= bound}
    return counters


class IngestCollector:
    """A prometheus_client collector over the shared counters and the stream."""

    def __init__(self, client):
        self.client = client

    def collect(self):
        totals = {key: float(value) for key, value in buffer.decoded(self.client.hgetall(buffer.METRICS)).items()}
        for name, field, help_text in (
            ("uea_ingest_events_queued", "queued", "Events appended to the ingestion buffer."),
            ("uea_ingest_events_stored", "stored", "Events inserted into the event store."),
            ("uea_ingest_events_duplicates", "duplicates", "Events skipped as already stored (same eventId)."),
            ("uea_ingest_events_dead_lettered", "dead_lettered", "Events moved to the dead-letter stream."),
            ("uea_ingest_direct_fallbacks", "direct_fallbacks", "Requests stored directly: the buffer was down."),
            ("uea_ingest_refused_buffer_full", "refused_buffer_full", "Requests refused 503: the buffer was full."),
        ):
            yield CounterMetricFamily(name, help_text, value=totals.get(field, 0))
        rejected = CounterMetricFamily("uea_ingest_events_rejected", "Events rejected, by code.", labels=["code"])
        for key, value in sorted(totals.items()):
            if key.startswith(REJECTED_PREFIX):
                rejected.add_metric([key.removeprefix(REJECTED_PREFIX)], value)
        yield rejected
        yield _histogram("uea_ingest_flush_rows", "Rows per worker flush.", totals, "flush_rows", FLUSH_ROWS_BUCKETS)
        yield _histogram(
            "uea_ingest_flush_seconds", "Seconds per worker flush.", totals, "flush_seconds", FLUSH_SECONDS_BUCKETS
        )
        status = buffer.buffer_status(self.client)
        for name, value, help_text in (
            ("uea_ingest_buffer_entries", status.length, "Requests queued and not yet stored."),
            ("uea_ingest_buffer_pending", status.pending, "Queued requests a worker holds, not yet stored."),
            ("uea_ingest_lag_seconds", status.oldest_age_seconds, "Age of the oldest request not yet stored."),
            ("uea_ingest_dead_letters", status.dead_letters, "Entries in the dead-letter stream."),
            ("uea_ingest_workers_seen", status.workers_seen, "Workers that read the buffer in the last minute."),
        ):
            yield GaugeMetricFamily(name, help_text, value=value)


def _histogram(name: str, help_text: str, totals: dict, field: str, bounds) -> HistogramMetricFamily:
    flushes = totals.get("flushes", 0)
    buckets = [(str(bound), totals.get(f"{field}_le:{bound}", 0)) for bound in bounds] + [("+Inf", flushes)]
    return HistogramMetricFamily(name, help_text, buckets=buckets, sum_value=totals.get(f"{field}_sum", 0))
