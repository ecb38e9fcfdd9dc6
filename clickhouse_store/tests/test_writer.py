import os
import threading
from datetime import UTC, datetime
from uuid import uuid4

import pytest
import redis

from clickhouse_store import writer
from clickhouse_store.client import connect
from clickhouse_store.rows import COLUMNS, from_event
from events.models import Event


@pytest.fixture
def lock_client():
    if not os.environ.get("REDIS_URL"):
        pytest.skip("the writer's lock lives in Redis (REDIS_URL)")
    return redis.Redis.from_url(os.environ["REDIS_URL"])


def _rows(count: int, *, app_id=None, first_seq: int = 1) -> list[tuple]:
    app_id = app_id or uuid4()
    moment = datetime(2024, 5, 6, tzinfo=UTC)
    return [
        from_event(Event(app_id=app_id, event_id=uuid4(), name="view", timestamp=moment), seq=first_seq + n)
        for n in range(count)
    ]


def _counts(client) -> tuple[int, int]:
    (row,) = client.execute("SELECT count(), uniqExact(app_id, event_id) FROM events")
    return row


def test_a_batch_replayed_three_times_is_counted_once_right_after_each_write(clickhouse, lock_client):
    rows = _rows(300)
    assert writer.write(rows, client=clickhouse, lock_client=lock_client) == 300
    for replay in range(2):
        replayed = [(*row[:-1], 10_000 * (replay + 1) + row[-1]) for row in rows]  # a new entry: new seqs
        assert writer.write(replayed, client=clickhouse, lock_client=lock_client) == 0
        assert _counts(clickhouse) == (300, 300)


def test_the_first_of_an_event_id_repeated_within_a_batch_wins(clickhouse, lock_client):
    (row,) = _rows(1)
    later = (*row[: COLUMNS.index("name")], "other", *row[COLUMNS.index("name") + 1 : -1], 99)
    assert writer.write([row, later], client=clickhouse, lock_client=lock_client) == 1
    assert clickhouse.execute("SELECT name, seq FROM events") == [("view", row[-1])]


def test_ids_written_without_their_rows_by_a_crashed_write_get_their_rows_on_the_retry(clickhouse, lock_client):
    rows = _rows(5)
    crashed = rows[:3]  # their ids reached event_ids, their rows never reached events
    clickhouse.insert("event_ids", ("app_id", "event_id", "seq"), [(r[0], r[1], r[-1]) for r in crashed])
    retried = [(*row[:-1], row[-1] + 1000) for row in rows]  # replayed from a dead letter: new seqs
    assert writer.write(retried, client=clickhouse, lock_client=lock_client) == 5
    assert sorted(clickhouse.execute("SELECT seq FROM events")) == [(1,), (2,), (3,), (1004,), (1005,)]
    assert writer.write(retried, client=clickhouse, lock_client=lock_client) == 0
    assert _counts(clickhouse) == (5, 5)


def test_workers_writing_the_same_events_at_once_store_each_once(clickhouse, clickhouse_engine_name, lock_client):
    rows = _rows(2000)
    written = []

    def work(offset: int) -> None:
        own = clickhouse if clickhouse_engine_name == "chdb" else connect(clickhouse.url)  # a connection a thread
        written.append(writer.write(rows[offset:] + rows[:offset], client=own, lock_client=lock_client))

    threads = [threading.Thread(target=work, args=(offset,)) for offset in (0, 500, 1000, 1500)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(written) == 2000
    assert _counts(clickhouse) == (2000, 2000)
