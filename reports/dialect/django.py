"""The Django database's dialects: PostgreSQL and SQLite, read through Django's connection."""

import json
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

from django.db import connection, transaction

from events.models import Event
from persons.models import Person, PersonDistinctId
from reports.dialect.base import Fragment
from reports.dialect.standard import StandardSQL


class DjangoDatabase(StandardSQL):
    def __init__(self) -> None:
        quote = connection.ops.quote_name
        self.table = quote(Event._meta.db_table)
        self.linked = quote(PersonDistinctId._meta.db_table)
        self.linked_app = quote(PersonDistinctId._meta.get_field("app").column)
        self.linked_id, self.linked_key = quote("distinct_id"), quote("person_key")

    def join_persons(self, source: str, alias: str) -> str:
        app, distinct = self.column("app"), self.column("distinct_id")
        return (
            f"{source} {alias} LEFT JOIN {self.linked} pd "
            f"ON pd.{self.linked_app} = {alias}.{app} AND pd.{self.linked_id} = {alias}.{distinct}"
        )

    def person(self, alias: str = "e") -> str:
        return f"COALESCE(pd.{self.linked_key}, {alias}.{self.column('distinct_id')})"

    def person_property(self, key: str) -> Fragment:
        # A correlated lookup: the person of the event's id, then its properties' key.
        quote, c = connection.ops.quote_name, self.column
        text, params = self.json_text(f"pp.{quote('properties')}", key)
        return (
            f"(SELECT {text} FROM {self.linked} pd2 JOIN {quote(Person._meta.db_table)} pp "  # noqa: S608 (identifiers, placeholders)
            f"ON pp.{quote('id')} = pd2.{quote('person_id')} "
            f"WHERE pd2.{self.linked_app} = e.{c('app')} AND pd2.{self.linked_id} = e.{c('distinct_id')})",
            params,
        )

    def metadata_text(self, alias: str, key: str) -> Fragment:
        return self.json_text(f"{alias}.{self.column('metadata')}", key)

    def json_text(self, column: str, key: str) -> Fragment:
        """A JSON object column's top-level ``key`` as text, as metadata_text describes."""
        raise NotImplementedError

    def ids_of_persons(self, persons: str) -> str:
        # Each person's own key (an id never linked is a person of its own), and the ids linked to it.
        return (
            f"SELECT k.person, k.person AS distinct_id FROM {persons} k UNION "  # noqa: S608 (identifiers, placeholders)
            f"SELECT k.person, pd.{self.linked_id} FROM {persons} k JOIN {self.linked} pd "
            f"ON pd.{self.linked_key} = k.person WHERE pd.{self.linked_app} = %s"
        )

    def column(self, field: str) -> str:
        return connection.ops.quote_name(Event._meta.get_field(field).column)

    def fetch(self, sql: str, params: Sequence) -> list[tuple]:
        with connection.cursor() as cursor:
            cursor.execute(sql, list(params))
            return cursor.fetchall()

    def stream(self, sql: str, params: Sequence, *, chunk: int) -> Iterator[tuple]:
        # A server-side cursor where the database has one.
        with connection.chunked_cursor() as cursor:
            cursor.execute(sql, list(params))
            while rows := cursor.fetchmany(chunk):
                yield from rows

    def timestamp(self, moment: datetime) -> Any:
        return Event._meta.get_field("timestamp").get_db_prep_value(moment, connection)

    def app(self, app_id) -> Any:
        return Event._meta.get_field("app").get_db_prep_value(app_id, connection)


class PostgreSQL(DjangoDatabase):
    vendor = "postgresql"

    def fetch(self, sql: str, params: Sequence) -> list[tuple]:
        # Reports scan many rows: JIT-compiling their plans costs 40-90 ms, more than it saves on a
        # sub-second query, so it is off for the statement's transaction (SET LOCAL).
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET LOCAL jit = off")
            cursor.execute(sql, list(params))
            return cursor.fetchall()

    def plus_seconds(self, expr: str, seconds: int) -> Fragment:
        return f"({expr} + %s * INTERVAL '1 second')", [seconds]

    def epoch_microseconds(self, expr: str) -> str:
        return f"(EXTRACT(EPOCH FROM {expr}) * 1000000)"

    def local_bucket(self, period: str, expr: str, tz: str) -> Fragment:
        return f"CAST(date_trunc(%s, {expr} AT TIME ZONE %s) AS date)", [period, tz]

    def hour_start(self, expr: str, minutes: int) -> Fragment:
        shift = "make_interval(mins => %s)"
        # Truncated in UTC whatever the session's time zone: the shift carries the offset's minutes.
        return f"(DATE_TRUNC('hour', {expr} + {shift}, 'UTC') - {shift})", [minutes, minutes]

    def utc_minute(self, expr: str) -> str:
        return f"to_char({expr} AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI')"

    def contains(self, expr: str) -> str:
        return f"strpos({expr}, %s) > 0"

    def json_text(self, column: str, key: str) -> Fragment:
        return f"({column} ->> %s)", [key]

    def text_order(self, expr: str) -> str:
        return f'{expr} COLLATE "C"'

    def first_per_person(self, columns: str, where: str) -> str:
        # DISTINCT ON gets a row estimate the planner can use; a filter on ROW_NUMBER() is guessed at
        # 0.5 % of the rows, which sends a funnel's later steps into per-user nested loops. Each id's
        # first event, then each person's first of those.
        c = self.column
        firsts = (
            f"(SELECT DISTINCT ON (e.{c('distinct_id')}) e.{c('app')} AS app_id, e.{c('distinct_id')} AS distinct_id, "  # noqa: S608 (identifiers, placeholders)
            f"e.{c('timestamp')} AS t, e.{c('id')} AS id, {columns} FROM {self.table} e WHERE {where} "
            f"ORDER BY e.{c('distinct_id')}, e.{c('timestamp')}, e.{c('id')})"
        )
        return (
            f"SELECT DISTINCT ON ({self.person('i')}) i.*, {self.person('i')} AS person "  # noqa: S608 (identifiers)
            f"FROM {self.join_persons(firsts, 'i')} ORDER BY {self.person('i')}, i.t, i.id"
        )


class SQLite(DjangoDatabase):
    """Django stores SQLite datetimes as 'YYYY-MM-DD HH:MM:SS[.ffffff]' UTC text, UUIDs as 32 hex digits
    and JSON as text; the fragments work on that text exactly (julianday() would round microseconds)."""

    vendor = "sqlite"

    def plus_seconds(self, expr: str, seconds: int) -> Fragment:
        # Whole seconds added to the first 19 characters, the fraction kept: text in the same format,
        # so it still compares correctly.
        return (
            f"(strftime('%%Y-%%m-%%d %%H:%%M:%%S', substr({expr}, 1, 19), %s) || substr({expr}, 20))",
            [f"{seconds:+d} seconds"],
        )

    def epoch_microseconds(self, expr: str) -> str:
        return (
            f"(CAST(strftime('%%s', substr({expr}, 1, 19)) AS INTEGER) * 1000000"
            f" + CAST(substr({expr} || '.000000', 21, 6) AS INTEGER))"
        )

    def local_bucket(self, period: str, expr: str, tz: str) -> Fragment:
        # Django registers django_datetime_trunc on every SQLite connection.
        return f"substr(django_datetime_trunc(%s, {expr}, %s, 'UTC'), 1, 10)", [period, tz]

    def hour_start(self, expr: str, minutes: int) -> Fragment:
        return (
            f"datetime(strftime('%%Y-%%m-%%d %%H:00:00', {expr}, %s), %s)",
            [f"+{minutes} minutes", f"-{minutes} minutes"],
        )

    def utc_minute(self, expr: str) -> str:
        return f"substr({expr}, 1, 16)"

    def contains(self, expr: str) -> str:
        return f"instr({expr}, %s) > 0"

    def json_text(self, column: str, key: str) -> Fragment:
        path = "$." + json.dumps(key)
        # json_extract turns true/false into 1/0; spelled out to match PostgreSQL's ->>.
        return (
            f"(CASE json_type({column}, %s) WHEN 'true' THEN 'true' WHEN 'false' THEN 'false' "
            f"ELSE CAST(json_extract({column}, %s) AS TEXT) END)",
            [path, path],
        )

    def per_user_index(self) -> str:
        # Without ANALYZE statistics SQLite prefers the (app, timestamp) index for a join on distinct_id
        # with a time range, and scans that whole range once per user: 8 s instead of 0.15 s for a
        # funnel over 200k events.
        name = next(index.name for index in Event._meta.indexes if index.fields == ["app", "distinct_id", "timestamp"])
        return f" INDEXED BY {connection.ops.quote_name(name)}"
