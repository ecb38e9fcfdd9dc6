"""Funnels against a plain-Python walk over each user's events: seeded random streams for several apps, and
hand-written edges (a conversion exactly at the window's end and one second after, a second entry,
steps out of order, filters with quotes and dotted metadata keys)."""

import json
import random
import statistics
from collections import defaultdict
from datetime import UTC, datetime, timedelta

import pytest

from events.models import Event
from reports.queries.funnels import Funnel, FunnelBreakdownValue, FunnelFilter, FunnelStep, FunnelStepResult
from reports.tests.behaviour_data import (
    DAY,
    HOUR,
    MICROSECOND,
    SECOND,
    STREAM_START,
    T0,
    by_user,
    insert,
    make_app,
    ratio,
    row,
    run_funnel,
)

pytestmark = pytest.mark.django_db


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
                conversion_from_start=ratio(counts[k], counts[0]),
                conversion_from_previous=ratio(counts[k], previous),
                drop_off=previous - counts[k],
                median_seconds_to_convert=round(statistics.median(deltas) / 1e6, 3) if deltas else None,
            )
        )
    return results


def _oracle_funnel(events, app, steps, start, end, window_seconds, breakdown=None) -> Funnel:
    window = timedelta(seconds=window_seconds)
    paths_by_group = defaultdict(list)
    for user_events in by_user(events, app).values():
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
                row(
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
    apps = [make_app("Funnel A"), make_app("Funnel B"), make_app("Funnel C")]
    events = []
    for seed, app in enumerate(apps, start=1):
        events += insert(app, _stream(seed, users=300 if seed == 1 else 120))
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
            got = run_funnel(
                app=app, steps=steps, start=FUNNEL_START, end=FUNNEL_END, window_seconds=window, breakdown=breakdown
            )
            assert got == expected, [step.event for step in steps]
    # The streams are rich enough that the comparisons above are not vacuous.
    first = run_funnel(app=apps[0], steps=FUNNELS[0][0], start=FUNNEL_START, end=FUNNEL_END, window_seconds=86400)
    assert first.steps[0].count > 100
    assert 0 < first.steps[2].count < first.steps[1].count < first.steps[0].count


def test_funnel_answers_for_one_app_do_not_change_when_another_app_gets_events(streams):
    apps, _ = streams
    steps = [FunnelStep("view"), FunnelStep("signup"), FunnelStep("purchase")]
    kwargs = {"steps": steps, "start": FUNNEL_START, "end": FUNNEL_END, "window_seconds": 86400, "breakdown": "browser"}
    before = run_funnel(app=apps[0], **kwargs)
    # Another tenant's copy of the same users doing everything, everywhere, a second after each step.
    extra = []
    for number in range(300):
        for offset, name in enumerate(["view", "signup", "purchase"] * 3):
            extra.append(row(f"user{number}", name, FUNNEL_START + DAY + offset * SECOND, browser="Leak"))
    insert(apps[1], extra)
    assert run_funnel(app=apps[0], **kwargs) == before


# Hand-written funnel edges -----------------------------------------------------------------------

WINDOW = 3600
EDGE_START, EDGE_END = T0, T0 + 10 * DAY


def _edge_rows() -> list[dict]:
    w = timedelta(seconds=WINDOW)
    quarter = timedelta(microseconds=250_000)
    return [
        # Converts at exactly entry + window: the window is inclusive.
        row("at_edge", "view", T0 + HOUR),
        row("at_edge", "signup", T0 + HOUR + w, path="/a"),
        # One second late.
        row("past_edge", "view", T0 + HOUR),
        row("past_edge", "signup", T0 + HOUR + w + SECOND),
        # The same with microseconds: exactly at the edge, then one microsecond past it.
        row("at_edge_us", "view", T0 + 2 * HOUR + quarter),
        row("at_edge_us", "signup", T0 + 2 * HOUR + quarter + w),
        row("past_edge_us", "view", T0 + 2 * HOUR + quarter),
        row("past_edge_us", "signup", T0 + 2 * HOUR + quarter + w + MICROSECOND),
        # Enters twice; only the first entry counts, so the signup after the second one is too late.
        row("twice", "view", T0 + HOUR),
        row("twice", "view", T0 + 3 * HOUR),
        row("twice", "signup", T0 + 3 * HOUR + 10 * SECOND),
        # Steps out of order: a signup before the view does not count.
        row("backwards", "signup", T0 + HOUR),
        row("backwards", "view", T0 + HOUR + SECOND),
        # A signup at the very same instant as the view is not after it.
        row("same_instant", "view", T0 + HOUR),
        row("same_instant", "signup", T0 + HOUR),
        # Converts after 10 minutes, then signs up again: the first signup is the step.
        row("quick", "view", T0 + 5 * HOUR),
        row("quick", "signup", T0 + 5 * HOUR + 600 * SECOND),
        row("quick", "signup", T0 + 5 * HOUR + 700 * SECOND),
        # Entry before the range; the view in range is the entry (first step-1 event *in range*).
        row("early", "view", T0 - SECOND),
        row("early", "view", T0),
        row("early", "signup", T0 + 20 * SECOND),
        # A step at exactly `end` is outside the range.
        row("at_end", "view", EDGE_END - 100 * SECOND),
        row("at_end", "signup", EDGE_END),
        # A user with one event.
        row("lonely", "view", T0 + DAY),
    ]


def test_funnel_edges_at_the_window_the_range_and_the_order_of_steps():
    app = make_app("Edges")
    events = insert(app, _edge_rows())
    steps = [FunnelStep("view"), FunnelStep("signup"), FunnelStep("never")]
    got = run_funnel(app=app, steps=steps, start=EDGE_START, end=EDGE_END, window_seconds=WINDOW)
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
    app = make_app("Breakdown")
    events = insert(
        app,
        [
            row("a", "view", T0, browser="Firefox"),
            row("a", "view", T0 + SECOND, browser="Chrome"),
            row("a", "signup", T0 + 2 * SECOND, browser="Chrome"),
            row("b", "view", T0, browser="Chrome", metadata={"plan": "pro"}),
            row("b", "view", T0, browser="Safari"),  # same instant, stored later: not the entry
            row("c", "view", T0, browser=""),
            row("c", "signup", T0 + 3 * SECOND),
        ],
    )
    steps = [FunnelStep("view"), FunnelStep("signup")]
    got = run_funnel(app=app, steps=steps, start=T0, end=T0 + DAY, window_seconds=60, breakdown="browser")
    assert got == _oracle_funnel(events, app, steps, T0, T0 + DAY, 60, "browser")
    assert [(value.value, [step.count for step in value.steps]) for value in got.breakdown_values] == [
        ("", [1, 1]),
        ("Chrome", [1, 0]),
        ("Firefox", [1, 1]),
    ]
    by_plan = run_funnel(app=app, steps=steps, start=T0, end=T0 + DAY, window_seconds=60, breakdown="metadata.plan")
    assert [(value.value, value.steps[0].count) for value in by_plan.breakdown_values] == [("", 2), ("pro", 1)]


def test_funnel_filters_take_quotes_percent_signs_and_dotted_metadata_keys_as_plain_values():
    app = make_app("Odd values")
    odd = {"promo.code-v2": "50% off 'today'", "ratio": 1.5, "flag": False, "nested": {"a": 1}}
    events = insert(
        app,
        [
            row("odd", "view", T0, path="/it's", metadata=odd),
            row("odd", "buy", T0 + SECOND, metadata=odd),
            row("plain", "view", T0, path="/plain", metadata={"promo.code-v2": "none", "ratio": 2}),
            row("plain", "buy", T0 + SECOND, metadata={"flag": True}),
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
        got = run_funnel(app=app, steps=steps, start=T0, end=T0 + DAY, window_seconds=60)
        assert got == _oracle_funnel(events, app, steps, T0, T0 + DAY, 60), filters
    only_odd = [FunnelStep("view", cases[1]), FunnelStep("buy")]
    got = run_funnel(app=app, steps=only_odd, start=T0, end=T0 + DAY, window_seconds=60, breakdown="metadata.ratio")
    assert [(value.value, value.steps[1].count) for value in got.breakdown_values] == [("1.5", 1)]


def test_funnel_over_an_empty_range_has_every_step_at_zero(streams):
    apps, _ = streams
    steps = [FunnelStep("view"), FunnelStep("signup")]
    for start, end in [
        (FUNNEL_START, FUNNEL_START),
        (datetime(2030, 1, 1, tzinfo=UTC), datetime(2030, 2, 1, tzinfo=UTC)),
    ]:
        got = run_funnel(app=apps[0], steps=steps, start=start, end=end, window_seconds=60, breakdown="os")
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
    app = make_app("Malformed")
    with pytest.raises(ValueError):
        run_funnel(app=app, steps=steps, start=T0, end=T0 + DAY, window_seconds=window)


def test_funnel_refuses_an_unknown_breakdown_property():
    app = make_app("Malformed breakdown")
    with pytest.raises(ValueError):
        run_funnel(
            app=app, steps=[FunnelStep("a"), FunnelStep("b")], start=T0, end=T0 + DAY, window_seconds=1, breakdown="ip"
        )
