"""The buffered-ingestion worker: Redis Stream -> the event store, in batches (`manage.py ingest_worker`).

Delivery is at least once and the effect exactly once: entries leave the stream only after the rows
they hold are committed, and the insert skips (app, event_id) already stored, so a worker killed
between its commit and its acknowledgement, or two workers holding the same entry, store each event
once. Any number of workers run side by side as members of one consumer group.
"""

import logging
import os
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import redis
from django.conf import settings

from events import buffer, metrics, sinks
from live import publisher as live

logger = logging.getLogger(__name__)

BACKOFF_START_SECONDS = 0.5
BACKOFF_MAX_SECONDS = 30.0
CLAIM_BATCH = 100  # entries taken over from dead workers at a time


def _backoff(seconds: float) -> float:
    time.sleep(seconds)
    return min(seconds * 2, BACKOFF_MAX_SECONDS)


@dataclass
class Flush:
    entries: list[buffer.Entry]
    stored: int = 0
    dead: list[tuple[buffer.Entry, str, int, str]] = field(default_factory=list)  # entry, rows, count, reason

    @property
    def rows(self) -> int:
        return sum(entry.count for entry in self.entries)


class IngestWorker:
    def __init__(self, client=None, *, consumer: str | None = None, sink=None):
        self.client = client or buffer.worker_client()
        self.sink = sink or sinks.configured(self.client)
        self.consumer = consumer or f"{socket.gethostname()}-{os.getpid()}"
        self.stopping = False
        self._next_claim = 0.0
        # Entries handed to this worker and not yet finished: the flush in hand and the one read ahead.
        self._held: set[str] = set()
        self._held_lock = threading.Lock()
        buffer.ensure_group(self.client)

    def stop(self, *_signal) -> None:
        """SIGTERM: the flush in hand is finished and acknowledged, then the loop ends."""
        self.stopping = True

    def run(self, *, until_empty: bool = False) -> None:
        """Flush until stopped; ``until_empty``: until the stream holds nothing, entries another worker
        left pending included (taken over once idle for INGEST_CLAIM_IDLE_MS).

        The next flush's entries are read (in a thread) while this one's rows are inserted: reading and
        parsing a stream reply costs the worker as much time again as the database spends inserting
        (bench/buffered.py: 1.2 against 1.85 s for 50,000 one-row entries), and psycopg waits on the
        server without holding the GIL. A second thread keeps the entries held claimed (below).
        """
        done = threading.Event()
        heartbeat = threading.Thread(target=self._keep_claimed, args=(done,), name="ingest-claims", daemon=True)
        heartbeat.start()
        try:
            with ThreadPoolExecutor(max_workers=1, thread_name_prefix="ingest-reader") as reader:
                ahead = reader.submit(self._gather_or_wait)
                while ahead is not None:
                    entries = ahead.result()  # once stopping, the read in flight returns at once: flushed too
                    if not entries and (self.stopping or (until_empty and not self.client.xlen(buffer.STREAM))):
                        return
                    ahead = None if self.stopping else reader.submit(self._gather_or_wait)
                    if entries:
                        self.flush(entries)
        finally:
            done.set()

    def _keep_claimed(self, done: threading.Event) -> None:
        """Reset the idle time of the entries held, without counting a delivery (XCLAIM JUSTID), a few
        times per INGEST_CLAIM_IDLE_MS: a flush waiting on a lock or an outage is not taken over, nor
        dead-lettered as worn out, by another worker or by this one's own claim of idle entries."""
        while not done.wait(settings.INGEST_CLAIM_IDLE_MS / 1000 / 3):
            with self._held_lock:
                held = list(self._held)
            if not held:
                continue
            try:
                self.client.xclaim(buffer.STREAM, buffer.GROUP, self.consumer, 0, held, justid=True)
            except redis.RedisError as exc:  # Redis down: the entries stay pending, for whoever is up first
                logger.warning("could not keep held entries claimed: %s", exc.__class__.__name__)

    def _hold(self, entries: list[buffer.Entry]) -> list[buffer.Entry]:
        with self._held_lock:
            self._held.update(entry.id for entry in entries)
        return entries

    def _release(self, entry_ids: list[str]) -> None:
        with self._held_lock:
            self._held.difference_update(entry_ids)

    def _gather_or_wait(self) -> list[buffer.Entry]:
        """gather(), riding out Redis restarts: a stream deleted under a blocked read (NOGROUP) has its
        group made again, and an unreachable Redis is retried with backoff."""
        backoff = BACKOFF_START_SECONDS
        while not self.stopping:
            try:
                return self.gather()
            except redis.ResponseError as exc:
                if "NOGROUP" not in str(exc) and "UNBLOCKED" not in str(exc):
                    raise
                buffer.ensure_group(self.client)
            except (redis.ConnectionError, redis.TimeoutError) as exc:
                logger.warning("ingest queue unreachable (%s); retrying in %.1f s", exc.__class__.__name__, backoff)
                backoff = _backoff(backoff)
        return []

    def gather(self) -> list[buffer.Entry]:
        """Entries to store together: taken over from dead workers first, then new ones, until
        INGEST_FLUSH_ROWS rows are in hand or INGEST_FLUSH_MS has passed since waiting began."""
        entries = self._hold(self._claim_stale())
        rows = sum(entry.count for entry in entries)
        deadline = time.monotonic() + settings.INGEST_FLUSH_MS / 1000
        while rows < settings.INGEST_FLUSH_ROWS and not self.stopping:
            remaining_ms = int((deadline - time.monotonic()) * 1000)
            if remaining_ms <= 0:
                break
            # COUNT counts entries, which hold a request's rows each: one entry first, then as many as
            # the rows per entry seen so far say still fit, so a flush of batches stays near its size.
            rows_per_entry = rows / len(entries) if entries else None
            count = 1 if rows_per_entry is None else max(1, int((settings.INGEST_FLUSH_ROWS - rows) / rows_per_entry))
            batch = self._hold(buffer.read_new(self.client, consumer=self.consumer, count=count, block_ms=remaining_ms))
            if not batch:
                break
            entries += batch
            rows += sum(entry.count for entry in batch)
        return entries

    def _claim_stale(self) -> list[buffer.Entry]:
        now = time.monotonic()
        if now < self._next_claim:
            return []
        self._next_claim = now + settings.INGEST_CLAIM_IDLE_MS / 1000 / 2
        claimed = buffer.claim_stale(
            self.client, consumer=self.consumer, idle_ms=settings.INGEST_CLAIM_IDLE_MS, count=CLAIM_BATCH
        )
        with self._held_lock:
            claimed = [entry for entry in claimed if entry.id not in self._held]  # its own, already in hand
        deliveries = buffer.delivery_counts(self.client, [entry.id for entry in claimed], consumer=self.consumer)
        keep, worn_out = [], []
        for entry in claimed:
            times = deliveries.get(entry.id, 1)
            (worn_out if times > settings.INGEST_MAX_DELIVERIES else keep).append((entry, times))
        for entry, times in worn_out:
            # Handed out more often than allowed and never stored: the worker holding it died each time.
            reason = f"delivered {times} times without being stored"
            buffer.dead_letter(self.client, entry=entry, rows_text=entry.rows, count=entry.count, reason=reason)
        if worn_out:
            buffer.finish(self.client, [entry.id for entry, _ in worn_out], {}, app_ids=set())
        return [entry for entry, _ in keep]

    def flush(self, entries: list[buffer.Entry]) -> Flush:
        """Store the entries in one write (events.sinks), then delete them from the stream. While the
        store is unreachable, or fails for a reason of its own rather than the rows', try again with backoff."""
        backoff = BACKOFF_START_SECONDS
        while True:
            started = time.monotonic()
            flush = Flush(entries=entries)
            try:
                sinks.record_persons(flush)
                self.sink.store(flush)
                break
            except sinks.StoreUnavailable as exc:
                logger.warning("event store unavailable (%s); retrying in %.1f s", exc, backoff)
                backoff = _backoff(backoff)
        if flush.stored:
            refused = {id(entry) for entry, *_ in flush.dead}
            live.publish_flush([entry for entry in flush.entries if id(entry) not in refused])
        self._finish(flush, seconds=time.monotonic() - started)
        return flush

    def _finish(self, flush: Flush, *, seconds: float) -> None:
        """Dead letters, then the entries out of the stream. The rows are committed: a Redis outage now
        is waited out, so they are not taken over and stored again (unless the worker is told to stop:
        then another worker's insert of the same rows skips them)."""
        dead_rows = sum(count for _, _, count, _ in flush.dead)
        counters = metrics.flush_counters(
            rows=flush.rows, seconds=seconds, stored=flush.stored, duplicates=flush.rows - flush.stored - dead_rows
        )
        apps = {entry.app_id for entry in flush.entries} if flush.stored else set()
        entry_ids = [entry.id for entry in flush.entries]
        backoff = BACKOFF_START_SECONDS
        while True:
            try:
                for entry, rows_text, count, reason in flush.dead:
                    buffer.dead_letter(self.client, entry=entry, rows_text=rows_text, count=count, reason=reason)
                flush.dead = []
                buffer.finish(self.client, entry_ids, counters, app_ids=apps)
                break
            except redis.RedisError as exc:
                if self.stopping:
                    logger.error("stopping with %d stored entries not acknowledged: %s", len(entry_ids), exc)
                    break
                logger.warning("ingest queue unreachable after a commit (%s); retrying", exc.__class__.__name__)
                backoff = _backoff(backoff)
        self._release(entry_ids)
