"""ClickHouse's copy of the id mappings (person_ids, clickhouse_store/schema/0004) and of the persons'
properties (person_properties, 0005): written after each change in the Django database, read by the
ClickHouse dialect through argMax(version)."""

from collections.abc import Iterable

from clickhouse_store.client import Client
from clickhouse_store.client import client as configured
from clickhouse_store.rows import metadata_arrays
from persons.models import PersonDistinctId

COLUMNS = ("app_id", "distinct_id", "person_key", "version")
PROPERTY_COLUMNS = ("app_id", "person_key", "property_keys", "property_values", "version")


def write(mappings: Iterable[PersonDistinctId], *, client: Client | None = None) -> int:
    """One insert (into CLICKHOUSE_URL's database unless given another). Rewriting a mapping already
    there is harmless: the same version replaces itself."""
    store = client or configured()
    mappings = list(mappings)
    rows = [(mapping.app_id, mapping.distinct_id, mapping.person_key, mapping.version) for mapping in mappings]
    persons = {mapping.person_id: mapping.person for mapping in mappings}.values()
    properties = [
        (person.app_id, person.key, *metadata_arrays(person.properties), person.properties_version)
        for person in persons
    ]
    store.insert(f"{store.database}.person_properties", PROPERTY_COLUMNS, properties)
    return store.insert(f"{store.database}.person_ids", COLUMNS, rows)
