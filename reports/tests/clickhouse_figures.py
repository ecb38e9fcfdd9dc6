"""Every ClickHouse report over one set of events, and what each must say, computed from the events
as sent (not from a store): shared by the replay and the two-shard tests."""

import uuid
from collections import Counter
from datetime import timedelta
from zoneinfo import ZoneInfo

from reports.params import report_window
from reports.queries import active_users, export, funnels, journeys, live, rankings, retention, series, summary, visits
from reports.tests.conftest import iso

EVENTS = 10_000
USERS = 100
PAGES = ("/", "/pricing", "/docs", "/blog", "/signup")


def sent_events(now) -> list[dict]:
    # All within the last 25 minutes, so that live counts them too; each user alternates a and b.
    return [
        {
            "event": "a" if n // USERS % 2 == 0 else "b",
            "eventId": str(uuid.uuid4()),
            "userId": f"user{n % USERS}",
            "url": f"https://shop.example{PAGES[n % len(PAGES)]}",
            "timestamp": iso(now - timedelta(minutes=25) + timedelta(milliseconds=100 * n)),
            "metadata": {"plan": "pro" if n % 3 else "free"},
        }
        for n in range(EVENTS)
    ]


def figures(app, now) -> dict:
    window = report_window(start=None, end=None, tz=ZoneInfo(app.timezone), now=now)
    scope = {"app_id": app.id, "window": window, "event": None}
    event_summary = summary.event_summary(**scope)
    by_plan = rankings.breakdown(**scope, by="metadata.plan", limit=10)
    pages = rankings.top_pages(**scope, limit=10)
    funnel = funnels.funnel(
        app_id=app.id,
        window=window,
        steps=[funnels.FunnelStep("a"), funnels.FunnelStep("b")],
        window_seconds=3600,
    )
    cohorts = retention.retention(
        app_id=app.id, window=window, cohort_event=None, return_event=None, period="day", periods=1, now=now
    )
    user = summary.user_stats(app_id=app.id, distinct_id="user7")
    journey = journeys.journey(app_id=app.id, distinct_id="user7", cursor=None, limit=1000)
    web = visits.web_stats(app_id=app.id, window=window)
    return {
        "summary": (event_summary.count, event_summary.unique_users),
        "daily": sum(day.count for day in series.daily_stats(**scope)),
        "hourly": sum(point.count for point in series.timeseries(**scope, interval="hour").points),
        "pages": {page.value: page.count for page in pages},
        "plans": {value.value: value.count for value in by_plan.values},
        "active": active_users.active_users(**scope).dau,
        "funnel": [step.count for step in funnel.steps],
        "retention": sum(cohort.size for cohort in cohorts.cohorts),
        "user": user.total_events,
        "journey": sum(session.event_count for session in journey.sessions),
        "visits": (web.visits, web.visitors),
        "live": live.live(app_id=app.id, now=now).total_events,
        "export": sum(1 for _ in export.events_export(**scope)),
        "recent": live.recent_activity(app_ids=[app.id], now=now)[app.id]["last_24h"],
    }


def expected_figures() -> dict:
    return {
        "summary": (EVENTS, USERS),
        "daily": EVENTS,
        "hourly": EVENTS,
        "pages": dict(Counter(PAGES[n % len(PAGES)] for n in range(EVENTS))),
        "plans": dict(Counter("pro" if n % 3 else "free" for n in range(EVENTS))),
        "active": USERS,
        "funnel": [USERS, USERS],
        "retention": USERS,
        "user": EVENTS // USERS,
        "journey": EVENTS // USERS,
        "visits": (USERS, USERS),  # each user's events 10 s apart: one visit each
        "live": EVENTS,
        "export": EVENTS,
        "recent": EVENTS,
    }
