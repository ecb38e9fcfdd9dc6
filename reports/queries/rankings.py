"""Top lists: pages, referrers, and the breakdown of events by any property."""

from dataclasses import dataclass

from reports.dialect import current
from reports.params import Window
from reports.properties import canonical
from reports.queries.base import Ranked, in_window, ranked


@dataclass(frozen=True)
class Breakdown:
    by: str
    values: list[Ranked]


def top_pages(*, app_id, window: Window, event: str | None, limit: int) -> list[Ranked]:
    """URL paths; events without a URL are not a page."""
    dialect = current(app_id)
    where = in_window(dialect, app_id, window, event, nonempty="path")
    return ranked(dialect, where, "path", limit=limit)


def top_referrers(*, app_id, window: Window, event: str | None, limit: int) -> list[Ranked]:
    """Where visits came from; events with no referrer (direct visits) are not a referrer."""
    dialect = current(app_id)
    where = in_window(dialect, app_id, window, event, nonempty="referrer_host")
    return ranked(dialect, where, "referrer", limit=limit)


def breakdown(*, app_id, window: Window, event: str | None, by: str, limit: int) -> Breakdown:
    """Per value of ``by``, a property name (reports.properties); null is the empty or missing value."""
    dialect = current(app_id)
    where = in_window(dialect, app_id, window, event)
    return Breakdown(by, ranked(dialect, where, canonical(by), limit=limit))
