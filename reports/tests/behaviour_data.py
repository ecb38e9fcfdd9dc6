"""What the behavioural reports' oracle tests share (test_funnels, test_retention, test_journeys,
test_live): the reports called with a range spelled [start, end) in a named zone, and events stored in
the real database with bulk_create. Every figure those tests check is recomputed in plain Python from
the generated list, by a deliberately naive walk over each user's events.
"""

import uuid
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from apikeys.services import app_register
from events.models import Event
from reports.params import Window
from reports.queries import funnels, journeys, live, retention
from reports.queries.funnels import Funnel
from reports.queries.journeys import Journey
from reports.queries.retention import Retention

DAY = timedelta(days=1)
HOUR = timedelta(hours=1)
SECOND = timedelta(seconds=1)
MICROSECOND = timedelta(microseconds=1)
STREAM_START = datetime(2024, 1, 1, tzinfo=UTC)  # the random streams' first day
T0 = datetime(2024, 2, 1, 10, 0, tzinfo=UTC)  # the hand-written streams' first moment


# The reports, called the way these tests spell a range: [start, end) in a named zone ------------


def run_funnel(*, app, start, end, **options) -> Funnel:
    return funnels.funnel(app_id=app.pk, window=Window(start, end, ZoneInfo("UTC")), **options)


def run_retention(*, app, start, end, tz, **options) -> Retention:
    return retention.retention(app_id=app.pk, window=Window(start, end, ZoneInfo(tz)), **options)


def run_journey(*, app, **options) -> Journey | None:
    return journeys.journey(app_id=app.pk, **options)


def run_live(*, app, now):
    return live.live(app_id=app.pk, now=now)


# Data helpers ------------------------------------------------------------------------------------


def make_app(name: str, tz: str = "UTC"):
    return app_register(name=name, owner_email=f"{name.replace(' ', '.')}@example.com", timezone_name=tz).app


def insert(app, rows: list[dict]) -> list[Event]:
    """Store rows in order (ids ascend with list order) and return the saved events, ids included."""
    events = Event.objects.bulk_create(
        [Event(app=app, event_id=uuid.uuid4(), metadata=row.pop("metadata", {}), **row) for row in rows]
    )
    assert all(event.pk for event in events)
    return events


def row(user: str, name: str, moment: datetime, **fields) -> dict:
    return {"distinct_id": user, "name": name, "timestamp": moment, **fields}


def by_user(events: list[Event], app) -> dict[str, list[Event]]:
    users = defaultdict(list)
    for event in sorted((e for e in events if e.app_id == app.pk), key=lambda e: (e.timestamp, e.pk)):
        users[event.distinct_id].append(event)
    return users


def ratio(numerator: int, denominator: int) -> float:
    return round(numerator / denominator, 4) if denominator else 0.0
