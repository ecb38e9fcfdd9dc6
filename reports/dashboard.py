"""The operators' dashboard: server-rendered pages over the same selectors as the report API."""

from datetime import date, timedelta
from zoneinfo import ZoneInfo

from django.contrib.admin.views.decorators import staff_member_required
from django.db.models import Count, Q
from django.http import Http404
from django.shortcuts import render
from django.utils import timezone

from apikeys.selectors import apps_visible_to
from events.models import Event
from reports import selectors
from reports.charts import line_chart
from reports.params import WindowError, report_window

BREAKDOWNS = [("device", "Devices"), ("browser", "Browsers"), ("country", "Countries")]


def _visible_app(request, app_id):
    app = apps_visible_to(user=request.user).filter(pk=app_id).first()
    if app is None:
        raise Http404("No such app.")
    return app


def _date_param(request, name: str) -> date | None:
    value = request.GET.get(name, "").strip()
    return date.fromisoformat(value) if value else None


@staff_member_required
def app_list(request):
    apps = list(apps_visible_to(user=request.user).order_by("name"))
    now = timezone.now()
    counts = {
        row["app"]: row
        for row in Event.objects.filter(app__in=apps, timestamp__gte=now - timedelta(days=7), timestamp__lte=now)
        .values("app")
        .annotate(last_24h=Count("id", filter=Q(timestamp__gte=now - timedelta(hours=24))), last_7d=Count("id"))
    }
    rows = [
        {
            "app": app,
            "last_24h": counts.get(app.pk, {}).get("last_24h", 0),
            "last_7d": counts.get(app.pk, {}).get("last_7d", 0),
        }
        for app in apps
    ]
    return render(request, "dashboard/app_list.html", {"rows": rows})


@staff_member_required
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
    summary = selectors.event_summary(app_id=app.pk, window=window, event=None)
    days = selectors.daily_stats(app_id=app.pk, window=window, event=None)
    context = {
        "app": app,
        "window": window,
        "error": error,
        "summary": summary,
        "chart": line_chart([(day.date.isoformat(), day.count) for day in days]),
        "days": days,
        "top_pages": selectors.top_pages(app_id=app.pk, window=window, event=None, limit=10),
        "top_referrers": selectors.top_referrers(app_id=app.pk, window=window, event=None, limit=10),
        "breakdowns": [
            (title, selectors.breakdown(app_id=app.pk, window=window, event=None, by=by, limit=10).values)
            for by, title in BREAKDOWNS
        ],
    }
    return render(request, "dashboard/app_detail.html", context)
