"""Every report's aggregation, done in the database (SPEC §5).

Each function reads one app's events in a Window and returns plain dataclasses; Python only fills the
empty buckets of a series and ranks already-aggregated rows. "Users" are distinct ``distinct_id``s.

Distinct users are counted in two grouping steps, first per (value, user) then per value, rather than
with COUNT(DISTINCT): PostgreSQL sorts every row for COUNT(DISTINCT) but hashes a GROUP BY, which is
about twice as fast over a month of events (bench/reports.py). The inner step is the ORM's own SQL (time
zones, JSON paths, parameters), the outer a short parameterised wrapper that runs on both back ends.

Ties in a ranking are broken by the value in code-point order, the same on SQLite and PostgreSQL
whatever the database's collation, so a top-10 list is stable.
"""

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo

from django.db import connection
from django.db.models import Case, Count, DateTimeField, F, Func, Max, Min, Q, QuerySet, Sum, TextField, Value, When
from django.db.models.functions import NullIf, TruncDate, TruncMonth, TruncWeek

from events.models import Event
from reports.params import OffsetSpan, Window, local_midnight, offset_spans

INTERVALS = ("hour", "day", "week", "month")
SUMMARY_EVENT_LIMIT = 100
SUMMARY_LIST_LIMIT = 10
RECENT_EVENTS = 10
EXPORT_CHUNK = 2000

# The `by` values of the breakdown report and the column each groups by.
DIMENSIONS = {
    "event": "name",
    "device": "device_type",
    "browser": "browser",
    "os": "os",
    "country": "country",
    "referrer": "referrer_host",
    "host": "host",
    "path": "path",
    "utm_source": "utm_source",
    "utm_medium": "utm_medium",
    "utm_campaign": "utm_campaign",
    "utm_term": "utm_term",
    "utm_content": "utm_content",
    "screen": "screen",
    "locale": "locale",
    "source": "source",
}
METADATA_PREFIX = "metadata."


@dataclass(frozen=True)
class Ranked:
    value: str | None
    count: int
    unique_users: int = 0


@dataclass(frozen=True)
class EventSummary:
    event: str | None
    count: int
    unique_users: int
    device_data: dict[str, int]
    event_breakdown: list[Ranked] | None
    top_referrers: list[Ranked]
    browsers: list[Ranked]
    os: list[Ranked]


@dataclass(frozen=True)
class RecentEvent:
    event_id: str
    event: str
    timestamp: datetime
    url: str
    metadata: dict


@dataclass(frozen=True)
class UserStats:
    distinct_id: str
    total_events: int
    first_seen: datetime
    last_seen: datetime
    browser: str
    os: str
    devices: dict[str, int]
    ip_address: str | None
    recent_events: list[RecentEvent]


@dataclass(frozen=True)
class DayStat:
    date: date
    count: int
    unique_users: int


@dataclass(frozen=True)
class Point:
    t: datetime
    count: int
    unique_users: int


@dataclass(frozen=True)
class Series:
    interval: str
    points: list[Point]


@dataclass(frozen=True)
class Breakdown:
    by: str
    values: list[Ranked]


@dataclass(frozen=True)
class DailyActive:
    date: date
    active_users: int


@dataclass(frozen=True)
class ActiveUsers:
    dau: int
    wau: int
    mau: int
    as_of: date
    series: list[DailyActive]


def _events(app_id, window: Window, event: str | None = None) -> QuerySet[Event]:
    events = Event.objects.filter(app_id=app_id, timestamp__gte=window.start, timestamp__lt=window.end)
    return events.filter(name=event) if event else events


def _per_value(events: QuerySet[Event], value, *, limit: int | None = None) -> list[tuple]:
    """(value, events, distinct users) for each value of an expression; with ``limit``, the top values
    by events, ties in code-point order, unknown (null) last."""
    # COUNT(*), not COUNT(id): the id is in no index but the primary key, and would cost a heap read per row.
    per_user = events.annotate(value=value).values("value", "distinct_id").annotate(n=Count("*")).order_by()
    compiler = per_user.query.get_compiler(using=per_user.db)
    inner, params = compiler.as_sql()
    quote = compiler.connection.ops.quote_name
    value_sql, n_sql = f"per_user.{quote('value')}", f"per_user.{quote('n')}"
    sql = f"SELECT {value_sql}, SUM({n_sql}), COUNT(*) FROM ({inner}) per_user GROUP BY {value_sql}"  # noqa: S608
    if limit is not None:
        collate = ' COLLATE "C"' if compiler.connection.vendor == "postgresql" else ""
        sql += f" ORDER BY 2 DESC, {value_sql}{collate} ASC NULLS LAST LIMIT %s"
        params = (*params, limit)
    with compiler.connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    # The value column needs the conversions the ORM would apply (dates come back as text on SQLite,
    # truncated datetimes naive): borrow the inner query's converters for it.
    position = next(index for index, (_, _, alias) in enumerate(compiler.select) if alias == "value")
    converters = compiler.get_converters([compiler.select[position][0]])
    if converters:
        rows = list(compiler.apply_converters(rows, {0: converters[0]}))
    return [(value, int(count), users) for value, count, users in rows]  # PostgreSQL's SUM is numeric


def _ranked(events: QuerySet[Event], value, *, limit: int) -> list[Ranked]:
    return [Ranked(v, count, users) for v, count, users in _per_value(events, value, limit=limit)]


def _column(name: str):
    """A text column with empty values as null: unknown browsers, direct visits and the like."""
    return NullIf(F(name), Value(""))


def _top(counts: dict, limit: int | None) -> list[Ranked]:
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0] is None, item[0] or ""))
    return [Ranked(value, count) for value, count in ranked[:limit]]


_SUMMARY_COLUMNS = ("name", "device_type", "browser", "os", "referrer_host")


def _summary_counts(events: QuerySet[Event]) -> dict[str, dict[str | None, int]]:
    """Events per value of each summary column, from one pass over the rows: first per combination of
    the five columns (a few thousand rows), then each column's totals from those."""
    combos = events.values(*_SUMMARY_COLUMNS).annotate(n=Count("*")).order_by()
    inner, params = combos.query.sql_with_params()
    quote = connection.ops.quote_name
    per_column = " UNION ALL ".join(
        f"SELECT '{column}', {quote(column)}, SUM({quote('n')}) FROM combos GROUP BY {quote(column)}"  # noqa: S608
        for column in _SUMMARY_COLUMNS
    )
    counts: dict[str, dict] = {column: {} for column in _SUMMARY_COLUMNS}
    with connection.cursor() as cursor:
        cursor.execute(f"WITH combos AS ({inner}) {per_column}", params)
        for column, value, count in cursor.fetchall():
            counts[column][value or None] = int(count)
    return counts


def event_summary(*, app_id, window: Window, event: str | None) -> EventSummary:
    events = _events(app_id, window, event)
    totals = events.values("distinct_id").annotate(n=Count("*")).aggregate(count=Sum("n"), users=Count("*"))
    counts = _summary_counts(events)
    referrers = {host: count for host, count in counts["referrer_host"].items() if host is not None}
    return EventSummary(
        event=event,
        count=totals["count"] or 0,
        unique_users=totals["users"],
        device_data={(device or "unknown"): count for device, count in counts["device_type"].items()},
        event_breakdown=None if event else _top(counts["name"], SUMMARY_EVENT_LIMIT),
        top_referrers=_top(referrers, SUMMARY_LIST_LIMIT),
        browsers=_top(counts["browser"], SUMMARY_LIST_LIMIT),
        os=_top(counts["os"], SUMMARY_LIST_LIMIT),
    )


def user_stats(*, app_id, distinct_id: str) -> UserStats | None:
    """The user's whole history in the app; None when the app has never seen the user.

    A user is a ``distinct_id``, as in every other report (the userId when one was sent, else the
    anonymousId), so any id a report counts or a journey shows has statistics here too.
    """
    events = Event.objects.filter(app_id=app_id, distinct_id=distinct_id)
    totals = events.aggregate(total=Count("*"), first_seen=Min("timestamp"), last_seen=Max("timestamp"))
    if not totals["total"]:
        return None
    devices = events.values_list("device_type").annotate(count=Count("*")).order_by("device_type")
    latest_first = events.order_by("-timestamp", "-id")
    recent = list(latest_first.values_list("event_id", "name", "timestamp", "url", "metadata", "ip")[:RECENT_EVENTS])
    ip = recent[0][-1]
    # The latest event that says what device it came from: an identify, group or alias from a server SDK
    # usually carries no user agent, and would blank the browser and OS of a user who has one.
    browser, os_name = latest_first.exclude(user_agent="").values_list("browser", "os").first() or ("", "")
    return UserStats(
        distinct_id=distinct_id,
        total_events=totals["total"],
        first_seen=totals["first_seen"],
        last_seen=totals["last_seen"],
        browser=browser,
        os=os_name,
        devices={(device or "unknown"): count for device, count in devices},
        ip_address=ip,
        recent_events=[
            RecentEvent(str(event_id), name, timestamp, url, metadata)
            for event_id, name, timestamp, url, metadata, *_ in recent
        ],
    )


def _by_day(events: QuerySet[Event], window: Window) -> dict[date, tuple[int, int]]:
    rows = _per_value(events, TruncDate("timestamp", tzinfo=window.tz))
    return {day: (count, users) for day, count, users in rows}


def daily_stats(*, app_id, window: Window, event: str | None) -> list[DayStat]:
    by_day = _by_day(_events(app_id, window, event), window)
    return [DayStat(day, *by_day.get(day, (0, 0))) for day in window.days()]


def timeseries(*, app_id, window: Window, event: str | None, interval: str) -> Series:
    """Buckets start at local midnight (weeks on Monday, months on the 1st) in the window's zone, and
    hours at each local hour in the UTC offset in effect then."""
    if interval == "hour":
        spans = offset_spans(window)
        rows = _per_value(_events(app_id, window, event), _hour_start(spans))
        found = {start: (count, users) for start, count, users in rows}
        # Each hour is labelled in its own offset: 01:00-04:00, then 01:00-05:00 when New York falls back.
        return Series(interval, [Point(start, *found.get(start, (0, 0))) for start in _hours(spans)])
    bucket = {"day": TruncDate, "week": TruncWeek, "month": TruncMonth}[interval]("timestamp", tzinfo=window.tz)
    rows = _per_value(_events(app_id, window, event), bucket)
    found = {_local_date(start, window.tz): (count, users) for start, count, users in rows}
    starts = (local_midnight(day, window.tz) for day in _period_starts(window, interval))
    return Series(interval, [Point(start, *found.get(start.date(), (0, 0))) for start in starts])


def _local_date(value, zone: tzinfo) -> date:
    return value if isinstance(value, date) and not isinstance(value, datetime) else value.astimezone(zone).date()


def _hour_start(spans: list[OffsetSpan]):
    """The instant each event's local hour began, in the offset in effect at the event.

    Only an offset's minutes move hour boundaries (India's +05:30 starts hours at :30 UTC), so most
    windows need one expression; a window across a half-hour change gets one per span.
    """
    minutes = [int(span.offset.total_seconds() // 60) % 60 for span in spans]
    if len(set(minutes)) == 1:
        return HourStart("timestamp", minutes[0])
    pairs = zip(spans[:-1], minutes[:-1], strict=True)  # the last span is the default
    branches = [When(timestamp__lt=span.end, then=HourStart("timestamp", m)) for span, m in pairs]
    return Case(*branches, default=HourStart("timestamp", minutes[-1]), output_field=DateTimeField())


def _hours(spans: list[OffsetSpan]) -> Iterator[datetime]:
    """Every local hour of the window in order, each in its span's offset (a span's first hour may
    begin before the span does: the half-hour Lord Howe Island's clocks skip still has a 02:00)."""
    seen = set()
    for span in spans:
        moment = span.hour_start(span.start)
        while moment < span.end:
            if moment not in seen:
                seen.add(moment)
                yield moment
            moment += timedelta(hours=1)


class HourStart(Func):
    """The UTC instant a timestamp's hour began, hours being shifted by ``minutes`` past each UTC hour.

    Both back ends return a timestamp (not a local wall time), so a Case can choose between spans.
    """

    output_field = DateTimeField()

    def __init__(self, expression, minutes: int):
        super().__init__(expression)
        self.minutes = minutes

    def as_postgresql(self, compiler, connection, **extra_context):
        column, params = compiler.compile(self.source_expressions[0])
        shift = "make_interval(mins => %s)"
        # Truncated in UTC whatever the session's time zone: the shift carries the offset's minutes.
        return f"(DATE_TRUNC('hour', {column} + {shift}, 'UTC') - {shift})", [*params, self.minutes, self.minutes]

    def as_sqlite(self, compiler, connection, **extra_context):
        column, params = compiler.compile(self.source_expressions[0])
        return (
            f"datetime(strftime('%%Y-%%m-%%d %%H:00:00', {column}, %s), %s)",
            [*params, f"+{self.minutes} minutes", f"-{self.minutes} minutes"],
        )


def _period_starts(window: Window, interval: str) -> Iterator[date]:
    day = window.first_day
    if interval == "week":
        day -= timedelta(days=day.weekday())
    elif interval == "month":
        day = day.replace(day=1)
    while day <= window.last_day:
        yield day
        if interval == "day":
            day += timedelta(days=1)
        elif interval == "week":
            day += timedelta(days=7)
        else:
            day = (day.replace(day=28) + timedelta(days=4)).replace(day=1)


def top_pages(*, app_id, window: Window, event: str | None, limit: int) -> list[Ranked]:
    return _ranked(_events(app_id, window, event).exclude(path=""), F("path"), limit=limit)


def top_referrers(*, app_id, window: Window, event: str | None, limit: int) -> list[Ranked]:
    """Where visits came from; events with no referrer (direct visits) are not a referrer."""
    events = _events(app_id, window, event).exclude(referrer_host="")
    return _ranked(events, F("referrer_host"), limit=limit)


def breakdown(*, app_id, window: Window, event: str | None, by: str, limit: int) -> Breakdown:
    if by.startswith(METADATA_PREFIX):
        value = NullIf(MetadataText(by.removeprefix(METADATA_PREFIX)), Value("", output_field=TextField()))
    else:
        value = _column(DIMENSIONS[by])
    return Breakdown(by, _ranked(_events(app_id, window, event), value, limit=limit))


class MetadataText(Func):
    """A metadata value as text: strings as themselves, numbers and booleans as their JSON text.

    The key is a bound parameter on both back ends, never SQL text. SQLite's json_extract turns
    true/false into 1/0, so booleans are spelled out there to match PostgreSQL's ``->>``.
    """

    output_field = TextField()

    def __init__(self, key: str):
        super().__init__(F("metadata"))
        self.key = key

    def as_postgresql(self, compiler, connection, **extra_context):
        column, params = compiler.compile(self.source_expressions[0])
        return f"({column} ->> %s)", [*params, self.key]

    def as_sqlite(self, compiler, connection, **extra_context):
        column, params = compiler.compile(self.source_expressions[0])
        path = "$." + json.dumps(self.key)
        return (
            f"CASE json_type({column}, %s) WHEN 'true' THEN 'true' WHEN 'false' THEN 'false' "
            f"ELSE CAST(json_extract({column}, %s) AS TEXT) END",
            [*params, path, *params, path],
        )


def active_users(*, app_id, window: Window, event: str | None) -> ActiveUsers:
    """DAU, WAU and MAU over the 1, 7 and 30 local days ending at the window's end, and daily actives."""
    month = Event.objects.filter(app_id=app_id, timestamp__gte=window.days_before_end(30), timestamp__lt=window.end)
    if event:
        month = month.filter(name=event)
    # A user was active in the last 7 days if their latest event of the 30 is that recent.
    rolling = (
        month.values("distinct_id")
        .annotate(latest=Max("timestamp"))
        .aggregate(
            mau=Count("distinct_id"),
            wau=Count("distinct_id", filter=Q(latest__gte=window.days_before_end(7))),
            dau=Count("distinct_id", filter=Q(latest__gte=window.days_before_end(1))),
        )
    )
    by_day = _by_day(_events(app_id, window, event), window)
    return ActiveUsers(
        dau=rolling["dau"],
        wau=rolling["wau"],
        mau=rolling["mau"],
        as_of=window.last_day,
        series=[DailyActive(day, by_day.get(day, (0, 0))[1]) for day in window.days()],
    )


# Export columns: (output name, model field), in the order a CSV file lists them.
EXPORT_COLUMNS = (
    ("eventId", "event_id"),
    ("event", "name"),
    ("timestamp", "timestamp"),
    ("receivedAt", "received_at"),
    ("distinctId", "distinct_id"),
    ("userId", "user_id"),
    ("anonymousId", "anonymous_id"),
    ("sessionId", "session_id"),
    ("url", "url"),
    ("host", "host"),
    ("path", "path"),
    ("referrer", "referrer"),
    ("referrerHost", "referrer_host"),
    ("utmSource", "utm_source"),
    ("utmMedium", "utm_medium"),
    ("utmCampaign", "utm_campaign"),
    ("utmTerm", "utm_term"),
    ("utmContent", "utm_content"),
    ("deviceType", "device_type"),
    ("browser", "browser"),
    ("os", "os"),
    ("country", "country"),
    ("screen", "screen"),
    ("locale", "locale"),
    ("ipAddress", "ip"),
    ("userAgent", "user_agent"),
    ("source", "source"),
    ("metadata", "metadata"),
)


def events_export(*, app_id, window: Window, event: str | None) -> Iterator[tuple]:
    """The window's events in time order, fetched EXPORT_CHUNK rows at a time (a server-side cursor on
    PostgreSQL), so memory stays flat however many there are."""
    fields = [field for _, field in EXPORT_COLUMNS]
    return _events(app_id, window, event).order_by("timestamp", "id").values_list(*fields).iterator(EXPORT_CHUNK)
