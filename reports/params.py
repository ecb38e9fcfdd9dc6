"""The time window a report covers: pure date arithmetic, no database and no HTTP.

A window is the half-open interval [start, end) of instants, plus the zone its days, weeks and months
are counted in. A date-only ``endDate`` includes that whole local day; a date-time ``endDate`` is the
exclusive end. Local midnights are built with ``zoneinfo``, so a day that starts at 01:00 because the
clocks sprang forward at midnight starts at the right instant.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from reports.calendar import local_midnight

DEFAULT_DAYS = 30
MAX_SPAN = timedelta(days=731)  # two years, leap day included, counted in local wall-clock time
MAX_HOURLY_SPAN = timedelta(days=31)
EARLIEST_DATE = date(2000, 1, 1)  # ingestion refuses older timestamps
LATEST_DATE = date(2999, 12, 31)


class WindowError(ValueError):
    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True)
class Window:
    """The events a report reads: [start, end) in a zone, and, when the dashboard narrows them, only
    those whose properties (canonical column names, reports.properties) have the given values, None
    being the unknown (empty) value."""

    start: datetime
    end: datetime
    tz: ZoneInfo
    filters: tuple[tuple[str, str | None], ...] = ()

    @property
    def first_day(self) -> date:
        return self.start.astimezone(self.tz).date()

    @property
    def last_day(self) -> date:
        return (self.end - timedelta(microseconds=1)).astimezone(self.tz).date()

    def days(self) -> Iterator[date]:
        day = self.first_day
        while day <= self.last_day:
            yield day
            day += timedelta(days=1)

    def wall_clock_span(self) -> timedelta:
        return _wall(self.end.astimezone(self.tz)) - _wall(self.start.astimezone(self.tz))

    def days_before_end(self, days: int) -> datetime:
        """The instant ``days`` local days before the end: a rolling window's start (DST-aware)."""
        return (_wall(self.end.astimezone(self.tz)) - timedelta(days=days)).replace(tzinfo=self.tz)

    def key(self) -> dict:
        return {
            "start": self.start.astimezone(UTC).isoformat(),
            "end": self.end.astimezone(UTC).isoformat(),
            "tz": self.tz.key,
            **({"filters": [list(pair) for pair in self.filters]} if self.filters else {}),
        }


def _wall(moment: datetime) -> datetime:
    return moment.replace(tzinfo=None)


def report_window(*, start: date | datetime | None, end: date | datetime | None, tz: ZoneInfo, now: datetime) -> Window:
    """Resolve the request's startDate/endDate (either may be missing) into a checked Window."""
    if end is None:
        end_instant = local_midnight(now.astimezone(tz).date() + timedelta(days=1), tz)
    else:
        end_instant = _instant(end, tz, field="endDate", end=True)
    if start is None:
        last_day = (end_instant - timedelta(microseconds=1)).astimezone(tz).date()
        start_instant = local_midnight(last_day - timedelta(days=DEFAULT_DAYS - 1), tz)
    else:
        start_instant = _instant(start, tz, field="startDate", end=False)
    if end_instant <= start_instant:
        raise WindowError("endDate", "Must be after startDate.")
    window = Window(start=start_instant, end=end_instant, tz=tz)
    if window.wall_clock_span() > MAX_SPAN:
        raise WindowError("endDate", "The range may cover at most 2 years (731 days).")
    return window


def _instant(value: date | datetime, tz: ZoneInfo, *, field: str, end: bool) -> datetime:
    day = value.date() if isinstance(value, datetime) else value
    if not EARLIEST_DATE <= day <= LATEST_DATE:
        raise WindowError(field, f"Must be between {EARLIEST_DATE} and {LATEST_DATE}.")
    if isinstance(value, datetime):
        # Read in the report zone: ISO 8601 allows offsets to ±23:59, PostgreSQL only to ±15:59.
        return value.astimezone(tz) if value.tzinfo is not None else value.replace(tzinfo=tz)
    return local_midnight(value + timedelta(days=1) if end else value, tz)


@dataclass(frozen=True)
class OffsetSpan:
    """A stretch [start, end) of a window over which the zone's UTC offset stays the same."""

    start: datetime
    end: datetime
    offset: timedelta

    def hour_start(self, moment: datetime) -> datetime:
        """The start of the local hour ``moment`` falls in, read in this span's offset."""
        return moment.astimezone(timezone(self.offset)).replace(minute=0, second=0, microsecond=0)


def offset_spans(window: Window) -> list[OffsetSpan]:
    """The window cut wherever the zone's UTC offset changes.

    Local hours are counted in the offset in effect at each event, so the repeated hour when clocks fall
    back stays two hours, and a zone whose offset changes by half an hour (Lord Howe Island) gets the
    hours of each side. Changes are found by probing hour by hour, then halving down to the microsecond.
    """
    # In UTC: adding an hour to a zone's datetime moves its wall clock, which skips a repeated hour.
    start = window.start.astimezone(UTC)
    spans, offset, probe = [], _offset(start, window.tz), start
    end = window.end.astimezone(UTC)
    last = end - timedelta(microseconds=1)  # the window's last instant: a change in its last hour counts too
    while probe < last:
        next_probe = min(probe + timedelta(hours=1), last)
        if _offset(next_probe, window.tz) != offset:
            change = _first_instant_with_another_offset(probe, next_probe, window.tz, offset)
            spans.append(OffsetSpan(start, change, offset))
            start, offset = change, _offset(change, window.tz)
        probe = next_probe
    spans.append(OffsetSpan(start, end, offset))
    return spans


def _offset(moment: datetime, tz: ZoneInfo) -> timedelta:
    return moment.astimezone(tz).utcoffset()


def _first_instant_with_another_offset(low: datetime, high: datetime, tz: ZoneInfo, offset: timedelta) -> datetime:
    """``low`` has ``offset`` and ``high`` does not; offsets change at most once an hour."""
    while high - low > timedelta(microseconds=1):
        middle = low + (high - low) // 2
        if _offset(middle, tz) == offset:
            low = middle
        else:
            high = middle
    return high
