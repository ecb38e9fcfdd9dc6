"""Rows of the ClickHouse events table, from the Django model (tests mirror PostgreSQL's rows) and,
for the ingestion worker, from the row tuples of events.store."""

import json
from datetime import UTC, datetime, timedelta

from events import store
from events.models import Event

# events.store's columns, times as microseconds (18.16 has no DateTime64), then what ClickHouse adds.
_MICROSECONDS = {"timestamp": "timestamp_us", "received_at": "received_at_us"}
COLUMNS = (*(_MICROSECONDS.get(column, column) for column in store.COLUMNS), "metadata_keys", "metadata_values", "seq")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def microseconds(moment: datetime) -> int:
    """Exact, unlike timestamp() * 1e6, whose float loses the last digit for today's dates."""
    return (moment - _EPOCH) // _MICROSECOND


def metadata_text(metadata: dict) -> str:
    return json.dumps(metadata, separators=(",", ":"), ensure_ascii=False)


def metadata_arrays(metadata: dict) -> tuple[list[str], list[str]]:
    """The metadata_keys and metadata_values columns: top-level keys whose value is not null."""
    pairs = [(key, value) for key, value in metadata.items() if value is not None]
    return [key for key, _ in pairs], [value if isinstance(value, str) else metadata_text(value) for _, value in pairs]


def from_event(event: Event, seq: int) -> tuple:
    return (
        event.app_id,
        event.event_id,
        event.name,
        event.distinct_id,
        event.user_id,
        event.anonymous_id,
        event.session_id,
        microseconds(event.timestamp),
        microseconds(event.received_at),
        event.url,
        event.host,
        event.path,
        event.referrer,
        event.referrer_host,
        event.utm_source,
        event.utm_medium,
        event.utm_campaign,
        event.utm_term,
        event.utm_content,
        event.device_type,
        event.browser,
        event.os,
        event.country,
        event.screen,
        event.locale,
        None if event.ip is None else str(event.ip),
        event.user_agent,
        event.source,
        metadata_text(event.metadata),
        *metadata_arrays(event.metadata),
        seq,
    )
