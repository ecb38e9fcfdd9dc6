"""Where the events rows live. On one node, in {database}.events. With CLICKHOUSE_CLUSTER, events is a
Distributed table over each shard's local table, {shard's default database}.events_local, and what
writes to the rows themselves (the schema, purge_events, the TTL) goes to every shard's own.

18.16 has no ON CLUSTER without ZooKeeper, so each shard is reached directly: its host and port as
system.clusters lists them, with the URL's user and password.
"""

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from clickhouse_store.client import Client, connect

LOCAL_TABLE = "events_local"
# engine_full as 18.16 prints it (bare names) and as current servers do (quoted).
_DISTRIBUTED = re.compile(r"^Distributed\('?(\w+)'?,\s*'(\w*)',\s*'?(\w+)'?")


@dataclass(frozen=True)
class Shard:
    number: int
    host: str
    port: int
    database: str


def shards(client: Client, cluster: str) -> list[Shard]:
    """One replica a shard (the first): the Distributed table writes to, and reads from, one."""
    found = client.execute(
        "SELECT shard_num, host_name, port, default_database FROM system.clusters "
        "WHERE cluster = %(cluster)s AND replica_num = 1 ORDER BY shard_num",
        {"cluster": cluster},
    )
    if not found:
        raise ValueError(f"the server has no cluster {cluster!r} in its remote_servers")
    return [Shard(number, host, port, database or "default") for number, host, port, database in found]


def shard_client(client: Client, shard: Shard) -> Client:
    parts = urlsplit(client.url)
    credentials = parts.netloc.rpartition("@")[0]
    netloc = f"{credentials}@{shard.host}:{shard.port}" if credentials else f"{shard.host}:{shard.port}"
    return connect(urlunsplit(parts._replace(netloc=netloc, path=f"/{shard.database}")))


def distributed(client: Client) -> tuple[str, str] | None:
    """(cluster, local table) when the database's events table is Distributed, else None."""
    found = client.execute(
        "SELECT engine_full FROM system.tables WHERE database = %(database)s AND name = 'events'",
        {"database": client.database},
    )
    match = _DISTRIBUTED.match(found[0][0]) if found else None
    return (match[1], match[3]) if match else None


@contextmanager
def event_tables(client: Client) -> Iterator[list[tuple[Client, str]]]:
    """(client, table) of every table that holds events rows: events itself, or each shard's local table."""
    sharded = distributed(client)
    if sharded is None:
        yield [(client, f"{client.database}.events")]
        return
    cluster, table = sharded
    tables = [(shard_client(client, shard), f"{shard.database}.{table}") for shard in shards(client, cluster)]
    try:
        yield tables
    finally:
        for shard, _table in tables:
            shard.close()
