"""The app page's panels: each one fragment of HTML with its own request, so the page's shell arrives at
once and a slow report (a year of retention) holds up only its own panel, never the figures above it.

The shell (reports.dashboard.app_page_context) lists the panels; the browser fetches each at
``panels/<name>?<the page's query>`` and puts it in its place. A panel reads the same range and filters
as the page, from the same query string, so a row's ``?f=`` link in a panel is the page's link.
"""

import dataclasses
from dataclasses import dataclass
from datetime import date
from zoneinfo import ZoneInfo

from django.http import Http404, HttpResponse
from django.template.loader import render_to_string
from django.utils import timezone

from reports import goals
from reports.access import dashboard_allows
from reports.calendar import PERIODS
from reports.charts import line_chart
from reports.models import Goal
from reports.params import Window, WindowError, report_window
from reports.periods import DEFAULT_PRESET, PRESETS, change, chart_interval, preset_days, previous_days
from reports.queries import funnels, live, rankings, retention, series, summary, visits

BREAKDOWNS = [
    ("device", "Devices"),
    ("browser", "Browsers"),
    ("os", "Operating systems"),
    ("country", "Countries"),
    ("utm_source", "UTM sources"),
]
# What a row click may filter the page on (?f=country:DE, repeatable), with the name a chip shows.
FILTERABLE = {"path": "Page", "referrer": "Referrer", **dict(BREAKDOWNS)}
MAX_FILTERS = 5


@dataclass(frozen=True)
class PageRequest:
    """What one request of the app page (or of one of its panels) asks for."""

    request: object
    app: object
    preset: str
    window: Window
    error: str | None
    now: object

    @classmethod
    def of(cls, request, app) -> "PageRequest":
        now = timezone.now()
        preset, window, error = _range(request, ZoneInfo(app.timezone), now)
        return cls(request, app, preset, dataclasses.replace(window, filters=_filters(request)), error, now)

    @property
    def filters(self):
        return self.window.filters

    @property
    def previous(self) -> Window | None:
        first, last = previous_days(self.window.first_day, self.window.last_day)
        try:
            previous = report_window(start=first, end=last, tz=self.window.tz, now=self.now)
        except WindowError:  # before the earliest date a report reads
            return None
        return dataclasses.replace(previous, filters=self.filters)

    def clickable(self, name: str, rows) -> list[dict]:
        """Ranked rows, each with the link that adds its value to the page's filters."""
        return [
            {
                "row": row,
                "href": None
                if (name, row.value) in self.filters
                else with_filters(self.request, (*self.filters, (name, row.value))),
            }
            for row in rows
        ]


def _range(request, tz: ZoneInfo, now) -> tuple[str, Window, str | None]:
    """The preset (``?range=``) or the custom days (``startDate``/``endDate``) asked for, as a window;
    with an error message, and the default range, when the dates cannot be read."""
    start, end = request.GET.get("startDate", "").strip(), request.GET.get("endDate", "").strip()
    error = None
    if start or end:
        try:
            return "custom", report_window(start=_day(start), end=_day(end), tz=tz, now=now), None
        except (ValueError, WindowError) as exc:
            error = getattr(exc, "message", None) or "Dates must look like 2026-01-31."
    preset = request.GET.get("range", DEFAULT_PRESET)
    preset = preset if preset in PRESETS else DEFAULT_PRESET
    first, last = preset_days(preset, now.astimezone(tz).date())
    return preset, report_window(start=first, end=last, tz=tz, now=now), error


def _day(value: str) -> date | None:
    return date.fromisoformat(value) if value else None


def _filters(request) -> tuple[tuple[str, str | None], ...]:
    """The page's ``?f=name:value`` filters that name a FILTERABLE property; an empty value is the unknown one."""
    found = []
    for token in request.GET.getlist("f")[:MAX_FILTERS]:
        name, _, value = token.partition(":")
        if name in FILTERABLE and (name, value or None) not in found:
            found.append((name, value[:2048] or None))
    return tuple(found)


def with_filters(request, filters) -> str:
    query = request.GET.copy()
    query.setlist("f", [f"{name}:{value or ''}" for name, value in filters])
    return query.urlencode()


def _chart_label(moment, interval: str) -> str:
    return moment.strftime({"hour": "%Y-%m-%d %H:00", "day": "%Y-%m-%d", "month": "%Y-%m"}[interval])


def totals(page: PageRequest) -> dict:
    app, window, previous = page.app, page.window, page.previous
    figures = summary.event_summary(app_id=app.pk, window=window, event=None)
    context = {
        "summary": figures,
        "previous": previous,
        "live": live.live(app_id=app.pk, now=page.now),
        "event_names": [row.value for row in figures.event_breakdown or []],
    }
    if previous is not None:
        before = summary.event_summary(app_id=app.pk, window=previous, event=None)
        context |= {
            "previous_summary": before,
            "events_change": change(figures.count, before.count),
            "users_change": change(figures.unique_users, before.unique_users),
        }
    return context


def chart(page: PageRequest) -> dict:
    app, window, previous = page.app, page.window, page.previous
    interval = chart_interval(window.first_day, window.last_day)

    def points(span: Window) -> list[tuple[str, int]]:
        timeline = series.timeseries(app_id=app.pk, window=span, event=None, interval=interval)
        return [(_chart_label(point.t, interval), point.count) for point in timeline.points]

    return {
        "interval": interval,
        "previous": previous,
        "chart": line_chart(points(window), previous=points(previous) if previous else ()),
    }


def visit_panel(page: PageRequest) -> dict:
    stats = visits.web_stats(app_id=page.app.pk, window=page.window, limit=10)
    return {
        "stats": stats,
        "pages": [
            ("Entry pages", page.clickable("path", stats.entry_pages), False),
            ("Exit pages", page.clickable("path", stats.exit_pages), True),
        ],
    }


def top_pages(page: PageRequest) -> dict:
    rows = rankings.top_pages(app_id=page.app.pk, window=page.window, event=visits.PAGEVIEW, limit=10)
    return {"title": "Top pages", "heading": "Page", "counted": "Views", "rows": page.clickable("path", rows)}


def top_referrers(page: PageRequest) -> dict:
    rows = rankings.top_referrers(app_id=page.app.pk, window=page.window, event=None, limit=10)
    return {"title": "Top referrers", "heading": "Referrer", "rows": page.clickable("referrer", rows)}


def _breakdown(by: str, title: str):
    def panel(page: PageRequest) -> dict:
        found = rankings.breakdown(app_id=page.app.pk, window=page.window, event=None, by=by, limit=10)
        return {"title": title, "heading": title, "rows": page.clickable(by, found.values)}

    return panel


def goal_panel(page: PageRequest) -> dict:
    visitors = summary.event_summary(app_id=page.app.pk, window=page.window, event=None).unique_users
    return {"goals": goals.goal_figures(page.app, page.window, visitors), "goal_kinds": Goal.Kind.choices}


def funnel(page: PageRequest) -> dict:
    query = page.request.GET
    names = [name.strip() for name in query.get("funnel", "").split(",") if name.strip()]
    try:
        window_days = min(max(int(query.get("funnelDays", "14")), 1), 365)
    except ValueError:
        window_days = 14
    section = {"funnel_steps": ", ".join(names), "funnel_days": window_days, "funnel": None, "funnel_error": None}
    if not names:
        return section
    if not 2 <= len(names) <= 10:
        return {**section, "funnel_error": "A funnel has 2 to 10 steps, separated by commas."}
    section["funnel"] = funnels.funnel(
        app_id=page.app.pk,
        window=page.window,
        steps=[funnels.FunnelStep(event=name[:200]) for name in names],
        window_seconds=window_days * 86400,
    )
    return section


def retention_panel(page: PageRequest) -> dict:
    query = page.request.GET
    period = query.get("period", "week")
    period = period if period in PERIODS else "week"
    cohort_event = query.get("cohortEvent", "").strip()[:200] or None
    return_event = query.get("returnEvent", "").strip()[:200] or None
    cohorts = retention.retention(
        app_id=page.app.pk,
        window=page.window,
        cohort_event=cohort_event,
        return_event=return_event,
        period=period,
        periods=8,
    )
    return {
        "retention": cohorts,
        "retention_columns": list(range(cohorts.periods + 1)),
        "cohort_event": cohort_event or "",
        "return_event": return_event or "",
        "period": period,
    }


@dataclass(frozen=True)
class Panel:
    name: str
    template: str
    context: object  # (PageRequest) -> dict
    wide: bool = False  # a whole row, not a cell of the grid


PANELS = {
    panel.name: panel
    for panel in [
        Panel("totals", "dashboard/panels/totals.html", totals, wide=True),
        Panel("chart", "dashboard/panels/chart.html", chart, wide=True),
        Panel("visits", "dashboard/panels/visits.html", visit_panel, wide=True),
        Panel("pages", "dashboard/panels/ranked.html", top_pages),
        Panel("referrers", "dashboard/panels/ranked.html", top_referrers),
        *(Panel(by, "dashboard/panels/ranked.html", _breakdown(by, title)) for by, title in BREAKDOWNS),
        Panel("goals", "dashboard/panels/goals.html", goal_panel, wide=True),
        Panel("funnel", "dashboard/panels/funnel.html", funnel, wide=True),
        Panel("retention", "dashboard/panels/retention.html", retention_panel, wide=True),
    ]
}


def render_panel(request, app, name: str, *, shared: bool = False) -> HttpResponse:
    if name not in PANELS:
        raise Http404("No such panel.")
    return HttpResponse(panel_html(request, app, name, shared=shared))


def panel_html(request, app, name: str, *, shared: bool = False) -> str:
    panel = PANELS[name]
    page = PageRequest.of(request, app)
    context = {
        "app": app,
        "panel_name": name,
        "window": page.window,
        "shared": shared,
        # Asked for the goals panel alone, whose forms it shows or hides.
        "may_manage_goals": name == "goals" and not shared and dashboard_allows(request.user, "goals.manage", app),
        "export_query": request.GET.urlencode(),
    }
    return render_to_string(panel.template, {**context, **panel.context(page)}, request=request)
