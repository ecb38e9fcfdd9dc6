"""The event summary of a range, and one user's statistics over all time."""

from dataclasses import dataclass
from datetime import datetime

from persons.selectors import distinct_ids_of, person_of
from reports.dialect import Dialect, current
from reports.params import Window
from reports.queries.base import Ranked, in_window, per_value

SUMMARY_EVENT_LIMIT = 100
SUMMARY_LIST_LIMIT = 10
RECENT_EVENTS = 10
_SUMMARY_COLUMNS = ("name", "device_type", "browser", "os", "referrer_host")


@dataclass(frozen=True)
class EventSummary:
    event: str | None
    count: int
    unique_users: int
    device_data: dict[str, int]
    event_breakdown: list[Ranked] | None
    top_referrers: list[Ranked]
    browsers: list[Ranked]
    os: list[Ranked]


@dataclass(frozen=True)
class RecentEvent:
    event_id: str
    event: str
    timestamp: datetime
    url: str
    metadata: dict


@dataclass(frozen=True)
class UserStats:
    distinct_id: str
    total_events: int
    first_seen: datetime
    last_seen: datetime
    browser: str
    os: str
    devices: dict[str, int]
    ip_address: str | None
    recent_events: list[RecentEvent]
    distinct_ids: list[str]  # the person's, the asked one among them
    properties: dict  # the person's traits


def _top(counts: dict, limit: int | None) -> list[Ranked]:
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0] is None, item[0] or ""))
    return [Ranked(value, count) for value, count in ranked[:limit]]


def _summary_counts(dialect: Dialect, where) -> dict[str, dict[str | None, int]]:
    """Events per value of each summary column."""
    counts: dict[str, dict] = {field: {} for field in _SUMMARY_COLUMNS}
    for field, value, count in dialect.value_counts(where, _SUMMARY_COLUMNS):
        counts[field][value or None] = int(count)
    return counts


def event_summary(*, app_id, window: Window, event: str | None) -> EventSummary:
    dialect = current(app_id)
    where = in_window(dialect, app_id, window, event)
    # The whole range as one value: no rows when it holds no events.
    totals = per_value(dialect, where, ("0", []))
    count, users = totals[0][1:] if totals else (0, 0)
    counts = _summary_counts(dialect, where)
    referrers = {host: n for host, n in counts["referrer_host"].items() if host is not None}
    return EventSummary(
        event=event,
        count=int(count),
        unique_users=int(users),
        device_data={(device or "unknown"): n for device, n in counts["device_type"].items()},
        event_breakdown=None if event else _top(counts["name"], SUMMARY_EVENT_LIMIT),
        top_referrers=_top(referrers, SUMMARY_LIST_LIMIT),
        browsers=_top(counts["browser"], SUMMARY_LIST_LIMIT),
        os=_top(counts["os"], SUMMARY_LIST_LIMIT),
    )


def user_stats(*, app_id, distinct_id: str) -> UserStats | None:
    """The whole history in the app of the person ``distinct_id`` belongs to (persons.identity: all
    the ids identify and alias linked); None when the app has never seen any of them.
    """
    dialect = current(app_id)
    c = dialect.column
    person = person_of(app_id, distinct_id)
    distinct_ids = distinct_ids_of(app_id, distinct_id)
    user, params = dialect.of_person(app_id, distinct_ids)
    [(total, first_seen, last_seen)] = dialect.fetch(
        f"SELECT COUNT(*), MIN(e.{c('timestamp')}), MAX(e.{c('timestamp')}) {user}", params
    )
    if not total:
        return None
    devices = dialect.fetch(f"SELECT e.{c('device_type')} AS device, COUNT(*) {user} GROUP BY device", params)
    latest_first = f"ORDER BY e.{c('timestamp')} DESC, e.{c('id')} DESC"
    recent = dialect.fetch(
        f"SELECT e.{c('event_id')}, e.{c('name')}, e.{c('timestamp')}, e.{c('url')}, e.{c('metadata')}, "
        f"e.{c('ip')} {user} {latest_first} LIMIT %s",
        [*params, RECENT_EVENTS],
    )
    # The latest event that says what device it came from: an identify, group or alias from a server SDK
    # usually carries no user agent, and would blank the browser and OS of a user who has one.
    device = dialect.fetch(
        f"SELECT e.{c('browser')}, e.{c('os')} {user} AND e.{c('user_agent')} <> '' {latest_first} LIMIT 1", params
    )
    browser, os_name = device[0] if device else ("", "")
    return UserStats(
        distinct_id=distinct_id,
        distinct_ids=distinct_ids,
        properties=person.properties if person else {},
        total_events=int(total),
        first_seen=dialect.to_timestamp(first_seen),
        last_seen=dialect.to_timestamp(last_seen),
        browser=browser,
        os=os_name,
        devices={(name or "unknown"): int(n) for name, n in sorted(devices)},
        ip_address=recent[0][-1],
        recent_events=[
            RecentEvent(
                str(dialect.to_uuid(event_id)), name, dialect.to_timestamp(moment), url, dialect.to_json(metadata)
            )
            for event_id, name, moment, url, metadata, _ in recent
        ],
    )
