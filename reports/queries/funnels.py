"""PostHog's ordered funnel over distinct users, with step filters, a conversion window, a breakdown by
the entry event's property, and the median time between steps."""

import json
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Literal

from reports.dialect import Dialect, Fragment, current
from reports.params import Window
from reports.properties import PROPERTIES, canonical, metadata_key, person_key
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
    if (key := person_key(name)) is not None:
        sql, params = dialect.person_property(key)
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
    dialect = current(app_id)
    group = _property_text(dialect, breakdown) if breakdown is not None else None
    step_conditions = [_step_sql(dialect, step, app_id, window) for step in steps]
    rows = dialect.funnel_rows(app_id, step_conditions, window_seconds, group)

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
