"""The operators' dashboard: server-rendered pages over the same reports as the report API."""

from functools import wraps

from django.contrib.admin.views.decorators import staff_member_required
from django.http import Http404, StreamingHttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone

from apikeys.selectors import apps_visible_to
from reports import goals
from reports.access import IsSecretKeyOrStaff
from reports.panels import FILTERABLE, PANELS, PageRequest, panel_html, render_panel, with_filters
from reports.periods import PRESETS
from reports.queries import export, live

INLINE = "inline"  # ?inline=1: the page with its panels in place, for a browser without JavaScript


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


@operator_required
def app_list(request):
    apps = list(apps_visible_to(user=request.user).order_by("name"))
    activity = live.recent_activity(app_ids=[app.pk for app in apps], now=timezone.now())
    rows = [{"app": app, **activity[app.pk]} for app in apps]
    return render(request, "dashboard/app_list.html", {"rows": rows})


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


def _chips(request, filters) -> list[dict]:
    return [
        {
            "label": FILTERABLE[name],
            "value": value,
            "token": f"{name}:{value or ''}",
            "remove": with_filters(request, [f for f in filters if f != (name, value)]),
        }
        for name, value in filters
    ]


@operator_required
def app_goals(request, app_id):
    return goals.goals_change(request, _visible_app(request, app_id))


@operator_required
def app_export(request, app_id):
    """The events behind the app page as it is filtered, as CSV: the report API's export, streamed."""
    app = _visible_app(request, app_id)
    window = PageRequest.of(request, app).window
    rows = export.events_export(app_id=app.pk, window=window, event=None)
    response = StreamingHttpResponse(export.csv_lines(export.HEADER, rows), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="events-{window.first_day}-{window.last_day}.csv"'
    return response


@operator_required
def app_detail(request, app_id):
    app = _visible_app(request, app_id)
    context = app_page_context(request, app, panel_url=lambda name: reverse("dashboard:app-panel", args=[app.pk, name]))
    return render(request, "dashboard/app_detail.html", context)


def app_page_context(request, app, *, panel_url, shared: bool = False) -> dict:
    """The app page's shell for this request's range and filters (also behind a shared link): the choices
    at the top, and where the browser fetches each panel (``panel_url(name)``, with the page's query)."""
    page = PageRequest.of(request, app)
    query = request.GET.urlencode()
    inline = request.GET.get(INLINE) == "1"
    return {
        "app": app,
        "waiting": not live.has_events(app.pk),  # a new app: how to send the first event, above zeros
        "origin": request.build_absolute_uri("/").rstrip("/"),
        "window": page.window,
        "export_query": query,
        "preset": page.preset,
        "presets": _preset_links(request, page.preset),
        "error": page.error,
        "filters": _chips(request, page.filters),
        "panels": [
            {
                "name": panel.name,
                "wide": panel.wide,
                "src": panel_url(panel.name) + (f"?{query}" if query else ""),
                # Without JavaScript (the <noscript> link): every panel in this one response, as it waits.
                "html": panel_html(request, app, panel.name, shared=shared) if inline else None,
            }
            for panel in PANELS.values()
        ],
        "inline_query": with_inline(request),
    }


def with_inline(request) -> str:
    query = request.GET.copy()
    query[INLINE] = "1"
    return query.urlencode()


@operator_required
def app_panel(request, app_id, name):
    return render_panel(request, _visible_app(request, app_id), name)


@operator_required
def app_live(request, app_id):
    """The live view: what the WebSocket (/ws/live) sends, rendered once as the page loads, then kept
    up to date by the socket."""
    app = _visible_app(request, app_id)
    return render(
        request, "dashboard/live.html", {"app": app, "now": live.now_figures(app_id=app.pk, now=timezone.now())}
    )
