"""The statements the Django databases (PostgreSQL, SQLite) share, in standard SQL: common table
expressions and window functions, which ClickHouse's old server lacks (reports/dialect/clickhouse.py
has its array-based spellings of the same statements)."""

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from reports.dialect.base import Dialect, Fragment, RetentionQuery


class StandardSQL(Dialect):
    def ids_of_persons(self, persons: str) -> str:
        """SELECT (person, distinct_id): every id of each person in ``persons`` (a table or CTE with a
        ``person`` column), one parameter: the app. Joined to the events by distinct_id, it reads a
        known person's events through the (app, distinct_id, timestamp) index."""
        raise NotImplementedError

    def first_per_person(self, columns: str, where: str) -> str:
        """(person, t, ``columns``) of each person's first event of ``e`` matching ``where``, ties on
        the timestamp broken by arrival (the id); other columns may come along."""
        c = self.column
        rows = (
            f"(SELECT e.{c('app')} AS app_id, e.{c('distinct_id')} AS distinct_id, e.{c('timestamp')} AS t, "  # noqa: S608 (identifiers, placeholders)
            f"e.{c('id')} AS id, {columns} FROM {self.table} e WHERE {where})"
        )
        return (
            f"SELECT * FROM (SELECT i.*, {self.person('i')} AS person, ROW_NUMBER() OVER (PARTITION BY "  # noqa: S608 (identifiers, placeholders)
            f"{self.person('i')} ORDER BY i.t, i.id) AS user_rank FROM {self.join_persons(rows, 'i')}) ranked "
            "WHERE user_rank = 1"
        )

    def events_and_users_per_value(self, value: str, where: str) -> str:
        # Users counted in two grouping steps, first per (value, user) then per value, rather than with
        # COUNT(DISTINCT): PostgreSQL sorts every row for COUNT(DISTINCT) but hashes a GROUP BY, about
        # twice as fast over a month of events (bench/reports.py). COUNT(*), not COUNT(id): the id is
        # in no index but the primary key, and would cost a heap read per row. Per id first, then per
        # person: the persons join one row per (value, id).
        per_id = self.per_id(f"{value} AS bucket, COUNT(*) AS n", where, "bucket")
        return (
            "SELECT bucket, SUM(n) AS events, COUNT(*) AS users FROM ("  # noqa: S608 (identifiers, placeholders)
            f"SELECT i.bucket, {self.person('i')} AS person, SUM(i.n) AS n FROM {self.join_persons(per_id, 'i')} "
            "GROUP BY i.bucket, person) per_person GROUP BY bucket"
        )

    def value_counts(self, where: Fragment, fields: Sequence[str]) -> list[tuple[str, Any, int]]:
        # One pass over the rows: first per combination of the fields (a few thousand rows), then each
        # field's totals from those.
        where_sql, params = where
        columns = [self.column(field) for field in fields]
        listed = ", ".join(f"e.{column} AS {column}" for column in columns)
        per_column = " UNION ALL ".join(
            f"SELECT '{field}' AS field, {column} AS value, SUM(n) AS n FROM combos GROUP BY {column}"  # noqa: S608 (identifiers)
            for field, column in zip(fields, columns, strict=True)
        )
        grouped = ", ".join(f"e.{column}" for column in columns)
        sql = (
            f"WITH combos AS (SELECT {listed}, COUNT(*) AS n FROM {self.table} e WHERE {where_sql} "  # noqa: S608 (identifiers, placeholders)
            f"GROUP BY {grouped}) {per_column}"
        )
        return self.fetch(sql, params)

    def funnel_rows(
        self, app_id, steps: Sequence[Fragment], window_seconds: int, group: Fragment | None
    ) -> list[tuple]:
        c = self.column
        ctes, params = [], []
        where, where_params = steps[0]
        deadline, deadline_params = self.plus_seconds("entries.t", window_seconds)
        if group is None:
            per_id = self.per_id(f"MIN(e.{c('timestamp')}) AS t", where)
            entries = (
                f"SELECT {self.person('i')} AS person, MIN(i.t) AS t, '' AS grp "  # noqa: S608 (identifiers, placeholders)
                f"FROM {self.join_persons(per_id, 'i')} GROUP BY {self.person('i')}"
            )
            group_params = []
        else:
            group_sql, group_params = group
            # The entry event itself (ties on timestamp broken by id) gives the breakdown value.
            entries = self.first_per_person(f"{group_sql} AS grp", where)
        ctes.append(
            f"step_1 AS (SELECT entries.person, entries.t, {deadline} AS deadline, entries.grp, "  # noqa: S608 (identifiers, placeholders)
            f"entries.t AS previous FROM ({entries}) entries)"
        )
        params += [*deadline_params, *group_params, *where_params]

        for number, (where, where_params) in enumerate(steps[1:], start=2):
            ctes.append(
                f"step_{number} AS (SELECT p.person, MIN(e.{c('timestamp')}) AS t, p.deadline, p.grp, "  # noqa: S608 (identifiers, placeholders)
                f"p.t AS previous FROM step_{number - 1} p "
                f"JOIN ({self.ids_of_persons(f'step_{number - 1}')}) ids ON ids.person = p.person "
                # CROSS JOIN: SQLite then keeps this order, reading each id's events by the index.
                f"CROSS JOIN {self.table} e{self.per_user_index()} "
                f"WHERE e.{c('distinct_id')} = ids.distinct_id AND {where} AND e.{c('timestamp')} > p.t "
                f"AND e.{c('timestamp')} <= p.deadline GROUP BY p.person, p.deadline, p.grp, p.t)"
            )
            params += [self.app(app_id), *where_params]

        # Medians need every converting user's time, so they are ranked in SQL and only the middle one
        # or two rows per step averaged: the standard median, identical on every store.
        delta = f"{self.epoch_microseconds('t')} - {self.epoch_microseconds('previous')}"
        ctes.append(
            "deltas AS ("  # noqa: S608 (identifiers)
            + " UNION ALL ".join(
                f"SELECT grp, {number} AS step, {delta} AS delta FROM step_{number}"  # noqa: S608 (identifiers)
                for number in range(2, len(steps) + 1)
            )
            + ")"
        )
        group_windows = (
            ", ROW_NUMBER() OVER (PARTITION BY grp, step ORDER BY delta) AS grp_rank, "
            "COUNT(*) OVER (PARTITION BY grp, step) AS grp_n"
            if group
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
        if group:
            selects += [
                "SELECT 1, grp, step, COUNT(*), "
                "AVG(CASE WHEN grp_rank IN ((grp_n + 1) / 2, (grp_n + 2) / 2) THEN delta END) "
                "FROM ranked GROUP BY grp, step",
                "SELECT 1, grp, 1, COUNT(*), NULL FROM step_1 GROUP BY grp",
            ]
        return self.fetch("WITH " + ", ".join(ctes) + " " + " UNION ALL ".join(selects), params)

    def retention_rows(self, query: RetentionQuery) -> list[tuple]:
        c = self.column
        app, name, ts = c("app"), c("name"), c("timestamp")
        only, only_params = query.only
        cohort_name = (f" AND e.{name} = %s" if query.cohort_event is not None else "") + only
        return_name = (f" AND e.{name} = %s" if query.return_event is not None else "") + only
        cohort_bucket, cohort_bucket_params = self.local_bucket(query.period, "first_at", query.tz)
        return_bucket, return_bucket_params = self.local_bucket(query.period, f"e.{ts}", query.tz)
        # A first-ever event can't be found in a date range: firsts scans the user's whole history.
        firsts = (
            f"WITH firsts AS (SELECT {self.person('i')} AS person, MIN(i.first_at) AS first_at "  # noqa: S608 (identifiers, placeholders)
            f"FROM {self.join_persons(self.per_id(f'MIN(e.{ts}) AS first_at', f'e.{app} = %s{cohort_name}'), 'i')} "
            f"GROUP BY {self.person('i')} HAVING MIN(i.first_at) >= %s AND MIN(i.first_at) < %s), "
            f"cohorts AS (SELECT person, {cohort_bucket} AS cohort FROM firsts), "
        )
        if query.return_event is None:
            # Any event: each cohort person's events come from the (app, distinct_id, timestamp) index
            # alone, so only the cohort's rows are read and bucketed, not everyone's.
            returns = (
                f"returns AS (SELECT DISTINCT c.cohort, c.person, {return_bucket} AS bucket FROM cohorts c "  # noqa: S608 (identifiers, placeholders)
                f"JOIN ({self.ids_of_persons('cohorts')}) ids ON ids.person = c.person "
                f"CROSS JOIN {self.table} e{self.per_user_index()} "
                f"WHERE e.{c('distinct_id')} = ids.distinct_id AND e.{app} = %s "
                f"AND e.{ts} >= %s AND e.{ts} < %s{only}) "
                "SELECT cohort, bucket, COUNT(*) FROM returns WHERE bucket >= cohort GROUP BY cohort, bucket "
            )
        else:
            # A named event: its rows come from the (app, name, timestamp) index.
            returned = f"e.{app} = %s AND e.{ts} >= %s AND e.{ts} < %s{return_name}"
            returns = (
                f"returns AS (SELECT DISTINCT {self.person('i')} AS person, i.bucket FROM "  # noqa: S608 (identifiers, placeholders)
                + self.join_persons(self.per_id(f"{return_bucket} AS bucket", returned, "bucket"), "i")
                + ") "
                "SELECT c.cohort, r.bucket, COUNT(*) FROM cohorts c JOIN returns r ON r.person = c.person "
                "AND r.bucket >= c.cohort GROUP BY c.cohort, r.bucket "
            )
        sql = firsts + returns + "UNION ALL SELECT cohort, NULL, COUNT(*) FROM cohorts GROUP BY cohort"  # noqa: S608
        app_id = self.app(query.app_id)
        params = [app_id, *([query.cohort_event] if query.cohort_event is not None else []), *only_params]
        params += [self.timestamp(query.cohorts_from), self.timestamp(query.cohorts_until)]
        params += [*cohort_bucket_params, *return_bucket_params]
        if query.return_event is None:
            params.append(app_id)  # ids_of_persons
        params += [app_id, self.timestamp(query.cohorts_from), self.timestamp(query.returns_until)]
        params += [*([query.return_event] if query.return_event is not None else []), *only_params]
        return self.fetch(sql, params)

    def visit_rows(self, where: Fragment, *, pageview: str, gap_seconds: int, limit: int) -> list[tuple]:
        c = self.column
        where_sql, where_params = where
        gap_end, gap_params = self.plus_seconds("previous", gap_seconds)
        in_order = "ORDER BY ts, id"
        took = f"{self.epoch_microseconds('MAX(ts)')} - {self.epoch_microseconds('MIN(ts)')}"
        # One window for both ends (one sort): each visit's page views, and its other events, in order.
        by_kind = (
            f"PARTITION BY person, sid, visit, is_view {in_order} "
            "ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING"
        )
        # A session id keeps its events one visit however far apart: only those without one (sid '')
        # are cut at the gaps.
        sql = (
            f"WITH ev AS (SELECT {self.person('e')} AS person, e.{c('session_id')} AS sid, e.{c('timestamp')} AS ts, "  # noqa: S608 (identifiers, placeholders)
            f"e.{c('id')} AS id, CASE WHEN e.{c('name')} = %s THEN 1 ELSE 0 END AS is_view, e.{c('path')} AS path "
            f"FROM {self.with_persons()} WHERE {where_sql}), "
            f"ordered AS (SELECT ev.*, LAG(ts) OVER (PARTITION BY person, sid {in_order}) AS previous FROM ev), "
            "numbered AS (SELECT person, sid, ts, id, is_view, path, "
            f"SUM(CASE WHEN previous IS NULL OR (sid = '' AND ts > {gap_end}) THEN 1 ELSE 0 END) "
            f"OVER (PARTITION BY person, sid {in_order} ROWS UNBOUNDED PRECEDING) AS visit FROM ordered), "
            "ranked AS (SELECT numbered.*, "
            f"FIRST_VALUE(path) OVER ({by_kind}) AS first_path, LAST_VALUE(path) OVER ({by_kind}) AS last_path "
            "FROM numbered), "
            f"visits AS (SELECT person, COUNT(*) AS events, SUM(is_view) AS views, {took} AS took, "
            "MAX(CASE WHEN is_view = 1 THEN first_path END) AS entry, "
            "MAX(CASE WHEN is_view = 1 THEN last_path END) AS exit_page "
            "FROM ranked GROUP BY person, sid, visit) "
        )
        figures = (
            "COUNT(*) AS n, COUNT(DISTINCT person) AS persons, SUM(views) AS page_views, "
            "SUM(CASE WHEN events = 1 AND views = 1 THEN 1 ELSE 0 END) AS bounces, SUM(took) AS visited"
        )
        pages = [
            f"SELECT * FROM (SELECT '{kind}' AS kind, {column} AS page, {figures} FROM visits "  # noqa: S608 (identifiers)
            f"WHERE views > 0 GROUP BY {column} "
            f"ORDER BY n DESC, CASE WHEN {column} = '' THEN 1 ELSE 0 END, {self.text_order(column)} LIMIT %s) {kind}s"
            for kind, column in (("entry", "entry"), ("exit", "exit_page"))
        ]
        sql += f"SELECT 'total' AS kind, '' AS page, {figures} FROM visits UNION ALL " + " UNION ALL ".join(pages)  # noqa: S608
        return self.fetch(sql, [pageview, *where_params, *gap_params, limit, limit])

    def journey_rows(
        self, app_id, distinct_ids: Sequence[str], after: tuple[datetime, int] | None, limit: int, *, gap_seconds: int
    ) -> list[tuple]:
        c = self.column
        table, ts = self.table, c("timestamp")
        gap_end, gap_params = self.plus_seconds("previous", gap_seconds)
        whole_session = "PARTITION BY session ORDER BY ts, id ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING"
        page_filter, page_params = "", []
        if after is not None:
            moment = self.timestamp(after[0])
            page_filter = "WHERE ts > %s OR (ts = %s AND id > %s) "
            page_params = [moment, moment, after[1]]
        user, user_params = self.of_person(app_id, distinct_ids)
        # Sessions need the whole history, but only (id, timestamp, path); the page's rows alone are
        # joined back for their other columns, so a user with 100k events doesn't drag 100k metadata
        # blobs through three window sorts.
        sql = (
            f"WITH ordered AS (SELECT e.{c('id')} AS id, e.{ts} AS ts, e.{c('path')} AS path, "  # noqa: S608 (identifiers, placeholders)
            f"LAG(e.{ts}) OVER (ORDER BY e.{ts}, e.{c('id')}) AS previous {user}), "
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
            f"SELECT paged.id, e.{c('event_id')}, e.{c('name')}, paged.ts, e.{c('url')}, e.{c('path')}, "
            f"e.{c('metadata')}, paged.session, "
            + ", ".join(
                f"CASE WHEN paged.ts = paged.first_on_page THEN paged.{column} END"
                for column in ("session_start", "session_end", "session_events", "entry_page", "exit_page")
            )
            + " FROM (SELECT *, MIN(ts) OVER (PARTITION BY session) AS first_on_page FROM page) paged "  # noqa: S608
            f"JOIN {table} e ON e.{c('id')} = paged.id ORDER BY paged.ts, paged.id"
        )
        return self.fetch(sql, [*user_params, *gap_params, *page_params, limit])
