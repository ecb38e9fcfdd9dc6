"""Deleting old events from ClickHouse (manage.py purge_events in ClickHouse mode).

Whole months older than the cutoff are dropped as partitions: instant, and nothing is rewritten. The
rest (the boundary month, or one app's rows, which share their partitions with other apps) go by
ALTER TABLE … DELETE, a mutation that rewrites the parts holding them, in the background on 18.16:
it is waited for here, so the command ends once the rows are gone. The purged events' ids leave
event_ids first: an id left without its row would read to the writer as a crashed write, and a replay
of that old event would be stored again.
"""

import time
from datetime import UTC, datetime
from uuid import UUID

from clickhouse_store.client import ClickHouseStoreError, Client
from clickhouse_store.cluster import event_tables
from clickhouse_store.rows import microseconds

MUTATION_TIMEOUT_SECONDS = 600


class MutationTimeout(ClickHouseStoreError):
    """A DELETE still running when the wait ran out: it carries on in the server's background."""


def counts(client: Client, *, before: datetime, app_id: UUID | None = None) -> dict[UUID, int]:
    """Events older than ``before``, by app."""
    where, params = _where(before, app_id)
    rows = client.execute(f"SELECT app_id, count() FROM {client.database}.events WHERE {where} GROUP BY app_id", params)  # noqa: S608
    return dict(rows)


def purge(
    client: Client, *, before: datetime, app_id: UUID | None = None, timeout: float = MUTATION_TIMEOUT_SECONDS
) -> None:
    where, params = _where(before, app_id)
    _mutate(
        client,
        f"{client.database}.event_ids",
        f"(app_id, seq) IN (SELECT app_id, seq FROM {client.database}.events WHERE {where})",  # noqa: S608
        params,
        timeout,
    )
    with event_tables(client) as tables:
        for shard, table in tables:
            if app_id is None:
                for partition in _partitions_before(shard, table, before):
                    shard.execute(f"ALTER TABLE {table} DROP PARTITION {partition}")
            _mutate(shard, table, where, params, timeout)


def _where(before: datetime, app_id: UUID | None) -> tuple[str, dict]:
    params = {"before": microseconds(before), "app": app_id}
    return ("timestamp_us < %(before)s" + ("" if app_id is None else " AND app_id = toUUID(%(app)s)")), params


def _partitions_before(client: Client, table: str, before: datetime) -> list[str]:
    """Months (the partition ids, YYYYMM) that end at or before the cutoff."""
    database, name = table.split(".")
    utc = before.astimezone(UTC)  # the partitions are UTC months
    month = utc.year * 100 + utc.month
    found = client.execute(
        "SELECT DISTINCT partition FROM system.parts WHERE database = %(database)s AND table = %(table)s AND active",
        {"database": database, "table": name},
    )
    return sorted(partition for (partition,) in found if int(partition) < month)


def _mutate(client: Client, table: str, where: str, params: dict, timeout: float) -> None:
    """ALTER TABLE … DELETE, when there is anything to delete, and wait until it is done."""
    (matching,) = client.execute(f"SELECT count() FROM {table} WHERE {where}", params)[0]  # noqa: S608
    if not matching:
        return
    client.execute(f"ALTER TABLE {table} DELETE WHERE {where}", params)
    database, name = table.split(".")
    deadline = time.monotonic() + timeout
    while client.execute(
        "SELECT count() FROM system.mutations WHERE database = %(database)s AND table = %(table)s AND NOT is_done",
        {"database": database, "table": name},
    )[0][0]:
        if time.monotonic() > deadline:
            raise MutationTimeout(f"the DELETE on {table} is still running after {timeout:.0f} s; it carries on")
        time.sleep(0.1)
