"""The event store's write path: one statement per batch, skipping (app, event_id) already stored.

Shared by the request path (INGEST_MODE=direct) and the buffered ingestion worker. A row is a tuple in
COLUMNS order. A request's rows reach PostgreSQL as one JSON document; the ingestion buffer holds them
as COPY text (``row_copy_line``), which a worker hands to the database as it came.
"""

import json
import logging
import re
from contextlib import nullcontext
from datetime import datetime

from django.db import DatabaseError, IntegrityError, connection, transaction

from analytics_project.errors import is_database_outage
from events.models import Event

logger = logging.getLogger(__name__)

INSERT_CHUNK = 500  # rows per SQLite INSERT: 500 x 29 parameters stays under its bound-parameter limit
COLUMNS = (
    "app_id",
    "event_id",
    "name",
    "distinct_id",
    "user_id",
    "anonymous_id",
    "session_id",
    "timestamp",
    "received_at",
    "url",
    "host",
    "path",
    "referrer",
    "referrer_host",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "utm_term",
    "utm_content",
    "device_type",
    "browser",
    "os",
    "country",
    "screen",
    "locale",
    "ip",
    "user_agent",
    "source",
    "metadata",  # last: the PostgreSQL path splices its JSON text onto the end of each row's document
)
_TABLE = Event._meta.db_table
_COLUMN_LIST = ", ".join(f'"{column}"' for column in COLUMNS)
_POSTGRESQL_INSERT = (
    f'INSERT INTO "{_TABLE}" ({_COLUMN_LIST}) SELECT {_COLUMN_LIST} '  # noqa: S608  (fixed identifiers)
    f'FROM json_populate_recordset(NULL::"{_TABLE}", %s::json) '
    "ON CONFLICT (app_id, event_id) DO NOTHING RETURNING 1"
)
_VALUES_ROW = "(" + ", ".join(["%s"] * len(COLUMNS)) + ")"
# The text columns of the widest index entry, event_app_time_report's key and INCLUDE list. PostgreSQL
# refuses a B-tree entry over 2704 bytes; the app id, timestamp and entry headers take about 100.
INDEXED_TEXT = tuple(
    COLUMNS.index(column) for column in ("name", "distinct_id", "device_type", "browser", "os", "referrer_host", "path")
)
MAX_INDEXED_TEXT_BYTES = 2600


def fits_report_index(row: tuple) -> bool:
    characters = sum(len(row[position]) for position in INDEXED_TEXT)
    if characters * 4 <= MAX_INDEXED_TEXT_BYTES:  # UTF-8 spends at most 4 bytes a character
        return True
    return sum(len(row[position].encode()) for position in INDEXED_TEXT) <= MAX_INDEXED_TEXT_BYTES


def _sqlite_adapters() -> dict:
    """SQLite stores UUIDs and datetimes as text in Django's own formats; the model fields know them."""
    fields = {f.column: f for f in Event._meta.concrete_fields}
    return {
        position: fields[column].get_db_prep_save
        for position, column in enumerate(COLUMNS)
        if fields[column].get_internal_type() in ("UUIDField", "DateTimeField", "ForeignKey")
    }


def insert_storable(rows: list[tuple]) -> tuple[int, list[int]]:
    """Insert, and when the database refuses the batch for its data rather than an outage, insert the
    rows one by one so only those it refuses are lost. Returns (rows inserted, positions refused).

    Validation should leave nothing for the database to refuse; this keeps one unforeseen value from
    failing, or with a retrying SDK blocking forever, every other event sent with it.
    """
    try:
        with _own_statement():
            return _insert_ignoring_duplicates(rows), []
    except DatabaseError as exc:
        if is_database_outage(exc):
            raise
        logger.warning("a batch of %d events was refused (%s); storing them one by one", len(rows), sqlstate(exc))
    inserted, refused = 0, []
    for position, row in enumerate(rows):
        try:
            with _own_statement():
                inserted += _insert_ignoring_duplicates([row])
        except DatabaseError as exc:
            if is_database_outage(exc):
                raise
            logger.warning("an event was refused by the database (%s)", sqlstate(exc))
            refused.append(position)
    return inserted, refused


def _own_statement():
    """A failed statement must not abort a transaction the caller holds: a savepoint inside one. In
    autocommit, the usual request, a failed statement undoes only itself and needs no savepoint."""
    return transaction.atomic() if connection.in_atomic_block else nullcontext()


def sqlstate(exc: DatabaseError) -> str:
    return getattr(exc.__cause__, "sqlstate", None) or exc.__class__.__name__


def _insert_ignoring_duplicates(rows: list[tuple]) -> int:
    """Insert, skipping rows whose (app, event_id) exists; returns how many were inserted."""
    if connection.vendor != "postgresql":
        return _insert_values(rows, adapters=_sqlite_adapters())
    # One row, the usual browser and SDK request: a plain VALUES list costs the server less than
    # unpacking a JSON document (279 against 325 µs a statement); from two rows on, JSON is cheaper.
    if len(rows) == 1:
        return _insert_values(rows)
    return _insert_postgresql(rows)


def _json_default(value) -> str:
    return value.isoformat() if isinstance(value, datetime) else str(value)  # UUIDs and datetimes


def row_document(row: tuple) -> str:
    """A row as the JSON object PostgreSQL's json_populate_recordset reads as a row of the table."""
    encoded = json.dumps(dict(zip(COLUMNS[:-1], row[:-1], strict=True)), default=_json_default, ensure_ascii=False)
    # metadata is already JSON text: splice it in rather than decode and encode it again.
    return f'{encoded[:-1]},"metadata":{row[-1]}}}'


def insert_documents(documents_json: str) -> int:
    """Insert a JSON array of row documents in one statement; returns how many were new.

    Measured on 500-row batches: a VALUES list with 14,500 parameters spent more time planning than
    inserting, and one array per column spent ~19 ms in psycopg adapting values; JSON is built by the
    C encoder and parsed by the server in a few milliseconds.
    """
    with connection.cursor() as cursor:
        cursor.execute(_POSTGRESQL_INSERT, [documents_json])
        return len(cursor.fetchall())


# COPY's text format: tab-separated, \N for null, backslash escapes. One translate() pass escapes a value.
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
_STAGING = "ingest_staging"
_CREATE_STAGING = (
    f'CREATE TEMP TABLE IF NOT EXISTS {_STAGING} ON COMMIT DELETE ROWS AS SELECT {_COLUMN_LIST} FROM "{_TABLE}" '  # noqa: S608
    "WITH NO DATA"
)
_COPY_TO_STAGING = f"COPY {_STAGING} ({_COLUMN_LIST}) FROM STDIN"
_COPY_TO_EVENTS = f'COPY "{_TABLE}" ({_COLUMN_LIST}) FROM STDIN'
# Emptying the staging table in the statement that reads it, so savepoints need not clean up after it.
_STAGING_INSERT = (
    f"WITH moved AS (DELETE FROM {_STAGING} RETURNING {_COLUMN_LIST}) "  # noqa: S608  (fixed identifiers)
    f'INSERT INTO "{_TABLE}" ({_COLUMN_LIST}) SELECT {_COLUMN_LIST} FROM moved '
    "ON CONFLICT (app_id, event_id) DO NOTHING RETURNING 1"
)


def row_copy_line(row: tuple) -> str:
    """A row as a line of COPY's text format, the form the ingestion buffer holds rows in: PostgreSQL
    reads it faster than anything else (bench/buffered.py: a worker draining one-row entries stores
    73% of a raw COPY's rows a second, 1.47x what json_populate_recordset stores of the same flushes)."""
    return "\t".join("\\N" if value is None else _copy_text(value) for value in row) + "\n"


def _copy_text(value) -> str:
    return (value.isoformat() if isinstance(value, datetime) else str(value)).translate(_COPY_ESCAPES)


_COPY_ESCAPED = re.compile(r"\\(.)")
_COPY_UNESCAPES = {"t": "\t", "n": "\n", "r": "\r"}


def copy_lines(text: str) -> list[str]:
    """The rows of COPY text, each with its newline. Split on \\n alone: str.splitlines() also splits
    on characters such as U+2028 that COPY leaves as they are inside a value."""
    return [line + "\n" for line in text.split("\n") if line]


def copy_lines_column(text: str, column: str) -> list[str]:
    """One column of each row of COPY text, as the value it holds (the admin shows dead letters' names)."""
    position = COLUMNS.index(column)
    return [_copy_value(line.rstrip("\n").split("\t")[position]) for line in copy_lines(text)]


def copy_line_row(line: str) -> tuple[str | None, ...]:
    """A line of COPY text as the values it holds, in COLUMNS order: text, or None for \\N. Tabs and
    newlines inside a value are escaped, so splitting on them is exact."""
    return tuple(None if value == "\\N" else _copy_value(value) for value in line.rstrip("\n").split("\t"))


def _copy_value(value: str) -> str:
    return _COPY_ESCAPED.sub(lambda match: _COPY_UNESCAPES.get(match[1], match[1]), value)


def insert_copy_text(text: str) -> int:
    """Insert rows given as COPY text; returns how many were new. Needs a transaction (the worker's).

    Straight into the table first, as fast as a raw COPY: a flush rarely holds an event already
    stored. If one does, the unique index refuses the whole COPY; the rows then go through a
    temporary staging table and INSERT ... SELECT ... ON CONFLICT DO NOTHING, which skips it.
    """
    with connection.cursor() as cursor:
        try:
            # A savepoint, so the refused COPY leaves the transaction usable; psycopg's own cursor copies,
            # so its errors are wrapped into Django's as every other query's are.
            with transaction.atomic(), connection.wrap_database_errors, cursor.cursor.copy(_COPY_TO_EVENTS) as copy:
                copy.write(text)
            return cursor.cursor.rowcount
        except IntegrityError as exc:
            if getattr(exc.__cause__, "sqlstate", None) != "23505":  # unique_violation: a duplicate
                raise
        cursor.execute(_CREATE_STAGING)
        with connection.wrap_database_errors, cursor.cursor.copy(_COPY_TO_STAGING) as copy:
            copy.write(text)
        cursor.execute(_STAGING_INSERT)
        return len(cursor.fetchall())


def _insert_postgresql(rows: list[tuple]) -> int:
    return insert_documents("[" + ",".join(row_document(row) for row in rows) + "]")


def _insert_values(rows: list[tuple], adapters: dict | None = None) -> int:
    adapters = adapters or {}
    inserted = 0
    # Chunks keep each statement under SQLite's bound-parameter limit; one transaction keeps the batch whole.
    whole = transaction.atomic() if len(rows) > INSERT_CHUNK else nullcontext()
    with whole, connection.cursor() as cursor:
        for start in range(0, len(rows), INSERT_CHUNK):
            chunk = rows[start : start + INSERT_CHUNK]
            params = []
            for row in chunk:
                for position, value in enumerate(row):
                    adapter = adapters.get(position)
                    params.append(adapter(value, connection) if adapter and value is not None else value)
            cursor.execute(
                f'INSERT INTO "{_TABLE}" ({_COLUMN_LIST}) VALUES {", ".join([_VALUES_ROW] * len(chunk))} '  # noqa: S608
                "ON CONFLICT (app_id, event_id) DO NOTHING RETURNING 1",
                params,
            )
            inserted += len(cursor.fetchall())
    return inserted
