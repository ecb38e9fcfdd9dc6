"""The live view: each UTC minute of the last half hour, empty minutes as zeros."""

import random
from datetime import UTC, datetime, timedelta

import pytest

from reports.queries.live import LiveMinute
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
