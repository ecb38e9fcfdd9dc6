import io
from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import CommandError, call_command
from django.db.models import Count, Min

from events.models import Event
from events.tests.conftest import make_event
from reports.cache import app_generation


def run(*args) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


@pytest.fixture
def dated_events(collect, other_app):
    """Events on 2025-01-01..05 at noon UTC in the registered app, and the same days in another app."""
    days = [datetime(2025, 1, day, 12, tzinfo=UTC) for day in range(1, 6)]
    collect({"events": [make_event(event=f"d{d.day}", timestamp=d.isoformat()) for d in days]})
    collect(
        {"events": [make_event(event=f"o{d.day}", timestamp=d.isoformat()) for d in days]}, key=other_app.secret_key.raw
    )
    return days


def test_purge_without_yes_changes_nothing(dated_events):
    output = run("purge_events", "--before", "2025-01-03")
    assert "would delete 4 events" in output  # two days in each of two apps
    assert Event.objects.count() == 10


def test_purge_with_yes_deletes_exactly_the_rows_before_the_date(dated_events, registered):
    run("purge_events", "--before", "2025-01-03", "--app", "Acme web", "--yes", "--batch-size", "1")
    mine = set(Event.objects.filter(app=registered.app).values_list("name", flat=True))
    assert mine == {"d3", "d4", "d5"}
    assert Event.objects.exclude(app=registered.app).count() == 5


def test_purge_accepts_a_datetime_and_invalidates_the_apps_reports(dated_events, registered, other_app):
    mine, theirs = app_generation(registered.app.id), app_generation(other_app.app.id)
    run("purge_events", "--before", "2025-01-02T12:00:00+00:00", "--app", str(registered.app.id), "--yes")
    assert set(Event.objects.filter(app=registered.app).values_list("name", flat=True)) == {"d2", "d3", "d4", "d5"}
    assert app_generation(registered.app.id) != mine
    assert app_generation(other_app.app.id) == theirs


def test_purge_refuses_a_bad_date(db):
    with pytest.raises(CommandError, match="not a date"):
        run("purge_events", "--before", "last tuesday")


def test_seed_demo_makes_a_partially_converting_funnel_and_decaying_retention(db):
    output = run("seed_demo", "--events", "6000", "--days", "60", "--seed", "3")
    assert "stored 6,000 events" in output
    events = Event.objects.all()
    users_per_step = [
        events.filter(name=step).values("anonymous_id").distinct().count()
        for step in ["view_pricing", "signup_started", "signup_completed", "purchase"]
    ]
    visitors = events.values("anonymous_id").distinct().count()
    assert visitors > users_per_step[0] > users_per_step[1] > users_per_step[2] > users_per_step[3] > 0
    # Share of visitors active again 1, 2, 3 weeks after their first visit falls week by week.
    first_seen = dict(events.values_list("anonymous_id").annotate(first=Min("timestamp")))
    active_in_week = [set() for _ in range(4)]
    for anonymous_id, moment in events.values_list("anonymous_id", "timestamp"):
        week = (moment - first_seen[anonymous_id]) // timedelta(weeks=1)
        if week < 4:
            active_in_week[week].add(anonymous_id)
    shares = [len(active) / visitors for active in active_in_week]
    assert shares[0] == 1 and shares[0] > shares[1] > shares[2] > shares[3] > 0
    assert events.values("device_type").annotate(n=Count("id")).count() >= 3
