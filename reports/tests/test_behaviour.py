"""Oracle tests for the behavioural reports (funnels, retention, journeys, live).

Seeded random event streams for several apps go into the real database with bulk_create; every figure is
recomputed here in plain Python from the generated list, by a deliberately naive walk over each user's
events, and compared field by field with what reports.behaviour computes in SQL. Hand-written streams
pin the edges: a conversion exactly at the window's end and one second after, a second entry, steps out
of order, session gaps of exactly 30:00 and 30:01, days and months that end at different instants in
New York and Kolkata.
"""

import json
import random
import statistics
import uuid
from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from apikeys.services import app_register
from events.models import Event
from reports.params import Window
from reports.queries import funnels, journeys, live, retention
from reports.queries.funnels import Funnel, FunnelBreakdownValue, FunnelFilter, FunnelStep, FunnelStepResult
from reports.queries.journeys import Journey, JourneyEvent, JourneySession, encode_cursor
from reports.queries.live import LiveMinute
from reports.queries.retention import Retention, RetentionCohort, RetentionPeriod

pytestmark = pytest.mark.django_db

DAY = timedelta(days=1)
HOUR = timedelta(hours=1)
SECOND = timedelta(seconds=1)
MICROSECOND = timedelta(microseconds=1)


# The reports, called the way these tests spell a range: [start, end) in a named zone ------------


def _funnel(*, app, start, end, **options) -> Funnel:
    return funnels.funnel(app_id=app.pk, window=Window(start, end, ZoneInfo("UTC")), **options)


def _retention(*, app, start, end, tz, **options) -> Retention:
    return retention.retention(app_id=app.pk, window=Window(start, end, ZoneInfo(tz)), **options)


def _journey(*, app, **options) -> Journey | None:
    return journeys.journey(app_id=app.pk, **options)


def _live(*, app, now):
    return live.live(app_id=app.pk, now=now)


# Data helpers ------------------------------------------------------------------------------------


def _app(name: str, tz: str = "UTC"):
    return app_register(name=name, owner_email=f"{name.replace(' ', '.')}@example.com", timezone_name=tz).app


def _insert(app, rows: list[dict]) -> list[Event]:
    """Store rows in order (ids ascend with list order) and return the saved events, ids included."""
    events = Event.objects.bulk_create(
        [Event(app=app, event_id=uuid.uuid4(), metadata=row.pop("metadata", {}), **row) for row in rows]
    )
    assert all(event.pk for event in events)
    return events


def _row(user: str, name: str, moment: datetime, **fields) -> dict:
    return {"distinct_id": user, "name": name, "timestamp": moment, **fields}


def _by_user(events: list[Event], app) -> dict[str, list[Event]]:
    users = defaultdict(list)
    for event in sorted((e for e in events if e.app_id == app.pk), key=lambda e: (e.timestamp, e.pk)):
        users[event.distinct_id].append(event)
    return users


def _ratio(numerator: int, denominator: int) -> float:
    return round(numerator / denominator, 4) if denominator else 0.0


# Funnel oracle -----------------------------------------------------------------------------------


def _json_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else json.dumps(value)


def _property(event: Event, name: str) -> str:
    if name.startswith("metadata."):
        return _json_text(event.metadata.get(name.removeprefix("metadata.")))
    return getattr(event, name)


def _matches(event: Event, step: FunnelStep) -> bool:
    if event.name != step.event:
        return False
    for condition in step.filters:
        value = _property(event, condition.property)
        wanted = condition.value
        if condition.operator == "eq" and value != _json_text(wanted):
            return False
        if condition.operator == "neq" and value == _json_text(wanted):
            return False
        if condition.operator == "contains" and _json_text(wanted) not in value:
            return False
        if condition.operator == "in" and value not in [_json_text(item) for item in wanted]:
            return False
    return True


def _expected_steps(names: list[str], paths: list[list[datetime]]) -> list[FunnelStepResult]:
    counts = [sum(1 for path in paths if len(path) > k) for k in range(len(names))]
    results = []
    for k, name in enumerate(names):
        previous = counts[k - 1] if k else counts[0]
        deltas = [(path[k] - path[k - 1]) // MICROSECOND for path in paths if k and len(path) > k]
        results.append(
            FunnelStepResult(
                event=name,
                count=counts[k],
                conversion_from_start=_ratio(counts[k], counts[0]),
                conversion_from_previous=_ratio(counts[k], previous),
                drop_off=previous - counts[k],
                median_seconds_to_convert=round(statistics.median(deltas) / 1e6, 3) if deltas else None,
            )
        )
    return results


def _oracle_funnel(events, app, steps, start, end, window_seconds, breakdown=None) -> Funnel:
    window = timedelta(seconds=window_seconds)
    paths_by_group = defaultdict(list)
    for user_events in _by_user(events, app).values():
        entry = next((e for e in user_events if start <= e.timestamp < end and _matches(e, steps[0])), None)
        if entry is None:
            continue
        path = [entry.timestamp]
        for step in steps[1:]:
            found = next(
                (
                    e
                    for e in user_events
                    if path[-1] < e.timestamp <= entry.timestamp + window and e.timestamp < end and _matches(e, step)
                ),
                None,
            )
            if found is None:
                break
            path.append(found.timestamp)
        paths_by_group[_property(entry, breakdown) if breakdown else ""].append(path)
    names = [step.event for step in steps]
    everyone = [path for paths in paths_by_group.values() for path in paths]
    values = []
    if breakdown:
        values = [FunnelBreakdownValue(value, _expected_steps(names, paths)) for value, paths in paths_by_group.items()]
        values.sort(key=lambda value: (-value.steps[0].count, value.value))
    return Funnel(steps=_expected_steps(names, everyone), breakdown=breakdown, breakdown_values=values)


# Random streams ----------------------------------------------------------------------------------

STREAM_START = datetime(2024, 1, 1, tzinfo=UTC)
NAMES, NAME_WEIGHTS = ["view", "signup", "purchase", "click"], [5, 2, 1, 2]
PATHS = ["/", "/pricing", "/docs", "/signup", "/checkout"]
BROWSERS = ["Chrome", "Firefox", "Safari", ""]
DEVICES = ["desktop", "mobile", "tablet", ""]


def _stream(seed: int, users: int = 300) -> list[dict]:
    """Users with 1 to 12 events; gaps of 0 s (timestamp ties), 1 s, round hours and days (window edges)."""
    rng = random.Random(seed)
    rows = []
    for number in range(users):
        user = f"user{number}"
        browser, device = rng.choice(BROWSERS), rng.choice(DEVICES)
        moment = STREAM_START + timedelta(seconds=rng.randrange(20 * 86400))
        for _ in range(rng.randint(1, 12)):
            gap = rng.choice([0, 1, 59, 3600, 3601, 86400, 86401, rng.randrange(1, 3 * 86400)])
            moment += timedelta(seconds=gap, microseconds=rng.choice([0, 0, rng.randrange(1_000_000)]))
            path = rng.choice(PATHS)
            metadata = {}
            if plan := rng.choice(["free", "pro", "team", None]):
                metadata["plan"] = plan
            if rng.random() < 0.5:
                metadata["amount"] = rng.randint(1, 9)
            if rng.random() < 0.5:
                metadata["beta"] = rng.random() < 0.5
            rows.append(
                _row(
                    user,
                    rng.choices(NAMES, NAME_WEIGHTS)[0],
                    moment,
                    path=path,
                    url=f"https://shop.example{path}" if rng.random() < 0.9 else "",
                    host="shop.example",
                    browser=browser if rng.random() < 0.9 else rng.choice(BROWSERS),
                    device_type=device,
                    country=rng.choice(["US", "IN", "DE", ""]),
                    utm_source=rng.choice(["google", "newsletter", ""]),
                    referrer_host=rng.choice(["t.co", "news.example", ""]),
                    metadata=metadata,
                )
            )
    return rows


@pytest.fixture
def streams():
    """Three apps with the same user names and event names, so any leak between tenants shows."""
    apps = [_app("Funnel A"), _app("Funnel B"), _app("Funnel C")]
    events = []
    for seed, app in enumerate(apps, start=1):
        events += _insert(app, _stream(seed, users=300 if seed == 1 else 120))
    return apps, events


FUNNEL_START, FUNNEL_END = datetime(2024, 1, 4, tzinfo=UTC), datetime(2024, 1, 18, 12, tzinfo=UTC)
FUNNELS = [
    ([FunnelStep("view"), FunnelStep("signup"), FunnelStep("purchase")], 2 * 86400),
    ([FunnelStep("view"), FunnelStep("view"), FunnelStep("purchase")], 86400),  # a repeated step
    ([FunnelStep("purchase"), FunnelStep("signup"), FunnelStep("view")], 3600),  # the usual order reversed
    ([FunnelStep("click"), FunnelStep("signup"), FunnelStep("purchase"), FunnelStep("click")], 7 * 86400),
    (
        [
            FunnelStep("view", [FunnelFilter("path", "eq", "/pricing")]),
            FunnelStep("signup", [FunnelFilter("metadata.plan", "in", ["pro", "team"])]),
        ],
        3 * 86400,
    ),
    (
        [
            FunnelStep("view", [FunnelFilter("browser", "neq", "Chrome"), FunnelFilter("url", "contains", "shop")]),
            FunnelStep("purchase", [FunnelFilter("metadata.beta", "eq", True)]),
            FunnelStep("view", [FunnelFilter("metadata.amount", "in", [1, 2, 3])]),
        ],
        5 * 86400,
    ),
    (
        [
            FunnelStep("signup", [FunnelFilter("metadata.plan", "neq", "free")]),  # missing plan reads as ''
            FunnelStep("purchase", [FunnelFilter("device_type", "in", ["mobile", "tablet"])]),
        ],
        86400,
    ),
    (
        [
            FunnelStep("view", [FunnelFilter("metadata.amount", "eq", 7), FunnelFilter("country", "neq", "")]),
            FunnelStep("click", [FunnelFilter("utm_source", "contains", "news")]),
        ],
        10 * 86400,
    ),
]


@pytest.mark.parametrize("breakdown", [None, "browser", "metadata.plan", "device_type", "referrer_host"])
def test_funnels_match_a_plain_python_walk_over_each_users_events(streams, breakdown):
    apps, events = streams
    for steps, window in FUNNELS:
        for app in apps[:2]:
            expected = _oracle_funnel(events, app, steps, FUNNEL_START, FUNNEL_END, window, breakdown)
            got = _funnel(
                app=app, steps=steps, start=FUNNEL_START, end=FUNNEL_END, window_seconds=window, breakdown=breakdown
            )
            assert got == expected, [step.event for step in steps]
    # The streams are rich enough that the comparisons above are not vacuous.
    first = _funnel(app=apps[0], steps=FUNNELS[0][0], start=FUNNEL_START, end=FUNNEL_END, window_seconds=86400)
    assert first.steps[0].count > 100
    assert 0 < first.steps[2].count < first.steps[1].count < first.steps[0].count


def test_funnel_answers_for_one_app_do_not_change_when_another_app_gets_events(streams):
    apps, _ = streams
    steps = [FunnelStep("view"), FunnelStep("signup"), FunnelStep("purchase")]
    kwargs = {"steps": steps, "start": FUNNEL_START, "end": FUNNEL_END, "window_seconds": 86400, "breakdown": "browser"}
    before = _funnel(app=apps[0], **kwargs)
    # Another tenant's copy of the same users doing everything, everywhere, a second after each step.
    extra = []
    for number in range(300):
        for offset, name in enumerate(["view", "signup", "purchase"] * 3):
            extra.append(_row(f"user{number}", name, FUNNEL_START + DAY + offset * SECOND, browser="Leak"))
    _insert(apps[1], extra)
    assert _funnel(app=apps[0], **kwargs) == before


# Hand-written funnel edges -----------------------------------------------------------------------

T0 = datetime(2024, 2, 1, 10, 0, tzinfo=UTC)
WINDOW = 3600
EDGE_START, EDGE_END = T0, T0 + 10 * DAY


def _edge_rows() -> list[dict]:
    w = timedelta(seconds=WINDOW)
    quarter = timedelta(microseconds=250_000)
    return [
        # Converts at exactly entry + window: the window is inclusive.
        _row("at_edge", "view", T0 + HOUR),
        _row("at_edge", "signup", T0 + HOUR + w, path="/a"),
        # One second late.
        _row("past_edge", "view", T0 + HOUR),
        _row("past_edge", "signup", T0 + HOUR + w + SECOND),
        # The same with microseconds: exactly at the edge, then one microsecond past it.
        _row("at_edge_us", "view", T0 + 2 * HOUR + quarter),
        _row("at_edge_us", "signup", T0 + 2 * HOUR + quarter + w),
        _row("past_edge_us", "view", T0 + 2 * HOUR + quarter),
        _row("past_edge_us", "signup", T0 + 2 * HOUR + quarter + w + MICROSECOND),
        # Enters twice; only the first entry counts, so the signup after the second one is too late.
        _row("twice", "view", T0 + HOUR),
        _row("twice", "view", T0 + 3 * HOUR),
        _row("twice", "signup", T0 + 3 * HOUR + 10 * SECOND),
        # Steps out of order: a signup before the view does not count.
        _row("backwards", "signup", T0 + HOUR),
        _row("backwards", "view", T0 + HOUR + SECOND),
        # A signup at the very same instant as the view is not after it.
        _row("same_instant", "view", T0 + HOUR),
        _row("same_instant", "signup", T0 + HOUR),
        # Converts after 10 minutes, then signs up again: the first signup is the step.
        _row("quick", "view", T0 + 5 * HOUR),
        _row("quick", "signup", T0 + 5 * HOUR + 600 * SECOND),
        _row("quick", "signup", T0 + 5 * HOUR + 700 * SECOND),
        # Entry before the range; the view in range is the entry (first step-1 event *in range*).
        _row("early", "view", T0 - SECOND),
        _row("early", "view", T0),
        _row("early", "signup", T0 + 20 * SECOND),
        # A step at exactly `end` is outside the range.
        _row("at_end", "view", EDGE_END - 100 * SECOND),
        _row("at_end", "signup", EDGE_END),
        # A user with one event.
        _row("lonely", "view", T0 + DAY),
    ]


def test_funnel_edges_at_the_window_the_range_and_the_order_of_steps():
    app = _app("Edges")
    events = _insert(app, _edge_rows())
    steps = [FunnelStep("view"), FunnelStep("signup"), FunnelStep("never")]
    got = _funnel(app=app, steps=steps, start=EDGE_START, end=EDGE_END, window_seconds=WINDOW)
    assert got == _oracle_funnel(events, app, steps, EDGE_START, EDGE_END, WINDOW)
    entered = {"at_edge", "past_edge", "at_edge_us", "past_edge_us", "twice", "backwards", "same_instant"}
    entered |= {"quick", "early", "at_end", "lonely"}
    converted = {"at_edge", "at_edge_us", "quick", "early"}
    assert [(step.count, step.drop_off) for step in got.steps] == [(11, 0), (4, 7), (0, 4)]
    assert len(entered) == 11 and len(converted) == 4
    # Seconds to convert: 20, 600, 3600, 3600 -> the mean of the middle two.
    assert got.steps[1].median_seconds_to_convert == 2100.0
    assert got.steps[1].conversion_from_start == round(4 / 11, 4)
    # The step nobody reaches.
    assert got.steps[2] == FunnelStepResult("never", 0, 0.0, 0.0, 4, None)
    assert got.steps[0].median_seconds_to_convert is None


def test_funnel_breakdown_takes_the_value_of_the_entry_event():
    app = _app("Breakdown")
    events = _insert(
        app,
        [
            _row("a", "view", T0, browser="Firefox"),
            _row("a", "view", T0 + SECOND, browser="Chrome"),
            _row("a", "signup", T0 + 2 * SECOND, browser="Chrome"),
            _row("b", "view", T0, browser="Chrome", metadata={"plan": "pro"}),
            _row("b", "view", T0, browser="Safari"),  # same instant, stored later: not the entry
            _row("c", "view", T0, browser=""),
            _row("c", "signup", T0 + 3 * SECOND),
        ],
    )
    steps = [FunnelStep("view"), FunnelStep("signup")]
    got = _funnel(app=app, steps=steps, start=T0, end=T0 + DAY, window_seconds=60, breakdown="browser")
    assert got == _oracle_funnel(events, app, steps, T0, T0 + DAY, 60, "browser")
    assert [(value.value, [step.count for step in value.steps]) for value in got.breakdown_values] == [
        ("", [1, 1]),
        ("Chrome", [1, 0]),
        ("Firefox", [1, 1]),
    ]
    by_plan = _funnel(app=app, steps=steps, start=T0, end=T0 + DAY, window_seconds=60, breakdown="metadata.plan")
    assert [(value.value, value.steps[0].count) for value in by_plan.breakdown_values] == [("", 2), ("pro", 1)]


def test_funnel_filters_take_quotes_percent_signs_and_dotted_metadata_keys_as_plain_values():
    app = _app("Odd values")
    odd = {"promo.code-v2": "50% off 'today'", "ratio": 1.5, "flag": False, "nested": {"a": 1}}
    events = _insert(
        app,
        [
            _row("odd", "view", T0, path="/it's", metadata=odd),
            _row("odd", "buy", T0 + SECOND, metadata=odd),
            _row("plain", "view", T0, path="/plain", metadata={"promo.code-v2": "none", "ratio": 2}),
            _row("plain", "buy", T0 + SECOND, metadata={"flag": True}),
        ],
    )
    cases = [
        [FunnelFilter("metadata.promo.code-v2", "eq", "50% off 'today'")],
        [FunnelFilter("metadata.promo.code-v2", "contains", "% off '")],
        [FunnelFilter("path", "in", ["/it's", "/x"])],
        [FunnelFilter("metadata.ratio", "eq", 1.5)],
        [FunnelFilter("metadata.flag", "neq", True)],  # 'false' for one user, '' (missing) for the other
        [FunnelFilter("url", "contains", "%")],
    ]
    for filters in cases:
        steps = [FunnelStep("view", filters), FunnelStep("buy", [FunnelFilter("metadata.flag", "eq", False)])]
        got = _funnel(app=app, steps=steps, start=T0, end=T0 + DAY, window_seconds=60)
        assert got == _oracle_funnel(events, app, steps, T0, T0 + DAY, 60), filters
    only_odd = [FunnelStep("view", cases[1]), FunnelStep("buy")]
    got = _funnel(app=app, steps=only_odd, start=T0, end=T0 + DAY, window_seconds=60, breakdown="metadata.ratio")
    assert [(value.value, value.steps[1].count) for value in got.breakdown_values] == [("1.5", 1)]


def test_funnel_over_an_empty_range_has_every_step_at_zero(streams):
    apps, _ = streams
    steps = [FunnelStep("view"), FunnelStep("signup")]
    for start, end in [
        (FUNNEL_START, FUNNEL_START),
        (datetime(2030, 1, 1, tzinfo=UTC), datetime(2030, 2, 1, tzinfo=UTC)),
    ]:
        got = _funnel(app=apps[0], steps=steps, start=start, end=end, window_seconds=60, breakdown="os")
        assert got == Funnel(
            steps=[FunnelStepResult("view", 0, 0.0, 0.0, 0, None), FunnelStepResult("signup", 0, 0.0, 0.0, 0, None)],
            breakdown="os",
        )


@pytest.mark.parametrize(
    ("steps", "window"),
    [
        ([FunnelStep("view")], 60),
        ([FunnelStep("view")] * 11, 60),
        ([FunnelStep("view"), FunnelStep("signup")], 0),
        ([FunnelStep("view", [FunnelFilter("metadata.a'b", "eq", "x")]), FunnelStep("signup")], 60),
        ([FunnelStep("view", [FunnelFilter("password", "eq", "x")]), FunnelStep("signup")], 60),
        ([FunnelStep("view", [FunnelFilter("path", "like", "x")]), FunnelStep("signup")], 60),
        ([FunnelStep("view", [FunnelFilter("path", "in", [])]), FunnelStep("signup")], 60),
        ([FunnelStep("view", [FunnelFilter("path", "eq", {"a": 1})]), FunnelStep("signup")], 60),
    ],
)
def test_funnel_refuses_malformed_definitions(steps, window):
    app = _app("Malformed")
    with pytest.raises(ValueError):
        _funnel(app=app, steps=steps, start=T0, end=T0 + DAY, window_seconds=window)


def test_funnel_refuses_an_unknown_breakdown_property():
    app = _app("Malformed breakdown")
    with pytest.raises(ValueError):
        _funnel(
            app=app, steps=[FunnelStep("a"), FunnelStep("b")], start=T0, end=T0 + DAY, window_seconds=1, breakdown="ip"
        )


# Retention oracle --------------------------------------------------------------------------------


def _next_period(day: date, period: str) -> date:
    if period == "day":
        return day + DAY
    if period == "week":
        return day + 7 * DAY
    return (day.replace(day=28) + 4 * DAY).replace(day=1)


def _bucket(moment: datetime, period: str, zone: ZoneInfo) -> date:
    day = moment.astimezone(zone).date()
    if period == "week":
        return day - day.weekday() * DAY
    return day.replace(day=1) if period == "month" else day


def _oracle_retention(events, app, cohort_event, return_event, period, periods, start, end, tz, now) -> Retention:
    zone = ZoneInfo(tz)
    users = _by_user(events, app)
    first = {}
    returns = set()
    for user, user_events in users.items():
        cohort_events = [e for e in user_events if cohort_event is None or e.name == cohort_event]
        if cohort_events:
            first[user] = _bucket(cohort_events[0].timestamp, period, zone)
        returns |= {
            (user, _bucket(e.timestamp, period, zone))
            for e in user_events
            if return_event is None or e.name == return_event
        }
    current = _bucket(now, period, zone)
    # Every period holding some instant of [start, end): the bucket of each hour in it and of its last
    # microsecond. No period is shorter than a day, so none fits between two of those instants.
    instants = []
    moment = start
    while moment < end:
        instants.append(moment)
        moment += HOUR
    if start < end:
        instants.append(end - MICROSECOND)
    starts = {bucket for bucket in (_bucket(m, period, zone) for m in instants) if bucket <= current}
    cohorts = []
    for cohort in sorted(starts):
        members = [user for user, bucket in first.items() if bucket == cohort]
        figures = []
        target = cohort
        for k in range(periods + 1):
            if target > current:
                break
            users_back = sum(1 for user in members if (user, target) in returns)
            figures.append(RetentionPeriod(k, users_back, _ratio(users_back, len(members))))
            target = _next_period(target, period)
        cohorts.append(RetentionCohort(cohort, len(members), figures))
    return Retention(period=period, periods=periods, tz=tz, cohorts=cohorts)


def _local(tz: str, *parts: int) -> datetime:
    return datetime(*parts, tzinfo=ZoneInfo(tz))


def _retention_stream(seed: int, tz: str) -> list[dict]:
    """Signups, opens and purchases from December to April, with events at 23:30 and 00:30 local around
    day, week (Sunday/Monday) and month ends, and some users whose first signup precedes the range."""
    rng = random.Random(seed)
    edge_days = [date(2024, 1, 31), date(2024, 2, 4), date(2024, 2, 29), date(2024, 3, 10), date(2024, 3, 31)]
    edge_days += [date(2024, 3, 24), date(2024, 4, 7)]
    rows = []
    for number in range(160):
        user = f"user{number}"
        if rng.random() < 0.4:
            day = rng.choice(edge_days)
            moment = _local(tz, day.year, day.month, day.day, 23, 30) if rng.random() < 0.5 else None
            moment = moment or _local(tz, day.year, day.month, day.day, 0, 30) + DAY
        else:
            moment = datetime(2023, 12, 20, tzinfo=UTC) + timedelta(seconds=rng.randrange(120 * 86400))
        rows.append(_row(user, "signup", moment))
        for _ in range(rng.randint(0, 14)):
            step = rng.choice([HOUR, 23 * HOUR, DAY, 2 * DAY, 6 * DAY, 7 * DAY, 20 * DAY])
            moment += step + timedelta(seconds=rng.randrange(3600))
            rows.append(_row(user, rng.choice(["open", "open", "purchase", "signup"]), moment))
    return rows


RETENTION_NOW = datetime(2024, 4, 10, 12, tzinfo=UTC)
RETENTION_CASES = [
    ("day", 10, datetime(2024, 3, 25, tzinfo=UTC), datetime(2024, 4, 15, tzinfo=UTC)),
    ("week", 8, datetime(2024, 1, 29, tzinfo=UTC), datetime(2024, 4, 15, tzinfo=UTC)),
    ("month", 3, datetime(2024, 1, 1, tzinfo=UTC), datetime(2024, 5, 1, tzinfo=UTC)),
    ("week", 2, datetime(2024, 2, 7, 15, tzinfo=UTC), datetime(2024, 3, 6, tzinfo=UTC)),  # mid-week bounds
    ("month", 2, datetime(2024, 1, 17, 9, tzinfo=UTC), datetime(2024, 3, 20, tzinfo=UTC)),  # mid-month bounds
]
EVENT_PAIRS = [("signup", "open"), (None, None), ("signup", "signup"), ("open", None), ("signup", "never")]


@pytest.mark.parametrize("tz", ["America/New_York", "Asia/Kolkata"])
def test_retention_matches_a_plain_python_recount(tz):
    app, other = _app("Retention", tz), _app("Retention other", "UTC")
    events = _insert(app, _retention_stream(7, tz)) + _insert(other, _retention_stream(8, "UTC"))
    for period, periods, start, end in RETENTION_CASES:
        for cohort_event, return_event in EVENT_PAIRS:
            arguments = (cohort_event, return_event, period, periods, start, end, tz, RETENTION_NOW)
            got = _retention(
                app=app,
                cohort_event=cohort_event,
                return_event=return_event,
                period=period,
                periods=periods,
                start=start,
                end=end,
                tz=tz,
                now=RETENTION_NOW,
            )
            assert got == _oracle_retention(events, app, *arguments), arguments
            assert got.cohorts and any(cohort.size for cohort in got.cohorts)
            if cohort_event == return_event:
                assert all(cohort.periods[0].rate == 1.0 for cohort in got.cohorts if cohort.size)


def test_retention_buckets_by_local_day_and_month_not_utc():
    # 23:30 on 31 January in New York is 04:30 UTC on 1 February; 00:30 on 1 March in Kolkata is
    # 19:00 UTC on 29 February.
    new_york, kolkata = "America/New_York", "Asia/Kolkata"
    app = _app("Local buckets", new_york)
    _insert(
        app,
        [
            _row("ny_late", "signup", _local(new_york, 2024, 1, 31, 23, 30)),
            _row("ny_late", "open", _local(new_york, 2024, 2, 1, 0, 30)),
            _row("in_early", "signup", _local(kolkata, 2024, 3, 1, 0, 30)),
            _row("in_early", "open", _local(kolkata, 2024, 2, 29, 23, 30) + DAY),
        ],
    )
    common = {"cohort_event": "signup", "return_event": "open", "periods": 2, "now": RETENTION_NOW}
    start, end = datetime(2023, 12, 1, tzinfo=UTC), datetime(2024, 4, 1, tzinfo=UTC)

    ny = _retention(app=app, period="month", start=start, end=end, tz=new_york, **common)
    sizes = {cohort.start: cohort.size for cohort in ny.cohorts}
    # The range starts at 19:00 on 30 November in New York, so November is its first cohort.
    assert sizes == {
        date(2023, 11, 1): 0,
        date(2023, 12, 1): 0,
        date(2024, 1, 1): 1,
        date(2024, 2, 1): 1,
        date(2024, 3, 1): 0,
    }
    (january,) = [cohort for cohort in ny.cohorts if cohort.start == date(2024, 1, 1)]
    assert [(p.period, p.users, p.rate) for p in january.periods] == [(0, 0, 0.0), (1, 1, 1.0), (2, 0, 0.0)]

    india = _retention(app=app, period="day", start=start, end=end, tz=kolkata, **common)
    by_day = {cohort.start: cohort for cohort in india.cohorts if cohort.size}
    assert set(by_day) == {date(2024, 2, 1), date(2024, 3, 1)}
    assert [(p.period, p.users) for p in by_day[date(2024, 3, 1)].periods] == [(0, 1), (1, 0), (2, 0)]
    # In Kolkata the New York user's two events (10:00 and 11:00 on 1 February) share one day.
    assert [(p.period, p.users) for p in by_day[date(2024, 2, 1)].periods] == [(0, 1), (1, 0), (2, 0)]


@pytest.mark.parametrize(
    ("period", "start", "first_cohort", "previous_night"),
    [
        # Wednesday 6 March; the week began Monday 4 March, whose midnight is 05:00 UTC.
        ("week", (2024, 3, 6, 10), date(2024, 3, 4), (2024, 3, 3, 23, 30)),
        # 22:00 on Sunday 10 March is Monday in UTC: the week is the New York one, from 4 March.
        ("week", (2024, 3, 10, 22), date(2024, 3, 4), (2024, 3, 3, 23, 30)),
        # 15 March; the month began 1 March, whose midnight is 05:00 UTC.
        ("month", (2024, 3, 15, 0), date(2024, 3, 1), (2024, 2, 29, 23, 30)),
    ],
)
def test_retention_of_a_range_starting_mid_period_keeps_that_whole_period_as_its_first_cohort(
    period, start, first_cohort, previous_night
):
    new_york = "America/New_York"
    app = _app("Mid-period start", new_york)
    opened = datetime.combine(first_cohort, time(9), tzinfo=ZoneInfo(new_york))
    _insert(
        app,
        [
            # First seen at 00:30 on the period's first day: before the range, but in its first period.
            _row("early", "signup", datetime.combine(first_cohort, time(0, 30), tzinfo=ZoneInfo(new_york))),
            _row("late", "signup", _local(new_york, *start) + HOUR),
            _row("late", "open", opened + (8 * DAY if period == "week" else 35 * DAY)),
            # 23:30 the night before in New York is already the new period in UTC: not this cohort.
            _row("previous", "signup", _local(new_york, *previous_night)),
            _row("previous", "open", opened),
        ],
    )
    got = _retention(
        app=app,
        cohort_event="signup",
        return_event=None,
        period=period,
        periods=2,
        start=_local(new_york, *start),
        end=_local(new_york, 2024, 4, 1),
        tz=new_york,
        now=RETENTION_NOW,
    )
    assert got.cohorts[0].start == first_cohort
    assert [(p.period, p.users) for p in got.cohorts[0].periods][:2] == [(0, 2), (1, 1)]
    assert sum(cohort.size for cohort in got.cohorts) == 2


def test_retention_leaves_out_periods_that_have_not_started():
    app = _app("Future periods")
    now = datetime(2024, 3, 20, 12, tzinfo=UTC)  # a Wednesday
    _insert(app, [_row("a", "signup", datetime(2024, 3, 4, 9, tzinfo=UTC)), _row("a", "open", now - HOUR)])
    got = _retention(
        app=app,
        cohort_event="signup",
        return_event="open",
        period="week",
        periods=5,
        start=datetime(2024, 3, 1, tzinfo=UTC),
        end=datetime(2024, 5, 1, tzinfo=UTC),
        tz="UTC",
        now=now,
    )
    # Cohorts of 26 February (the week holding 1 March), 4, 11 and 18 March; weeks after 18 March have
    # not started, so neither they nor their periods appear at all.
    starts = [date(2024, 2, 26), date(2024, 3, 4), date(2024, 3, 11), date(2024, 3, 18)]
    assert [cohort.start for cohort in got.cohorts] == starts
    assert [(p.period, p.users) for p in got.cohorts[1].periods] == [(0, 0), (1, 0), (2, 1)]
    assert [len(cohort.periods) for cohort in got.cohorts] == [4, 3, 2, 1]


def test_retention_answers_for_one_app_do_not_change_when_another_app_gets_events():
    app, other = _app("Retention A", "Asia/Kolkata"), _app("Retention B")
    _insert(app, _retention_stream(11, "Asia/Kolkata"))
    kwargs = {
        "cohort_event": "signup",
        "return_event": None,
        "period": "week",
        "periods": 6,
        "start": datetime(2024, 1, 1, tzinfo=UTC),
        "end": datetime(2024, 4, 1, tzinfo=UTC),
        "tz": "Asia/Kolkata",
        "now": RETENTION_NOW,
    }
    before = _retention(app=app, **kwargs)
    # The other tenant's copy of every user signs up before the range and returns every day.
    _insert(other, [_row(f"user{n}", "signup", datetime(2023, 6, 1, tzinfo=UTC)) for n in range(160)])
    _insert(other, [_row(f"user{n}", "open", STREAM_START + d * DAY) for n in range(160) for d in range(0, 90, 3)])
    assert _retention(app=app, **kwargs) == before


def test_retention_over_an_empty_range_or_with_bad_arguments():
    app = _app("Retention edges")
    common = {"app": app, "cohort_event": None, "return_event": None, "tz": "UTC", "now": RETENTION_NOW}
    empty = _retention(period="day", periods=3, start=RETENTION_NOW, end=RETENTION_NOW, **common)
    assert empty.cohorts == []
    no_events = _retention(period="day", periods=1, start=RETENTION_NOW - 2 * DAY, end=RETENTION_NOW, **common)
    # 8 (from noon), 9 and 10 April; 11 April, the last one's period 1, has not started at noon on the 10th.
    assert [(c.start, c.size, [p.users for p in c.periods]) for c in no_events.cohorts] == [
        (date(2024, 4, 8), 0, [0, 0]),
        (date(2024, 4, 9), 0, [0, 0]),
        (date(2024, 4, 10), 0, [0]),
    ]
    for bad in [{"period": "year", "periods": 1}, {"period": "day", "periods": 0}, {"period": "day", "periods": 53}]:
        with pytest.raises(ValueError):
            _retention(start=RETENTION_NOW - DAY, end=RETENTION_NOW, **common, **bad)


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
        page = _journey(app=app, distinct_id=user, cursor=cursor, limit=limit)
        pages.append(page)
        cursor = page.next_cursor
        if cursor is None:
            return pages


def _journey_rows(seed: int) -> list[dict]:
    start = datetime(2024, 3, 1, 8, tzinfo=UTC)
    rows = [
        _row("walker", "page_view", start, path="/", url="https://x.example/", metadata={"n": 1}),
        _row("walker", "click", start + 5 * 60 * SECOND, path="/pricing", metadata={"button": "buy"}),
        _row("walker", "page_view", start + 35 * 60 * SECOND, path="/docs"),  # 30:00 later: same session
        _row("walker", "page_view", start + 65 * 60 * SECOND + SECOND, path="/blog"),  # 30:01: a new session
        _row("walker", "tie", start + 65 * 60 * SECOND + SECOND, path=""),  # same instant, later id
        _row("walker", "page_view", start + 95 * 60 * SECOND + SECOND, path="/end"),  # 30:00 after the tie
    ]
    rng = random.Random(seed)
    moment = start + DAY
    for _ in range(160):
        moment += timedelta(seconds=rng.choice([0, 1, 60, 1799, 1800, 1801, 3600, rng.randrange(5000)]))
        moment += timedelta(microseconds=rng.choice([0, rng.randrange(1_000_000)]))
        path = rng.choice(["", "/", "/a", "/b"])
        rows.append(_row("walker", rng.choice(["page_view", "click"]), moment, path=path, url=f"https://x{path}"))
    # Out of order on insert, so ids and time order disagree: the journey must follow time, then id.
    rows.insert(2, _row("walker", "early", start - DAY, path="/first"))
    rows.append(_row("solo", "page_view", start, path="/only"))
    return rows


def test_journey_pages_match_sessions_computed_over_the_whole_history():
    app, other = _app("Journeys"), _app("Journeys other")
    events = _insert(app, _journey_rows(3))
    _insert(other, [_row("walker", "elsewhere", datetime(2024, 3, 1, 8, 10, tzinfo=UTC))])  # another tenant
    sessions = _oracle_sessions(_by_user(events, app)["walker"])
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
    app = _app("Solo")
    events = _insert(app, _journey_rows(4))
    got = _journey(app=app, distinct_id="solo", cursor=None, limit=10)
    assert got == Journey("solo", _oracle_sessions(_by_user(events, app)["solo"]), None)
    assert got.sessions[0].duration_seconds == 0 and got.sessions[0].event_count == 1


def test_journey_of_an_unknown_user_or_another_apps_user_is_none():
    app, other = _app("Known"), _app("Unknown")
    _insert(app, [_row("someone", "page_view", T0)])
    assert _journey(app=other, distinct_id="someone", cursor=None, limit=10) is None
    assert _journey(app=app, distinct_id="nobody", cursor=None, limit=10) is None


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
    app = _app("Cursors")
    _insert(app, [_row("someone", "page_view", T0)])
    with pytest.raises(ValueError):
        _journey(app=app, distinct_id="someone", cursor=cursor, limit=10)


def test_journey_page_past_the_end_is_empty_but_not_none():
    app = _app("Past the end")
    events = _insert(app, [_row("someone", "page_view", T0)])
    cursor = encode_cursor(events[0].timestamp, events[0].pk)
    assert _journey(app=app, distinct_id="someone", cursor=cursor, limit=10) == Journey("someone", [], None)


# Live --------------------------------------------------------------------------------------------


def test_live_counts_each_utc_minute_of_the_last_half_hour_with_empty_minutes_as_zero():
    app, other = _app("Live"), _app("Live other")
    now = datetime(2024, 5, 1, 12, 34, 20, 500_000, tzinfo=UTC)
    first_minute = datetime(2024, 5, 1, 12, 5, tzinfo=UTC)
    rng = random.Random(5)
    quiet = {7, 8, 20}
    rows = [
        _row(f"u{rng.randrange(12)}", "page_view", now - timedelta(seconds=rng.uniform(0, 40 * 60))) for _ in range(400)
    ]
    rows = [row for row in rows if (row["timestamp"].minute - 5) % 60 not in quiet]
    rows += [
        _row("edge", "a", first_minute),  # the first bucket's first instant: in
        _row("before", "a", first_minute - MICROSECOND),  # out
        _row("now", "a", now),  # in
        _row("future", "a", now + MICROSECOND),  # not live yet
        _row("five", "a", now - timedelta(minutes=5)),  # counts as active in the last 5 minutes
        _row("six", "a", now - timedelta(minutes=5) - MICROSECOND),  # does not
    ]
    events = _insert(app, rows)
    _insert(other, [_row("intruder", "a", now - SECOND * n) for n in range(100)])

    got = _live(app=app, now=now)
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
    app = _app("Quiet")
    got = _live(app=app, now=datetime(2024, 5, 1, 12, 0, tzinfo=UTC))
    assert len(got.minutes) == 30 and not any(m.events or m.active_users for m in got.minutes)
    assert got.minutes[0].minute == datetime(2024, 5, 1, 11, 31, tzinfo=UTC)
    assert (got.total_events, got.total_active_users, got.active_users_5m) == (0, 0, 0)
