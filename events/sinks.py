"""Where the ingestion worker's flushes go: the Django database (ANALYTICS_STORE=postgresql) or
ClickHouse (ANALYTICS_STORE=clickhouse). A sink stores a flush's rows, turns the rows its store
refuses into dead letters, and raises StoreUnavailable for anything worth retrying as it is.
"""

import json
import logging
from collections.abc import Iterable
from datetime import datetime
from uuid import UUID

import redis
from django.conf import settings
from django.db import DatabaseError, connection, transaction

from analytics_project.errors import is_database_outage
from clickhouse_store import client as clickhouse_client
from clickhouse_store import rows as clickhouse_rows
from clickhouse_store import writer
from events import buffer, store
from persons.services import persons_record_copy_text

logger = logging.getLogger(__name__)

# What the database refuses a row for: a bad value (22), a broken constraint (23), a limit such as an
# index entry's size (54). Those rows become dead letters; any other error (a column a migration has
# not added yet, a permission) is the server's, and the worker waits and tries the same rows again.
_ROW_REFUSALS = frozenset({"22", "23", "54"})
# ClickHouse's codes for a value it cannot take: parse failures (6, 27, 38, 41, 72, 376), a type
# mismatch (53), a value out of range (69, 321), a string too long (131). Others are its own trouble.
_CLICKHOUSE_ROW_REFUSALS = frozenset({6, 27, 38, 41, 53, 69, 72, 131, 321, 376})


class StoreUnavailable(Exception):
    """The store is down, or failing for a reason of its own: the worker backs off and retries."""


def record_persons(flush) -> None:
    """The persons a flush's identify, alias and $set events make (persons.identity), in the Django
    database and any copy in ClickHouse, before the flush is stored: a retry records them again."""
    try:
        persons_record_copy_text(
            "".join(entry.rows for entry in flush.entries), clickhouse=settings.ANALYTICS_STORE == "clickhouse"
        )
    except DatabaseError as exc:
        if not connection.in_atomic_block:
            connection.close()
        raise StoreUnavailable(f"persons: {store.sqlstate(exc)}") from exc
    except clickhouse_client.ClickHouseStoreError as exc:
        clickhouse_client.reset()
        raise StoreUnavailable(f"persons in ClickHouse: {exc}") from exc


def _refuses_rows(exc: DatabaseError) -> bool:
    sqlstate = getattr(exc.__cause__, "sqlstate", None)
    return sqlstate is not None and sqlstate[:2] in _ROW_REFUSALS


class PostgresqlSink:
    """The Django database, through COPY (events.store.insert_copy_text), in one transaction."""

    def store(self, flush) -> None:
        try:
            self._store(flush)
        except DatabaseError as exc:
            if _refuses_rows(exc):
                raise  # _store handles these; one here is a bug, and must not loop forever
            if not connection.in_atomic_block:  # a connection the outage broke; a caller's stays
                connection.close()
            raise StoreUnavailable(store.sqlstate(exc)) from exc

    def _store(self, flush) -> None:
        try:
            with transaction.atomic():
                flush.stored = store.insert_copy_text("".join(entry.rows for entry in flush.entries))
        except DatabaseError as exc:
            if is_database_outage(exc) or not _refuses_rows(exc):
                raise
            logger.warning(
                "a flush of %d rows was refused (%s); storing entry by entry", flush.rows, store.sqlstate(exc)
            )
            self._store_one_by_one(flush)

    def _store_one_by_one(self, flush) -> None:
        """Each entry, then each row of an entry the database refuses, in a savepoint: only what it
        refuses becomes a dead letter, with the database's reason."""
        with transaction.atomic():
            for entry in flush.entries:
                try:
                    with transaction.atomic():
                        flush.stored += store.insert_copy_text(entry.rows)
                    continue
                except DatabaseError as exc:
                    if is_database_outage(exc) or not _refuses_rows(exc):
                        raise
                for line in store.copy_lines(entry.rows):
                    try:
                        with transaction.atomic():
                            flush.stored += store.insert_copy_text(line)
                    except DatabaseError as exc:
                        if is_database_outage(exc) or not _refuses_rows(exc):
                            raise
                        flush.dead.append((entry, line, 1, str(exc).strip()))


# seq, the row's arrival order: the entry id's milliseconds, its sequence within that millisecond,
# the row's place in the entry. 41 + 10 + 12 bits: below 2**63 until 2039, and INGEST_MAX_BATCH <= 4096.
_SEQUENCE_BITS, _INDEX_BITS = 10, 12
_UUIDS = (store.COLUMNS.index("app_id"), store.COLUMNS.index("event_id"))
_TIMES = (store.COLUMNS.index("timestamp"), store.COLUMNS.index("received_at"))


def entry_seq(entry_id: str, index: int) -> int:
    milliseconds, _, sequence = entry_id.partition("-")
    if int(sequence) >= 1 << _SEQUENCE_BITS or index >= 1 << _INDEX_BITS:
        raise ValueError(f"entry {entry_id} row {index} does not fit in a seq")
    return int(milliseconds) << (_SEQUENCE_BITS + _INDEX_BITS) | int(sequence) << _INDEX_BITS | index


def clickhouse_row(line: str, seq: int) -> tuple:
    """A line of the buffer's COPY text as a row of ClickHouse's events table."""
    values = list(store.copy_line_row(line))
    for position in _UUIDS:
        values[position] = UUID(values[position])
    for position in _TIMES:
        values[position] = clickhouse_rows.microseconds(datetime.fromisoformat(values[position]))
    return (*values, *clickhouse_rows.metadata_arrays(json.loads(values[-1])), seq)


class ClickHouseSink:
    """ClickHouse, through clickhouse_store.writer: one insert a flush, each event once. The Redis
    client is the worker's own: the writer's lock lives beside the queue."""

    def __init__(self, redis_client: redis.Redis):
        self.redis = redis_client

    def store(self, flush) -> None:
        rows = {entry.id: self._rows(entry) for entry in flush.entries}
        try:
            flush.stored = self._write(row for entry_rows in rows.values() for row in entry_rows)
            return
        except clickhouse_client.ClickHouseError as exc:
            if exc.code not in _CLICKHOUSE_ROW_REFUSALS:
                raise StoreUnavailable(f"ClickHouse error {exc.code}") from exc
            logger.warning("a flush of %d rows was refused (ClickHouse %s); storing row by row", flush.rows, exc.code)
        for entry in flush.entries:
            for line, row in zip(store.copy_lines(entry.rows), rows[entry.id], strict=True):
                try:
                    flush.stored += self._write([row])
                except clickhouse_client.ClickHouseError as exc:
                    if exc.code not in _CLICKHOUSE_ROW_REFUSALS:
                        raise StoreUnavailable(f"ClickHouse error {exc.code}") from exc
                    flush.dead.append((entry, line, 1, str(exc).strip()))

    @staticmethod
    def _rows(entry: buffer.Entry) -> list[tuple]:
        return [
            clickhouse_row(line, entry_seq(entry.id, index)) for index, line in enumerate(store.copy_lines(entry.rows))
        ]

    def _write(self, rows: Iterable[tuple]) -> int:
        try:
            return writer.write(list(rows), client=clickhouse_client.client(), lock_client=self.redis)
        except clickhouse_client.ClickHouseUnavailable as exc:
            clickhouse_client.reset()  # a connection the outage broke
            raise StoreUnavailable("ClickHouse unreachable") from exc
        except redis.RedisError as exc:
            raise StoreUnavailable(f"the write lock's Redis: {exc.__class__.__name__}") from exc


def configured(redis_client: redis.Redis):
    return ClickHouseSink(redis_client) if settings.ANALYTICS_STORE == "clickhouse" else PostgresqlSink()
