"""Migrated ClickHouse databases for tests, on both engines (registered by the root conftest.py).

`clickhouse_engine` (a session fixture) is parametrised over
- server: the server of the environment's CLICKHOUSE_URL (CI: Debian's 18.16), in a database of
  its own, test_<database>, made fresh for the session and dropped at its end; skipped when
  CLICKHOUSE_URL is not a clickhouse:// URL;
- chdb: the current engine in process, in a temporary directory; always there.
`clickhouse` gives each test that engine with its tables emptied. The functions below build the
same databases for any other fixture (the report tests reuse them).
"""

import os
from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

import pytest

from clickhouse_store import schema
from clickhouse_store.client import Client, connect, reset
from clickhouse_store.cluster import shard_client, shards

ENGINES = ("server", "chdb")
TABLES = ("events", "event_ids", "person_ids", "person_properties")


def server_test_url(url: str) -> str:
    """The URL's server, database test_<its database>: as Django names its test database."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/test_{parts.path.strip('/') or 'default'}"))


def fresh_server_database(url: str) -> Client:
    """A migrated, empty database at ``url``, dropped first if a run before left it."""
    client = connect(url)
    drop_database(client)
    schema.migrate(client)
    return client


def drop_database(client: Client) -> None:
    # From a connection to "default": the driver's own session names the database being dropped.
    other = connect(urlunsplit(urlsplit(client.url)._replace(path="/default")))
    try:
        other.execute(f"DROP DATABASE IF EXISTS {client.database}")
    finally:
        other.close()
    client.close()


# The CI server's two-shard cluster (.ci/clickhouse/uea_two_shards.xml): both shards on that one
# server, in the databases uea_shard1 and uea_shard2 its config names.
TWO_SHARDS = "uea_two_shards"


def two_shard_database(url: str) -> Client:
    """A fresh, migrated cluster-mode database at ``url`` (a server's) whose events is Distributed over
    TWO_SHARDS. The shard databases are fixed by the server's config and shared by every run against
    that server, so the local tables are named after the database (events_local_<database>): two runs
    with different databases never touch each other's rows. Drop it with drop_two_shard_database."""
    client = connect(url)
    client.create_database()  # a connection naming a missing database can ask the server nothing
    drop_two_shard_database(client)
    schema.migrate(client, cluster=TWO_SHARDS, local_table=local_table(client))
    return client


def drop_two_shard_database(client: Client) -> None:
    for shard in shards(client, TWO_SHARDS):
        own = shard_client(client, shard)
        try:
            own.create_database()  # shared by every run, and left in place: cheaper than asking whether it is there
            own.execute(f"DROP TABLE IF EXISTS {shard.database}.{local_table(client)}")
        finally:
            own.close()
    drop_database(client)


def local_table(client: Client) -> str:
    return f"events_local_{client.database}"


def chdb_database(directory) -> Client:
    """The chdb engine in ``directory``, migrated. One directory per process: chdb allows no second."""
    client = connect(f"chdb://{directory}")
    schema.migrate(client)
    return client


def empty(client: Client) -> None:
    for table in TABLES:
        client.execute(f"TRUNCATE TABLE {client.database}.{table}")


def server_url_from_environment() -> str | None:
    url = os.environ.get("CLICKHOUSE_URL", "")
    return url if url.startswith("clickhouse://") else None


@pytest.fixture(scope="session", params=ENGINES)
def clickhouse_engine(request, tmp_path_factory) -> Iterator[Client]:
    if request.param == "chdb":
        yield chdb_database(tmp_path_factory.getbasetemp() / "chdb")
        return
    url = server_url_from_environment()
    if url is None:
        pytest.skip("no ClickHouse server: set CLICKHOUSE_URL=clickhouse://... (CI does)")
    client = fresh_server_database(server_test_url(url))
    yield client
    drop_database(client)


@pytest.fixture
def clickhouse_engine_name(clickhouse_engine, request) -> str:
    """server or chdb: which engine this test's clickhouse is."""
    return request.node.callspec.params["clickhouse_engine"]


@pytest.fixture
def clickhouse(clickhouse_engine) -> Client:
    """A migrated ClickHouse database with empty tables, on the server and on chdb."""
    empty(clickhouse_engine)
    return clickhouse_engine


@pytest.fixture
def clickhouse_settings(settings, clickhouse) -> Iterator[Client]:
    """ANALYTICS_STORE=clickhouse on the clickhouse fixture's database, for code that reads settings."""
    settings.ANALYTICS_STORE = "clickhouse"
    settings.CLICKHOUSE_URL = clickhouse.url
    reset()
    yield clickhouse
    reset()
