from datetime import UTC, datetime
from uuid import uuid4

from clickhouse_store.rows import COLUMNS, from_event, metadata_arrays, microseconds
from events.models import Event


def test_an_event_is_stored_and_read_back_as_it_was_given(clickhouse):
    event = Event(
        app_id=uuid4(),
        event_id=uuid4(),
        name="signup",
        distinct_id="user-1",
        timestamp=datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=UTC),
        received_at=datetime(2024, 5, 6, 7, 8, 10, tzinfo=UTC),
        url="https://acme.example/a?b=c",
        ip="2001:db8::1",
        metadata={"plan": "pro", "nested": {"ünï": [1, 2]}},
    )
    row = from_event(event, seq=2**63 - 1)
    anonymous = from_event(Event(app_id=event.app_id, event_id=uuid4(), timestamp=event.timestamp), seq=1)
    assert row[COLUMNS.index("timestamp_us")] == 1714979289123456
    assert row[COLUMNS.index("metadata")] == '{"plan":"pro","nested":{"ünï":[1,2]}}'
    assert row[COLUMNS.index("metadata_keys")] == ["plan", "nested"]
    assert row[COLUMNS.index("metadata_values")] == ["pro", '{"ünï":[1,2]}']
    clickhouse.insert("events", COLUMNS, [row, anonymous])
    stored = clickhouse.execute(f"SELECT {', '.join(COLUMNS)} FROM events ORDER BY seq DESC")  # noqa: S608
    assert stored[0] == row
    assert stored[1][COLUMNS.index("ip")] is None


def test_microseconds_are_exact_where_a_float_timestamp_is_not():
    moment = datetime(2286, 11, 20, 17, 46, 39, 999999, tzinfo=UTC)
    assert microseconds(moment) == 9999999999999999


def test_metadata_values_read_as_postgresqls_text_with_nulls_left_out():
    keys, values = metadata_arrays({"s": "x", "n": 1.5, "b": False, "none": None, "list": [1, "a"], "a.b": 2})
    assert keys == ["s", "n", "b", "list", "a.b"]
    assert values == ["x", "1.5", "false", '[1,"a"]', "2"]
