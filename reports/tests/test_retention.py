"""Retention against a plain-Python recount, with days and months that end at different instants in
New York and Kolkata, ranges that start mid-period, and periods that have not started."""

import random
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from reports.queries.retention import Retention, RetentionCohort, RetentionPeriod
from reports.tests.behaviour_data import (
    DAY,
    HOUR,
    MICROSECOND,
    STREAM_START,
    by_user,
    insert,
    make_app,
    ratio,
    row,
    run_retention,
)

pytestmark = pytest.mark.django_db


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
    users = by_user(events, app)
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
            figures.append(RetentionPeriod(k, users_back, ratio(users_back, len(members))))
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
        rows.append(row(user, "signup", moment))
        for _ in range(rng.randint(0, 14)):
            step = rng.choice([HOUR, 23 * HOUR, DAY, 2 * DAY, 6 * DAY, 7 * DAY, 20 * DAY])
            moment += step + timedelta(seconds=rng.randrange(3600))
            rows.append(row(user, rng.choice(["open", "open", "purchase", "signup"]), moment))
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
    app, other = make_app("Retention", tz), make_app("Retention other", "UTC")
    events = insert(app, _retention_stream(7, tz)) + insert(other, _retention_stream(8, "UTC"))
    for period, periods, start, end in RETENTION_CASES:
        for cohort_event, return_event in EVENT_PAIRS:
            arguments = (cohort_event, return_event, period, periods, start, end, tz, RETENTION_NOW)
            got = run_retention(
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
    app = make_app("Local buckets", new_york)
    insert(
        app,
        [
            row("ny_late", "signup", _local(new_york, 2024, 1, 31, 23, 30)),
            row("ny_late", "open", _local(new_york, 2024, 2, 1, 0, 30)),
            row("in_early", "signup", _local(kolkata, 2024, 3, 1, 0, 30)),
            row("in_early", "open", _local(kolkata, 2024, 2, 29, 23, 30) + DAY),
        ],
    )
    common = {"cohort_event": "signup", "return_event": "open", "periods": 2, "now": RETENTION_NOW}
    start, end = datetime(2023, 12, 1, tzinfo=UTC), datetime(2024, 4, 1, tzinfo=UTC)

    ny = run_retention(app=app, period="month", start=start, end=end, tz=new_york, **common)
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

    india = run_retention(app=app, period="day", start=start, end=end, tz=kolkata, **common)
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
    app = make_app("Mid-period start", new_york)
    opened = datetime.combine(first_cohort, time(9), tzinfo=ZoneInfo(new_york))
    insert(
        app,
        [
            # First seen at 00:30 on the period's first day: before the range, but in its first period.
            row("early", "signup", datetime.combine(first_cohort, time(0, 30), tzinfo=ZoneInfo(new_york))),
            row("late", "signup", _local(new_york, *start) + HOUR),
            row("late", "open", opened + (8 * DAY if period == "week" else 35 * DAY)),
            # 23:30 the night before in New York is already the new period in UTC: not this cohort.
            row("previous", "signup", _local(new_york, *previous_night)),
            row("previous", "open", opened),
        ],
    )
    got = run_retention(
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
    app = make_app("Future periods")
    now = datetime(2024, 3, 20, 12, tzinfo=UTC)  # a Wednesday
    insert(app, [row("a", "signup", datetime(2024, 3, 4, 9, tzinfo=UTC)), row("a", "open", now - HOUR)])
    got = run_retention(
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
    app, other = make_app("Retention A", "Asia/Kolkata"), make_app("Retention B")
    insert(app, _retention_stream(11, "Asia/Kolkata"))
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
    before = run_retention(app=app, **kwargs)
    # The other tenant's copy of every user signs up before the range and returns every day.
    insert(other, [row(f"user{n}", "signup", datetime(2023, 6, 1, tzinfo=UTC)) for n in range(160)])
    insert(other, [row(f"user{n}", "open", STREAM_START + d * DAY) for n in range(160) for d in range(0, 90, 3)])
    assert run_retention(app=app, **kwargs) == before


def test_retention_over_an_empty_range_or_with_bad_arguments():
    app = make_app("Retention edges")
    common = {"app": app, "cohort_event": None, "return_event": None, "tz": "UTC", "now": RETENTION_NOW}
    empty = run_retention(period="day", periods=3, start=RETENTION_NOW, end=RETENTION_NOW, **common)
    assert empty.cohorts == []
    no_events = run_retention(period="day", periods=1, start=RETENTION_NOW - 2 * DAY, end=RETENTION_NOW, **common)
    # 8 (from noon), 9 and 10 April; 11 April, the last one's period 1, has not started at noon on the 10th.
    assert [(c.start, c.size, [p.users for p in c.periods]) for c in no_events.cohorts] == [
        (date(2024, 4, 8), 0, [0, 0]),
        (date(2024, 4, 9), 0, [0, 0]),
        (date(2024, 4, 10), 0, [0]),
    ]
    for bad in [{"period": "year", "periods": 1}, {"period": "day", "periods": 0}, {"period": "day", "periods": 53}]:
        with pytest.raises(ValueError):
            run_retention(start=RETENTION_NOW - DAY, end=RETENTION_NOW, **common, **bad)
