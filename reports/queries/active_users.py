"""Daily, weekly and monthly active users, and the users active on each day of the range."""

from dataclasses import dataclass
from datetime import date

from reports.dialect import current
from reports.params import Window
from reports.queries.base import in_span, in_window
from reports.queries.series import by_local_period


@dataclass(frozen=True)
class DailyActive:
    date: date
    active_users: int


@dataclass(frozen=True)
class ActiveUsers:
    dau: int
    wau: int
    mau: int
    as_of: date
    series: list[DailyActive]


def active_users(*, app_id, window: Window, event: str | None) -> ActiveUsers:
    """DAU, WAU and MAU over the 1, 7 and 30 local days ending at the window's end (looking back before
    the window's start), and daily actives."""
    dialect = current(app_id)
    c = dialect.column
    month_sql, month_params = in_span(dialect, app_id, window.days_before_end(30), window.end, event)
    # A user was active in the last 7 days if their latest event of the 30 is that recent.
    per_id = dialect.per_id(f"MAX(e.{c('timestamp')}) AS latest", month_sql)
    [(mau, wau, dau)] = dialect.fetch(
        "SELECT COUNT(*), COALESCE(SUM(CASE WHEN latest >= %s THEN 1 ELSE 0 END), 0), "  # noqa: S608 (identifiers, placeholders)
        "COALESCE(SUM(CASE WHEN latest >= %s THEN 1 ELSE 0 END), 0) "
        f"FROM (SELECT {dialect.person('i')} AS person, MAX(i.latest) AS latest "
        f"FROM {dialect.join_persons(per_id, 'i')} GROUP BY {dialect.person('i')}) per_person",
        [dialect.timestamp(window.days_before_end(7)), dialect.timestamp(window.days_before_end(1)), *month_params],
    )
    by_day = by_local_period(dialect, in_window(dialect, app_id, window, event), window, "day")
    return ActiveUsers(
        dau=int(dau),
        wau=int(wau),
        mau=int(mau),
        as_of=window.last_day,
        series=[DailyActive(day, by_day.get(day, (0, 0))[1]) for day in window.days()],
    )
