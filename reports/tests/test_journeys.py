"""Journeys against sessions computed over the whole history in Python, page by page through the
cursor, with session gaps of exactly 30:00 and 30:01."""

import random
from datetime import UTC, datetime, timedelta

import pytest

from events.models import Event
from reports.queries.journeys import Journey, JourneyEvent, JourneySession, encode_cursor
from reports.tests.behaviour_data import DAY, SECOND, T0, by_user, insert, make_app, row, run_journey

pytestmark = pytest.mark.django_db


# Journeys ----------------------------------------------------------------------------------------


def _oracle_sessions(user_events: list[Event]) -> list[JourneySession]:
    sessions: list[list[Event]] = []
    for event in user_events:
        if sessions and event.timestamp - sessions[-1][-1].timestamp <= timedelta(minutes=30):
            sessions[-1].append(event)
        else:
            sessions.append([event])
    return [
        JourneySession(
            index=number,
            start=events[0].timestamp,
            end=events[-1].timestamp,
            duration_seconds=(events[-1].timestamp - events[0].timestamp).total_seconds(),
            entry_page=events[0].path,
            exit_page=events[-1].path,
            event_count=len(events),
            events=[JourneyEvent(str(e.event_id), e.name, e.timestamp, e.url, e.path, e.metadata) for e in events],
        )
        for number, events in enumerate(sessions, start=1)
    ]


def _expected_page(sessions: list[JourneySession], offset: int, limit: int) -> list[JourneySession]:
    """The sessions touched by events offset..offset+limit, each carrying only its page's events."""
    flat = [(session, event) for session in sessions for event in session.events][offset : offset + limit]
    page: list[JourneySession] = []
    for session, event in flat:
        if not page or page[-1].index != session.index:
            page.append(JourneySession(**{**session.__dict__, "events": []}))
        page[-1].events.append(event)
    return page


def _walk(app, user: str, limit: int) -> list[Journey]:
    pages, cursor = [], None
    while True:
        page = run_journey(app=app, distinct_id=user, cursor=cursor, limit=limit)
        pages.append(page)
        cursor = page.next_cursor
        if cursor is None:
            return pages


def _journey_rows(seed: int) -> list[dict]:
    start = datetime(2024, 3, 1, 8, tzinfo=UTC)
    rows = [
        row("walker", "page_view", start, path="/", url="https://x.example/", metadata={"n": 1}),
        row("walker", "click", start + 5 * 60 * SECOND, path="/pricing", metadata={"button": "buy"}),
        row("walker", "page_view", start + 35 * 60 * SECOND, path="/docs"),  # 30:00 later: same session
        row("walker", "page_view", start + 65 * 60 * SECOND + SECOND, path="/blog"),  # 30:01: a new session
        row("walker", "tie", start + 65 * 60 * SECOND + SECOND, path=""),  # same instant, later id
        row("walker", "page_view", start + 95 * 60 * SECOND + SECOND, path="/end"),  # 30:00 after the tie
    ]
    rng = random.Random(seed)
    moment = start + DAY
    for _ in range(160):
        moment += timedelta(seconds=rng.choice([0, 1, 60, 1799, 1800, 1801, 3600, rng.randrange(5000)]))
        moment += timedelta(microseconds=rng.choice([0, rng.randrange(1_000_000)]))
        path = rng.choice(["", "/", "/a", "/b"])
        rows.append(row("walker", rng.choice(["page_view", "click"]), moment, path=path, url=f"https://x{path}"))
    # Out of order on insert, so ids and time order disagree: the journey must follow time, then id.
    rows.insert(2, row("walker", "early", start - DAY, path="/first"))
    rows.append(row("solo", "page_view", start, path="/only"))
    return rows


def test_journey_pages_match_sessions_computed_over_the_whole_history():
    app, other = make_app("Journeys"), make_app("Journeys other")
    events = insert(app, _journey_rows(3))
    insert(other, [row("walker", "elsewhere", datetime(2024, 3, 1, 8, 10, tzinfo=UTC))])  # another tenant
    sessions = _oracle_sessions(by_user(events, app)["walker"])
    first = sessions[:3]
    assert [(s.index, s.event_count, s.entry_page, s.exit_page) for s in first] == [
        (1, 1, "/first", "/first"),
        (2, 3, "/", "/docs"),
        (3, 3, "/blog", "/end"),
    ]
    total = sum(session.event_count for session in sessions)
    for limit in (1, 3, 7, 1000):
        pages = _walk(app, "walker", limit)
        assert len(pages) == -(-total // limit)
        for number, page in enumerate(pages):
            assert page.distinct_id == "walker"
            assert page.sessions == _expected_page(sessions, number * limit, limit), (limit, number)
    # With 3 a page, session 2 (events 2-4) spans the first two pages and reads the same on both.
    one, two = _walk(app, "walker", 3)[:2]
    assert [len(one.sessions[-1].events), len(two.sessions[0].events)] == [2, 1]
    assert one.sessions[-1].index == two.sessions[0].index == 2
    assert one.sessions[-1].event_count == two.sessions[0].event_count == 3
    assert one.sessions[-1].duration_seconds == two.sessions[0].duration_seconds == 35 * 60


def test_journey_of_a_user_with_one_event_is_one_empty_session():
    app = make_app("Solo")
    events = insert(app, _journey_rows(4))
    got = run_journey(app=app, distinct_id="solo", cursor=None, limit=10)
    assert got == Journey("solo", _oracle_sessions(by_user(events, app)["solo"]), None)
    assert got.sessions[0].duration_seconds == 0 and got.sessions[0].event_count == 1


def test_journey_of_an_unknown_user_or_another_apps_user_is_none():
    app, other = make_app("Known"), make_app("Unknown")
    insert(app, [row("someone", "page_view", T0)])
    assert run_journey(app=other, distinct_id="someone", cursor=None, limit=10) is None
    assert run_journey(app=app, distinct_id="nobody", cursor=None, limit=10) is None


@pytest.mark.parametrize(
    "cursor",
    [
        "garbage!",
        "",
        encode_cursor(T0, 1)[:-3],
        "WzFd",  # [1]
        "WyIyMDI0LTAxLTAxVDAwOjAwOjAwIiwxXQ",  # a naive timestamp
        "WyIyMDI0LTAxLTAxVDAwOjAwOjAwKzAwOjAwIiwiMSJd",  # a string id
    ],
)
def test_journey_refuses_a_cursor_it_did_not_write(cursor):
    app = make_app("Cursors")
    insert(app, [row("someone", "page_view", T0)])
    with pytest.raises(ValueError):
        run_journey(app=app, distinct_id="someone", cursor=cursor, limit=10)


def test_journey_page_past_the_end_is_empty_but_not_none():
    app = make_app("Past the end")
    events = insert(app, [row("someone", "page_view", T0)])
    cursor = encode_cursor(events[0].timestamp, events[0].pk)
    assert run_journey(app=app, distinct_id="someone", cursor=cursor, limit=10) == Journey("someone", [], None)
