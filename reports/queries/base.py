"""What the reports share: the app-and-window filter, and counting events and distinct users per value.

"Users" are distinct ``distinct_id``s (how each store counts them fastest: Dialect.events_and_users_per_value).
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from reports.dialect import Dialect, Fragment
from reports.params import Window
from reports.properties import PROPERTIES, metadata_key, person_key


@dataclass(frozen=True)
class Ranked:
    value: str | None
    count: int
    unique_users: int = 0


def ratio(numerator: int, denominator: int) -> float:
    return round(numerator / denominator, 4) if denominator else 0.0


def in_span(
    dialect: Dialect, app_id, start: datetime, end: datetime, event: str | None = None, *, nonempty: str | None = None
) -> Fragment:
    """The conditions on alias ``e`` for the app's events in [start, end), of one name if given, with a
    non-empty ``nonempty`` column if given."""
    c = dialect.column
    sql = f"e.{c('app')} = %s AND e.{c('timestamp')} >= %s AND e.{c('timestamp')} < %s"
    params = [dialect.app(app_id), dialect.timestamp(start), dialect.timestamp(end)]
    if event:
        sql += f" AND e.{c('name')} = %s"
        params.append(event)
    if nonempty:
        sql += f" AND e.{c(nonempty)} <> ''"
    return sql, params


def in_window(dialect: Dialect, app_id, window: Window, event: str | None = None, **options) -> Fragment:
    sql, params = in_span(dialect, app_id, window.start, window.end, event, **options)
    filtered, filter_params = filter_conditions(dialect, window.filters)
    return sql + filtered, [*params, *filter_params]


def filter_conditions(dialect: Dialect, filters) -> Fragment:
    """`` AND ...`` on alias ``e`` for a window's filters (property, value; None: the unknown value)."""
    sql, params = "", []
    for name, value in filters:
        if name not in PROPERTIES:  # metadata and person properties would need joins some statements lack
            raise ValueError(f"a window filters on event columns only, not {name!r}")
        column = f"e.{dialect.column(PROPERTIES[name])}"
        if value is None:
            sql += f" AND {column} = ''"
        else:
            sql += f" AND {column} = %s"
            params.append(value)
    return sql, params


def property_value(dialect: Dialect, name: str, alias: str = "e") -> Fragment:
    """A property (a canonical name from reports.properties) as text; a missing metadata key or person
    property is null (or '')."""
    key = metadata_key(name)
    if key is not None:
        return dialect.metadata_text(alias, key)
    if (key := person_key(name)) is not None:
        return dialect.person_property(key)
    return f"{alias}.{dialect.column(PROPERTIES[name])}", []


def per_value(
    dialect: Dialect,
    where: Fragment,
    value: Fragment,
    *,
    limit: int | None = None,
    convert: Callable[[Any], Any] | None = None,
    text: bool = False,
) -> list[tuple[Any, int, int]]:
    """(value, events, distinct users) for each value of an expression over the events ``where`` picks;
    with ``limit``, the top values by events, ties in code-point order, unknown (null) last. ``text``:
    the value is a property's text, and its empty and null values are one unknown bucket."""
    where_sql, where_params = where
    value_sql, value_params = value
    per = dialect.events_and_users_per_text if text else dialect.events_and_users_per_value
    sql = per(value_sql, where_sql)
    params = [*value_params, *where_params]
    if limit is not None:
        sql += f" ORDER BY events DESC, {dialect.text_order('bucket')} ASC NULLS LAST LIMIT %s"
        params.append(limit)
    rows = dialect.fetch(sql, params)
    # PostgreSQL's SUM is numeric.
    return [
        (convert(value) if convert and value is not None else value, int(n), int(users)) for value, n, users in rows
    ]


def ranked(dialect: Dialect, where: Fragment, property_name: str, *, limit: int) -> list[Ranked]:
    """The top values of a property (a canonical name from reports.properties), unknown as one null value."""
    rows = per_value(dialect, where, property_value(dialect, property_name), limit=limit, text=True)
    return [Ranked(value, count, users) for value, count, users in rows]
