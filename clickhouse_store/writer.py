"""Writing events to ClickHouse exactly once: a replayed (app, eventId) never counts twice, in any
report, at any moment.

ClickHouse has no unique key. A ReplacingMergeTree would fold duplicates away only when it merges
parts, at a time of its choosing (FINAL folds them at read time, and costs every report a merge), so
a report right after a replay would count it twice. Duplicates are kept out instead, before they
are written: under one Redis lock, so two workers holding the same event cannot both find it new,
the batch's (app, eventId) pairs are looked up in event_ids, those present dropped, then the new
pairs go into event_ids and only then their rows into events. event_ids is a ReplacingMergeTree
only so that its own copies of a pair, which the recovery below may write, fold away in time.

A worker that dies between the two inserts leaves ids without their rows; its entries stay in the
stream and are written again. So an id found in event_ids whose row (app_id, seq) is missing from
events is not a duplicate: its row is written, with the seq event_ids recorded. Rows are only ever
missing, never doubled.
"""

from collections.abc import Sequence

import redis

from clickhouse_store.client import Client
from clickhouse_store.rows import COLUMNS

LOCK = "uea:clickhouse:write"
LOCK_TIMEOUT_SECONDS = 60
# Pairs per lookup: a query's text is limited to max_query_size (256 KiB), and a pair of UUID
# literals takes about 80 bytes.
LOOKUP_CHUNK = 2000
# A Distributed table otherwise queues the rows and sends them to the shards later: an insert that has
# returned must be in the shards, or the next write's lookup in events would think them missing.
INSERT_SETTINGS = {"insert_distributed_sync": 1}
_APP, _EVENT, _SEQ = COLUMNS.index("app_id"), COLUMNS.index("event_id"), COLUMNS.index("seq")


def write(rows: Sequence[tuple], *, client: Client, lock_client: redis.Redis) -> int:
    """Write the rows (tuples in COLUMNS order) whose (app_id, event_id) is new, the first of each
    pair in the batch; returns how many were written."""
    with lock_client.lock(LOCK, timeout=LOCK_TIMEOUT_SECONDS, blocking=True):
        first = {}
        for row in rows:
            first.setdefault((row[_APP], row[_EVENT]), row)
        known = _known_seqs(client, list(first))
        missing = _missing_rows(client, known)
        new = [row for pair, row in first.items() if pair not in known]
        again = [(*row[:_SEQ], known[pair]) for pair, row in first.items() if pair in missing]
        if new:
            client.insert("event_ids", ("app_id", "event_id", "seq"), [(r[_APP], r[_EVENT], r[_SEQ]) for r in new])
        if new or again:
            client.insert("events", COLUMNS, new + again, settings=INSERT_SETTINGS)
    return len(new) + len(again)


def _known_seqs(client: Client, pairs: list[tuple]) -> dict[tuple, int]:
    known = {}
    for start in range(0, len(pairs), LOOKUP_CHUNK):
        chunk = pairs[start : start + LOOKUP_CHUNK]
        found = client.execute(
            "SELECT app_id, event_id, any(seq) FROM event_ids WHERE (app_id, event_id) IN %(pairs)s "
            "GROUP BY app_id, event_id",
            {"pairs": _tuple_of(chunk)},
        )
        known.update({(app_id, event_id): seq for app_id, event_id, seq in found})
    return known


def _missing_rows(client: Client, known: dict[tuple, int]) -> set[tuple]:
    """The known pairs whose row is not in events: a write that died between its two inserts."""
    by_row = {(pair[0], seq): pair for pair, seq in known.items()}
    present = set()
    keys = list(by_row)
    for start in range(0, len(keys), LOOKUP_CHUNK):
        chunk = keys[start : start + LOOKUP_CHUNK]
        present.update(
            client.execute(
                "SELECT DISTINCT app_id, seq FROM events WHERE (app_id, seq) IN %(keys)s", {"keys": _tuple_of(chunk)}
            )
        )
    return {pair for key, pair in by_row.items() if key not in present}


def _tuple_of(pairs: list[tuple]) -> tuple:
    # One pair alone would read as a tuple of two values, not a set of one pair.
    return tuple(pairs) if len(pairs) > 1 else (*pairs, *pairs)
