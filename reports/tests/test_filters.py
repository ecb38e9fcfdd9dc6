"""Reports read through a filtered window (the dashboard's click-to-filter): every report that reads
the window counts only the events whose columns hold the filtered values, on every store; retention
finds its first and returning events among them."""

import dataclasses
import random
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from events.models import Event
from reports.params import Window
from reports.queries import rankings, retention, series, summary
from reports.tests.behaviour_data import insert, make_app, row

START = datetime(2024, 5, 1, tzinfo=UTC)
END = START + timedelta(days=7)


@pytest.fixture
def events(db):
    app, other = make_app("Filtered"), make_app("Filtered other")
    rng = random.Random(11)
    rows = [
        row(
            f"u{rng.randrange(30)}",
            rng.choice(["pageview", "signup"]),
            START + timedelta(minutes=rng.randrange(7 * 24 * 60)),
            path=rng.choice(["/", "/pricing", "/docs"]),
            referrer_host=rng.choice(["", "news.example", "search.example"]),
            country=rng.choice(["", "DE", "FR"]),
            browser=rng.choice(["Chrome", "Firefox"]),
        )
        for _ in range(600)
    ]
    rows.append(row("early", "pageview", START - timedelta(seconds=1), path="/pricing", country="DE"))
    stored = insert(app, rows)
    insert(other, [row("x", "pageview", START + timedelta(hours=1), path="/pricing", country="DE") for _ in range(50)])
    return app, [event for event in stored if START <= event.timestamp < END]


def window(*filters) -> Window:
    return Window(START, END, ZoneInfo("UTC"), filters=tuple(filters))


@pytest.mark.parametrize(
    "filters",
    [
        (("path", "/pricing"),),
        (("country", "DE"), ("referrer", "news.example")),
        (("referrer", None),),
        (("country", "XX"),),
    ],
)
def test_each_report_counts_only_the_filtered_events(events, filters):
    app, inside = events
    column = {"path": "path", "country": "country", "referrer": "referrer_host"}
    kept = [e for e in inside if all(getattr(e, column[name]) == (value or "") for name, value in filters)]

    got = summary.event_summary(app_id=app.pk, window=window(*filters), event=None)
    assert (got.count, got.unique_users) == (len(kept), len({e.distinct_id for e in kept}))
    pages = rankings.top_pages(app_id=app.pk, window=window(*filters), event=None, limit=10)
    expected_pages = {}
    for event in kept:
        expected_pages[event.path] = expected_pages.get(event.path, 0) + 1
    assert {ranked.value: ranked.count for ranked in pages} == expected_pages
    browsers = rankings.breakdown(app_id=app.pk, window=window(*filters), event=None, by="browser", limit=10)
    assert sum(value.count for value in browsers.values) == len(kept)
    days = series.timeseries(app_id=app.pk, window=window(*filters), event=None, interval="day")
    assert sum(point.count for point in days.points) == len(kept)


def test_a_filter_on_anything_but_an_event_column_is_refused(events):
    app, _ = events
    with pytest.raises(ValueError, match="event columns only"):
        summary.event_summary(app_id=app.pk, window=window(("metadata.plan", "pro")), event=None)


def test_the_filters_are_part_of_the_cache_key():
    plain, filtered = window(), window(("path", "/"))
    assert plain.key() != filtered.key() and "filters" not in plain.key()
    assert dataclasses.replace(filtered, filters=()) == plain


@pytest.mark.parametrize("cohort_event, return_event", [(None, None), ("signup", "pageview")])
@pytest.mark.parametrize("filters", [(("country", "DE"),), (("path", "/pricing"), ("referrer", None))])
def test_retention_finds_first_and_returning_events_among_the_filtered_ones_only(
    events, filters, cohort_event, return_event
):
    app, _ = events
    column = {"path": "path", "country": "country", "referrer": "referrer_host"}
    kept = [
        e
        for e in Event.objects.filter(app=app)
        if all(getattr(e, column[name]) == (value or "") for name, value in filters)
    ]
    firsts, returns = {}, defaultdict(set)
    for e in kept:
        if cohort_event in (None, e.name):
            firsts[e.distinct_id] = min(firsts.get(e.distinct_id, e.timestamp), e.timestamp)
        if return_event in (None, e.name):
            returns[e.distinct_id].add(e.timestamp.date())
    cohorts = defaultdict(list)
    for user, first in firsts.items():
        if START <= first < END:
            cohorts[first.date()].append(user)

    got = retention.retention(
        app_id=app.pk,
        window=window(*filters),
        cohort_event=cohort_event,
        return_event=return_event,
        period="day",
        periods=8,
        now=END + timedelta(days=30),
    )
    for cohort in got.cohorts:
        users = cohorts.get(cohort.start, [])
        assert cohort.size == len(users), cohort.start
        expected = [sum(cohort.start + timedelta(days=k) in returns[user] for user in users) for k in range(9)]
        assert [period.users for period in cohort.periods] == expected, cohort.start
    assert sum(cohort.size for cohort in got.cohorts) == sum(map(len, cohorts.values())) > 0
