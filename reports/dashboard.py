"""The operators' dashboard: server-rendered pages over the same reports as the report API."""

from datetime import date
from functools import wraps
from zoneinfo import ZoneInfo

from django.contrib.admin.views.decorators import staff_member_required
from django.http import Http404
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.clickjacking import xframe_options_sameorigin

from apikeys.selectors import apps_visible_to
from reports.access import IsSecretKeyOrStaff
from reports.calendar import PERIODS
from reports.charts import line_chart
from reports.params import WindowError, report_window
from reports.queries import funnels, live, rankings, retention, series, summary

BREAKDOWNS = [("device", "Devices"), ("browser", "Browsers"), ("country", "Countries")]


def operator_required(view):
    """Staff only (anyone else is sent to log in), holding the permission the report API asks of staff.

    The pages show the same events as the reports, so a staff member the admin would not let list
    events sees a 403 here too, not the figures.
    """
    permission = IsSecretKeyOrStaff.staff_permission

    @staff_member_required
    @wraps(view)
    def checked(request, *args, **kwargs):
        if not request.user.has_perm(permission):
            return render(request, "dashboard/forbidden.html", {"permission": permission}, status=403)
        return view(request, *args, **kwargs)

    return checked


def _visible_app(request, app_id):
    app = apps_visible_to(user=request.user).filter(pk=app_id).first()
    if app is None:
        raise Http404("No such app.")
    return app


def _date_param(request, name: str) -> date | None:
    value = request.GET.get(name, "").strip()
    return date.fromisoformat(value) if value else None


@operator_required
def app_list(request):
    apps = list(apps_visible_to(user=request.user).order_by("name"))
    activity = live.recent_activity(app_ids=[app.pk for app in apps], now=timezone.now())
    rows = [{"app": app, **activity[app.pk]} for app in apps]
    return render(request, "dashboard/app_list.html", {"rows": rows})


@operator_required
def app_detail(request, app_id):
    app = _visible_app(request, app_id)
    tz = ZoneInfo(app.timezone)
    error = None
    try:
        window = report_window(
            start=_date_param(request, "startDate"), end=_date_param(request, "endDate"), tz=tz, now=timezone.now()
        )
    except (ValueError, WindowError) as exc:
        error = getattr(exc, "message", None) or "Dates must look like 2026-01-31."
        window = report_window(start=None, end=None, tz=tz, now=timezone.now())
    totals = summary.event_summary(app_id=app.pk, window=window, event=None)
    days = series.daily_stats(app_id=app.pk, window=window, event=None)
    context = {
        "app": app,
        "window": window,
        "error": error,
        "summary": totals,
        "chart": line_chart([(day.date.isoformat(), day.count) for day in days]),
        "days": days,
        "top_pages": rankings.top_pages(app_id=app.pk, window=window, event=None, limit=10),
        "top_referrers": rankings.top_referrers(app_id=app.pk, window=window, event=None, limit=10),
        "breakdowns": [
            (title, rankings.breakdown(app_id=app.pk, window=window, event=None, by=by, limit=10).values)
            for by, title in BREAKDOWNS
        ],
        "event_names": [row.value for row in totals.event_breakdown or []],
        **_funnel_section(request, app, window),
        **_retention_section(request, app, window),
    }
    return render(request, "dashboard/app_detail.html", context)


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


@xframe_options_sameorigin  # framed by the app page; X_FRAME_OPTIONS=DENY would blank it
@operator_required
def app_live(request, app_id):
    """A small page the app page embeds in an iframe; it reloads itself every 5 seconds, no script needed."""
    app = _visible_app(request, app_id)
    return render(request, "dashboard/live.html", {"app": app, "live": live.live(app_id=app.pk, now=timezone.now())})
