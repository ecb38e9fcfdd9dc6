"""What every store's dialect provides: running a statement, reading its values, the fragments the
report statements are assembled from, and the few whole statements the engines cannot share.

A fragment is SQL text and its parameters in placeholder order (``%s``); user-supplied values only ever
reach SQL as parameters. Rows come back as tuples of the store's own representation, which the
``to_*`` readers turn into Python values.
"""

import json
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

Fragment = tuple[str, list]


@dataclass(frozen=True)
class RetentionQuery:
    """What a retention statement counts (reports.queries.retention has the rules): users whose
    first-ever ``cohort_event`` falls in [cohorts_from, cohorts_until), by local ``period`` of ``tz``,
    and their ``return_event``s before returns_until. None as an event means any event. ``only``
    (`` AND ...`` on alias ``e``, and its parameters) keeps the events both kinds are found among."""

    app_id: object
    cohort_event: str | None
    return_event: str | None
    period: str
    tz: str
    cohorts_from: datetime
    cohorts_until: datetime
    returns_until: datetime
    only: Fragment = ("", ())


class Dialect:
    vendor: str
    table: str
    app_id = None  # the app of the report, bound by reports.dialect.current

    def column(self, field: str) -> str:
        """An Event field's column, quoted."""
        raise NotImplementedError

    # Running statements ------------------------------------------------------------------------

    def fetch(self, sql: str, params: Sequence) -> list[tuple]:
        raise NotImplementedError

    def stream(self, sql: str, params: Sequence, *, chunk: int) -> Iterator[tuple]:
        """Rows fetched ``chunk`` at a time, so memory stays flat however many rows the statement returns."""
        raise NotImplementedError

    # Values in and out -------------------------------------------------------------------------

    def timestamp(self, moment: datetime) -> Any:
        raise NotImplementedError

    def app(self, app_id) -> Any:
        raise NotImplementedError

    @staticmethod
    def to_timestamp(value: Any) -> datetime:
        if isinstance(value, datetime):
            return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
        return datetime.fromisoformat(value).replace(tzinfo=UTC)

    @staticmethod
    def to_date(value: Any) -> date:
        return value if isinstance(value, date) else date.fromisoformat(value)

    @staticmethod
    def to_uuid(value: Any) -> uuid.UUID:
        return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))

    @staticmethod
    def to_json(value: Any) -> Any:
        return json.loads(value) if isinstance(value, str | bytes) else value

    # Fragments ---------------------------------------------------------------------------------

    def plus_seconds(self, expr: str, seconds: int) -> Fragment:
        raise NotImplementedError

    def epoch_microseconds(self, expr: str) -> str:
        raise NotImplementedError

    def local_bucket(self, period: str, expr: str, tz: str) -> Fragment:
        """The local calendar date starting ``expr``'s day, Monday-week or month, as a sortable value."""
        raise NotImplementedError

    def hour_start(self, expr: str, minutes: int) -> Fragment:
        """The UTC instant ``expr``'s hour began, hours being shifted by ``minutes`` past each UTC hour
        (India's +05:30 starts hours at :30 UTC). An instant, not a wall time, so a CASE can choose
        between the offsets of a window that crosses a change."""
        raise NotImplementedError

    def utc_minute(self, expr: str) -> str:
        """``expr``'s UTC minute as 'YYYY-MM-DD HH:MM' text."""
        raise NotImplementedError

    def contains(self, expr: str) -> str:
        """``expr`` holds the parameter, case-sensitively and without wildcards."""
        raise NotImplementedError

    def metadata_text(self, alias: str, key: str) -> Fragment:
        """A top-level metadata value as text: strings as themselves, numbers and booleans as their JSON
        text; null when the key is missing or its value is null."""
        raise NotImplementedError

    def text_order(self, expr: str) -> str:
        """``expr`` sorted in code-point order whatever the database's collation, so a top-10 list is
        the same list on every store."""
        return expr

    def per_user_index(self) -> str:
        """A join hint for reading one user's events by (app, distinct_id, timestamp); none by default."""
        return ""

    # Persons -------------------------------------------------------------------------------

    def join_persons(self, source: str, alias: str) -> str:
        """A FROM item: ``source`` (a table, or a parenthesized subquery with ``app_id`` and
        ``distinct_id`` columns) as ``alias``, each row joined to the person its id was linked to
        (persons.models), for ``person(alias)``."""
        raise NotImplementedError

    def person(self, alias: str = "e") -> str:
        """The person of a row of ``join_persons``: the key of the person its id was linked to, else the
        id itself. What every "users" figure counts."""
        raise NotImplementedError

    def with_persons(self) -> str:
        """The events as ``e``, joined to their persons."""
        return self.join_persons(self.table, "e")

    def per_id(self, columns: str, where: str, group: str = "") -> str:
        """A parenthesized subquery of the events ``where`` picks (alias ``e``), grouped by app, id and
        ``group``, with ``app_id`` and ``distinct_id`` besides ``columns``: aggregating per id before
        joining the persons joins one row per id, not per event (3x faster on PostgreSQL)."""
        c = self.column
        grouped = f", {group}" if group else ""
        return (
            f"(SELECT e.{c('app')} AS app_id, e.{c('distinct_id')} AS distinct_id, {columns} "  # noqa: S608 (identifiers, placeholders)
            f"FROM {self.table} e WHERE {where} GROUP BY e.{c('app')}, e.{c('distinct_id')}{grouped})"
        )

    def person_property(self, key: str) -> Fragment:
        """A property of the person of event ``e`` as text (as metadata_text spells a metadata value);
        null or '' when the person has none."""
        raise NotImplementedError

    def of_person(self, app_id, distinct_ids: Sequence[str]) -> Fragment:
        """``FROM`` the events of one person, as ``e``: those of any of its ids (persons.selectors)."""
        placeholders = ", ".join(["%s"] * len(distinct_ids))
        app, distinct = self.column("app"), self.column("distinct_id")
        return (
            f"FROM {self.table} e WHERE e.{app} = %s AND e.{distinct} IN ({placeholders})",
            [self.app(app_id), *distinct_ids],
        )

    # Whole statements (reports/dialect/standard.py has them in standard SQL) -------------------

    def events_and_users_per_value(self, value: str, where: str) -> str:
        """SELECT (bucket, events, users) for each value of the expression over the events ``where``
        picks (alias ``e``); the caller appends ORDER BY and LIMIT."""
        raise NotImplementedError

    def events_and_users_per_text(self, text: str, where: str) -> str:
        """As events_and_users_per_value, for text whose empty and null values are one bucket, null:
        unknown browsers, direct visits and missing metadata keys alike."""
        return self.events_and_users_per_value(f"NULLIF({text}, '')", where)

    def value_counts(self, where: Fragment, fields: Sequence[str]) -> list[tuple[str, Any, int]]:
        """(field, value, events) for every value of each field over the events ``where`` picks."""
        raise NotImplementedError

    def funnel_rows(
        self, app_id, steps: Sequence[Fragment], window_seconds: int, group: Fragment | None
    ) -> list[tuple]:
        """(grouped, group, step, users, median microseconds from the previous step) of the app's funnel
        whose steps' events ``steps`` pick (alias ``e``); grouped rows only when ``group`` gives each user's
        entry-event value. See reports.queries.funnels.funnel for the rules."""
        raise NotImplementedError

    def retention_rows(self, query: RetentionQuery) -> list[tuple]:
        """(cohort start, return period start or None for the cohort's size, users)."""
        raise NotImplementedError

    def visit_rows(self, where: Fragment, *, pageview: str, gap_seconds: int, limit: int) -> list[tuple]:
        """The visits of the events ``where`` picks (alias ``e``), as (kind, page, visits, visitors, page
        views, bounces, microseconds visited) rows: one ``total`` row (page ''), then up to ``limit``
        ``entry`` and ``exit`` rows, the pages their visits' first and last ``pageview`` was of (visits
        with none have neither), most visits first, ties by page in code-point order, '' last.

        A visit is a person's events of one session id; those without one are cut wherever more than
        ``gap_seconds`` pass without an event. reports.queries.visits has the figures' rules."""
        raise NotImplementedError

    def journey_rows(
        self, app_id, distinct_ids: Sequence[str], after: tuple[datetime, int] | None, limit: int, *, gap_seconds: int
    ) -> list[tuple]:
        """Up to ``limit`` of a person's events (those of any of ``distinct_ids``) after the ``after``
        (timestamp, tie-breaker) position,
        each (tie-breaker, event_id, name, timestamp, url, path, metadata, session number, then the
        session's start, end, event count, entry and exit page on its first row of the page only)."""
        raise NotImplementedError
