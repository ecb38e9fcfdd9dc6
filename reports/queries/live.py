"""The live view: events and distinct users per UTC minute for the last 30 minutes; and what the
WebSocket's live view opens with and refreshes (live/consumers.py): visitors and pages now, the
latest events."""

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from reports.dialect import current

LIVE_MINUTES = 30
LIVE_ACTIVE_MINUTES = 5
PAGES_NOW = 10
LATEST_EVENTS = 20
# What a live event shows of a stored one: no IP, user agent or URL (a query string may hold a token).
LIVE_EVENT_COLUMNS = ("name", "timestamp", "path", "referrer_host", "country", "device_type", "browser", "source")


@dataclass(frozen=True)
class LiveMinute:
    minute: datetime
    events: int
    active_users: int


@dataclass(frozen=True)
class Live:
    now: datetime
    minutes: list[LiveMinute]
    active_users_5m: int
    total_events: int
    total_active_users: int


def live(*, app_id, now: datetime) -> Live:
    """Oldest minute first. The last bucket is the current, partial minute, so events counted at
    [first minute, now]: an event stamped after ``now`` (a client clock running ahead) is not live yet.
    """
    if not isinstance(now, datetime) or now.tzinfo is None:
        raise ValueError("now must be a timezone-aware datetime")
    now = now.astimezone(UTC)
    current_minute = now.replace(second=0, microsecond=0)
    first = current_minute - timedelta(minutes=LIVE_MINUTES - 1)
    recent = now - timedelta(minutes=LIVE_ACTIVE_MINUTES)
    dialect = current(app_id)
    c = dialect.column
    ts, person = c("timestamp"), dialect.person()
    span = f"FROM {dialect.with_persons()} WHERE e.{c('app')} = %s AND e.{ts} >= %s AND e.{ts} <= %s"
    span_params = [dialect.app(app_id), dialect.timestamp(first), dialect.timestamp(now)]
    minute = dialect.utc_minute(f"e.{ts}")
    per_minute = dialect.fetch(
        f"SELECT {minute} AS bucket, COUNT(*), COUNT(DISTINCT {person}) {span} GROUP BY bucket",
        span_params,
    )
    [(total_events, total_users, recent_users)] = dialect.fetch(
        f"SELECT COUNT(*), COUNT(DISTINCT {person}), COUNT(DISTINCT CASE WHEN e.{ts} >= %s THEN {person} END) {span}",
        [dialect.timestamp(recent), *span_params],
    )
    # ClickHouse 18.16 counts the distinct values of an empty set of nulls as null, not 0.
    recent_users = recent_users or 0
    found = {key: (events, users) for key, events, users in per_minute}
    minutes = []
    for offset in range(LIVE_MINUTES):
        start = first + timedelta(minutes=offset)
        events, users = found.get(start.strftime("%Y-%m-%d %H:%M"), (0, 0))
        minutes.append(LiveMinute(minute=start, events=events, active_users=users))
    return Live(
        now=now,
        minutes=minutes,
        active_users_5m=recent_users,
        total_events=total_events,
        total_active_users=total_users,
    )


@dataclass(frozen=True)
class Now:
    visitors: int
    pages: list[tuple[str, int]]  # (path, visitors) for the pages of the last minutes, most visited first
    latest: list[dict]  # the latest events, newest first, as live_event() shows them


def live_event(values: dict) -> dict:
    """A stored event as the live view shows it: LIVE_EVENT_COLUMNS in camelCase, text throughout."""
    shown = {}
    for column in LIVE_EVENT_COLUMNS:
        value = values.get(column)
        if column == "timestamp" and isinstance(value, str):  # as the ingestion buffer's COPY text holds it
            value = datetime.fromisoformat(value)
        if isinstance(value, datetime):
            value = value.astimezone(UTC).isoformat().replace("+00:00", "Z")
        shown[_camel(column)] = "" if value is None else str(value)
    return shown


def _camel(column: str) -> str:
    head, *rest = column.split("_")
    return head + "".join(part.title() for part in rest)


def now_figures(*, app_id, now: datetime) -> Now:
    """Visitors (persons) and the pages they viewed in the last LIVE_ACTIVE_MINUTES, and the latest
    events of the last LIVE_MINUTES, up to ``now``."""
    now = now.astimezone(UTC)
    dialect = current(app_id)
    c = dialect.column
    ts, person, path = c("timestamp"), dialect.person(), c("path")
    span = f"FROM {dialect.with_persons()} WHERE e.{c('app')} = %s AND e.{ts} >= %s AND e.{ts} <= %s"
    span_params = [dialect.app(app_id), dialect.timestamp(now - timedelta(minutes=LIVE_ACTIVE_MINUTES))]
    span_params.append(dialect.timestamp(now))
    [(visitors,)] = dialect.fetch(f"SELECT COUNT(DISTINCT {person}) {span}", span_params)
    pages = dialect.fetch(
        f"SELECT e.{path}, COUNT(DISTINCT {person}) AS visitors {span} AND e.{path} <> '' "
        f"GROUP BY e.{path} ORDER BY visitors DESC, {dialect.text_order(f'e.{path}')} LIMIT %s",
        [*span_params, PAGES_NOW],
    )
    columns = ", ".join(f"e.{c(column)}" for column in LIVE_EVENT_COLUMNS)
    latest = dialect.fetch(
        f"SELECT {columns} FROM {dialect.table} e WHERE e.{c('app')} = %s AND e.{ts} >= %s AND e.{ts} <= %s "  # noqa: S608 (identifiers, placeholders)
        f"ORDER BY e.{ts} DESC LIMIT %s",
        [
            dialect.app(app_id),
            dialect.timestamp(now - timedelta(minutes=LIVE_MINUTES)),
            dialect.timestamp(now),
            LATEST_EVENTS,
        ],
    )
    return Now(
        visitors=int(visitors or 0),  # 18.16 counts an empty set's distinct values as null
        pages=[(page, int(count)) for page, count in pages],
        latest=[
            live_event({**dict(zip(LIVE_EVENT_COLUMNS, row, strict=True)), "timestamp": dialect.to_timestamp(row[1])})
            for row in latest
        ],
    )


def has_events(app_id) -> bool:
    """Whether the app has stored any event at all: the dashboard shows a new app how to send its first."""
    dialect = current()
    c = dialect.column
    rows = dialect.fetch(f"SELECT 1 FROM {dialect.table} e WHERE e.{c('app')} = %s LIMIT 1", [dialect.app(app_id)])  # noqa: S608 (identifiers, a placeholder)
    return bool(rows)


def recent_activity(*, app_ids: list[uuid.UUID], now: datetime) -> dict:
    """Events of each app in the 24 hours and the 7 days up to ``now``: {app_id: {last_24h, last_7d}}."""
    found = {app_id: {"last_24h": 0, "last_7d": 0} for app_id in app_ids}
    if not app_ids:
        return found
    dialect = current()
    c = dialect.column
    app, ts = c("app"), c("timestamp")
    apps = ", ".join(["%s"] * len(app_ids))
    rows = dialect.fetch(
        f"SELECT e.{app}, COALESCE(SUM(CASE WHEN e.{ts} >= %s THEN 1 ELSE 0 END), 0), COUNT(*) "  # noqa: S608 (identifiers, placeholders)
        f"FROM {dialect.table} e WHERE e.{app} IN ({apps}) AND e.{ts} >= %s AND e.{ts} <= %s GROUP BY e.{app}",
        [
            dialect.timestamp(now - timedelta(hours=24)),
            *(dialect.app(app_id) for app_id in app_ids),
            dialect.timestamp(now - timedelta(days=7)),
            dialect.timestamp(now),
        ],
    )
    for app_id, last_24h, last_7d in rows:
        found[dialect.to_uuid(app_id)] = {"last_24h": int(last_24h), "last_7d": int(last_7d)}
    return found
