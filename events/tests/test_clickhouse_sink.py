"""Buffered ingestion into ClickHouse (ANALYTICS_STORE=clickhouse): the API queues, the worker writes
each flush to ClickHouse once, on the real PostgreSQL, Redis, ClickHouse server and chdb."""

import json
import random
import uuid

import pytest

from events import buffer, sinks, store
from events.models import Event
from events.tests.conftest import make_event


@pytest.fixture
def clickhouse_buffer(ingest_buffer, clickhouse_settings):
    return clickhouse_settings


def test_events_replayed_three_times_are_in_clickhouse_once_and_not_in_the_django_database(
    clickhouse_buffer, collect, drain
):
    events = [make_event(event=f"e{n % 7}", userId=f"u{n % 101}", metadata={"n": n}) for n in range(3000)]
    for _ in range(3):
        for start in range(0, 3000, 1000):
            assert collect({"events": events[start : start + 1000]}).status_code == 202
        drain()
        (counts,) = clickhouse_buffer.execute("SELECT count(), uniqExact(event_id), uniqExact(seq) FROM events")
        assert counts == (3000, 3000, 3000)
    stored = {event_id for (event_id,) in clickhouse_buffer.execute("SELECT event_id FROM events")}
    assert stored == {uuid.UUID(event["eventId"]) for event in events}
    assert not Event.objects.exists()
    figures = buffer.web_client().hgetall(buffer.METRICS)
    assert (int(figures[b"stored"]), int(figures[b"duplicates"])) == (3000, 6000)


def test_a_row_keeps_its_values_on_the_way_to_clickhouse(clickhouse_buffer, collect, drain, registered):
    sent = make_event(
        event="signup", userId="ü\tser\n1", metadata={"plan": "pro\\max"}, timestamp="2024-05-06T07:08:09.123456Z"
    )
    assert collect({"events": [sent]}).status_code == 202
    drain()
    ((app_id, name, user, metadata, timestamp_us, received_us, ip),) = clickhouse_buffer.execute(
        "SELECT app_id, name, distinct_id, metadata, timestamp_us, received_at_us, ip FROM events"
    )
    assert (app_id, name, user) == (registered.app.id, "signup", "ü\tser\n1")
    assert json.loads(metadata) == {"plan": "pro\\max"}
    assert timestamp_us == 1714979289123456 < received_us and ip is not None


def test_seq_orders_rows_by_entry_then_by_place_in_the_entry():
    seqs = [
        sinks.entry_seq(entry, index)
        for entry, index in [
            ("1700000000000-0", 0),
            ("1700000000000-0", 4095),
            ("1700000000000-1", 0),
            ("1700000000001-0", 0),
        ]
    ]
    assert seqs == sorted(seqs) and len(set(seqs)) == 4 and max(seqs) < 2**63
    with pytest.raises(ValueError, match="does not fit"):
        sinks.entry_seq("1700000000000-0", 4096)


def test_a_copy_line_reads_back_as_the_values_it_was_made_of():
    row = ("a\tb", None, "c\\d\ne", "\\N", "")
    assert store.copy_line_row(store.row_copy_line(row)) == row


def test_with_redis_down_collect_refuses_rather_than_writing_to_the_django_database(
    clickhouse_buffer, collect, dead_redis
):
    response = collect({"events": [make_event()]})
    assert response.status_code == 503
    assert not Event.objects.exists()


def test_a_random_sample_of_events_is_written_with_distinct_seqs_per_app(clickhouse_buffer, collect, drain):
    events = [make_event(userId=f"u{n}") for n in range(500)]
    for start in range(0, 500, 50):
        collect({"events": random.Random(start).sample(events, 50)})
    drain()
    (row,) = clickhouse_buffer.execute("SELECT count(), uniqExact(seq) FROM events")
    assert row[0] == row[1] <= 500
