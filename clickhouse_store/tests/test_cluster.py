"""A two-shard Distributed events table answers as one table does (server only: CI's uea_two_shards)."""

import os
import random
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest
import redis

from clickhouse_store import purge, testing, writer
from clickhouse_store.cluster import distributed
from clickhouse_store.rows import from_event
from events.models import Event

QUERIES = [
    "SELECT count(), uniqExact(distinct_id), uniqExact(app_id, event_id) FROM events",
    "SELECT app_id, name, count(), uniqExact(distinct_id) FROM events GROUP BY app_id, name ORDER BY app_id, name",
    # One user's events in time order: a journey's or a funnel's array, whole only if no shard splits a user.
    "SELECT app_id, distinct_id, groupArray(name) FROM "
    "(SELECT app_id, distinct_id, name FROM events ORDER BY app_id, distinct_id, timestamp_us, seq) "
    "GROUP BY app_id, distinct_id ORDER BY app_id, distinct_id",
    "SELECT app_id, min(timestamp_us), max(timestamp_us), sum(length(metadata_keys)) FROM events "
    "GROUP BY app_id ORDER BY app_id",
]


@pytest.fixture
def databases():
    url = testing.server_url_from_environment()
    if url is None or not os.environ.get("REDIS_URL"):
        pytest.skip("needs a ClickHouse server (CLICKHOUSE_URL) and the writer's Redis (REDIS_URL)")
    base = testing.server_test_url(url)
    sharded = testing.two_shard_database(base + "_sharded")
    single = testing.fresh_server_database(base + "_single")
    yield sharded, single
    testing.drop_two_shard_database(sharded)
    testing.drop_database(single)


def column_types(client, database: str, table: str) -> list[tuple[str, str]]:
    return client.execute(
        "SELECT name, type FROM system.columns WHERE database = %(database)s AND table = %(table)s",
        {"database": database, "table": table},
    )


def test_the_distributed_table_follows_its_shards_through_every_alter(databases):
    sharded, _single = databases
    local = f"events_local_{sharded.database}"
    types = column_types(sharded, sharded.database, "events")
    assert ("browser", "LowCardinality(String)") in types  # 0003 altered it after 0001 created it
    for shard in ("uea_shard1", "uea_shard2"):
        assert column_types(sharded, shard, local) == types


def generated_rows(count: int) -> list[tuple]:
    chance = random.Random(13)
    apps = [uuid4() for _ in range(3)]
    start = datetime(2025, 3, 1, tzinfo=UTC)
    rows = []
    for seq in range(1, count + 1):
        event = Event(
            app_id=chance.choice(apps),
            event_id=uuid4(),
            name=chance.choice(["view", "signup", "click", "purchase"]),
            distinct_id=f"user-{chance.randrange(120)}",
            timestamp=start + timedelta(seconds=chance.randrange(60 * 86400)),
            metadata={"plan": chance.choice(["free", "pro"])} if chance.random() < 0.5 else {},
        )
        rows.append(from_event(event, seq=seq))
    return rows


def test_two_shards_answer_every_query_as_one_table_does(databases):
    sharded, single = databases
    assert distributed(sharded) == (testing.TWO_SHARDS, f"events_local_{sharded.database}")
    lock = redis.Redis.from_url(os.environ["REDIS_URL"])
    rows = generated_rows(4000)
    for start in range(0, len(rows), 1000):  # a flush at a time, as the worker writes
        batch = rows[start : start + 1000]
        assert writer.write(batch, client=sharded, lock_client=lock) == len(batch)
        assert writer.write(batch, client=single, lock_client=lock) == len(batch)
    assert writer.write(rows[:500], client=sharded, lock_client=lock) == 0  # replays count once here too
    shard_counts = [
        sharded.execute(f"SELECT count() FROM {shard}.events_local_{sharded.database}")[0][0]  # noqa: S608
        for shard in ("uea_shard1", "uea_shard2")
    ]
    assert sum(shard_counts) == 4000 and min(shard_counts) > 1000  # both shards hold a part
    for query in QUERIES:
        assert sharded.execute(query) == single.execute(query), query
    for database in (sharded, single):  # a whole month and part of the next, on every shard
        purge.purge(database, before=datetime(2025, 4, 10, tzinfo=UTC))
    assert 0 < sharded.execute("SELECT count() FROM events")[0][0] < 3000
    for query in [*QUERIES, "SELECT count() FROM event_ids"]:
        assert sharded.execute(query) == single.execute(query), query
