"""Behavioural reports (SPEC §5, issue #5): funnels, retention, user journeys and the live view.

Each report is one parameterised SQL statement (two for the live view) that has the same shape on
SQLite and PostgreSQL; the few vendor differences (time arithmetic, local calendar buckets, JSON access,
substring search) live in ``_Dialect``. Python validates input, fills empty buckets and shapes the small
grouped results; it never loops over event rows except to shape one journey page.

Every statement filters on the app first, so the (app, ...) indexes serve it and no tenant can see
another's rows. User-supplied values only ever reach SQL as bind parameters; the only interpolated
text is fixed identifiers from the ``Event`` model and whitelisted operators.
"""

import base64
import binascii
import json
import re
import uuid
from collections import defaultdict
from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.db import connection, transaction

from apikeys.models import App
from events.models import Event

MIN_STEPS, MAX_STEPS = 2, 10
MAX_IN_VALUES = 100
MAX_PERIODS = 52
MAX_JOURNEY_LIMIT = 1000
SESSION_GAP_SECONDS = 30 * 60
LIVE_MINUTES = 30
LIVE_ACTIVE_MINUTES = 5

# Property names the funnel filters and breakdowns accept, and the Event column each reads.
PROPERTY_COLUMNS = {
    name: name
    for name in (
        "url",
        "path",
        "host",
        "device_type",
        "browser",
        "os",
        "country",
        "referrer_host",
        "utm_source",
        "utm_medium",
        "utm_campaign",
        "utm_term",
        "utm_content",
    )
}
METADATA_PREFIX = "metadata."
METADATA_KEY = re.compile(r"^[A-Za-z0-9_.\-]{1,100}$")
OPERATORS = ("eq", "neq", "contains", "in")
PERIODS = ("day", "week", "month")

Operator = Literal["eq", "neq", "contains", "in"]
Period = Literal["day", "week", "month"]


# Inputs ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FunnelFilter:
    """``property`` is a column name from PROPERTY_COLUMNS or ``metadata.<key>``; values compare as text."""

    property: str
    operator: Operator
    value: Any


@dataclass(frozen=True)
class FunnelStep:
    event: str
    filters: list[FunnelFilter] = field(default_factory=list)


# Results -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FunnelStepResult:
    event: str
    count: int
    conversion_from_start: float
    conversion_from_previous: float
    drop_off: int
    median_seconds_to_convert: float | None


@dataclass(frozen=True)
class FunnelBreakdownValue:
    value: str
    steps: list[FunnelStepResult]


@dataclass(frozen=True)
class Funnel:
    steps: list[FunnelStepResult]
    breakdown: str | None = None
    # One entry per breakdown value seen at entry, most entered users first (ties by value).
    breakdown_values: list[FunnelBreakdownValue] = field(default_factory=list)


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


@dataclass(frozen=True)
class JourneyEvent:
    event_id: str
    name: str
    timestamp: datetime
    url: str
    path: str
    metadata: dict


@dataclass(frozen=True)
class JourneySession:
    index: int
    start: datetime
    end: datetime
    duration_seconds: float
    entry_page: str
    exit_page: str
    event_count: int
    events: list[JourneyEvent]


@dataclass(frozen=True)
class Journey:
    distinct_id: str
    sessions: list[JourneySession]
    next_cursor: str | None


@dataclass(frozen=True)
class LiveMinute:
    minute: datetime
    events: int
    active_users: int


@dataclass(frozen=True)
class Live:
    now: datetime
    minutes: list[LiveMinute]
    active_users_5m: int
    total_events: int
    total_active_users: int


# SQL plumbing ------------------------------------------------------------------------------------


def _qn(name: str) -> str:
    return connection.ops.quote_name(name)


TABLE = _qn(Event._meta.db_table)
C_ID = _qn(Event._meta.get_field("id").column)
C_APP = _qn(Event._meta.get_field("app").column)
C_NAME = _qn(Event._meta.get_field("name").column)
C_DISTINCT = _qn(Event._meta.get_field("distinct_id").column)
C_TS = _qn(Event._meta.get_field("timestamp").column)
C_EVENT_ID = _qn(Event._meta.get_field("event_id").column)
C_URL = _qn(Event._meta.get_field("url").column)
C_PATH = _qn(Event._meta.get_field("path").column)
C_METADATA = _qn(Event._meta.get_field("metadata").column)


class _Dialect:
    """The vendor-specific SQL fragments. Each method returns (sql, params) in placeholder order."""

    def __init__(self) -> None:
        self.postgres = connection.vendor == "postgresql"
        if connection.vendor not in ("postgresql", "sqlite"):
            raise NotImplementedError(f"behaviour reports support PostgreSQL and SQLite, not {connection.vendor}")

    def plus_seconds(self, expr: str, seconds: int) -> tuple[str, list]:
        if self.postgres:
            return f"({expr} + %s * INTERVAL '1 second')", [seconds]
        # Django stores SQLite datetimes as 'YYYY-MM-DD HH:MM:SS[.ffffff]' UTC text. Adding whole seconds
        # to the first 19 characters and keeping the fraction is exact and yields text in the same
        # format, so it compares correctly; julianday() would round microseconds to milliseconds.
        return (
            f"(strftime('%%Y-%%m-%%d %%H:%%M:%%S', substr({expr}, 1, 19), %s) || substr({expr}, 20))",
            [f"{seconds:+d} seconds"],
        )

    def epoch_microseconds(self, expr: str) -> str:
        if self.postgres:
            return f"(EXTRACT(EPOCH FROM {expr}) * 1000000)"
        # Whole seconds from strftime('%s') plus the six fraction digits, in exact integer arithmetic.
        return (
            f"(CAST(strftime('%%s', substr({expr}, 1, 19)) AS INTEGER) * 1000000"
            f" + CAST(substr({expr} || '.000000', 21, 6) AS INTEGER))"
        )

    def local_bucket(self, period: str, expr: str, tz: str) -> tuple[str, list]:
        """The local calendar date starting ``expr``'s day, Monday-week or month, as a sortable value."""
        if self.postgres:
            return f"CAST(date_trunc(%s, {expr} AT TIME ZONE %s) AS date)", [period, tz]
        # Django registers django_datetime_trunc on every SQLite connection; stored text is UTC.
        return f"substr(django_datetime_trunc(%s, {expr}, %s, 'UTC'), 1, 10)", [period, tz]

    def utc_minute(self, expr: str) -> str:
        if self.postgres:
            return f"to_char({expr} AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI')"
        return f"substr({expr}, 1, 16)"

    def per_user_index(self) -> str:
        """Join hint for reading one user's events by (app, distinct_id, timestamp).

        Without ANALYZE statistics SQLite prefers the (app, timestamp) index for a join on distinct_id
        with a time range, and scans that whole range once per user: 8 s instead of 0.15 s for a funnel
        over 200k events. PostgreSQL's planner chooses well on its own.
        """
        if self.postgres:
            return ""
        name = next(index.name for index in Event._meta.indexes if index.fields == ["app", "distinct_id", "timestamp"])
        return f" INDEXED BY {_qn(name)}"

    def contains(self, expr: str) -> str:
        # strpos/instr rather than LIKE: no wildcard escaping, and case-sensitive on both back ends.
        return f"strpos({expr}, %s) > 0" if self.postgres else f"instr({expr}, %s) > 0"

    def metadata_text(self, alias: str, key: str) -> tuple[str, list]:
        """A metadata value as text: strings as themselves, numbers and booleans as their JSON text."""
        column = f"{alias}.{C_METADATA}"
        if self.postgres:
            return f"({column} ->> %s)", [key]
        # json_extract turns true/false into 1/0; spell them out to match PostgreSQL's ->>.
        path = "$." + json.dumps(key)
        return (
            f"(CASE json_type({column}, %s) WHEN 'true' THEN 'true' WHEN 'false' THEN 'false' "
            f"ELSE CAST(json_extract({column}, %s) AS TEXT) END)",
            [path, path],
        )


def _db_timestamp(moment: datetime) -> Any:
    return Event._meta.get_field("timestamp").get_db_prep_value(moment, connection)


def _db_app(app: App) -> Any:
    return Event._meta.get_field("app").get_db_prep_value(app.pk, connection)


def _from_db_timestamp(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.fromisoformat(value).replace(tzinfo=UTC)


def _from_db_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(value)


def _fetch(sql: str, params: Sequence, *, analytic: bool = False) -> list[tuple]:
    """Run one statement and return its rows. ``analytic`` statements scan many rows on PostgreSQL: JIT
    compiling their plans costs 40-90 ms, more than it saves on a sub-second query, so it is turned off
    for that one transaction (SET LOCAL). SQLite gets no transaction: BEGIN IMMEDIATE would lock writers."""
    postgres = connection.vendor == "postgresql"
    with transaction.atomic() if analytic and postgres else nullcontext(), connection.cursor() as cursor:
        if analytic and postgres:
            cursor.execute("SET LOCAL jit = off")
        cursor.execute(sql, list(params))
        return cursor.fetchall()


def _require_aware(**moments: datetime) -> None:
    for name, moment in moments.items():
        if not isinstance(moment, datetime) or moment.tzinfo is None:
            raise ValueError(f"{name} must be a timezone-aware datetime")


def _ratio(numerator: int, denominator: int) -> float:
    return round(numerator / denominator, 4) if denominator else 0.0


# Funnels -----------------------------------------------------------------------------------------


def _property_sql(dialect: _Dialect, prop: str, alias: str = "e") -> tuple[str, list]:
    """A property as non-null text: a missing metadata key reads as '', like an unknown column value."""
    if prop.startswith(METADATA_PREFIX):
        key = prop.removeprefix(METADATA_PREFIX)
        if not METADATA_KEY.match(key):
            raise ValueError(f"invalid metadata key {key!r}")
        sql, params = dialect.metadata_text(alias, key)
        return f"COALESCE({sql}, '')", params
    if prop not in PROPERTY_COLUMNS:
        raise ValueError(f"unknown property {prop!r}")
    return f"{alias}.{_qn(PROPERTY_COLUMNS[prop])}", []


def _as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return json.dumps(value)
    raise ValueError(f"filter values must be strings, numbers or booleans, got {type(value).__name__}")


def _filter_sql(dialect: _Dialect, condition: FunnelFilter) -> tuple[str, list]:
    expr, params = _property_sql(dialect, condition.property)
    operator = condition.operator
    if operator == "in":
        values = condition.value
        if not isinstance(values, list | tuple) or not 1 <= len(values) <= MAX_IN_VALUES:
            raise ValueError(f"'in' takes a list of 1 to {MAX_IN_VALUES} values")
        placeholders = ", ".join(["%s"] * len(values))
        return f"{expr} IN ({placeholders})", [*params, *(_as_text(value) for value in values)]
    text = _as_text(condition.value)
    if operator == "eq":
        return f"{expr} = %s", [*params, text]
    if operator == "neq":
        return f"{expr} <> %s", [*params, text]
    if operator == "contains":
        return dialect.contains(expr), [*params, text]
    raise ValueError(f"unknown operator {operator!r}; expected one of {', '.join(OPERATORS)}")


def _step_sql(dialect: _Dialect, step: FunnelStep, app_id: Any, start: Any, end: Any) -> tuple[str, list]:
    """The WHERE conditions an event of alias ``e`` meets to count for ``step`` within [start, end)."""
    if not isinstance(step.event, str) or not step.event:
        raise ValueError("every funnel step needs an event name")
    parts = [f"e.{C_APP} = %s", f"e.{C_NAME} = %s", f"e.{C_TS} >= %s", f"e.{C_TS} < %s"]
    params = [app_id, step.event, start, end]
    for condition in step.filters:
        sql, condition_params = _filter_sql(dialect, condition)
        parts.append(sql)
        params.extend(condition_params)
    return " AND ".join(parts), params


def funnel(
    *,
    app: App,
    steps: list[FunnelStep],
    start: datetime,
    end: datetime,
    window_seconds: int,
    breakdown: str | None = None,
) -> Funnel:
    """PostHog's ordered funnel over distinct users.

    A user enters at their first step-1 event in [start, end); each further step is their first matching
    event strictly after the previous step's event, no later than entry + window_seconds (inclusive) and
    before ``end``. A later second entry never restarts the funnel. With ``breakdown``, each user is
    counted under the property value of their entry event ('' when missing).
    """
    _require_aware(start=start, end=end)
    if not MIN_STEPS <= len(steps) <= MAX_STEPS:
        raise ValueError(f"a funnel has {MIN_STEPS} to {MAX_STEPS} steps")
    if isinstance(window_seconds, bool) or not isinstance(window_seconds, int) or window_seconds < 1:
        raise ValueError("window_seconds must be a positive integer")
    dialect = _Dialect()
    app_id, start_db, end_db = _db_app(app), _db_timestamp(start), _db_timestamp(end)

    ctes, params = [], []
    where, where_params = _step_sql(dialect, steps[0], app_id, start_db, end_db)
    if breakdown is None:
        deadline, deadline_params = dialect.plus_seconds("entries.t", window_seconds)
        ctes.append(
            f"step_1 AS (SELECT entries.distinct_id, entries.t, {deadline} AS deadline, '' AS grp, "  # noqa: S608 (identifiers, placeholders)
            f"entries.t AS previous FROM (SELECT e.{C_DISTINCT} AS distinct_id, MIN(e.{C_TS}) AS t "
            f"FROM {TABLE} e WHERE {where} GROUP BY e.{C_DISTINCT}) entries)"
        )
        params += [*deadline_params, *where_params]
    else:
        group_sql, group_params = _property_sql(dialect, breakdown)
        deadline, deadline_params = dialect.plus_seconds("entries.t", window_seconds)
        # The entry event itself (ties on timestamp broken by id) gives the breakdown value. PostgreSQL's
        # DISTINCT ON gets a row estimate the planner can use; a filter on ROW_NUMBER() is guessed at
        # 0.5 % of the rows, which sends the later steps into per-user nested loops.
        if dialect.postgres:
            entries = (
                f"SELECT DISTINCT ON (e.{C_DISTINCT}) e.{C_DISTINCT} AS distinct_id, e.{C_TS} AS t, "  # noqa: S608 (identifiers, placeholders)
                f"{group_sql} AS grp FROM {TABLE} e WHERE {where} ORDER BY e.{C_DISTINCT}, e.{C_TS}, e.{C_ID}"
            )
        else:
            entries = (
                f"SELECT distinct_id, t, grp FROM (SELECT e.{C_DISTINCT} AS distinct_id, e.{C_TS} AS t, "  # noqa: S608 (identifiers, placeholders)
                f"{group_sql} AS grp, ROW_NUMBER() OVER (PARTITION BY e.{C_DISTINCT} "
                f"ORDER BY e.{C_TS}, e.{C_ID}) AS entry_rank FROM {TABLE} e WHERE {where}) ranked "
                "WHERE entry_rank = 1"
            )
        ctes.append(
            f"step_1 AS (SELECT entries.distinct_id, entries.t, {deadline} AS deadline, entries.grp, "  # noqa: S608 (identifiers, placeholders)
            f"entries.t AS previous FROM ({entries}) entries)"
        )
        params += [*deadline_params, *group_params, *where_params]

    for number, step in enumerate(steps[1:], start=2):
        where, where_params = _step_sql(dialect, step, app_id, start_db, end_db)
        ctes.append(
            f"step_{number} AS (SELECT p.distinct_id, MIN(e.{C_TS}) AS t, p.deadline, p.grp, p.t AS previous "  # noqa: S608 (identifiers, placeholders)
            f"FROM step_{number - 1} p JOIN {TABLE} e{dialect.per_user_index()} ON e.{C_DISTINCT} = p.distinct_id "
            f"WHERE {where} AND e.{C_TS} > p.t AND e.{C_TS} <= p.deadline "
            f"GROUP BY p.distinct_id, p.deadline, p.grp, p.t)"
        )
        params += where_params

    # Medians need every converting user's time, so they are ranked in SQL and only the middle one or
    # two rows per step averaged: the standard median, identical on both back ends.
    delta = f"{dialect.epoch_microseconds('t')} - {dialect.epoch_microseconds('previous')}"
    ctes.append(
        "deltas AS ("  # noqa: S608 (identifiers, placeholders)
        + " UNION ALL ".join(
            f"SELECT grp, {number} AS step, {delta} AS delta FROM step_{number}"  # noqa: S608 (identifiers, placeholders)
            for number in range(2, len(steps) + 1)
        )
        + ")"
    )
    by_group = breakdown is not None
    group_windows = (
        ", ROW_NUMBER() OVER (PARTITION BY grp, step ORDER BY delta) AS grp_rank, "
        "COUNT(*) OVER (PARTITION BY grp, step) AS grp_n"
        if by_group
        else ""
    )
    ctes.append(
        "ranked AS (SELECT grp, step, delta, ROW_NUMBER() OVER (PARTITION BY step ORDER BY delta) AS all_rank, "  # noqa: S608 (identifiers, placeholders)
        f"COUNT(*) OVER (PARTITION BY step) AS all_n{group_windows} FROM deltas)"
    )
    selects = [
        "SELECT 0 AS grouped, '' AS grp, step, COUNT(*) AS users, "
        "AVG(CASE WHEN all_rank IN ((all_n + 1) / 2, (all_n + 2) / 2) THEN delta END) AS median "
        "FROM ranked GROUP BY step",
        "SELECT 0, '', 1, COUNT(*), NULL FROM step_1",
    ]
    if by_group:
        selects += [
            "SELECT 1, grp, step, COUNT(*), "
            "AVG(CASE WHEN grp_rank IN ((grp_n + 1) / 2, (grp_n + 2) / 2) THEN delta END) "
            "FROM ranked GROUP BY grp, step",
            "SELECT 1, grp, 1, COUNT(*), NULL FROM step_1 GROUP BY grp",
        ]
    sql = "WITH " + ", ".join(ctes) + " " + " UNION ALL ".join(selects)
    rows = _fetch(sql, params, analytic=True)

    overall: dict[int, tuple[int, Any]] = {}
    groups: dict[str, dict[int, tuple[int, Any]]] = defaultdict(dict)
    for grouped, group, step_number, users, median in rows:
        target = groups[group] if grouped else overall
        target[step_number] = (users, median)

    names = [step.event for step in steps]
    values = [
        FunnelBreakdownValue(value=value, steps=_funnel_steps(names, figures)) for value, figures in groups.items()
    ]
    values.sort(key=lambda value: (-value.steps[0].count, value.value))
    return Funnel(steps=_funnel_steps(names, overall), breakdown=breakdown, breakdown_values=values)


def _funnel_steps(names: list[str], figures: dict[int, tuple[int, Any]]) -> list[FunnelStepResult]:
    results = []
    entered = figures.get(1, (0, None))[0]
    previous = entered
    for number, name in enumerate(names, start=1):
        count, median = figures.get(number, (0, None))
        results.append(
            FunnelStepResult(
                event=name,
                count=count,
                conversion_from_start=_ratio(count, entered),
                conversion_from_previous=_ratio(count, previous),
                drop_off=previous - count,
                median_seconds_to_convert=None if number == 1 or median is None else round(float(median) / 1e6, 3),
            )
        )
        previous = count
    return results


# Retention ---------------------------------------------------------------------------------------


def _truncate(day: date, period: str) -> date:
    if period == "week":
        return day - timedelta(days=day.weekday())
    if period == "month":
        return day.replace(day=1)
    return day


def _shift(day: date, period: str, count: int) -> date:
    if period == "day":
        return day + timedelta(days=count)
    if period == "week":
        return day + timedelta(weeks=count)
    months = day.year * 12 + day.month - 1 + count
    return date(months // 12, months % 12 + 1, 1)


def _periods_between(first: date, later: date, period: str) -> int:
    if period == "day":
        return (later - first).days
    if period == "week":
        return (later - first).days // 7
    return (later.year - first.year) * 12 + later.month - first.month


def _local_start(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(), tzinfo=zone).astimezone(UTC)


def _first_boundary_at_or_after(moment: datetime, period: str, zone: ZoneInfo) -> date:
    day = _truncate(moment.astimezone(zone).date(), period)
    return day if _local_start(day, zone) >= moment else _shift(day, period, 1)


def retention(
    *,
    app: App,
    cohort_event: str | None,
    return_event: str | None,
    period: Period,
    periods: int,
    start: datetime,
    end: datetime,
    tz: str,
    now: datetime | None = None,
) -> Retention:
    """Cohorts by the local period (weeks start on Monday) of each user's first-ever ``cohort_event``.

    Every period that [start, end) touches and that has started by ``now`` is a cohort, listed even when
    empty: the first is the whole period containing ``start``, as in PostHog, so a range beginning
    mid-week or mid-month keeps its first cohort rather than dropping it. Period k counts the cohort's
    users with a ``return_event`` in period cohort + k; periods that have not started at ``now`` are
    left out rather than reported as 0. None as an event means any event.
    """
    _require_aware(start=start, end=end)
    if period not in PERIODS:
        raise ValueError(f"period must be one of {', '.join(PERIODS)}")
    if isinstance(periods, bool) or not isinstance(periods, int) or not 1 <= periods <= MAX_PERIODS:
        raise ValueError(f"periods must be an integer from 1 to {MAX_PERIODS}")
    try:
        zone = ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise ValueError(f"unknown time zone {tz!r}") from None
    now = (now or datetime.now(UTC)).astimezone(UTC)

    current = _truncate(now.astimezone(zone).date(), period)
    after_last_cohort = _first_boundary_at_or_after(end, period, zone)
    cohort_days = []
    day = _truncate(start.astimezone(zone).date(), period)
    while day < after_last_cohort and day <= current:
        cohort_days.append(day)
        day = _shift(day, period, 1)
    if not cohort_days or end <= start:  # an empty range touches no period, not even the one it is in
        return Retention(period=period, periods=periods, tz=tz, cohorts=[])

    sizes, retained = _retention_counts(
        app=app,
        cohort_event=cohort_event,
        return_event=return_event,
        period=period,
        tz=tz,
        cohorts_from=_local_start(cohort_days[0], zone),
        cohorts_until=_local_start(_shift(cohort_days[-1], period, 1), zone),
        # Return events past the last reported period, or in periods not yet started, can't count.
        returns_until=_local_start(_shift(min(_shift(cohort_days[-1], period, periods), current), period, 1), zone),
    )

    cohorts = []
    for cohort in cohort_days:
        size = sizes.get(cohort, 0)
        found = retained.get(cohort, {})
        last = min(periods, _periods_between(cohort, current, period))
        cohorts.append(
            RetentionCohort(
                start=cohort,
                size=size,
                periods=[RetentionPeriod(k, found.get(k, 0), _ratio(found.get(k, 0), size)) for k in range(last + 1)],
            )
        )
    return Retention(period=period, periods=periods, tz=tz, cohorts=cohorts)


def _retention_counts(
    *,
    app: App,
    cohort_event: str | None,
    return_event: str | None,
    period: str,
    tz: str,
    cohorts_from: datetime,
    cohorts_until: datetime,
    returns_until: datetime,
) -> tuple[dict[date, int], dict[date, dict[int, int]]]:
    dialect = _Dialect()
    app_id = _db_app(app)
    cohort_name = f" AND e.{C_NAME} = %s" if cohort_event is not None else ""
    return_name = f" AND e.{C_NAME} = %s" if return_event is not None else ""
    cohort_bucket, cohort_bucket_params = dialect.local_bucket(period, "first_at", tz)
    return_bucket, return_bucket_params = dialect.local_bucket(period, f"e.{C_TS}", tz)
    # A first-ever event can't be found in a date range: firsts scans the user's whole history.
    firsts = (
        f"WITH firsts AS (SELECT e.{C_DISTINCT} AS distinct_id, MIN(e.{C_TS}) AS first_at FROM {TABLE} e "  # noqa: S608 (identifiers, placeholders)
        f"WHERE e.{C_APP} = %s{cohort_name} GROUP BY e.{C_DISTINCT} "
        f"HAVING MIN(e.{C_TS}) >= %s AND MIN(e.{C_TS}) < %s), "
        f"cohorts AS (SELECT distinct_id, {cohort_bucket} AS cohort FROM firsts), "
    )
    if return_event is None:
        # Any event: each cohort user's events come from the (app, distinct_id, timestamp) index alone,
        # so only the cohort's rows are read and bucketed, not everyone's.
        returns = (
            f"returns AS (SELECT DISTINCT c.cohort, c.distinct_id, {return_bucket} AS bucket FROM cohorts c "  # noqa: S608 (identifiers, placeholders)
            f"JOIN {TABLE} e{dialect.per_user_index()} ON e.{C_DISTINCT} = c.distinct_id "
            f"WHERE e.{C_APP} = %s AND e.{C_TS} >= %s AND e.{C_TS} < %s) "
            "SELECT cohort, bucket, COUNT(*) FROM returns WHERE bucket >= cohort GROUP BY cohort, bucket "
        )
    else:
        # A named event: its rows come from the (app, name, timestamp) index; per-user probes would
        # have to read every event of the user from the table to check its name.
        returns = (
            f"returns AS (SELECT DISTINCT e.{C_DISTINCT} AS distinct_id, {return_bucket} AS bucket FROM {TABLE} e "  # noqa: S608 (identifiers, placeholders)
            f"WHERE e.{C_APP} = %s{return_name} AND e.{C_TS} >= %s AND e.{C_TS} < %s) "
            "SELECT c.cohort, r.bucket, COUNT(*) FROM cohorts c JOIN returns r ON r.distinct_id = c.distinct_id "
            "AND r.bucket >= c.cohort GROUP BY c.cohort, r.bucket "
        )
    sql = firsts + returns + "UNION ALL SELECT cohort, NULL, COUNT(*) FROM cohorts GROUP BY cohort"  # noqa: S608 (no values)
    params = [app_id, *([cohort_event] if cohort_event is not None else [])]
    params += [_db_timestamp(cohorts_from), _db_timestamp(cohorts_until), *cohort_bucket_params, *return_bucket_params]
    params += [app_id, *([return_event] if return_event is not None else [])]
    params += [_db_timestamp(cohorts_from), _db_timestamp(returns_until)]

    sizes: dict[date, int] = {}
    retained: dict[date, dict[int, int]] = defaultdict(dict)
    for cohort, bucket, users in _fetch(sql, params, analytic=True):
        cohort = _from_db_date(cohort)
        if bucket is None:
            sizes[cohort] = users
        else:
            retained[cohort][_periods_between(cohort, _from_db_date(bucket), period)] = users
    return sizes, retained


# Journeys ----------------------------------------------------------------------------------------


def encode_cursor(timestamp: datetime, event_pk: int) -> str:
    raw = json.dumps([timestamp.astimezone(UTC).isoformat(), event_pk], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, int]:
    """The (timestamp, id) a page ended at; ValueError for anything this module did not write."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        moment_text, event_pk = json.loads(raw)
        moment = datetime.fromisoformat(moment_text)
        if moment.tzinfo is None or type(event_pk) is not int or not 0 < event_pk < 2**63:  # a bigint id
            raise ValueError("invalid cursor")
        # In UTC, as written: a crafted offset past PostgreSQL's ±15:59 would fail the query.
        return moment.astimezone(UTC), event_pk
    except (binascii.Error, UnicodeDecodeError, TypeError, ValueError, AttributeError, OverflowError):
        raise ValueError("invalid cursor") from None


def journey(*, app: App, distinct_id: str, cursor: str | None, limit: int) -> Journey | None:
    """One page of a user's events in time order (ties by id), grouped into sessions.

    A session ends after more than 30 minutes without an event (exactly 30 minutes stays in it).
    Sessions are numbered over the user's whole history and their figures cover the whole session, so a
    session cut by a page boundary reads the same on both pages. None when the app never saw the user.
    """
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_JOURNEY_LIMIT:
        raise ValueError(f"limit must be an integer from 1 to {MAX_JOURNEY_LIMIT}")
    after = decode_cursor(cursor) if cursor is not None else None
    dialect = _Dialect()
    gap_end, gap_params = dialect.plus_seconds("previous", SESSION_GAP_SECONDS)
    whole_session = "PARTITION BY session ORDER BY ts, id ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING"
    page_filter, page_params = "", []
    if after is not None:
        moment = _db_timestamp(after[0])
        page_filter = "WHERE ts > %s OR (ts = %s AND id > %s) "
        page_params = [moment, moment, after[1]]
    # Sessions need the whole history, but only (id, timestamp, path); the page's rows alone are joined
    # back for their other columns, so a user with 100k events doesn't drag 100k metadata blobs through
    # three window sorts.
    sql = (
        f"WITH ordered AS (SELECT e.{C_ID} AS id, e.{C_TS} AS ts, e.{C_PATH} AS path, "  # noqa: S608 (identifiers, placeholders)
        f"LAG(e.{C_TS}) OVER (ORDER BY e.{C_TS}, e.{C_ID}) AS previous "
        f"FROM {TABLE} e WHERE e.{C_APP} = %s AND e.{C_DISTINCT} = %s), "
        "numbered AS (SELECT id, ts, path, "
        f"SUM(CASE WHEN previous IS NULL OR ts > {gap_end} THEN 1 ELSE 0 END) "
        "OVER (ORDER BY ts, id ROWS UNBOUNDED PRECEDING) AS session FROM ordered), "
        "sessions AS (SELECT id, ts, session, "
        "MIN(ts) OVER (PARTITION BY session) AS session_start, MAX(ts) OVER (PARTITION BY session) AS session_end, "
        "COUNT(*) OVER (PARTITION BY session) AS session_events, "
        f"FIRST_VALUE(path) OVER ({whole_session}) AS entry_page, "
        f"LAST_VALUE(path) OVER ({whole_session}) AS exit_page FROM numbered), "
        f"page AS (SELECT * FROM sessions {page_filter}ORDER BY ts, id LIMIT %s) "
        # A session's figures only on its first row of the page: every timestamp read back costs the
        # driver a parse, and repeating two per event was a fifth of a 1,000-event page (bench/behaviour.py).
        f"SELECT paged.id, e.{C_EVENT_ID}, e.{C_NAME}, paged.ts, e.{C_URL}, e.{C_PATH}, e.{C_METADATA}, paged.session, "
        + ", ".join(
            f"CASE WHEN paged.ts = paged.first_on_page THEN paged.{column} END"
            for column in ("session_start", "session_end", "session_events", "entry_page", "exit_page")
        )
        + " FROM (SELECT *, MIN(ts) OVER (PARTITION BY session) AS first_on_page FROM page) paged "  # noqa: S608
        f"JOIN {TABLE} e ON e.{C_ID} = paged.id ORDER BY paged.ts, paged.id"
    )
    rows = _fetch(sql, [_db_app(app), distinct_id, *gap_params, *page_params, limit + 1])
    if not rows and not Event.objects.filter(app=app, distinct_id=distinct_id).exists():
        return None

    page, more = rows[:limit], len(rows) > limit
    sessions: list[JourneySession] = []
    for _pk, event_id, name, ts, url, path, metadata, number, first, last, count, entry, exit_page in page:
        if not sessions or sessions[-1].index != number:
            first, last = _from_db_timestamp(first), _from_db_timestamp(last)
            sessions.append(
                JourneySession(
                    index=int(number),
                    start=first,
                    end=last,
                    duration_seconds=(last - first).total_seconds(),
                    entry_page=entry or "",
                    exit_page=exit_page or "",
                    event_count=count,
                    events=[],
                )
            )
        sessions[-1].events.append(
            JourneyEvent(
                # SQLite stores UUIDs as 32 hex digits; both read back in the canonical hyphenated form.
                event_id=str(uuid.UUID(str(event_id))),
                name=name,
                timestamp=_from_db_timestamp(ts),
                url=url,
                path=path,
                metadata=json.loads(metadata) if isinstance(metadata, str | bytes) else metadata,
            )
        )
    next_cursor = None
    if more:
        last_row = page[-1]
        next_cursor = encode_cursor(_from_db_timestamp(last_row[3]), last_row[0])
    return Journey(distinct_id=distinct_id, sessions=sessions, next_cursor=next_cursor)


# Live --------------------------------------------------------------------------------------------


def live(*, app: App, now: datetime) -> Live:
    """Events and distinct users per UTC minute for the 30 minutes up to ``now``, oldest first.

    The last bucket is the current, partial minute, so events counted at [first minute, now] — an event
    stamped after ``now`` (a client clock running ahead) is not live yet.
    """
    _require_aware(now=now)
    now = now.astimezone(UTC)
    current = now.replace(second=0, microsecond=0)
    first = current - timedelta(minutes=LIVE_MINUTES - 1)
    recent = now - timedelta(minutes=LIVE_ACTIVE_MINUTES)
    dialect = _Dialect()
    span = f"FROM {TABLE} e WHERE e.{C_APP} = %s AND e.{C_TS} >= %s AND e.{C_TS} <= %s"
    span_params = [_db_app(app), _db_timestamp(first), _db_timestamp(now)]
    minute = dialect.utc_minute(f"e.{C_TS}")
    # GROUP BY position: the bucket expression is written once.
    per_minute = _fetch(
        f"SELECT {minute}, COUNT(*), COUNT(DISTINCT e.{C_DISTINCT}) {span} GROUP BY 1",
        span_params,
    )
    [(total_events, total_users, recent_users)] = _fetch(
        f"SELECT COUNT(*), COUNT(DISTINCT e.{C_DISTINCT}), "
        f"COUNT(DISTINCT CASE WHEN e.{C_TS} >= %s THEN e.{C_DISTINCT} END) {span}",
        [_db_timestamp(recent), *span_params],
    )
    found = {key: (events, users) for key, events, users in per_minute}
    minutes = []
    for offset in range(LIVE_MINUTES):
        start = first + timedelta(minutes=offset)
        events, users = found.get(start.strftime("%Y-%m-%d %H:%M"), (0, 0))
        minutes.append(LiveMinute(minute=start, events=events, active_users=users))
    return Live(
        now=now,
        minutes=minutes,
        active_users_5m=recent_users,
        total_events=total_events,
        total_active_users=total_users,
    )
