"""The ingestion buffer: a Redis Stream between the API and the event store (INGEST_MODE=buffered).

The API appends each request's validated, enriched rows as one entry; `manage.py ingest_worker`
processes, members of one consumer group, store them in batches and delete each entry only after the
rows are committed. So the stream holds exactly the entries not yet stored: its length is the
backlog, its first entry's id the age of the oldest. Rows travel as lines of COPY text, which a worker
copies into the database as they came, never decoding them.

Nothing here trims: an append past INGEST_BUFFER_MAX entries is refused (the API answers 503), never
made room for by dropping what is queued. Entries a worker could not store go to a dead-letter stream
with the reason, from which an operator replays them.
"""

import itertools
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass

import redis
from django.conf import settings
from django.core.cache import caches

from events.generation import generation_bump_commands

logger = logging.getLogger(__name__)

STREAM = "uea:ingest"
GROUP = "store"
DEAD_LETTERS = "uea:ingest:dead"
METRICS = "uea:ingest:metrics"

# Refusing and appending in one round trip, atomically: a request refused for a full buffer was not
# added, so a client told to retry cannot double an event the server kept. (A reply lost to a timeout
# is another matter: the request then stores its rows directly, and the worker's insert skips the
# queued copy by its eventId.)
_APPEND = """
if redis.call('XLEN', KEYS[1]) >= tonumber(ARGV[1]) then
  redis.call('HINCRBY', KEYS[2], 'refused_buffer_full', 1)
  return false
end
local id = redis.call('XADD', KEYS[1], '*', 'app', ARGV[2], 'rows', ARGV[3], 'n', ARGV[4])
for i = 5, #ARGV, 2 do redis.call('HINCRBY', KEYS[2], ARGV[i], ARGV[i + 1]) end
return id
"""


class BufferFull(Exception):
    """The stream holds INGEST_BUFFER_MAX entries: the workers are behind or stopped."""


@dataclass(frozen=True)
class Entry:
    id: str
    app_id: str
    rows: str  # lines of COPY text, one a row (events.store.row_copy_line)
    count: int

    @classmethod
    def from_fields(cls, entry_id, fields: dict) -> "Entry":
        text = decoded(fields)
        return cls(id=_text(entry_id), app_id=text["app"], rows=text["rows"], count=int(text["n"]))


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else value


def decoded(fields: dict) -> dict[str, str]:
    return {_text(key): _text(value) for key, value in fields.items()}


def entry_time(entry_id: str) -> float:
    """When an entry was added, in Unix seconds: its id starts with the milliseconds."""
    return _id_order(_text(entry_id))[0] / 1000


def web_client() -> redis.Redis:
    """The cache's own Redis connection pool: the request path's short timeouts, no new sockets."""
    return caches["default"].client.get_client(write=True)


def worker_client() -> redis.Redis:
    """A connection of its own, with a timeout longer than the blocking read it waits in."""
    timeout = settings.INGEST_FLUSH_MS / 1000 + 5
    return redis.Redis.from_url(settings.REDIS_URL, socket_timeout=timeout, socket_connect_timeout=5)


def buffer_append(client: redis.Redis, *, app_id, rows_text: str, count: int, counters: dict[str, int]) -> str:
    """Queue one request's rows; ``counters`` are added to the ingest metrics in the same round trip.
    Raises BufferFull, or redis.RedisError when Redis cannot be reached."""
    script = _append_script(client)
    pairs = [item for name, amount in counters.items() if amount for item in (name, amount)]
    entry_id = script(keys=[STREAM, METRICS], args=[settings.INGEST_BUFFER_MAX, str(app_id), rows_text, count, *pairs])
    if entry_id is None:
        raise BufferFull
    return _text(entry_id)


_scripts: dict[int, object] = {}


def _append_script(client: redis.Redis):
    # One registered script per client: redis-py sends it by SHA, loading it once if the server lacks it.
    key = id(client.connection_pool)
    if key not in _scripts:
        _scripts[key] = client.register_script(_APPEND)
    return _scripts[key]


def ensure_group(client: redis.Redis) -> None:
    try:
        client.xgroup_create(STREAM, GROUP, id="0", mkstream=True)
    except redis.ResponseError as exc:
        if "BUSYGROUP" not in str(exc):
            raise


def read_new(client: redis.Redis, *, consumer: str, count: int, block_ms: int) -> list[Entry]:
    """Entries no consumer has been given yet, waiting at most ``block_ms`` for the first."""
    reply = client.xreadgroup(GROUP, consumer, {STREAM: ">"}, count=count, block=block_ms)
    return [Entry.from_fields(entry_id, fields) for _stream, entries in reply or [] for entry_id, fields in entries]


def claim_stale(client: redis.Redis, *, consumer: str, idle_ms: int, count: int) -> list[Entry]:
    """Entries another consumer was given and has not finished for ``idle_ms`` (it died, or hangs):
    taken over by this one. Those already deleted (stored, not yet acknowledged) Redis drops itself."""
    _next, claimed, _deleted = client.xautoclaim(STREAM, GROUP, consumer, min_idle_time=idle_ms, count=count)
    return [Entry.from_fields(entry_id, fields) for entry_id, fields in claimed]


def delivery_counts(client: redis.Redis, entry_ids: list[str], *, consumer: str) -> dict[str, int]:
    """How many times each of these entries, pending for ``consumer``, has been handed out (claims
    included). By consumer: a range over the whole group would be filled with others' entries."""
    if not entry_ids:
        return {}
    pending = client.xpending_range(
        STREAM,
        GROUP,
        min=min(entry_ids, key=_id_order),
        max=max(entry_ids, key=_id_order),
        count=len(entry_ids),
        consumername=consumer,
    )
    wanted = set(entry_ids)
    return {_text(p["message_id"]): p["times_delivered"] for p in pending if _text(p["message_id"]) in wanted}


def _id_order(entry_id: str) -> tuple[int, int]:
    milliseconds, _, sequence = entry_id.partition("-")
    return int(milliseconds), int(sequence or 0)


def finish(client: redis.Redis, entry_ids: list[str], counters: dict, *, app_ids: set[str]) -> None:
    """After the commit, in one round trip: the entries leave the stream, then the flush's figures join
    the metrics and each app that got new events has its cached reports invalidated, once a flush.

    Not a MULTI: a Redis out of memory refuses a transaction that holds any write, while XDEL and XACK
    alone, which free memory, still run. XDEL comes first: an entry deleted but still pending is
    dropped from the group by the next XAUTOCLAIM, while one acknowledged but not deleted would sit
    in the stream for ever, read as lag. Raises when the entries could not be removed; the figures
    and the report-cache bumps are best effort.
    """
    pipeline = client.pipeline(transaction=False)
    if entry_ids:
        pipeline.xdel(STREAM, *entry_ids)
        pipeline.xack(STREAM, GROUP, *entry_ids)
    add_counters(pipeline, counters)
    for app_id in app_ids:
        generation_bump_commands(pipeline, app_id)
    results = pipeline.execute(raise_on_error=False)
    removal = results[:2] if entry_ids else []
    if failed := next((result for result in removal if isinstance(result, Exception)), None):
        raise failed
    if any(isinstance(result, Exception) for result in results[len(removal) :]):
        logger.warning("ingest figures or report cache bumps not recorded for a flush")


def add_counters(pipeline, counters: dict) -> None:
    """Add to the shared ingest figures (events.metrics reads them) within a caller's pipeline."""
    for name, amount in counters.items():
        if isinstance(amount, float):
            pipeline.hincrbyfloat(METRICS, name, amount)
        elif amount:
            pipeline.hincrby(METRICS, name, amount)


def dead_letter(client: redis.Redis, *, entry: Entry, rows_text: str, count: int, reason: str) -> None:
    """Keep rows that could not be stored, with why; they leave the main stream in the same transaction."""
    pipeline = client.pipeline(transaction=True)
    pipeline.xadd(
        DEAD_LETTERS,
        {
            "app": entry.app_id,
            "rows": rows_text,
            "n": count,
            "reason": reason[:500],
            "entry": entry.id,
            "at": time.time(),
        },
    )
    pipeline.hincrby(METRICS, "dead_lettered", count)
    pipeline.execute()


@dataclass(frozen=True)
class DeadLetter:
    id: str
    app_id: str
    count: int
    reason: str
    entry: str
    rows: str


def iter_dead_letters(client: redis.Redis, *, page: int = 500) -> Iterator[DeadLetter]:
    """Every dead letter, oldest first, read a page at a time."""
    start = "-"
    while entries := client.xrange(DEAD_LETTERS, min=start, count=page):
        for entry_id, fields in entries:
            text = decoded(fields)
            yield DeadLetter(_text(entry_id), text["app"], int(text["n"]), text["reason"], text["entry"], text["rows"])
        start = "(" + _text(entries[-1][0])  # exclusive: after the last one read


def dead_letters(client: redis.Redis, *, limit: int = 100) -> list[DeadLetter]:
    return list(itertools.islice(iter_dead_letters(client), limit))


def replay_dead_letters(client: redis.Redis, ids: list[str] | None = None) -> int:
    """Put dead letters back in the stream (all, or those of ``ids``), for the workers to try again:
    after the cause is fixed, or to see it fail again. Returns the number of rows requeued."""
    letters = [letter for letter in iter_dead_letters(client) if ids is None or letter.id in ids]
    pipeline = client.pipeline(transaction=True)
    for letter in letters:
        pipeline.xadd(STREAM, {"app": letter.app_id, "rows": letter.rows, "n": letter.count})
        pipeline.xdel(DEAD_LETTERS, letter.id)
    pipeline.execute()
    return sum(letter.count for letter in letters)


@dataclass(frozen=True)
class BufferStatus:
    length: int
    pending: int
    oldest_age_seconds: float
    dead_letters: int
    workers_seen: int


WORKER_SEEN_WITHIN_MS = 60_000  # "workers seen in the last minute"


def buffer_status(client: redis.Redis) -> BufferStatus:
    pipeline = client.pipeline(transaction=False)
    pipeline.xlen(STREAM)
    pipeline.xrange(STREAM, count=1)
    pipeline.xlen(DEAD_LETTERS)
    length, first, dead = pipeline.execute()
    try:
        pending = client.xpending(STREAM, GROUP)["pending"]
        consumers = client.xinfo_consumers(STREAM, GROUP)
    except redis.ResponseError:  # no group yet: no worker has ever started
        pending, consumers = 0, []
    oldest = max(0.0, time.time() - entry_time(first[0][0])) if first else 0.0
    seen = sum(1 for consumer in consumers if consumer.get("idle", WORKER_SEEN_WITHIN_MS) < WORKER_SEEN_WITHIN_MS)
    return BufferStatus(length=length, pending=pending, oldest_age_seconds=oldest, dead_letters=dead, workers_seen=seen)
