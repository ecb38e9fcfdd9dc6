"""Web statistics: visits (sessions), page views, bounce rate, visit duration, entry and exit pages.

A visit is one person's events (persons counted as every report counts them) with the same session id,
which the tracker and the SDKs send; a person's events without one make a visit until more than 30
minutes pass without such an event (exactly 30 minutes stays in it), as journeys cut sessions. Only the
window's events count, filters included: a visit that crosses the window's edge counts its part inside.
"""

from dataclasses import dataclass

from reports.dialect import Dialect, current
from reports.params import Window
from reports.queries.base import in_window, ratio
from reports.queries.journeys import SESSION_GAP_SECONDS

PAGEVIEW = "pageview"  # the name the tracker and every protocol store a page view under


@dataclass(frozen=True)
class PageVisits:
    """The visits that entered (or left) on one page; ``value`` None is a page view without a path."""

    value: str | None
    visits: int
    visitors: int
    exit_rate: float | None = None  # exit pages: these visits over the page's views


@dataclass(frozen=True)
class WebStats:
    visits: int
    visitors: int
    page_views: int
    views_per_visit: float
    bounces: int  # visits of a single page view and nothing else
    bounce_rate: float
    visit_duration_seconds: float  # mean, from a visit's first event to its last; 0 for one event
    entry_pages: list[PageVisits]
    exit_pages: list[PageVisits]


def web_stats(*, app_id, window: Window, limit: int = 10) -> WebStats:
    """The app's web statistics in the window, with its ``limit`` top entry and exit pages."""
    dialect = current(app_id)
    rows = dialect.visit_rows(
        in_window(dialect, app_id, window), pageview=PAGEVIEW, gap_seconds=SESSION_GAP_SECONDS, limit=limit
    )
    totals, pages = (0, 0, 0, 0, 0), {"entry": [], "exit": []}
    for kind, page, visits, visitors, views, bounces, microseconds in rows:
        figures = tuple(int(value or 0) for value in (visits, visitors, views, bounces, microseconds))
        if kind == "total":
            totals = figures
        else:
            pages[kind].append((page or None, *figures[:2]))
    visits, visitors, views, bounces, microseconds = totals
    return WebStats(
        visits=visits,
        visitors=visitors,
        page_views=views,
        views_per_visit=ratio(views, visits),
        bounces=bounces,
        bounce_rate=ratio(bounces, visits),
        visit_duration_seconds=round(microseconds / visits / 1e6, 3) if visits else 0.0,
        entry_pages=[PageVisits(*page) for page in pages["entry"]],
        exit_pages=_with_exit_rates(dialect, app_id, window, pages["exit"]),
    )


def _with_exit_rates(dialect: Dialect, app_id, window: Window, exits: list[tuple]) -> list[PageVisits]:
    """Each exit page's exit rate, its exits over its views in the window (Plausible's)."""
    if not exits:
        return []
    c = dialect.column
    where, params = in_window(dialect, app_id, window, PAGEVIEW)
    paths = [value or "" for value, *_ in exits]
    placeholders = ", ".join(["%s"] * len(paths))
    views = dict(
        dialect.fetch(
            f"SELECT e.{c('path')}, COUNT(*) FROM {dialect.table} e WHERE {where} "  # noqa: S608 (identifiers, placeholders)
            f"AND e.{c('path')} IN ({placeholders}) GROUP BY e.{c('path')}",
            [*params, *paths],
        )
    )
    return [
        PageVisits(value, visits, visitors, ratio(visits, int(views.get(value or "", 0))))
        for value, visits, visitors in exits
    ]
