"""Retention cohorts: users by the local period of their first-ever cohort event, and how many of them
came back in each period after."""

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime

from reports.calendar import (
    PERIODS,
    Period,
    first_boundary_at_or_after,
    local_midnight,
    periods_between,
    shift,
    truncate,
)
from reports.dialect import current
from reports.dialect.base import RetentionQuery
from reports.params import Window
from reports.queries.base import filter_conditions, ratio

MAX_PERIODS = 52


@dataclass(frozen=True)
class RetentionPeriod:
    period: int
    users: int
    rate: float


@dataclass(frozen=True)
class RetentionCohort:
    start: date
    size: int
    periods: list[RetentionPeriod]


@dataclass(frozen=True)
class Retention:
    period: str
    periods: int
    tz: str
    cohorts: list[RetentionCohort]


def retention(
    *,
    app_id,
    window: Window,
    cohort_event: str | None,
    return_event: str | None,
    period: Period,
    periods: int,
    now: datetime | None = None,
) -> Retention:
    """Cohorts by the local period (weeks start on Monday) of each user's first-ever ``cohort_event``.

    Every period the window touches and that has started by ``now`` is a cohort, listed even when empty:
    the first is the whole period containing the window's start, as in PostHog, so a range beginning
    mid-week or mid-month keeps its first cohort rather than dropping it. Period k counts the cohort's
    users with a ``return_event`` in period cohort + k; periods that have not started at ``now`` are
    left out rather than reported as 0. None as an event means any event. The window's filters keep
    the events both are found among: a first event elsewhere does not make a cohort, nor a return.
    """
    if period not in PERIODS:
        raise ValueError(f"period must be one of {', '.join(PERIODS)}")
    if isinstance(periods, bool) or not isinstance(periods, int) or not 1 <= periods <= MAX_PERIODS:
        raise ValueError(f"periods must be an integer from 1 to {MAX_PERIODS}")
    zone = window.tz
    now = (now or datetime.now(UTC)).astimezone(UTC)

    current_period = truncate(now.astimezone(zone).date(), period)
    after_last_cohort = first_boundary_at_or_after(window.end, period, zone)
    cohort_days = []
    day = truncate(window.first_day, period)
    while day < after_last_cohort and day <= current_period:
        cohort_days.append(day)
        day = shift(day, period, 1)
    if not cohort_days or window.end <= window.start:  # an empty range touches no period, not even its own
        return Retention(period=period, periods=periods, tz=zone.key, cohorts=[])

    # Return events past the last reported period, or in periods not yet started, can't count.
    last_return_period = min(shift(cohort_days[-1], period, periods), current_period)
    sizes, retained = _retention_counts(
        RetentionQuery(
            app_id=app_id,
            cohort_event=cohort_event,
            return_event=return_event,
            period=period,
            tz=zone.key,
            cohorts_from=local_midnight(cohort_days[0], zone),
            cohorts_until=local_midnight(shift(cohort_days[-1], period, 1), zone),
            returns_until=local_midnight(shift(last_return_period, period, 1), zone),
            only=filter_conditions(current(app_id), window.filters),
        )
    )

    cohorts = []
    for cohort in cohort_days:
        size = sizes.get(cohort, 0)
        found = retained.get(cohort, {})
        last = min(periods, periods_between(cohort, current_period, period))
        cohorts.append(
            RetentionCohort(
                start=cohort,
                size=size,
                periods=[RetentionPeriod(k, found.get(k, 0), ratio(found.get(k, 0), size)) for k in range(last + 1)],
            )
        )
    return Retention(period=period, periods=periods, tz=zone.key, cohorts=cohorts)


def _retention_counts(query: RetentionQuery) -> tuple[dict[date, int], dict[date, dict[int, int]]]:
    dialect = current(query.app_id)
    sizes: dict[date, int] = {}
    retained: dict[date, dict[int, int]] = defaultdict(dict)
    for cohort, bucket, users in dialect.retention_rows(query):
        cohort = dialect.to_date(cohort)
        if bucket is None:
            sizes[cohort] = users
        else:
            retained[cohort][periods_between(cohort, dialect.to_date(bucket), query.period)] = users
    return sizes, retained
