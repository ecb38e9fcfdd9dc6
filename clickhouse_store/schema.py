"""The ClickHouse schema: versioned SQL files in schema/, applied in order by `manage.py clickhouse_migrate`
and recorded in the database's schema_migrations table.

A file holds statements separated by a semicolon at the end of a line, with two placeholders:
{database}, and {events}, the events table's own DDL (on one node, {database}.events). Every
statement is safe to run twice (IF NOT EXISTS): a migrate that died half way through a file
applies the whole file again.
"""

import re
from dataclasses import dataclass
from pathlib import Path

from clickhouse_store.client import Client
from clickhouse_store.cluster import LOCAL_TABLE, event_tables, shard_client, shards

DIRECTORY = Path(__file__).resolve().parent / "schema"
_FILE_NAME = re.compile(r"^(\d{4})_(\w+)\.sql$")
_STATEMENT_END = re.compile(r";\s*$", re.MULTILINE)
_CREATE_TABLE = re.compile(r"^CREATE TABLE", re.MULTILINE)  # after the statement's leading comments


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    def statements(self) -> list[str]:
        """The statements, placeholders left in."""
        return [statement.strip() for statement in _STATEMENT_END.split(self.sql) if statement.strip()]


def render(statement: str, *, database: str, events: str) -> str:
    return statement.replace("{database}", database).replace("{events}", events)


def migrations() -> list[Migration]:
    found = []
    for path in sorted(DIRECTORY.iterdir()):
        if match := _FILE_NAME.match(path.name):
            found.append(Migration(version=int(match[1]), name=match[2], sql=path.read_text()))
    return found


LATEST = migrations()[-1].version


def applied(client: Client) -> set[int]:
    """Versions recorded in the database; none when it, or its schema_migrations table, is missing."""
    exists = client.execute(
        "SELECT count() FROM system.tables WHERE database = %(database)s AND name = 'schema_migrations'",
        {"database": client.database},
    )
    if not exists[0][0]:
        return set()
    versions = client.execute(f"SELECT version FROM {client.database}.schema_migrations")  # noqa: S608
    return {version for (version,) in versions}


def pending(client: Client) -> list[Migration]:
    done = applied(client)
    return [migration for migration in migrations() if migration.version not in done]


def migrate(client: Client, *, cluster: str | None = None, local_table: str = LOCAL_TABLE) -> list[Migration]:
    """Create the database if missing, apply what is pending, return what was applied.

    With a cluster, a statement about {events} runs on every shard, on its local table (``local_table``
    in the shard's default database: another name only for test databases sharing one server's
    shards), and the events table of the client's database becomes the Distributed table over them,
    sharded by user: one user's events on one shard; an ALTER of {events} alters it too. Everything
    else, event_ids included, stays in the client's database, unsharded."""
    client.create_database()
    client.execute(
        f"CREATE TABLE IF NOT EXISTS {client.database}.schema_migrations "
        "(version UInt32, name String, applied_at DateTime DEFAULT now()) ENGINE = MergeTree ORDER BY version"
    )
    todo = pending(client)
    for migration in todo:
        for statement in migration.statements():
            if cluster and "{events}" in statement:
                _on_shards(client, statement, cluster=cluster, local_table=local_table)
            else:
                client.execute(render(statement, database=client.database, events=f"{client.database}.events"))
        record = [(migration.version, migration.name)]
        client.insert(f"{client.database}.schema_migrations", ("version", "name"), record)
    return todo


def _on_shards(client: Client, statement: str, *, cluster: str, local_table: str) -> None:
    first = None
    for shard in shards(client, cluster):
        own = shard_client(client, shard)
        try:
            own.create_database()
            own.execute(render(statement, database=shard.database, events=f"{shard.database}.{local_table}"))
            if first is None:
                first = own.execute(
                    "SELECT name, type FROM system.columns WHERE database = %(database)s AND table = %(table)s",
                    {"database": shard.database, "table": local_table},
                )
        finally:
            own.close()
    distributed = f"{client.database}.events"
    if _CREATE_TABLE.search(statement):
        columns = ", ".join(f"{name} {kind}" for name, kind in first)
        # '' for the database: each shard's own default database, where its local table is.
        client.execute(
            f"CREATE TABLE IF NOT EXISTS {distributed} ({columns}) "
            f"ENGINE = Distributed({cluster}, '', {local_table}, cityHash64(distinct_id))"
        )
    else:  # an ALTER: the Distributed table's columns follow the shards'
        client.execute(render(statement, database=client.database, events=distributed))


# TTL came in 19.6; Debian's 18.16 has none, and purge_events on a schedule does its work there.
TTL_SINCE = (19, 6)


def server_version(client: Client) -> tuple[int, int]:
    major, minor, *_ = client.execute("SELECT version()")[0][0].split(".")
    return int(major), int(minor)


def set_ttl(client: Client, days: int) -> bool:
    """Keep events ``days`` days past their timestamp, on every table holding them; False when already so
    (a TTL changed again makes current servers rewrite every part to apply it)."""
    expression = "toDateTime(intDiv(timestamp_us, 1000000))"
    changed = False
    with event_tables(client) as tables:
        for shard, table in tables:
            database, name = table.split(".")
            query = "SELECT engine_full FROM system.tables WHERE database = %(database)s AND name = %(name)s"
            (engine,) = shard.execute(query, {"database": database, "name": name})[0]
            if f"TTL {expression} + toIntervalDay({days})" not in engine:
                shard.execute(f"ALTER TABLE {table} MODIFY TTL {expression} + INTERVAL {int(days)} DAY")
                changed = True
    return changed
