"""Ingestion: validate -> enrich -> store in one statement per chunk -> invalidate reports (SPEC §4).

Every entry point (native collect, Segment-compatible endpoints, the browser tracker) calls
events_ingest. Duplicates are skipped by the unique (app, event_id) constraint, never by a read first,
so retries and concurrent replays can never double-count.
"""

import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from redis.exceptions import RedisError

from analytics_project.errors import ServiceUnavailable
from apikeys.models import ApiKey, SiteVisitor
from clickhouse_store import client as clickhouse_client
from clickhouse_store import purge as clickhouse_purge
from events import buffer, metrics, store
from events.enrichment import (
    anonymize_ip,
    anonymous_distinct_id,
    country_for_ip,
    referrer_host,
    url_facts,
    user_agent_facts,
)
from events.generation import app_generation_bump
from events.models import DeviceType, Event
from events.validation import CleanEvent, EventRejected, clean_event
from live import publisher as live
from persons.services import persons_record

logger = logging.getLogger(__name__)

_KNOWN_DEVICES = {choice.value for choice in DeviceType}


@dataclass(frozen=True)
class RequestFacts:
    """What the server knows about the request the events came in, independent of their content."""

    api_key: ApiKey | SiteVisitor
    ip: str
    user_agent: str
    received_at: datetime
    source: str
    country: str = ""


@dataclass
class Rejection:
    index: int
    code: str
    detail: str


@dataclass
class IngestResult:
    accepted: int = 0
    duplicates: int = 0
    rejected: list[Rejection] = field(default_factory=list)
    warnings: list[Rejection] = field(default_factory=list)
    queued: int | None = None  # buffered: rows queued for the worker, whose duplicates it alone can know

    @property
    def valid(self) -> int:
        return self.accepted + self.duplicates + (self.queued or 0)

    def as_response(self) -> dict:
        """The response body (events.serializers.IngestOutput and QueuedOutput document it). Built
        directly: on the single-event path a DRF serializer instance cost about a tenth of the request."""
        stored = {"accepted": self.accepted, "duplicates": self.duplicates} if self.queued is None else {}
        return {
            **({"queued": self.queued} if self.queued is not None else stored),
            "rejected": [vars(rejection) for rejection in self.rejected],
            "warnings": [vars(warning) for warning in self.warnings],
        }


def events_ingest(*, raw_events: list, facts: RequestFacts, measure_size: bool = True) -> IngestResult:
    """Store (or, buffered, queue) the valid events of a batch; name the invalid ones by index.

    Never raises for bad events. Buffered, it raises ServiceUnavailable when the queue is full, and
    stores directly when Redis cannot be reached.
    """
    result = IngestResult()
    rows, indexes, seen = [], [], set()
    for index, raw in enumerate(raw_events):
        try:
            clean = clean_event(raw, received_at=facts.received_at, measure_size=measure_size)
        except EventRejected as rejection:
            result.rejected.append(Rejection(index, rejection.code, rejection.detail))
            continue
        if clean.unknown_fields:
            names = ", ".join(clean.unknown_fields[:10])
            result.warnings.append(Rejection(index, "unknown_fields_ignored", f"Ignored unknown fields: {names}."))
        event_id = clean.event_id or uuid.uuid4()
        if event_id in seen:
            result.duplicates += 1
            continue
        row = _row(clean, event_id, facts)
        if not store.fits_report_index(row):
            result.rejected.append(Rejection(index, "event_too_large", _INDEX_TOO_LARGE))
            continue
        seen.add(event_id)
        rows.append(row)
        indexes.append(index)
    app_id = facts.api_key.app_id
    if rows and settings.INGEST_MODE == "buffered" and _queue(app_id, rows, result):
        result.queued = len(rows)
        return result
    if rows:
        # First, as the worker does: identity is never behind the events. Only the worker writes to
        # ClickHouse, so the mappings stay in the Django database here.
        persons_record(rows)
        inserted, unstorable = store.insert_storable(rows)
        refused = set(unstorable)
        live.publish({app_id: (inserted, [row for position, row in enumerate(rows) if position not in refused])})
        result.rejected += [Rejection(indexes[position], "unstorable_event", _UNSTORABLE) for position in unstorable]
        result.rejected.sort(key=lambda rejection: rejection.index)
        result.accepted = inserted
        result.duplicates += len(rows) - len(unstorable) - inserted
    metrics.record_stored(app_id, stored=result.accepted, duplicates=result.duplicates, rejected=result.rejected)
    return result


def _queue(app_id, rows: list[tuple], result: IngestResult) -> bool:
    """Append the rows to the ingestion buffer in one round trip; False when Redis cannot be reached, for
    the caller to store them itself: an outage of the queue must not lose or refuse a browser's beacon."""
    rows_text = "".join(store.row_copy_line(row) for row in rows)
    counters = {
        "queued": len(rows),
        "duplicates": result.duplicates,  # an eventId repeated within the request: known already
        **metrics.rejection_counters(result.rejected),
        **metrics.take_fallbacks(),
    }
    try:
        buffer.buffer_append(
            buffer.web_client(), app_id=app_id, rows_text=rows_text, count=len(rows), counters=counters
        )
    except buffer.BufferFull:
        raise ServiceUnavailable("The ingestion queue is full; try again shortly.", code="buffer_full") from None
    except RedisError as exc:
        if settings.ANALYTICS_STORE == "clickhouse":  # only the worker writes there: no direct path to fall back on
            raise ServiceUnavailable(
                "The ingestion queue is unreachable; try again shortly.", code="queue_unavailable"
            ) from None
        logger.warning(
            "ingestion queue unreachable (%s): storing %d events directly", exc.__class__.__name__, len(rows)
        )
        metrics.return_fallbacks(counters)
        metrics.count_fallback()
        return False
    return True


_INDEX_TOO_LARGE = (
    f"The event name, user id, URL path, referrer host, browser and OS together exceed {store.MAX_INDEXED_TEXT_BYTES} "
    "bytes of UTF-8, more than the report index can hold; send a shorter URL."
)
_UNSTORABLE = "The database refused this event, so it was not stored; the rest of the request was."


def _row(clean: CleanEvent, event_id: uuid.UUID, facts: RequestFacts) -> tuple:
    # A body ipAddress is a server-side client speaking for its users; a browser could forge it.
    ip = clean.ip_address if clean.ip_address and facts.api_key.is_secret else facts.ip
    user_agent = clean.user_agent or facts.user_agent
    distinct_id = clean.user_id or clean.anonymous_id
    if not distinct_id:
        distinct_id = anonymous_distinct_id(
            secret=settings.SECRET_KEY,
            app_id=str(facts.api_key.app_id),
            day=facts.received_at.date(),
            ip=ip,
            user_agent=user_agent,
        )
    stored_ip = (anonymize_ip(ip) if settings.ANONYMIZE_IP else ip) if ip else None
    agent = user_agent_facts(user_agent)
    device_type = clean.device if clean.device in _KNOWN_DEVICES else agent.device_type
    page = url_facts(clean.url, hash_routing=clean.hash_routing)
    return (
        facts.api_key.app_id,
        event_id,
        clean.name,
        distinct_id,
        clean.user_id,
        clean.anonymous_id,
        clean.session_id,
        clean.timestamp,
        facts.received_at,
        clean.url,
        page.host,
        page.path,
        clean.referrer,
        referrer_host(clean.referrer, page.host),
        page.utm["utm_source"],
        page.utm["utm_medium"],
        page.utm["utm_campaign"],
        page.utm["utm_term"],
        page.utm["utm_content"],
        device_type,
        agent.browser,
        agent.os,
        facts.country or country_for_ip(ip, settings.GEOIP_DATABASE),
        clean.screen,
        clean.locale,
        stored_ip,
        user_agent[:1024],
        facts.source,
        clean.metadata_json,
    )


def events_purge_count(*, before: datetime, app=None) -> int:
    """How many events events_purge would delete, in the configured store."""
    if settings.ANALYTICS_STORE == "clickhouse":
        return sum(clickhouse_purge.counts(clickhouse_client.client(), before=before, app_id=_app_id(app)).values())
    scope = Event.objects.filter(timestamp__lt=before)
    return (scope.filter(app=app) if app is not None else scope).count()


def events_purge(*, before: datetime, app=None, batch_size: int = 10_000) -> int:
    """Delete events older than ``before`` (of one app, or all), in batches so no single statement holds
    locks on millions of rows; each affected app's cached reports are invalidated. Returns rows deleted.
    In ClickHouse mode, by partitions and mutations instead (clickhouse_store.purge); batch_size is moot."""
    if settings.ANALYTICS_STORE == "clickhouse":
        return _events_purge_clickhouse(before=before, app=app)
    scope = Event.objects.filter(timestamp__lt=before)
    if app is not None:
        scope = scope.filter(app=app)
    affected_apps = set(scope.values_list("app_id", flat=True).distinct())
    deleted = 0
    while True:
        ids = list(scope.order_by().values_list("id", flat=True)[:batch_size])
        if not ids:
            break
        deleted += Event.objects.filter(id__in=ids).delete()[0]  # no cascades or signals: one DELETE
    for app_id in affected_apps:
        app_generation_bump(app_id)
    return deleted


def _events_purge_clickhouse(*, before: datetime, app) -> int:
    client = clickhouse_client.client()
    counts = clickhouse_purge.counts(client, before=before, app_id=_app_id(app))
    if counts:
        clickhouse_purge.purge(client, before=before, app_id=_app_id(app))
    for app_id in counts:
        app_generation_bump(app_id)
    return sum(counts.values())


def _app_id(app) -> uuid.UUID | None:
    return None if app is None else app.id
