"""The app page's presets, comparison with the period before and chart, against figures counted here."""

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from reports.periods import PRESETS
from reports.tests.conftest import may_read_events
from reports.tests.pages import whole_page
from reports.tests.test_dashboard import ingest


@pytest.fixture
def analytics_store():
    """The pages run the reports the report tests check on both stores; here, what the page makes of them."""
    return "django"


@pytest.fixture
def page_of(client, db, registered):
    client.force_login(may_read_events(User.objects.create_user("analyst", password="pw-for-tests", is_staff=True)))
    registered.app.operators.add(User.objects.get(username="analyst"))
    return lambda query="": whole_page(client, f"/dashboard/apps/{registered.app.pk}/?{query}")


def figure(page: str, testid: str) -> str:
    return re.search(rf'data-testid="{testid}"[^>]*>([^<]*)<', page).group(1).strip()


def sent(registered, moments_and_users):
    ingest(
        registered,
        [{"event": "view", "userId": user, "timestamp": moment.isoformat()} for moment, user in moments_and_users],
    )


def test_today_yesterday_and_seven_days_count_their_own_days_and_compare_with_the_days_before(registered, page_of):
    now = timezone.now().astimezone(UTC)
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    today = [
        (midnight + timedelta(seconds=1), "a"),
        (midnight + timedelta(seconds=2), "b"),
        (midnight + timedelta(seconds=3), "a"),
    ]
    yesterday = [(midnight - timedelta(hours=1), "a"), (midnight - timedelta(microseconds=1), "c")]
    earlier = [(midnight - timedelta(days=n, hours=3), f"u{n}") for n in range(1, 15)]  # one a day, 1 to 14 days back
    sent(registered, today + yesterday + earlier)
    everything = today + yesterday + earlier

    def oracle(first_day, last_day):
        inside = [(m, u) for m, u in everything if first_day <= m.date() <= last_day]
        return len(inside), len({u for _, u in inside})

    day = midnight.date()
    for preset, (first, last), (before_first, before_last) in [
        ("today", (day, day), (day - timedelta(days=1), day - timedelta(days=1))),
        ("yesterday", (day - timedelta(days=1),) * 2, (day - timedelta(days=2),) * 2),
        ("7d", (day - timedelta(days=6), day), (day - timedelta(days=13), day - timedelta(days=7))),
    ]:
        page = page_of(f"range={preset}")
        events, users = oracle(first, last)
        previous_events, previous_users = oracle(before_first, before_last)
        assert (figure(page, "total-events"), figure(page, "unique-users")) == (str(events), str(users)), preset
        assert f"against {previous_events} events and {previous_users} users" in page, preset
        expected = round((events - previous_events) / previous_events * 100)
        assert figure(page, "events-change") == (
            f"+{expected}%" if expected > 0 else f"\u2212{-expected}%" if expected else "0%"
        )
        assert f'aria-current="page">{PRESETS[preset]}<' in page


def test_a_short_range_is_charted_by_the_hour_with_the_day_before_dashed(registered, page_of):
    page = page_of("range=today")
    assert 'data-interval="hour"' in page and 'data-testid="previous-line"' in page
    assert len(re.findall(r'<circle class="point"', page)) == 24  # UTC: no daylight-saving day
    assert len(re.findall(r'class="gridline"', page)) == 1  # nothing yet: the zero line alone
    assert 'data-interval="month"' in page_of("range=12mo") and 'data-interval="day"' in page_of("range=30d")


def test_custom_dates_override_the_preset_and_a_bad_date_falls_back_with_a_message(page_of):
    page = page_of("range=7d&startDate=2024-02-01&endDate=2024-02-29")
    assert "2024-01-03 to 2024-01-31" in page  # the 29 days before
    assert 'aria-current="page"' not in page
    page = page_of("startDate=2024-02-31")
    assert "Dates must look like 2026-01-31." in page and f'aria-current="page">{PRESETS["30d"]}<' in page


def test_the_presets_keep_the_funnel_and_retention_choices(page_of):
    page = page_of("funnel=view,buy&period=month&startDate=2024-02-01&endDate=2024-02-29")
    link = re.search(r'<a href="\?([^"]*range=today[^"]*)"', page).group(1)
    assert "funnel=view%2Cbuy" in link and "period=month" in link and "startDate" not in link


def test_a_funnel_median_time_reads_in_minutes_with_the_seconds_on_hover(registered, page_of):
    start = datetime.now(UTC) - timedelta(hours=2)
    ingest(
        registered,
        [
            {"event": "view", "userId": "a", "timestamp": start.isoformat()},
            {"event": "buy", "userId": "a", "timestamp": (start + timedelta(seconds=359)).isoformat()},
        ],
    )
    page = page_of("funnel=view,buy&funnelDays=1")
    assert re.search(r'<td class="n" title="359 s">6 min</td>', page)


def test_clicking_a_referrer_filters_every_panel_and_the_chip_removes_it(registered, page_of):
    now = timezone.now() - timedelta(hours=1)
    ingest(
        registered,
        [
            {
                "event": "pageview",
                "userId": "a",
                "url": "https://s.example/pricing",
                "referrer": "https://news.example/x",
                "timestamp": now.isoformat(),
            },
            {
                "event": "pageview",
                "userId": "b",
                "url": "https://s.example/docs",
                "referrer": "https://news.example/y",
                "timestamp": now.isoformat(),
            },
            {"event": "pageview", "userId": "c", "url": "https://s.example/pricing", "timestamp": now.isoformat()},
        ],
    )
    page = page_of()
    link = re.search(r'<a href="\?([^"]*)" title="Show only this">news\.example</a>', page).group(1)
    assert "f=referrer%3Anews.example" in link

    filtered = page_of(link)
    assert (figure(filtered, "total-events"), figure(filtered, "unique-users")) == ("2", "2")
    top_pages = re.search(r'data-panel="pages">(.*?)</table>', filtered, re.S).group(1)
    pages = re.findall(r'title="Show only this">(/\w+)</a></td><td class="n">(\d+)<', top_pages)
    assert sorted(pages) == [("/docs", "1"), ("/pricing", "1")]
    assert figure(filtered, "visits") == "2"  # the visits panel too
    assert 'data-testid="filters"' in filtered and "Referrer is news.example" in filtered
    # The filtered value itself is no longer a link; the chip's remove link goes back to the whole page.
    assert 'title="Show only this">news.example<' not in filtered
    remove = re.search(r'<a href="\?([^"]*)" aria-label="Remove the filter Referrer">', filtered).group(1)
    assert figure(page_of(remove), "total-events") == "3"


def test_the_unknown_value_filters_too_and_a_filter_on_something_else_is_ignored(registered, page_of):
    now = timezone.now() - timedelta(hours=1)
    ingest(
        registered,
        [
            {"event": "view", "userId": "a", "referrer": "https://news.example/", "timestamp": now.isoformat()},
            {"event": "view", "userId": "b", "timestamp": now.isoformat()},
        ],
    )
    assert figure(page_of("f=referrer:"), "total-events") == "1"
    assert "Referrer is (unknown)" in page_of("f=referrer:")
    assert figure(page_of("f=metadata.plan:pro&f=nonsense"), "total-events") == "2"


def test_a_new_app_shows_the_tracker_snippet_until_its_first_event(registered, page_of):
    page = page_of()
    assert 'data-testid="empty-state"' in page
    assert '&lt;script defer src="http://testserver/t.js" data-key="pk_…"&gt;' in page
    ingest(registered, [{"event": "first", "userId": "a"}])
    assert 'data-testid="empty-state"' not in page_of()


def test_export_downloads_the_events_of_the_page_as_filtered(registered, client, page_of):
    now = timezone.now() - timedelta(hours=1)
    ingest(
        registered,
        [
            {
                "event": "view",
                "userId": "a",
                "url": "https://s.example/pricing",
                "country": "DE",
                "timestamp": now.isoformat(),
            },
            {"event": "view", "userId": "b", "url": "https://s.example/docs", "timestamp": now.isoformat()},
            {
                "event": "old",
                "userId": "c",
                "url": "https://s.example/pricing",
                "timestamp": (now - timedelta(days=40)).isoformat(),
            },
        ],
    )
    page = page_of("f=path:/pricing")
    href = re.search(r'data-testid="export" href="([^"]*)"', page).group(1).replace("&amp;", "&")
    response = client.get(href)
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert 'filename="events-' in response["Content-Disposition"]
    lines = b"".join(response.streaming_content).decode().splitlines()
    assert len(lines) == 2 and "view" in lines[1] and "/pricing" in lines[1]  # the header, then the one event
    everything = b"".join(client.get(href.split("?")[0] + "?range=12mo").streaming_content).decode().splitlines()
    assert len(everything) == 4


def test_export_needs_what_the_page_needs(registered, client, db):
    client.force_login(User.objects.create_user("clerk", password="pw-for-tests", is_staff=True))
    assert client.get(f"/dashboard/apps/{registered.app.pk}/export.csv").status_code == 403


def test_goals_count_converted_visitors_against_all_visitors_and_can_be_removed(registered, client, page_of):
    now = (timezone.now() - timedelta(hours=1)).isoformat()
    ingest(
        registered,
        [
            {"event": "pageview", "userId": "a", "url": "https://s.example/pricing", "timestamp": now},
            {"event": "pageview", "userId": "a", "url": "https://s.example/thanks", "timestamp": now},
            {"event": "pageview", "userId": "a", "url": "https://s.example/thanks", "timestamp": now},
            {"event": "signup", "userId": "b", "url": "https://s.example/join", "timestamp": now},
            {"event": "pageview", "userId": "c", "url": "https://s.example/", "timestamp": now},
            {"event": "pageview", "userId": "d", "url": "https://s.example/", "timestamp": now},
        ],
    )
    page_of()  # logs in
    goals = f"/dashboard/apps/{registered.app.pk}/goals"
    assert client.post(goals, {"kind": "page", "value": "thanks", "query": "range=7d"})["Location"].endswith(
        "/?range=7d"
    )
    client.post(goals, {"kind": "event", "value": "signup", "query": "https://evil.example/"})
    client.post(goals, {"kind": "event", "value": "signup"})  # again: still one goal
    assert client.post(goals, {"kind": "banana", "value": "x"}).status_code == 302

    page = page_of("range=7d")
    rows = re.findall(
        r"<tr><td>(page view /thanks|event signup)</td><td class=\"n\">(\d+)</td><td class=\"n\">(\d+)</td>\s*"
        r"<td class=\"n\" data-testid=\"goal-conversion\">([\d.]+%)</td>",
        page,
    )
    assert rows == [("page view /thanks", "1", "2", "25%"), ("event signup", "1", "1", "25%")]  # of 4 visitors
    filtered = page_of("range=7d&f=path:/thanks")  # a filter narrows the goals too: a is the one visitor
    assert '<td class="n" data-testid="goal-conversion">100%</td>' in filtered

    goal_id = registered.app.goals.get(kind="event").pk
    client.post(goals, {"remove": goal_id})
    assert list(registered.app.goals.values_list("value", flat=True)) == ["/thanks"]
    assert client.post(goals, {"remove": 999_999}).status_code == 404
    assert client.get(goals).status_code == 405
