"""Web statistics against an independent oracle, on every store: generated visitors whose events are
apart by less than, exactly and more than 30 minutes, some with session ids that hold a visit together
across any gap, anonymous visitors who sign in mid-visit (one person), page views without a path,
events at the window's local edges, and the same ids in another app, which must not count. Every figure
is recomputed here in plain Python from the events as sent."""

import dataclasses
import random
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest

from apikeys import services
from reports.params import report_window
from reports.queries import visits

ZONE = ZoneInfo("America/New_York")  # clocks spring forward on 2024-03-10, inside the range
FIRST_DAY, LAST_DAY = date(2024, 3, 8), date(2024, 3, 12)
RANGE = {"startDate": FIRST_DAY.isoformat(), "endDate": LAST_DAY.isoformat()}
GAP = timedelta(minutes=30)
PATHS = ["/", "/pricing", "/docs", "/blog", "/signup", "/about"]
# Gaps between a visitor's events: under, exactly at and over the 30 minutes that end a visit.
GAPS = [
    timedelta(seconds=20),
    timedelta(minutes=4),
    timedelta(minutes=29, seconds=59),
    GAP,
    GAP + timedelta(milliseconds=1),
    timedelta(minutes=45),
    timedelta(hours=5),
]


@dataclass(frozen=True)
class Sent:
    person: str  # who the oracle takes the event's person to be
    name: str
    moment: datetime
    path: str = ""
    session: str = ""
    user_id: str = ""
    anonymous_id: str = ""

    def body(self) -> dict:
        body = {"event": self.name, "eventId": str(uuid.uuid4()), "timestamp": self.moment.isoformat()}
        if self.path:
            body["url"] = f"https://shop.example{self.path}"
        for field, value in (("sessionId", self.session), ("userId", self.user_id), ("anonymousId", self.anonymous_id)):
            if value:
                body[field] = value
        return body


def _local(day: date, clock: time) -> datetime:
    return datetime.combine(day, clock, tzinfo=ZONE).astimezone(UTC)


def _generate(seed: int) -> list[Sent]:
    rng = random.Random(seed)
    sent = []
    for number in range(30):
        kind = ("user", "anonymous", "sessions", "signs in")[number % 4]
        person, anonymous = f"user{number}", f"anon{number}"
        moment = _local(FIRST_DAY, time(0)) + timedelta(seconds=rng.randrange(4 * 86400))
        session = f"s{number}-0"
        for index in range(rng.randrange(1, 25)):
            if index:
                gap = rng.choice(GAPS)
                moment += gap
                if kind == "sessions" and gap > timedelta(hours=1):
                    session = f"s{number}-{index}"  # a new session id; shorter gaps, even over 30 min, stay in one
            name = rng.choices(["pageview", "click", "signup"], weights=[70, 20, 10])[0]
            path = rng.choice([*PATHS, ""]) if name == "pageview" or rng.random() < 0.5 else ""
            ids = {"user_id": person}
            if kind == "anonymous":
                ids = {"anonymous_id": person}
            elif kind == "signs in":
                # Anonymous at first, then identify links the two ids: one person, one timeline.
                ids = {"anonymous_id": anonymous} if index < 3 else {"user_id": person}
                if index == 3:
                    sent.append(
                        Sent(person, "identify", moment - timedelta(seconds=1), user_id=person, anonymous_id=anonymous)
                    )
            has_session = kind == "sessions" or (kind == "user" and rng.random() < 0.3)
            sent.append(Sent(person, name, moment, path, session if has_session else "", **ids))
    # At the window's local edges: outside (23:59:59 before, 00:00:00 after) and just inside.
    for moment in (
        _local(FIRST_DAY, time(0)) - timedelta(seconds=1),
        _local(FIRST_DAY, time(0)),
        _local(LAST_DAY + timedelta(days=1), time(0)) - timedelta(seconds=1),
        _local(LAST_DAY + timedelta(days=1), time(0)),
    ):
        sent.append(Sent("edge", "pageview", moment, "/edge", user_id="edge"))
    return sent


def _inside(sent: list[Sent], start: datetime, end: datetime) -> list[Sent]:
    return [event for event in sent if start <= event.moment < end]


def _ratio(numerator: int, denominator: int) -> float:
    return round(numerator / denominator, 4) if denominator else 0.0


def _pages(visit_list: list[list[Sent]], pick, limit: int) -> list[tuple]:
    by_page = defaultdict(list)
    for visit in visit_list:
        views = [event for event in visit if event.name == "pageview"]
        if views:
            by_page[pick(views).path or None].append(visit[0].person)
    ranked = sorted(by_page.items(), key=lambda item: (-len(item[1]), item[0] is None, item[0] or ""))
    return [(page, len(people), len(set(people))) for page, people in ranked[:limit]]


def _visits(events: list[Sent]) -> list[list[Sent]]:
    """Each person's events of one session id are a visit; those without one, cut at gaps over 30 minutes."""
    timelines = defaultdict(list)
    for event in events:
        timelines[event.person, event.session].append(event)
    visit_list = []
    for (_, session), timeline in timelines.items():
        timeline.sort(key=lambda event: event.moment)
        visit_list.append([timeline[0]])
        for previous, event in pairwise(timeline):
            if not session and event.moment - previous.moment > GAP:
                visit_list.append([])
            visit_list[-1].append(event)
    return visit_list


def oracle(events: list[Sent], limit: int = 10) -> dict:
    """The figures, from the window's events, by the rules written out plainly."""
    visit_list = _visits(events)
    views = sum(event.name == "pageview" for event in events)
    bounces = sum(len(visit) == 1 and visit[0].name == "pageview" for visit in visit_list)
    microseconds = sum((visit[-1].moment - visit[0].moment) // timedelta(microseconds=1) for visit in visit_list)
    views_of = defaultdict(int)
    for event in events:
        if event.name == "pageview":
            views_of[event.path] += 1
    return {
        "visits": len(visit_list),
        "visitors": len({event.person for event in events}),
        "pageViews": views,
        "viewsPerVisit": _ratio(views, len(visit_list)),
        "bounces": bounces,
        "bounceRate": _ratio(bounces, len(visit_list)),
        "visitDurationSeconds": round(microseconds / len(visit_list) / 1e6, 3) if visit_list else 0.0,
        "entryPages": [
            {"value": page, "visits": n, "visitors": people}
            for page, n, people in _pages(visit_list, min_moment, limit)
        ],
        "exitPages": [
            {"value": page, "visits": n, "visitors": people, "exitRate": _ratio(n, views_of[page or ""])}
            for page, n, people in _pages(visit_list, max_moment, limit)
        ],
    }


def _longest_gap(visit: list[Sent]) -> timedelta:
    return max((b.moment - a.moment for a, b in pairwise(visit)), default=timedelta(0))


def min_moment(views: list[Sent]) -> Sent:
    return min(views, key=lambda event: event.moment)


def max_moment(views: list[Sent]) -> Sent:
    return max(views, key=lambda event: event.moment)


@pytest.fixture
def shop(db, send):
    app = services.app_register(name="Shop", owner_email="o@example.com", timezone_name=ZONE.key)
    sent = _generate(7)
    send(app, [event.body() for event in sorted(sent, key=lambda event: event.moment)])
    other = services.app_register(name="Other", owner_email="o@example.com", timezone_name=ZONE.key)
    # The same people, sessions and pages in another app, at the same times: none of it may count.
    send(other, [event.body() for event in _generate(7)[::2]])
    return app, sent


def _window_events(sent: list[Sent]) -> list[Sent]:
    return _inside(sent, _local(FIRST_DAY, time(0)), _local(LAST_DAY + timedelta(days=1), time(0)))


def test_web_stats_match_the_oracle(shop, report):
    app, sent = shop
    events = _window_events(sent)
    expected = oracle(events)
    assert report(app, "web-stats", **RANGE).json() == expected
    assert report(app, "web-stats", limit=3, **RANGE).json() == oracle(events, limit=3)
    # Not vacuous: the data holds every case the rules tell apart.
    assert 0 < expected["bounces"] < expected["visits"] < len(events)
    visit_list = _visits(events)
    held = [visit for visit in visit_list if visit[0].session and _longest_gap(visit) > GAP]
    kept_at_30 = [visit for visit in visit_list if not visit[0].session and _longest_gap(visit) == GAP]
    assert held and kept_at_30 and len(visit_list) > len({(event.person, event.session) for event in events})
    assert any(page["value"] is None for page in expected["entryPages"] + expected["exitPages"])
    assert sum(1 for event in events if event.person == "edge") == 2


def test_session_ids_hold_a_visit_together_and_gaps_over_30_minutes_split_one_without(report, send, db):
    app = services.app_register(name="Rules", owner_email="o@example.com", timezone_name="UTC")
    start = datetime(2024, 5, 1, 9, tzinfo=UTC)
    sent = [
        # Ann, no session id: 30 minutes exactly stays in the visit, 30 minutes and a millisecond does not.
        Sent("ann", "pageview", start, "/", user_id="ann"),
        Sent("ann", "pageview", start + GAP, "/docs", user_id="ann"),
        Sent("ann", "pageview", start + 2 * GAP + timedelta(milliseconds=1), "/pricing", user_id="ann"),
        # Bob's session id: two hours apart, still one visit; his second session is another visit.
        Sent("bob", "pageview", start, "/", session="b1", user_id="bob"),
        Sent("bob", "click", start + timedelta(hours=2), "/", session="b1", user_id="bob"),
        Sent("bob", "pageview", start + timedelta(hours=2, seconds=1), "/blog", session="b2", user_id="bob"),
    ]
    send(app, [event.body() for event in sent])
    body = report(app, "web-stats", startDate="2024-05-01", endDate="2024-05-01").json()
    assert body == oracle(sent)
    assert (body["visits"], body["bounces"], body["visitDurationSeconds"]) == (4, 2, (1800 + 7200) / 4)
    assert body["entryPages"][0] == {"value": "/", "visits": 2, "visitors": 2}


def test_an_anonymous_visitor_who_signs_in_makes_one_visit(report, send, db):
    app = services.app_register(name="Sign-in", owner_email="o@example.com", timezone_name="UTC")
    start = datetime(2024, 5, 1, 9, tzinfo=UTC)
    minute = timedelta(minutes=1)
    sent = [
        Sent("ann", "pageview", start, "/", anonymous_id="a-1"),
        Sent("ann", "identify", start + minute, user_id="ann", anonymous_id="a-1"),
        Sent("ann", "pageview", start + 2 * minute, "/account", user_id="ann"),
    ]
    send(app, [event.body() for event in sent])
    body = report(app, "web-stats", startDate="2024-05-01", endDate="2024-05-01").json()
    assert (body["visits"], body["visitors"], body["pageViews"], body["visitDurationSeconds"]) == (1, 1, 2, 120.0)
    assert body["exitPages"] == [{"value": "/account", "visits": 1, "visitors": 1, "exitRate": 1.0}]


def test_an_empty_range_gives_zeros_and_empty_lists(shop, report):
    app, sent = shop
    assert not _inside(sent, _local(date(2024, 1, 1), time(0)), _local(date(2024, 1, 2), time(0)))
    assert (
        report(app, "web-stats", startDate="2024-01-01", endDate="2024-01-01").json()
        == oracle([])
        == {
            "visits": 0,
            "visitors": 0,
            "pageViews": 0,
            "viewsPerVisit": 0.0,
            "bounces": 0,
            "bounceRate": 0.0,
            "visitDurationSeconds": 0.0,
            "entryPages": [],
            "exitPages": [],
        }
    )


def test_the_range_in_another_zone_moves_the_edges(shop, report):
    app, sent = shop
    zone = ZoneInfo("Asia/Kolkata")
    start = datetime.combine(FIRST_DAY, time(0), tzinfo=zone)
    events = _inside(sent, start, datetime.combine(LAST_DAY + timedelta(days=1), time(0), tzinfo=zone))
    assert events != _window_events(sent)
    assert report(app, "web-stats", tz=zone.key, **RANGE).json() == oracle(events)


def test_the_dashboards_window_filters_narrow_the_visits(shop):
    app, sent = shop
    window = report_window(start=FIRST_DAY, end=LAST_DAY, tz=ZONE, now=datetime.now(UTC))
    narrowed = dataclasses.replace(window, filters=(("path", "/pricing"),))
    figures = visits.web_stats(app_id=app.app.id, window=narrowed, limit=10)
    expected = oracle([event for event in _window_events(sent) if event.path == "/pricing"])
    assert figures.visits == expected["visits"] > 0
    assert (figures.page_views, figures.bounces) == (expected["pageViews"], expected["bounces"])
    assert [page.value for page in figures.entry_pages] == ["/pricing"]


def test_web_stats_are_cached_until_the_app_gets_an_event(report, send, registered, other_app):
    moment = datetime.now(UTC) - timedelta(minutes=5)
    send(registered, [Sent("ann", "pageview", moment, "/", user_id="ann").body()])
    first, second = report(registered, "web-stats"), report(registered, "web-stats")
    assert (first["X-Cache"], second["X-Cache"], second.json()) == ("miss", "hit", first.json())
    send(other_app, [Sent("bob", "pageview", moment, "/", user_id="bob").body()])
    assert report(registered, "web-stats")["X-Cache"] == "hit"
    send(registered, [Sent("bob", "pageview", moment, "/docs", user_id="bob").body()])
    after = report(registered, "web-stats")
    assert after["X-Cache"] == "miss"
    assert (first.json()["visits"], after.json()["visits"]) == (1, 2)
