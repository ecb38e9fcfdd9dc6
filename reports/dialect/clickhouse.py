"""The reports' SQL on ClickHouse (ANALYTICS_STORE=clickhouse), for the old server Debian installs
(18.16) and the current engine (chdb, clickhouse/clickhouse-server) alike.

Timestamps are Int64 microseconds since the epoch (18.16 has no DateTime64), so time arithmetic is
integer arithmetic and the reports' instants reach the store as integers. The old server has no common
table expressions, no window functions and no JSON functions, so the statements that use them on the
Django databases are spelled here with per-user arrays (one scan, no join), and a metadata value is read
from the ``metadata_keys``/``metadata_values`` arrays the writer fills (clickhouse_store/rows.py).
``seq`` (arrival order) breaks timestamp ties where the Django databases use the row id.

18.16 reads no column for a lambda that only the lambda names ("Unknown identifier"), so no lambda here
captures one: each value a lambda needs is passed to it as an array, ``replicate(value, array)``. It
also replaces an alias's name inside a lambda, so no lambda parameter shares a name with an alias.
"""

import re
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from clickhouse_store.client import Client, client
from reports.dialect.base import Dialect, Fragment, RetentionQuery

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)
_COLUMNS = {"app": "app_id", "timestamp": "timestamp_us", "received_at": "received_at_us", "id": "seq"}
_PLACEHOLDER = re.compile(r"%s")
# The local calendar date a DateTime falls on, by period; each takes the zone as its second argument.
_PERIOD_START = {"day": "toDate", "week": "toMonday", "month": "toStartOfMonth"}


def _named(sql: str, params: Sequence) -> tuple[str, dict]:
    """Positional ``%s`` placeholders as the driver's ``%(name)s`` ones."""
    names = iter(range(len(params)))
    named = _PLACEHOLDER.sub(lambda _: f"%(p{next(names)})s", sql)
    return named, {f"p{number}": value for number, value in enumerate(params)}


def _datetime(expr: str) -> str:
    return f"toDateTime(intDiv({expr}, 1000000), 'UTC')"


class ClickHouse(Dialect):
    vendor = "clickhouse"

    def __init__(self, store: Client) -> None:
        self.store = store
        self.reads_person_properties = False
        self.table = f"`{store.database}`.events"

    @classmethod
    def for_settings(cls) -> "ClickHouse":
        return cls(client())

    def column(self, field: str) -> str:
        return _COLUMNS.get(field, field)

    # Running statements ------------------------------------------------------------------------

    def fetch(self, sql: str, params: Sequence) -> list[tuple]:
        return self.store.execute(*_named(sql, params))

    def stream(self, sql: str, params: Sequence, *, chunk: int) -> Iterator[tuple]:
        yield from self.store.iter_rows(*_named(sql, params), chunk=chunk)

    # Values in and out -------------------------------------------------------------------------

    def timestamp(self, moment: datetime) -> int:
        return (moment - EPOCH) // MICROSECOND

    def app(self, app_id) -> Any:
        return self.to_uuid(app_id)

    @staticmethod
    def to_timestamp(value: Any) -> datetime:
        return EPOCH + value * MICROSECOND

    # Fragments ---------------------------------------------------------------------------------

    def plus_seconds(self, expr: str, seconds: int) -> Fragment:
        return f"({expr} + %s)", [seconds * 1_000_000]

    def epoch_microseconds(self, expr: str) -> str:
        return expr

    def local_bucket(self, period: str, expr: str, tz: str) -> Fragment:
        return f"{_PERIOD_START[period]}({_datetime(expr)}, %s)", [tz]

    def hour_start(self, expr: str, minutes: int) -> Fragment:
        shift = minutes * 60_000_000
        return f"(intDiv({expr} + %s, 3600000000) * 3600000000 - %s)", [shift, shift]

    def utc_minute(self, expr: str) -> str:
        # toString(DateTime) is 'YYYY-MM-DD HH:MM:SS' on every version; formatDateTime's %M changed meaning.
        return f"substring(toString({_datetime(expr)}), 1, 16)"

    def contains(self, expr: str) -> str:
        return f"position({expr}, %s) > 0"

    def metadata_text(self, alias: str, key: str) -> Fragment:
        keys, values = f"{alias}.metadata_keys", f"{alias}.metadata_values"
        return f"if(has({keys}, %s), {values}[indexOf({keys}, %s)], NULL)", [key, key]

    def join_persons(self, source: str, alias: str) -> str:
        # The report's app's mappings alone, joined on the id alone: a third less time than all apps'
        # joined on (app, id) (bench/persons.py). argMax: a replaced mapping may not have been merged
        # away yet. GLOBAL: with a Distributed events table they are read once and sent to every shard.
        if self.app_id is None:
            raise ValueError("a report that counts persons needs the dialect of its app: current(app_id)")
        app = f"app_id = toUUID('{self.to_uuid(self.app_id)}')"
        mappings = (
            "SELECT distinct_id, argMax(person_key, version) AS person_key "  # noqa: S608 (identifiers, a UUID)
            f"FROM `{self.store.database}`.person_ids WHERE {app} GROUP BY distinct_id"
        )
        if self.reads_person_properties:
            # Each mapping with its person's properties: a join of its own, as 18.16 allows one a SELECT.
            properties = (
                "SELECT person_key, argMax(property_keys, version) AS person_property_keys, "  # noqa: S608 (identifiers, a UUID)
                "argMax(property_values, version) AS person_property_values "
                f"FROM `{self.store.database}`.person_properties WHERE {app} GROUP BY person_key"
            )
            mappings = f"SELECT * FROM ({mappings}) AS ids ANY LEFT JOIN ({properties}) AS traits USING (person_key)"  # noqa: S608
        return f"{source} {alias} GLOBAL ANY LEFT JOIN ({mappings}) AS pd USING (distinct_id)"

    def person_property(self, key: str) -> Fragment:
        # The statement this goes into joins the persons' properties too (join_persons).
        self.reads_person_properties = True
        return "person_property_values[indexOf(person_property_keys, %s)]", [key]

    def person(self, alias: str = "e") -> str:
        # An id with no mapping joins the default, an empty key.
        return f"if(person_key = '', {alias}.distinct_id, person_key)"

    def events_and_users_per_value(self, value: str, where: str) -> str:
        # uniqExact in one GROUP BY: exact, and 1.2-1.6x faster on 18.16 than the two-step grouping
        # PostgreSQL prefers (bench/reports.py).
        return (
            f"SELECT {value} AS bucket, COUNT(*) AS events, uniqExact({self.person()}) AS users "  # noqa: S608 (identifiers, placeholders)
            f"FROM {self.with_persons()} WHERE {where} GROUP BY bucket"
        )

    def events_and_users_per_text(self, text: str, where: str) -> str:
        # Grouped by the text itself, made null outside: grouping a plain String column is ClickHouse's
        # fast path, a Nullable expression is not (top pages 10-25% faster on 18.16, bench/reports.py).
        # ifNull is the column itself when it cannot be null, and makes a missing metadata key empty.
        grouped = self.events_and_users_per_value(f"ifNull({text}, '')", where)
        return f"SELECT nullIf(bucket, '') AS bucket, events, users FROM ({grouped})"  # noqa: S608 (identifiers)

    def value_counts(self, where: Fragment, fields: Sequence[str]) -> list[tuple[str, Any, int]]:
        # Per combination of the fields, then one row per (field, value) pair of each combination.
        where_sql, params = where
        listed = ", ".join(f"e.{self.column(field)} AS f{number}" for number, field in enumerate(fields))
        aliases = ", ".join(f"f{number}" for number in range(len(fields)))
        pairs = ", ".join(f"('{field}', f{number})" for number, field in enumerate(fields))
        sql = (
            "SELECT tupleElement(pair, 1) AS field, tupleElement(pair, 2) AS value, SUM(n) FROM ("  # noqa: S608 (identifiers, placeholders)
            f"SELECT {listed}, COUNT(*) AS n FROM {self.table} e WHERE {where_sql} GROUP BY {aliases}) "
            f"ARRAY JOIN [{pairs}] AS pair GROUP BY field, value"
        )
        return self.fetch(sql, params)

    def funnel_rows(
        self, app_id, steps: Sequence[Fragment], window_seconds: int, group: Fragment | None
    ) -> list[tuple]:
        # Per user: each step's event times, then each step's time in turn (the earliest after the
        # previous step's, within the window of the entry); 0 once a step is missed.
        c = self.column
        ts, seq = f"e.{c('timestamp')}", f"e.{c('id')}"
        window_us = window_seconds * 1_000_000
        arrays, params = [], []
        for number, (where, where_params) in enumerate(steps, start=1):
            arrays.append(f"groupArrayIf({ts}, {where}) AS s{number}")
            params += where_params
        reached = ["arrayReduce('min', s1) AS t1"]
        for number in range(2, len(steps) + 1):
            previous = f"t{number - 1}"
            reached.append(
                f"arrayFilter((x, after, until) -> x > after AND x <= until, s{number}, "
                f"replicate({previous}, s{number}), replicate(t1 + {window_us}, s{number})) AS f{number}, "
                f"if({previous} = 0 OR empty(f{number}), 0, arrayReduce('min', f{number})) AS t{number}"
            )
        if group is None:
            entry_group = "'' AS grp"
        else:
            group_sql, group_params = group
            # The entry event itself (ties on timestamp broken by arrival) gives the breakdown value.
            entry_group = (
                f"tupleElement(arraySort(groupArrayIf(({ts}, {seq}, {group_sql}), {steps[0][0]}))[1], 3) AS grp"
            )
            params = [*params, *group_params, *steps[0][1]]
        any_step = " OR ".join(f"({where})" for where, _ in steps)
        for _, where_params in steps:
            params += where_params
        times = ", ".join(f"t{number}" for number in range(1, len(steps) + 1))
        per_user = (
            f"SELECT {', '.join(arrays)}, {entry_group}, {', '.join(reached)}, [{times}] AS reached "  # noqa: S608 (identifiers, placeholders)
            f"FROM {self.with_persons()} WHERE {any_step} GROUP BY {self.person()} HAVING notEmpty(s1)"
        )
        # Each user's reached steps with the time each took, once overall and once under the user's
        # breakdown value (one ARRAY JOIN: 18.16 allows no second); then the standard median of each
        # step's times: the middle one, or the mean of the middle two.
        arrays = ["arrayMap((n, d) -> (toUInt8(0), '', n, d), steps_reached, took)"]
        if group is not None:
            arrays.append(
                "arrayMap((n, d, v) -> (toUInt8(1), v, n, d), steps_reached, took, replicate(grp, steps_reached))"
            )
        # Steps are reached in order, so the reached ones are a prefix and each one's time is its
        # difference from the one before (arrayDifference starts at 0: the entry).
        per_step = (
            "SELECT arrayFilter((i, t) -> t > 0, arrayEnumerate(reached), reached) AS steps_reached, "  # noqa: S608 (identifiers)
            "arrayFilter((d, t) -> t > 0, arrayDifference(reached), reached) AS took, "
            f"arrayConcat({', '.join(arrays)}) AS contributions FROM ({per_user})"
        )
        sql = (
            "SELECT tupleElement(r, 1) AS grouped, tupleElement(r, 2) AS group_value, tupleElement(r, 3) AS step, "  # noqa: S608 (identifiers)
            "COUNT(*) AS users, arraySort(groupArray(tupleElement(r, 4))) AS deltas, "
            "(deltas[intDiv(users + 1, 2)] + deltas[intDiv(users + 2, 2)]) / 2 AS median_us "
            f"FROM ({per_step}) ARRAY JOIN contributions AS r GROUP BY grouped, group_value, step"
        )
        rows = self.fetch(sql, params)
        return [(grouped, value, step, users, median) for grouped, value, step, users, _, median in rows]

    def retention_rows(self, query: RetentionQuery) -> list[tuple]:
        # Per user, one pass over the app's events: the first-ever cohort event and the periods with a
        # return event; then each cohort's size (bucket null) and returners per period.
        c = self.column
        name, ts = f"e.{c('name')}", f"e.{c('timestamp')}"
        cohort_is, cohort_params = (
            (f"{name} = %s", [query.cohort_event]) if query.cohort_event is not None else ("1", [])
        )
        return_is, return_params = (
            (f"{name} = %s", [query.return_event]) if query.return_event is not None else ("1", [])
        )
        cohort_bucket, cohort_bucket_params = self.local_bucket(query.period, "first_at", query.tz)
        return_bucket, return_bucket_params = self.local_bucket(query.period, ts, query.tz)
        names, names_params = "", []
        if query.cohort_event is not None and query.return_event is not None:
            names, names_params = f" AND {name} IN (%s, %s)", [query.cohort_event, query.return_event]
        returns_from, cohorts_end = self.timestamp(query.cohorts_from), self.timestamp(query.cohorts_until)
        per_user = (
            f"SELECT minIf({ts}, {cohort_is}) AS first_at, {cohort_bucket} AS cohort, "  # noqa: S608 (identifiers, placeholders)
            f"groupUniqArrayIf({return_bucket}, {return_is} AND {ts} >= %s AND {ts} < %s) AS buckets "
            f"FROM {self.with_persons()} WHERE e.{c('app')} = %s{names}{query.only[0]} GROUP BY {self.person()} "
            f"HAVING countIf({cohort_is}) > 0 AND first_at >= %s AND first_at < %s"
        )
        params = [*cohort_params, *cohort_bucket_params, *return_bucket_params, *return_params]
        params += [returns_from, self.timestamp(query.returns_until), self.app(query.app_id), *names_params]
        params += query.only[1]
        params += [*cohort_params, returns_from, cohorts_end]
        # toDate(0) stands for the cohort itself, as a null would in a typed array.
        sql = (
            "SELECT cohort, if(bucket = toDate(0), NULL, bucket) AS period_start, COUNT(*) FROM ("  # noqa: S608 (identifiers)
            "SELECT cohort, arrayPushFront(arrayFilter((b, c) -> b >= c, buckets, replicate(cohort, buckets)), "
            f"toDate(0)) AS periods FROM ({per_user})"
            ") ARRAY JOIN periods AS bucket GROUP BY cohort, bucket"
        )
        return self.fetch(sql, params)

    def visit_rows(self, where: Fragment, *, pageview: str, gap_seconds: int, limit: int) -> list[tuple]:
        c = self.column
        where_sql, where_params = where
        # Per person and session id, the events in order, numbered into visits: a new one at the first
        # event, and, without a session id (longest 0 with one), after each gap over the longest.
        per_session = (
            f"SELECT {self.person()} AS visitor, e.{c('session_id')} AS sid, "  # noqa: S608 (identifiers, placeholders)
            f"arraySort(groupArray((e.{c('timestamp')}, e.{c('id')}, toUInt8(e.{c('name')} = %s), e.{c('path')}))) "
            "AS ordered, arrayMap(x -> tupleElement(x, 1), ordered) AS times, "
            "arrayCumSum(arrayMap((i, gap, longest) -> if(i = 1 OR (longest > 0 AND gap > longest), 1, 0), "
            "arrayEnumerate(times), arrayDifference(times), replicate(if(sid = '', %s, 0), times))) AS numbers "
            f"FROM {self.with_persons()} WHERE {where_sql} GROUP BY visitor, sid"
        )
        events = (
            "SELECT visitor, sid, visit, tupleElement(event, 1) AS ts, tupleElement(event, 2) AS seq, "  # noqa: S608 (identifiers)
            "tupleElement(event, 3) AS is_view, tupleElement(event, 4) AS path "
            f"FROM ({per_session}) ARRAY JOIN ordered AS event, numbers AS visit"
        )
        # Each visit once as the total, and, with a page view, once under its entry and its exit page.
        per_visit = (
            "SELECT visitor, count() AS events, sum(is_view) AS views, max(ts) - min(ts) AS took, "  # noqa: S608 (identifiers)
            "arraySort(groupArrayIf((ts, seq, path), is_view = 1)) AS pages, "
            "tupleElement(pages[1], 3) AS entry, tupleElement(pages[-1], 3) AS exit_page, "
            "[('total', ''), ('entry', entry), ('exit', exit_page)] AS candidates, "
            "arrayFilter((candidate, viewed) -> viewed > 0 OR tupleElement(candidate, 1) = 'total', candidates, "
            f"replicate(views, candidates)) AS counted FROM ({events}) GROUP BY visitor, sid, visit"
        )
        sql = (
            "SELECT tupleElement(pair, 1) AS kind, tupleElement(pair, 2) AS page, count() AS n, "  # noqa: S608 (identifiers, placeholders)
            "uniqExact(visitor), sum(views), sum(events = 1 AND views = 1), sum(took) "
            f"FROM ({per_visit}) ARRAY JOIN counted AS pair GROUP BY kind, page "
            "ORDER BY kind, n DESC, page = '', page LIMIT %s BY kind"
        )
        return self.fetch(sql, [pageview, gap_seconds * 1_000_000, *where_params, limit])

    def journey_rows(
        self, app_id, distinct_ids: Sequence[str], after: tuple[datetime, int] | None, limit: int, *, gap_seconds: int
    ) -> list[tuple]:
        c = self.column
        user, user_params = self.of_person(app_id, distinct_ids)
        # The user's (timestamp, seq, path) in order, numbered into sessions with arrays.
        history = (
            f"SELECT tupleElement(event, 1) AS ts, tupleElement(event, 2) AS seq, tupleElement(event, 3) AS path, "  # noqa: S608 (identifiers, placeholders)
            f"session FROM (SELECT arraySort(groupArray((e.{c('timestamp')}, e.{c('id')}, e.{c('path')}))) AS ordered, "
            "arrayMap(x -> tupleElement(x, 1), ordered) AS times, "
            "arrayCumSum(arrayMap((i, gap, longest) -> if(i = 1 OR gap > longest, 1, 0), arrayEnumerate(times), "
            f"arrayDifference(times), replicate(%s, times))) AS sessions {user}) "
            "ARRAY JOIN ordered AS event, sessions AS session"
        )
        history_params = [gap_seconds * 1_000_000, *user_params]
        sessions = (
            "SELECT session, min(ts) AS session_start, max(ts) AS session_end, COUNT(*) AS session_events, "  # noqa: S608 (identifiers)
            "tupleElement(arraySort(groupArray((ts, seq, path)))[1], 3) AS entry_page, "
            "tupleElement(arrayReverseSort(groupArray((ts, seq, path)))[1], 3) AS exit_page "
            f"FROM ({history}) GROUP BY session"
        )
        page_filter, page_params = "", []
        if after is not None:
            moment = self.timestamp(after[0])
            page_filter, page_params = "WHERE ts > %s OR (ts = %s AND seq > %s) ", [moment, moment, after[1]]
        page = self.fetch(
            "SELECT seq, ts, path, session, session_start, session_end, session_events, entry_page, exit_page "  # noqa: S608 (identifiers, placeholders)
            f"FROM ({history}) AS events ANY LEFT JOIN ({sessions}) AS figures USING session "
            f"{page_filter}ORDER BY ts, seq LIMIT %s",
            [*history_params, *history_params, *page_params, limit],
        )
        if not page:
            return []
        # The page's other columns by seq, so metadata is read for the page's events alone.
        details = {
            row[0]: row[1:]
            for row in self.fetch(
                f"SELECT e.{c('id')}, e.{c('event_id')}, e.{c('name')}, e.{c('url')}, e.{c('metadata')} {user} "
                f"AND e.{c('id')} IN %s",
                [*user_params, tuple(row[0] for row in page)],
            )
        }
        rows = []
        for seq, moment, path, session, *figures in page:
            event_id, name, url, metadata = details[seq]
            rows.append((seq, event_id, name, moment, url, path, metadata, session, *figures))
        return rows
