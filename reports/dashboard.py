"""The dashboard: server-rendered pages over the same reports as the report API, for the members of an
app's organisation (by role) and its operators (staff, as the admin shows them apps)."""

import dataclasses
from datetime import date
from functools import wraps
from zoneinfo import ZoneInfo

from django.contrib.auth.decorators import login_required
from django.http import Http404, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone

from reports import goals
from reports.access import IsSecretKeyOrStaff, dashboard_allows, dashboard_apps
from reports.calendar import PERIODS
from reports.charts import line_chart
from reports.models import Goal
from reports.params import Window, WindowError, report_window
from reports.periods import DEFAULT_PRESET, PRESETS, change, chart_interval, preset_days, previous_days
from reports.queries import export, funnels, live, rankings, retention, series, summary

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


def reader_required(view):
    """Signed in (anyone else is sent to sign in). Staff the admin would not let list events, and who
    belong to no organisation, see a 403 naming the permission, not an empty list."""

    @login_required
    @wraps(view)
    def checked(request, *args, **kwargs):
        user = request.user
        if user.is_staff and not user.has_perm(PERMISSION) and not user.memberships.exists():
            return _forbidden(request)
        return view(request, *args, **kwargs)

    return checked


PERMISSION = IsSecretKeyOrStaff.staff_permission


def _forbidden(request, operation: str | None = None):
    return render(request, "dashboard/forbidden.html", {"permission": PERMISSION, "operation": operation}, status=403)


def _visible_app(request, app_id):
    """One of the person's dashboard apps; 404 otherwise, like an id that does not exist."""
    app = dashboard_apps(request.user).filter(pk=app_id).first()
    if app is None:
        raise Http404("No such app.")
    return app


def _date_param(request, name: str) -> date | None:
    value = request.GET.get(name, "").strip()
    return date.fromisoformat(value) if value else None


@reader_required
def app_list(request):
    apps = list(dashboard_apps(request.user).select_related("organisation").order_by("organisation__name", "name"))
    activity = live.recent_activity(app_ids=[app.pk for app in apps], now=timezone.now())
    rows = [{"app": app, **activity[app.pk]} for app in apps]
    return render(request, "dashboard/app_list.html", {"rows": rows})


def _range(request, tz: ZoneInfo, now) -> tuple[str, Window, str | None]:
    """The preset (``?range=``) or the custom days (``startDate``/``endDate``) asked for, as a window;
    with an error message, and the default range, when the dates cannot be read."""
    start, end = request.GET.get("startDate", "").strip(), request.GET.get("endDate", "").strip()
    if start or end:
        try:
            return (
                "custom",
                report_window(
                    start=_date_param(request, "startDate"), end=_date_param(request, "endDate"), tz=tz, now=now
                ),
                None,
            )
        except (ValueError, WindowError) as exc:
            error = getattr(exc, "message", None) or "Dates must look like 2026-01-31."
    else:
        error = None
    preset = request.GET.get("range", DEFAULT_PRESET)
    preset = preset if preset in PRESETS else DEFAULT_PRESET
    first, last = preset_days(preset, now.astimezone(tz).date())
    return preset, report_window(start=first, end=last, tz=tz, now=now), error


def _previous(window: Window, now) -> Window | None:
    first, last = previous_days(window.first_day, window.last_day)
    try:
        return dataclasses.replace(report_window(start=first, end=last, tz=window.tz, now=now), filters=window.filters)
    except WindowError:  # before the earliest date a report reads
        return None


def _chart_label(moment, interval: str) -> str:
    return moment.strftime({"hour": "%Y-%m-%d %H:00", "day": "%Y-%m-%d", "month": "%Y-%m"}[interval])


def _comparison(app, window: Window, previous: Window | None, totals) -> dict:
    """The previous period's totals and the change to this one's (None where there is nothing to compare)."""
    if previous is None:
        return {"previous": None}
    before = summary.event_summary(app_id=app.pk, window=previous, event=None)
    return {
        "previous": previous,
        "previous_summary": before,
        "events_change": change(totals.count, before.count),
        "users_change": change(totals.unique_users, before.unique_users),
    }


def _preset_links(request, current: str) -> list[dict]:
    """Each preset as a link keeping the page's other choices (funnel, retention), the custom dates dropped."""
    links = []
    for preset, label in PRESETS.items():
        query = request.GET.copy()
        for name in ("startDate", "endDate"):
            query.pop(name, None)
        query["range"] = preset
        links.append({"label": label, "query": query.urlencode(), "current": preset == current})
    return links


def _filters(request) -> tuple[tuple[str, str | None], ...]:
    """The page's ``?f=name:value`` filters that name a FILTERABLE property; an empty value is the unknown one."""
    found = []
    for token in request.GET.getlist("f")[:MAX_FILTERS]:
        name, _, value = token.partition(":")
        if name in FILTERABLE and (name, value or None) not in found:
            found.append((name, value[:2048] or None))
    return tuple(found)


def _with_filters(request, filters) -> str:
    query = request.GET.copy()
    query.setlist("f", [f"{name}:{value or ''}" for name, value in filters])
    return query.urlencode()


def _clickable(request, name: str, rows, filters) -> list[dict]:
    """Ranked rows, each with the link that adds its value to the page's filters."""
    return [
        {
            "row": row,
            "href": _with_filters(request, (*filters, (name, row.value))) if (name, row.value) not in filters else None,
        }
        for row in rows
    ]


def _chips(request, filters) -> list[dict]:
    return [
        {
            "label": FILTERABLE[name],
            "value": value,
            "token": f"{name}:{value or ''}",
            "remove": _with_filters(request, [f for f in filters if f != (name, value)]),
        }
        for name, value in filters
    ]


def _page_window(request, app) -> tuple[str, Window, str | None]:
    """The window the app page shows for this request: its range and its filters."""
    preset, window, error = _range(request, ZoneInfo(app.timezone), timezone.now())
    return preset, dataclasses.replace(window, filters=_filters(request)), error


@reader_required
def app_goals(request, app_id):
    app = _visible_app(request, app_id)
    if not dashboard_allows(request.user, "goals.manage", app):
        return _forbidden(request, "goals.manage")
    return goals.goals_change(request, app)


@reader_required
def app_export(request, app_id):
    """The events behind the app page as it is filtered, as CSV: the report API's export, streamed."""
    app = _visible_app(request, app_id)
    if not dashboard_allows(request.user, "export", app):
        return _forbidden(request, "export")
    _, window, _ = _page_window(request, app)
    rows = export.events_export(app_id=app.pk, window=window, event=None)
    response = StreamingHttpResponse(export.csv_lines(export.HEADER, rows), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="events-{window.first_day}-{window.last_day}.csv"'
    return response


@reader_required
def app_detail(request, app_id):
    app = _visible_app(request, app_id)
    allowed = {
        "may_export": dashboard_allows(request.user, "export", app),
        "may_manage_goals": dashboard_allows(request.user, "goals.manage", app),
    }
    return render(request, "dashboard/app_detail.html", {**app_page_context(request, app), **allowed})


def app_page_context(request, app) -> dict:
    """Everything the app page shows for this request's range and filters (also behind a shared link)."""
    now = timezone.now()
    preset, window, error = _page_window(request, app)
    filters = window.filters
    previous = _previous(window, now)
    totals = summary.event_summary(app_id=app.pk, window=window, event=None)
    interval = chart_interval(window.first_day, window.last_day)

    def points(span: Window) -> list[tuple[str, int]]:
        timeline = series.timeseries(app_id=app.pk, window=span, event=None, interval=interval)
        return [(_chart_label(point.t, interval), point.count) for point in timeline.points]

    return {
        "app": app,
        "waiting": not live.has_events(app.pk),  # a new app: how to send the first event, above zeros
        "origin": request.build_absolute_uri("/").rstrip("/"),
        "window": window,
        "export_query": request.GET.urlencode(),
        "preset": preset,
        "presets": _preset_links(request, preset),
        "error": error,
        "summary": totals,
        **_comparison(app, window, previous, totals),
        "live": live.live(app_id=app.pk, now=now),
        "interval": interval,
        "chart": line_chart(points(window), previous=points(previous) if previous else ()),
        "filters": _chips(request, filters),
        "top_pages": _clickable(
            request, "path", rankings.top_pages(app_id=app.pk, window=window, event=goals.PAGEVIEW, limit=10), filters
        ),
        "top_referrers": _clickable(
            request, "referrer", rankings.top_referrers(app_id=app.pk, window=window, event=None, limit=10), filters
        ),
        "breakdowns": [
            (
                title,
                _clickable(
                    request,
                    by,
                    rankings.breakdown(app_id=app.pk, window=window, event=None, by=by, limit=10).values,
                    filters,
                ),
            )
            for by, title in BREAKDOWNS
        ],
        "event_names": [row.value for row in totals.event_breakdown or []],
        "goals": goals.goal_figures(app, window, totals.unique_users),
        "goal_kinds": Goal.Kind.choices,
        **_funnel_section(request, app, window),
        **_retention_section(request, app, window),
    }


def _funnel_section(request, app, window) -> dict:
    names = [name.strip() for name in request.GET.get("funnel", "").split(",") if name.strip()]
    try:
        window_days = min(max(int(request.GET.get("funnelDays", "14")), 1), 365)
    except ValueError:
        window_days = 14
    section = {"funnel_steps": ", ".join(names), "funnel_days": window_days, "funnel": None, "funnel_error": None}
    if not names:
        return section
    if not 2 <= len(names) <= 10:
        return {**section, "funnel_error": "A funnel has 2 to 10 steps, separated by commas."}
    section["funnel"] = funnels.funnel(
        app_id=app.pk,
        window=window,
        steps=[funnels.FunnelStep(event=name[:200]) for name in names],
        window_seconds=window_days * 86400,
    )
    return section


def _retention_section(request, app, window) -> dict:
    period = request.GET.get("period", "week")
    period = period if period in PERIODS else "week"
    cohort_event = request.GET.get("cohortEvent", "").strip()[:200] or None
    return_event = request.GET.get("returnEvent", "").strip()[:200] or None
    cohorts = retention.retention(
        app_id=app.pk, window=window, cohort_event=cohort_event, return_event=return_event, period=period, periods=8
    )
    return {
        "retention": cohorts,
        "retention_columns": list(range(cohorts.periods + 1)),
        "cohort_event": cohort_event or "",
        "return_event": return_event or "",
        "period": period,
    }


@reader_required
def app_live(request, app_id):
    """The live view: what the WebSocket (/ws/live) sends, rendered once as the page loads, then kept
    up to date by the socket."""
    app = _visible_app(request, app_id)
    return render(
        request, "dashboard/live.html", {"app": app, "now": live.now_figures(app_id=app.pk, now=timezone.now())}
    )
