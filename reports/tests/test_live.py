"""The live view: each UTC minute of the last half hour, empty minutes as zeros."""

import random
from datetime import UTC, datetime, timedelta

import pytest

from persons.models import Person, PersonDistinctId
from reports.queries.live import LiveMinute, now_figures
from reports.tests.behaviour_data import (
    MICROSECOND,
    SECOND,
    insert,
    make_app,
    row,
    run_live,
)

pytestmark = pytest.mark.django_db


# Live --------------------------------------------------------------------------------------------


def test_live_counts_each_utc_minute_of_the_last_half_hour_with_empty_minutes_as_zero():
    app, other = make_app("Live"), make_app("Live other")
    now = datetime(2024, 5, 1, 12, 34, 20, 500_000, tzinfo=UTC)
    first_minute = datetime(2024, 5, 1, 12, 5, tzinfo=UTC)
    rng = random.Random(5)
    quiet = {7, 8, 20}
    rows = [
        row(f"u{rng.randrange(12)}", "page_view", now - timedelta(seconds=rng.uniform(0, 40 * 60))) for _ in range(400)
    ]
    rows = [row for row in rows if (row["timestamp"].minute - 5) % 60 not in quiet]
    rows += [
        row("edge", "a", first_minute),  # the first bucket's first instant: in
        row("before", "a", first_minute - MICROSECOND),  # out
        row("now", "a", now),  # in
        row("future", "a", now + MICROSECOND),  # not live yet
        row("five", "a", now - timedelta(minutes=5)),  # counts as active in the last 5 minutes
        row("six", "a", now - timedelta(minutes=5) - MICROSECOND),  # does not
    ]
    events = insert(app, rows)
    insert(other, [row("intruder", "a", now - SECOND * n) for n in range(100)])

    got = run_live(app=app, now=now)
    window = [e for e in events if first_minute <= e.timestamp <= now]
    minutes = [first_minute + timedelta(minutes=n) for n in range(30)]
    expected = []
    for minute in minutes:
        inside = [e for e in window if minute <= e.timestamp < minute + timedelta(minutes=1)]
        expected.append(LiveMinute(minute, len(inside), len({e.distinct_id for e in inside})))
    assert got.minutes == expected
    assert [m.events for m in got.minutes if m.minute.minute - 5 in quiet] == [0, 0, 0]
    assert got.total_events == len(window)
    assert got.total_active_users == len({e.distinct_id for e in window})
    recent = {e.distinct_id for e in window if e.timestamp >= now - timedelta(minutes=5)}
    assert got.active_users_5m == len(recent)
    assert "five" in recent and "six" not in recent and "future" not in recent
    assert got.now == now


def test_live_for_an_app_with_no_recent_events_is_thirty_empty_minutes():
    app = make_app("Quiet")
    got = run_live(app=app, now=datetime(2024, 5, 1, 12, 0, tzinfo=UTC))
    assert len(got.minutes) == 30 and not any(m.events or m.active_users for m in got.minutes)
    assert got.minutes[0].minute == datetime(2024, 5, 1, 11, 31, tzinfo=UTC)
    assert (got.total_events, got.total_active_users, got.active_users_5m) == (0, 0, 0)


# Now: what the WebSocket's live view opens with ---------------------------------------------------


def test_now_counts_persons_and_their_pages_in_the_last_five_minutes_and_lists_the_latest_events():
    app, other = make_app("Now"), make_app("Now other")
    now = datetime(2024, 5, 1, 12, 34, 20, tzinfo=UTC)
    person = Person.objects.create(app=app, key="u_1", is_identified=True)
    for distinct_id in ("u_1", "anon_1"):  # one person, seen under two ids
        PersonDistinctId.objects.create(app=app, distinct_id=distinct_id, person=person, person_key="u_1")
    rows = [
        row("anon_1", "pageview", now - timedelta(minutes=4), path="/pricing", country="DE", ip="203.0.113.9"),
        row("u_1", "pageview", now - timedelta(minutes=1), path="/pricing", browser="Chrome"),
        row("u_2", "pageview", now - timedelta(minutes=2), path="/docs", device_type="mobile"),
        row("u_2", "signup", now - SECOND, path="/docs"),
        row("u_3", "pageview", now - timedelta(minutes=5), path="/pricing"),  # the window's first instant
        row("u_4", "pageview", now - timedelta(minutes=5) - MICROSECOND, path="/gone"),  # before it
        row("u_5", "pageview", now + SECOND, path="/future"),  # not yet
        row("u_6", "beacon", now - timedelta(minutes=3)),  # no path: a visitor, not a page
    ]
    insert(app, rows)
    insert(other, [row("intruder", "pageview", now - SECOND * n, path="/pricing") for n in range(30)])

    got = now_figures(app_id=app.pk, now=now)
    assert got.visitors == 4  # the person of u_1 and anon_1, u_2, u_3, u_6
    assert got.pages == [("/pricing", 2), ("/docs", 1)]
    expected = sorted(
        (r for r in rows if now - timedelta(minutes=30) <= r["timestamp"] <= now), key=lambda r: r["timestamp"]
    )
    assert [event["name"] for event in got.latest] == [r["name"] for r in reversed(expected)]
    assert got.latest[0] == {
        "name": "signup",
        "timestamp": "2024-05-01T12:34:19Z",
        "path": "/docs",
        "referrerHost": "",
        "country": "",
        "deviceType": "",
        "browser": "",
        "source": "api",
    }
    assert [event["country"] for event in got.latest if event["country"]] == ["DE"]
    assert all(set(event) == set(got.latest[0]) for event in got.latest)  # no IP, user agent or URL


def test_now_lists_at_most_the_latest_twenty_events_and_is_empty_for_a_quiet_app():
    app = make_app("Busy")
    now = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    insert(app, [row(f"u{n}", f"e{n:02}", now - SECOND * n) for n in range(25)])
    assert [event["name"] for event in now_figures(app_id=app.pk, now=now).latest] == [f"e{n:02}" for n in range(20)]
    quiet = now_figures(app_id=make_app("Quiet now").pk, now=now)
    assert (quiet.visitors, quiet.pages, quiet.latest) == (0, [], [])
