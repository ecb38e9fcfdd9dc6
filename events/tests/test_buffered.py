"""Buffered ingestion in one process: the API queues, a worker stores, on the real PostgreSQL and Redis.
The worker's own process, killed or stopped, and a real database outage are in test_buffered_faults.py."""

import logging
import random
import uuid

from django.db import connection

from events import buffer, metrics, store
from events import worker as worker_module
from events.models import Event
from events.tests.conftest import UNINDEXABLE_PATH, make_event
from events.worker import IngestWorker


def _stream_length() -> int:
    return buffer.web_client().xlen(buffer.STREAM)


def test_collect_queues_valid_events_and_names_the_bad_ones(ingest_buffer, collect, drain):
    a = make_event(event="a")
    response = collect({"events": [a, {"userId": "no name"}, make_event(event="b"), a]})
    assert response.status_code == 202, response.content
    assert response.json() == {
        "queued": 2,
        "rejected": [{"index": 1, "code": "missing_event", "detail": "`event` (the event name) is required."}],
        "warnings": [],
    }
    assert not Event.objects.exists()
    assert _stream_length() == 1  # one entry per request
    figures = ingest_buffer.hgetall(buffer.METRICS)
    assert (figures[b"queued"], figures[b"duplicates"], figures[b"rejected:missing_event"]) == (b"2", b"1", b"1")
    drain()
    assert sorted(Event.objects.values_list("name", flat=True)) == ["a", "b"]
    assert _stream_length() == 0


def test_segment_endpoints_still_answer_exactly_200_success(ingest_buffer, client_for, registered, drain):
    client = client_for(registered.secret_key.raw)
    response = client.post("/v1/track", {"event": "Order Completed", "userId": "u1"}, format="json")
    assert (response.status_code, response.json()) == (200, {"success": True})
    drain()
    assert Event.objects.get().name == "Order Completed"


def test_10000_events_with_5000_replayed_are_stored_exactly_once(ingest_buffer, collect, drain):
    events = [make_event(event=f"e{n % 7}", userId=f"u{n % 101}") for n in range(10_000)]
    for start in range(0, 10_000, 1000):
        assert collect({"events": events[start : start + 1000]}).status_code == 202
    replayed = random.Random(5).sample(events, 5000)
    for start in range(0, 5000, 1000):
        assert collect({"events": replayed[start : start + 1000]}).status_code == 202
    drain()
    assert Event.objects.count() == 10_000
    assert set(Event.objects.values_list("event_id", flat=True)) == {uuid.UUID(e["eventId"]) for e in events}
    figures = buffer.web_client().hgetall(buffer.METRICS)
    assert (int(figures[b"queued"]), int(figures[b"stored"]), int(figures[b"duplicates"])) == (15_000, 10_000, 5000)


def test_reports_see_the_events_once_the_worker_has_stored_them(ingest_buffer, collect, secret_client, drain):
    collect(make_event(event="before"))
    drain()
    assert secret_client.get("/api/analytics/event-summary").json()["count"] == 1  # now cached
    collect(make_event(event="after"))
    assert secret_client.get("/api/analytics/event-summary").json()["count"] == 1  # queued, not stored
    drain()  # the flush bumps the app's report generation
    response = secret_client.get("/api/analytics/event-summary")
    assert (response.json()["count"], response["X-Cache"]) == (2, "miss")


def test_a_full_buffer_answers_503_with_retry_after_and_trims_nothing(
    ingest_buffer, settings, collect, client_for, registered
):
    settings.INGEST_BUFFER_MAX = 3
    queued = [make_event(event=f"kept{n}") for n in range(3)]
    for event in queued:
        assert collect(event).status_code == 202
    response = collect(make_event(event="refused"))
    assert response.status_code == 503
    assert (response.json()["code"], int(response["Retry-After"])) == ("buffer_full", 5)
    segment = client_for(registered.secret_key.raw).post("/v1/track", {"event": "x", "userId": "u"}, format="json")
    assert (segment.status_code, segment.json()["code"]) == (503, "buffer_full")  # Segment's {code, message}
    assert _stream_length() == 3
    entries = buffer.web_client().xrange(buffer.STREAM)
    assert [store.copy_lines_column(fields[b"rows"].decode(), "name") for _, fields in entries] == [
        ["kept0"],
        ["kept1"],
        ["kept2"],
    ]


def test_with_redis_unreachable_collect_stores_directly(ingest_buffer, dead_redis, collect, caplog):
    metrics.take_fallbacks()
    with caplog.at_level(logging.WARNING, logger="events.services"):
        response = collect(make_event(event="direct"))
    assert response.status_code == 201, response.content
    assert response.json()["accepted"] == 1
    assert Event.objects.get().name == "direct"
    assert "ingestion queue unreachable" in caplog.text
    # Counted, and told to Redis with the next request that reaches it.
    assert metrics.take_fallbacks() == {"direct_fallbacks": 1}


def _row(registered, name: str, path: str = "/") -> str:
    """A row as the API queues it: a line of COPY text (events.store.row_copy_line)."""
    moment = "2026-01-05T10:00:00+00:00"
    values = {
        **dict.fromkeys(store.COLUMNS, ""),
        **{"app_id": registered.app.id, "event_id": uuid.uuid4(), "name": name, "distinct_id": "u1", "path": path},
        **{"timestamp": moment, "received_at": moment, "ip": None, "source": "api", "metadata": "{}"},
    }
    return store.row_copy_line(tuple(values[column] for column in store.COLUMNS))


def _append(client, registered, rows: list[str]) -> None:
    buffer.buffer_append(client, app_id=registered.app.id, rows_text="".join(rows), count=len(rows), counters={})


def test_a_poison_row_becomes_a_dead_letter_with_its_reason_and_the_rest_is_stored(registered, drain):
    client = buffer.web_client()
    # A row validation would have refused, as an older server or a bug might have queued it.
    poisoned = [_row(registered, "first"), _row(registered, "poison", UNINDEXABLE_PATH), _row(registered, "last")]
    _append(client, registered, poisoned)
    _append(client, registered, [_row(registered, "other entry")])
    drain()
    assert sorted(Event.objects.values_list("name", flat=True)) == ["first", "last", "other entry"]
    (letter,) = buffer.dead_letters(client)
    assert letter.count == 1
    assert "index row size" in letter.reason
    assert store.copy_lines_column(letter.rows, "name") == ["poison"]
    assert _stream_length() == 0
    assert int(client.hget(buffer.METRICS, "dead_lettered")) == 1


def test_an_entry_handed_out_too_often_becomes_a_dead_letter(settings, registered, drain):
    settings.INGEST_MAX_DELIVERIES, settings.INGEST_CLAIM_IDLE_MS = 1, 1
    client = buffer.web_client()
    _append(client, registered, [_row(registered, "crashes its worker")])
    buffer.ensure_group(client)
    buffer.read_new(client, consumer="a-worker-that-died", count=10, block_ms=1)  # its first delivery
    drain()  # takes it over: the second delivery, one more than allowed
    assert not Event.objects.exists()
    (letter,) = buffer.dead_letters(client)
    assert letter.reason == "delivered 2 times without being stored"
    replayed = buffer.replay_dead_letters(client)
    assert (replayed, buffer.dead_letters(client), _stream_length()) == (1, [], 1)
    settings.INGEST_MAX_DELIVERIES = 5
    drain()
    assert Event.objects.get().name == "crashes its worker"


def _queue_entries(client, registered, entries: int, rows_each: int) -> None:
    for entry in range(entries):
        _append(client, registered, [_row(registered, f"entry{entry}") for _ in range(rows_each)])


def test_a_flush_holds_about_flush_rows_rows_however_many_each_entry_holds(ingest_buffer, settings, registered):
    settings.INGEST_FLUSH_ROWS = 250
    _queue_entries(ingest_buffer, registered, entries=5, rows_each=100)
    worker = IngestWorker(ingest_buffer, consumer="test-worker")
    # Past 250 by less than one entry: COUNT counts entries, and the worker sizes it by rows per entry.
    assert [entry.count for entry in worker.gather()] == [100, 100, 100]
    assert [entry.count for entry in worker.gather()] == [100, 100]


def test_a_worker_rides_out_its_stream_being_deleted_under_it(ingest_buffer, registered):
    worker = IngestWorker(ingest_buffer, consumer="test-worker")  # it made the group when it started
    ingest_buffer.delete(buffer.STREAM)  # a FLUSHDB, or an operator's DEL: the group goes with it
    _queue_entries(ingest_buffer, registered, entries=2, rows_each=3)
    worker.run(until_empty=True)
    assert Event.objects.count() == 6


def test_rows_split_on_newlines_alone_whatever_else_a_value_holds(registered):
    names = ["line\u2028separator", "form\x0cfeed", "tab\tand\nnewline"]
    text = "".join(_row(registered, name) for name in names)
    assert len(store.copy_lines(text)) == 3
    assert store.copy_lines_column(text, "name") == names


def test_a_failure_of_the_server_not_the_rows_is_retried_not_dead_lettered(ingest_buffer, registered, monkeypatch):
    """A column a migration has not added yet (42703) is no reason to give the rows up."""
    _append(ingest_buffer, registered, [_row(registered, "waits for the migration")])
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE events_event RENAME COLUMN locale TO locale_not_yet")

    def migrate_then_wait(seconds):
        with connection.cursor() as cursor:
            cursor.execute("ALTER TABLE events_event RENAME COLUMN locale_not_yet TO locale")
        return seconds

    monkeypatch.setattr(worker_module, "_backoff", migrate_then_wait)
    IngestWorker(ingest_buffer, consumer="test-worker").run(until_empty=True)
    assert Event.objects.get().name == "waits for the migration"
    assert buffer.dead_letters(ingest_buffer) == []


def test_delivery_counts_are_read_for_the_consumer_among_everyone_elses(ingest_buffer, registered):
    _queue_entries(ingest_buffer, registered, entries=10, rows_each=1)
    buffer.ensure_group(ingest_buffer)
    ids = [entry.id for entry in buffer.read_new(ingest_buffer, consumer="other", count=10, block_ms=1)]
    ingest_buffer.xclaim(buffer.STREAM, buffer.GROUP, "me", 0, [ids[0], ids[-1]])  # a second delivery each
    assert buffer.delivery_counts(ingest_buffer, [ids[0], ids[-1]], consumer="me") == {ids[0]: 2, ids[-1]: 2}
