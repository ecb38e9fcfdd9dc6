"""ClickHouse's copy of the id mappings (the person_ids table, clickhouse_store/schema/0004): written
after each change in the Django database, read by the ClickHouse dialect through argMax(version)."""

from collections.abc import Iterable

from clickhouse_store.client import Client
from clickhouse_store.client import client as configured
from persons.models import PersonDistinctId

COLUMNS = ("app_id", "distinct_id", "person_key", "version")


def write(mappings: Iterable[PersonDistinctId], *, client: Client | None = None) -> int:
    """One insert (into CLICKHOUSE_URL's database unless given another). Rewriting a mapping already
    there is harmless: the same version replaces itself."""
    store = client or configured()
    rows = [(mapping.app_id, mapping.distinct_id, mapping.person_key, mapping.version) for mapping in mappings]
    return store.insert(f"{store.database}.person_ids", COLUMNS, rows)
