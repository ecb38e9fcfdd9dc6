"""PostHog's ordered funnel over distinct users, with step filters, a conversion window, a breakdown by
the entry event's property, and the median time between steps."""

import json
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Literal

from reports.dialect import Dialect, Fragment, current
from reports.params import Window
from reports.properties import PROPERTIES, canonical, metadata_key
from reports.queries.base import in_window, ratio

MIN_STEPS, MAX_STEPS = 2, 10
MAX_IN_VALUES = 100
OPERATORS = ("eq", "neq", "contains", "in")

Operator = Literal["eq", "neq", "contains", "in"]


@dataclass(frozen=True)
class FunnelFilter:
    """``property`` is a property name (reports.properties); values compare as text."""

    property: str
    operator: Operator
    value: Any


@dataclass(frozen=True)
class FunnelStep:
    event: str
    filters: list[FunnelFilter] = field(default_factory=list)


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


def _property_text(dialect: Dialect, name: str) -> Fragment:
    """A property as non-null text: a missing metadata key reads as '', like an unknown column value."""
    name = canonical(name)
    key = metadata_key(name)
    if key is not None:
        sql, params = dialect.metadata_text("e", key)
        return f"COALESCE({sql}, '')", params
    return f"e.{dialect.column(PROPERTIES[name])}", []


def _as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return json.dumps(value)
    raise ValueError(f"filter values must be strings, numbers or booleans, got {type(value).__name__}")


def _filter_sql(dialect: Dialect, condition: FunnelFilter) -> Fragment:
    expr, params = _property_text(dialect, condition.property)
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


def _step_sql(dialect: Dialect, step: FunnelStep, app_id, window: Window) -> Fragment:
    """The conditions an event of alias ``e`` meets to count for ``step`` in the window."""
    if not isinstance(step.event, str) or not step.event:
        raise ValueError("every funnel step needs an event name")
    sql, params = in_window(dialect, app_id, window, step.event)
    for condition in step.filters:
        condition_sql, condition_params = _filter_sql(dialect, condition)
        sql += f" AND {condition_sql}"
        params = [*params, *condition_params]
    return sql, params


def funnel(
    *, app_id, window: Window, steps: list[FunnelStep], window_seconds: int, breakdown: str | None = None
) -> Funnel:
    """A user enters at their first step-1 event in the window; each further step is their first
    matching event strictly after the previous step's event, no later than entry + window_seconds
    (inclusive) and before the window ends. A later second entry never restarts the funnel. With
    ``breakdown``, each user is counted under the property value of their entry event ('' when missing).
    """
    if not MIN_STEPS <= len(steps) <= MAX_STEPS:
        raise ValueError(f"a funnel has {MIN_STEPS} to {MAX_STEPS} steps")
    if isinstance(window_seconds, bool) or not isinstance(window_seconds, int) or window_seconds < 1:
        raise ValueError("window_seconds must be a positive integer")
    dialect = current()
    c = dialect.column
    ctes, params = [], []
    where, where_params = _step_sql(dialect, steps[0], app_id, window)
    deadline, deadline_params = dialect.plus_seconds("entries.t", window_seconds)
    if breakdown is None:
        entries = (
            f"SELECT e.{c('distinct_id')} AS distinct_id, MIN(e.{c('timestamp')}) AS t, '' AS grp "  # noqa: S608 (identifiers, placeholders)
            f"FROM {dialect.table} e WHERE {where} GROUP BY e.{c('distinct_id')}"
        )
        group_params = []
    else:
        group_sql, group_params = _property_text(dialect, breakdown)
        # The entry event itself (ties on timestamp broken by id) gives the breakdown value.
        entries = dialect.first_per_user(
            f"e.{c('distinct_id')} AS distinct_id, e.{c('timestamp')} AS t, {group_sql} AS grp",
            where,
            f"e.{c('timestamp')}, e.{c('id')}",
        )
    ctes.append(
        f"step_1 AS (SELECT entries.distinct_id, entries.t, {deadline} AS deadline, entries.grp, "  # noqa: S608 (identifiers, placeholders)
        f"entries.t AS previous FROM ({entries}) entries)"
    )
    params += [*deadline_params, *group_params, *where_params]

    for number, step in enumerate(steps[1:], start=2):
        where, where_params = _step_sql(dialect, step, app_id, window)
        ctes.append(
            f"step_{number} AS (SELECT p.distinct_id, MIN(e.{c('timestamp')}) AS t, p.deadline, p.grp, "  # noqa: S608 (identifiers, placeholders)
            f"p.t AS previous FROM step_{number - 1} p JOIN {dialect.table} e{dialect.per_user_index()} "
            f"ON e.{c('distinct_id')} = p.distinct_id WHERE {where} AND e.{c('timestamp')} > p.t "
            f"AND e.{c('timestamp')} <= p.deadline GROUP BY p.distinct_id, p.deadline, p.grp, p.t)"
        )
        params += where_params

    # Medians need every converting user's time, so they are ranked in SQL and only the middle one or
    # two rows per step averaged: the standard median, identical on every store.
    delta = f"{dialect.epoch_microseconds('t')} - {dialect.epoch_microseconds('previous')}"
    ctes.append(
        "deltas AS ("  # noqa: S608 (identifiers)
        + " UNION ALL ".join(
            f"SELECT grp, {number} AS step, {delta} AS delta FROM step_{number}"  # noqa: S608 (identifiers)
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
        "ranked AS (SELECT grp, step, delta, ROW_NUMBER() OVER (PARTITION BY step ORDER BY delta) AS all_rank, "  # noqa: S608
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
    rows = dialect.fetch("WITH " + ", ".join(ctes) + " " + " UNION ALL ".join(selects), params)

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
                conversion_from_start=ratio(count, entered),
                conversion_from_previous=ratio(count, previous),
                drop_off=previous - count,
                median_seconds_to_convert=None if number == 1 or median is None else round(float(median) / 1e6, 3),
            )
        )
        previous = count
    return results
