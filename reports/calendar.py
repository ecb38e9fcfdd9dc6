"""Calendar arithmetic on local dates: days, Monday weeks and months. Pure; no database, no HTTP.

Reports bucket by these periods in a report's zone, so the Python that fills empty buckets and the SQL
that groups events must agree on where each period starts; both start from here.
"""

from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Literal

Period = Literal["day", "week", "month"]
PERIODS = ("day", "week", "month")


def local_midnight(day: date, tz: tzinfo) -> datetime:
    """The first instant of a local day. Through UTC and back, so a midnight the clocks skipped reads as
    the 01:00 it really is (zoneinfo leaves a wall time in a gap as it was written)."""
    return datetime.combine(day, time(), tzinfo=tz).astimezone(UTC).astimezone(tz)


def truncate(day: date, period: Period) -> date:
    """The first day of the period ``day`` is in."""
    if period == "week":
        return day - timedelta(days=day.weekday())
    if period == "month":
        return day.replace(day=1)
    return day


def shift(day: date, period: Period, count: int) -> date:
    """The start of the period ``count`` periods after the one starting on ``day``."""
    if period == "day":
        return day + timedelta(days=count)
    if period == "week":
        return day + timedelta(weeks=count)
    months = day.year * 12 + day.month - 1 + count
    return date(months // 12, months % 12 + 1, 1)


def periods_between(first: date, later: date, period: Period) -> int:
    if period == "day":
        return (later - first).days
    if period == "week":
        return (later - first).days // 7
    return (later.year - first.year) * 12 + later.month - first.month


def period_starts(first_day: date, last_day: date, period: Period) -> Iterator[date]:
    """The first day of every period from the one holding ``first_day`` to the one holding ``last_day``."""
    day = truncate(first_day, period)
    while day <= last_day:
        yield day
        day = shift(day, period, 1)


def first_boundary_at_or_after(moment: datetime, period: Period, tz: tzinfo) -> date:
    """The first period start (a local midnight) at or after ``moment``."""
    day = truncate(moment.astimezone(tz).date(), period)
    return day if local_midnight(day, tz) >= moment else shift(day, period, 1)
