"""The events table's columns as the benchmarks load them, and the row collect stores for the event
the ingestion benchmark sends.

Both ceilings of bench/ingest.py write this same row: the bare insert view (bench/urls.py) with one
INSERT, and the raw COPY; collect derives the same values from the event and its request.
"""

import time
import uuid
from collections.abc import Iterable

from django.db import connection

from events import store
from events.models import Event

USER_AGENT = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"
)
EVENT = {"event": "page_view", "userId": "bench-user", "url": "https://shop.example/pricing?utm_source=bench"}

# Every column but the id, in the model's order: what the benchmarks' COPYs write and stored_row returns.
COLUMNS = tuple(field.column for field in Event._meta.concrete_fields if not field.primary_key)


def stored_row(app_id, now, event: dict = EVENT) -> tuple:
    """What collect stores for ``event`` sent from 127.0.0.1 with USER_AGENT, in COLUMNS order."""
    user = event.get("userId", "")
    return (
        app_id,
        uuid.uuid4(),
        event["event"],
        user,
        user,
        "",
        "",
        now,
        now,
        event.get("url", ""),
        "shop.example",
        "/pricing",
        "",
        "",
        "bench",
        "",
        "",
        "",
        "",
        "desktop",
        "Chrome",
        "Windows",
        "",
        "",
        "",
        "127.0.0.1",
        USER_AGENT,
        "{}",
        "api",
    )


def copy_rows(rows: Iterable[tuple]) -> float:
    """Raw psycopg COPY of ``rows`` (COLUMNS order) into the events table; returns the seconds it took,
    producing the rows included when ``rows`` is a generator."""
    started = time.perf_counter()
    statement = f"COPY events_event ({', '.join(COLUMNS)}) FROM STDIN"
    with connection.cursor() as cursor, cursor.cursor.copy(statement) as copy:
        for row in rows:
            copy.write_row(row)
    return time.perf_counter() - started


_STORE_ORDER = tuple(COLUMNS.index(column) for column in store.COLUMNS)


def store_row(row: tuple) -> tuple:
    """A row in COLUMNS order as events.store orders it (what store.row_document reads)."""
    return tuple(row[position] for position in _STORE_ORDER)
