"""Goals on the dashboard: each goal's converted visitors (persons) and completions in the page's window,
and its conversion rate, converted visitors over all the window's visitors."""

import dataclasses
from dataclasses import dataclass

from django.http import QueryDict
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.views.decorators.http import require_POST

from reports.models import Goal
from reports.params import Window
from reports.queries import summary
from reports.queries.base import ratio
from reports.queries.visits import PAGEVIEW


@dataclass(frozen=True)
class GoalFigures:
    goal: Goal
    visitors: int
    completions: int
    conversion: float


def goal_figures(app, window: Window, visitors: int) -> list[GoalFigures]:
    figures = []
    for goal in app.goals.all():
        if goal.kind == Goal.Kind.PAGE:
            narrowed, event = dataclasses.replace(window, filters=(*window.filters, ("path", goal.value))), PAGEVIEW
        else:
            narrowed, event = window, goal.value
        done = summary.event_summary(app_id=app.pk, window=narrowed, event=event)
        figures.append(GoalFigures(goal, done.unique_users, done.count, ratio(done.unique_users, visitors)))
    return figures


def goal_add(*, app, kind: str, value: str) -> Goal | None:
    value = value.strip()[:200]
    if kind not in Goal.Kind.values or not value:
        return None
    if kind == Goal.Kind.PAGE and not value.startswith("/"):
        value = "/" + value
    return Goal.objects.get_or_create(app=app, kind=kind, value=value)[0]


@require_POST
def goals_change(request, app):
    """Add (``kind``, ``value``) or remove (``remove=<id>``) one goal, then back to the app page with the
    range and filters it had (``query``, a query string: never another address)."""
    if request.POST.get("remove"):
        get_object_or_404(Goal, app=app, pk=request.POST["remove"]).delete()
    else:
        goal_add(app=app, kind=request.POST.get("kind", ""), value=request.POST.get("value", ""))
    query = QueryDict(request.POST.get("query", "")).urlencode()
    return redirect(reverse("dashboard:app-detail", args=[app.pk]) + (f"?{query}" if query else ""))
