"""Events and distinct users per local day, and per hour, day, week or month: every bucket of the range,
empty ones as zeros."""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from reports.calendar import local_midnight, period_starts
from reports.dialect import Dialect, Fragment, current
from reports.params import OffsetSpan, Window, offset_spans
from reports.queries.base import in_window, per_value

INTERVALS = ("hour", "day", "week", "month")


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


def by_local_period(dialect: Dialect, where: Fragment, window: Window, period: str) -> dict[date, tuple[int, int]]:
    """(events, users) per local period start of the window's zone, for the periods that have events."""
    bucket = dialect.local_bucket(period, f"e.{dialect.column('timestamp')}", window.tz.key)
    rows = per_value(dialect, where, bucket, convert=dialect.to_date)
    return {start: (count, users) for start, count, users in rows}


def daily_stats(*, app_id, window: Window, event: str | None) -> list[DayStat]:
    dialect = current(app_id)
    found = by_local_period(dialect, in_window(dialect, app_id, window, event), window, "day")
    return [DayStat(day, *found.get(day, (0, 0))) for day in window.days()]


def timeseries(*, app_id, window: Window, event: str | None, interval: str) -> Series:
    """Buckets start at local midnight (weeks on Monday, months on the 1st) in the window's zone, and
    hours at each local hour in the UTC offset in effect then."""
    dialect = current(app_id)
    where = in_window(dialect, app_id, window, event)
    if interval == "hour":
        spans = offset_spans(window)
        rows = per_value(dialect, where, _hour_start(dialect, spans), convert=dialect.to_timestamp)
        found = {start: (count, users) for start, count, users in rows}
        # Each hour is labelled in its own offset: 01:00-04:00, then 01:00-05:00 when New York falls back.
        return Series(interval, [Point(start, *found.get(start, (0, 0))) for start in _hours(spans)])
    found = by_local_period(dialect, where, window, interval)
    starts = period_starts(window.first_day, window.last_day, interval)
    return Series(interval, [Point(local_midnight(day, window.tz), *found.get(day, (0, 0))) for day in starts])


def _hour_start(dialect: Dialect, spans: list[OffsetSpan]) -> Fragment:
    """The instant each event's local hour began, in the offset in effect at the event.

    Only an offset's minutes move hour boundaries, so most windows need one expression; a window across
    a half-hour change (Lord Howe Island) gets one per span.
    """
    column = f"e.{dialect.column('timestamp')}"
    minutes = [int(span.offset.total_seconds() // 60) % 60 for span in spans]
    if len(set(minutes)) == 1:
        return dialect.hour_start(column, minutes[0])
    sql, params = "CASE", []
    for span, shift in zip(spans[:-1], minutes[:-1], strict=True):  # the last span is the ELSE
        start, start_params = dialect.hour_start(column, shift)
        sql += f" WHEN {column} < %s THEN {start}"
        params += [dialect.timestamp(span.end), *start_params]
    last, last_params = dialect.hour_start(column, minutes[-1])
    return f"{sql} ELSE {last} END", [*params, *last_params]


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
