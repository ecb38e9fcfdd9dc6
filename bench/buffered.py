"""Buffered ingestion (INGEST_MODE=buffered) against direct collect: gunicorn + wrk + ingest_worker, one machine.

    .venv/bin/python bench/buffered.py [--rounds 5] [--seconds 8] [--lag-seconds 60] [--drain-rows 200000]

Four phases, each on an emptied events table and an emptied stream (only the bench's own keys, on the
bench's Redis db):

1. Drain: the stream is pre-filled with --drain-rows rows in entries of --entry-rows, exactly as collect
   appends them (events.store.row_copy_line, fields app/rows/n); an events.worker.IngestWorker, in this
   process, drains it to empty (COPY into a staging table + INSERT ... SELECT ... ON CONFLICT DO NOTHING
   a flush), and so do --drain-workers `ingest_worker` processes. Interleaved in each round with a raw
   COPY of the same rows, and with the same flushes stored by the direct path's multi-row insert
   (json_populate_recordset), the buffer's format before it held COPY text.
2. HTTP rounds: two gunicorn servers, direct and buffered, started once, and --ingest-workers
   `manage.py ingest_worker` processes draining the stream on the same machine. Each round runs wrk
   against the direct server, then the buffered one, then waits until the workers have stored every
   queued row before the next run, so no run pays for another's backlog. Buffered CPU per event covers
   the wrk run and that drain tail; "stored/s" is requests over run + tail.
3. Lag and visibility: one --lag-seconds buffered run; the stream's oldest entry age (its id is its
   append time in ms) is sampled every 100 ms, and a probe sends an event with its own eventId every
   ~100 ms through the same server and polls the database until it is stored: visible-after-202.

Figures are medians over the rounds; ratios are medians of the rounds' own ratios. Needs `wrk`.
"""

import argparse
import json
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import common
from bench.common import ROOT, bench_environment, machine, percentile_ms, setup_django, start_gunicorn

setup_django()

import psycopg  # noqa: E402
import redis  # noqa: E402
from django.conf import settings  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.utils import timezone  # noqa: E402

from apikeys import services  # noqa: E402
from apikeys.models import App  # noqa: E402
from bench.rows import EVENT, USER_AGENT, copy_rows, store_row, stored_row  # noqa: E402
from events import buffer, store  # noqa: E402
from events.worker import IngestWorker  # noqa: E402

DIRECT_PORT, BUFFERED_PORT = 8765, 8766
COLLECT = "/api/analytics/collect"
BENCH_KEYS = (buffer.STREAM, buffer.DEAD_LETTERS, buffer.METRICS)


WORKERS: list[subprocess.Popen] = []  # the ingest_worker processes of the HTTP phases


def reset(client: redis.Redis) -> None:
    """Empty the events table and the bench's own stream keys. While workers run, the stream is only
    emptied: deleting it would take the consumer group with it, and the workers blocked reading it die."""
    if WORKERS:
        client.xtrim(buffer.STREAM, maxlen=0)
        client.delete(buffer.DEAD_LETTERS, buffer.METRICS)
    else:
        client.delete(*BENCH_KEYS)
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE events_event")


# Phase 1: drain, COPY, insert paths ---------------------------------------------------------------


def prefill(client: redis.Redis, app_id, rows: list[tuple], entry_rows: int) -> None:
    """Append the rows as collect does (buffer_append's XADD fields), without the metrics."""
    pipeline = client.pipeline(transaction=False)
    for start in range(0, len(rows), entry_rows):
        chunk = rows[start : start + entry_rows]
        text = "".join(store.row_copy_line(row) for row in chunk)
        pipeline.xadd(buffer.STREAM, {"app": str(app_id), "rows": text, "n": len(chunk)})
        if len(pipeline) >= 1000:
            pipeline.execute()
    pipeline.execute()


class TimedWorker(IngestWorker):
    """The worker as it runs, noting when each flush is committed and acknowledged."""

    last_flush = 0.0

    def flush(self, entries):
        result = super().flush(entries)
        self.last_flush = time.perf_counter()
        return result


def worker_drain_seconds(client: redis.Redis) -> float:
    worker = TimedWorker(buffer.worker_client(), consumer="bench-drain")
    started = time.perf_counter()
    worker.run(until_empty=True)  # returns one empty read (INGEST_FLUSH_MS) after the last flush
    if client.xlen(buffer.STREAM):
        raise SystemExit("the worker stopped before the stream was empty")
    return worker.last_flush - started


def processes_drain_seconds(client: redis.Redis, count: int, log) -> float:
    """``count`` ingest_worker processes draining the stream: from the first entry handed out (their
    start-up excluded) until the stream is empty."""
    workers = spawn_workers(count, log)
    try:
        while True:
            try:
                if client.xpending(buffer.STREAM, buffer.GROUP)["pending"] or not client.xlen(buffer.STREAM):
                    break
            except redis.ResponseError:  # no group yet: no worker is up
                pass
            if any(worker.poll() is not None for worker in workers):
                raise SystemExit(f"an ingest worker exited; its log: {log.name}")
            time.sleep(0.002)
        started = time.perf_counter()
        while client.xlen(buffer.STREAM):
            time.sleep(0.002)
        return time.perf_counter() - started
    finally:
        stop_workers(workers, log)


def json_insert_seconds(rows: list[tuple], rows_per_flush: int) -> float:
    """The same flushes stored by the direct path's multi-row insert: one json_populate_recordset
    statement each (the documents are built before the clock starts, as the API would have)."""
    documents = [
        "[" + ",".join(store.row_document(row) for row in rows[start : start + rows_per_flush]) + "]"
        for start in range(0, len(rows), rows_per_flush)
    ]
    started = time.perf_counter()
    for text in documents:
        with transaction.atomic():
            store.insert_documents(text)
    return time.perf_counter() - started


def drain_phase(args, client: redis.Redis, app_id, log) -> dict[str, list[float]]:
    """Rows per second of each way of storing the same rows, one list per way, a value per round."""
    results = {"worker": [], "workers": [], "copy": [], "json": []}
    for _ in range(args.rounds):
        now = timezone.now()
        rows = [stored_row(app_id, now) for _ in range(args.drain_rows)]  # the model's column order
        ordered = [store_row(row) for row in rows]  # events.store's
        reset(client)
        prefill(client, app_id, ordered, args.entry_rows)
        results["worker"].append(len(rows) / worker_drain_seconds(client))
        if args.drain_workers > 1:
            reset(client)
            prefill(client, app_id, ordered, args.entry_rows)
            results["workers"].append(len(rows) / processes_drain_seconds(client, args.drain_workers, log))
        # The same rows again, each way on an empty table.
        reset(client)
        results["copy"].append(len(rows) / copy_rows(rows))
        reset(client)
        results["json"].append(len(rows) / json_insert_seconds(ordered, settings.INGEST_FLUSH_ROWS))
    reset(client)
    return results


# Phase 2 and 3: HTTP ------------------------------------------------------------------------------


def spawn_workers(count: int, log) -> list[subprocess.Popen]:
    """`manage.py ingest_worker` processes with the bench's environment and flush settings."""
    environment = {**os.environ, **bench_environment(), **worker_settings()}
    command = [sys.executable, "manage.py", "ingest_worker"]
    return [subprocess.Popen(command, cwd=ROOT, env=environment, stdout=log, stderr=log) for _ in range(count)]


def stop_workers(workers: list[subprocess.Popen], log) -> None:
    for worker in workers:
        worker.terminate()
    for worker in workers:
        if worker.wait() not in (0, -15):
            raise SystemExit(f"an ingest worker failed; its log: {log.name}")


def worker_settings() -> dict[str, str]:
    return {
        "INGEST_MODE": "buffered",
        "INGEST_FLUSH_ROWS": str(settings.INGEST_FLUSH_ROWS),
        "INGEST_FLUSH_MS": str(settings.INGEST_FLUSH_MS),
    }


def wait_drained(client: redis.Redis, timeout: float = 300) -> float:
    """Seconds until the workers have stored every queued row (the stream is empty)."""
    started = time.perf_counter()
    while client.xlen(buffer.STREAM):
        if any(worker.poll() is not None for worker in WORKERS):
            raise SystemExit("an ingest worker exited; see its log")
        if time.perf_counter() - started > timeout:
            raise SystemExit(f"the workers did not drain the stream in {timeout:.0f} s")
        time.sleep(0.02)
    return time.perf_counter() - started


def buffered_run(client: redis.Redis, seconds: int, connections: int, headers: dict) -> dict:
    """A wrk run on the buffered server, then its drain tail: CPU per event covers both."""
    run = common.wrk(f"http://127.0.0.1:{BUFFERED_PORT}{COLLECT}", EVENT, seconds, connections, headers)
    busy = common.busy_seconds()
    run["backlog"] = client.xlen(buffer.STREAM)
    run["tail"] = wait_drained(client)
    run["cpu_us"] = (run["busy"] + common.busy_seconds() - busy) / run["requests"] * 1e6
    run["stored_rps"] = run["requests"] / (seconds + run["tail"])
    return run


def http_rounds(args, client: redis.Redis, headers: dict) -> dict[str, list[dict]]:
    results = {"direct": [], "buffered": []}
    direct_url = f"http://127.0.0.1:{DIRECT_PORT}{COLLECT}"
    common.wrk(direct_url, EVENT, 2, args.connections, headers)  # warm-up
    buffered_run(client, 2, args.connections, headers)
    for _ in range(args.rounds):
        results["direct"].append(common.wrk(direct_url, EVENT, args.seconds, args.connections, headers))
        results["buffered"].append(buffered_run(client, args.seconds, args.connections, headers))
    return results


class LagSampler(threading.Thread):
    """The age of the stream's oldest entry, every 100 ms: 0 when the stream is empty."""

    def __init__(self, client: redis.Redis):
        super().__init__(daemon=True)
        self.client, self.samples, self.done = client, [], threading.Event()

    def run(self):
        while not self.done.wait(0.1):
            first = self.client.xrange(buffer.STREAM, count=1)
            age = 0.0
            if first:
                milliseconds = int(first[0][0].decode().partition("-")[0])
                age = max(0.0, time.time() - milliseconds / 1000)
            self.samples.append(age)


class VisibilityProbe(threading.Thread):
    """Every ~100 ms, an event with its own eventId through the loaded server; the database is polled
    every 20 ms for the probes still unseen. Records, per probe, the seconds from its 202 to its row."""

    def __init__(self, headers: dict, app_id):
        super().__init__(daemon=True)
        self.headers, self.app_id = headers, app_id
        self.visible, self.unseen, self.failed, self.done = [], {}, [], threading.Event()

    def run(self):
        with psycopg.connect(bench_environment()["DATABASE_URL"], autocommit=True) as database:
            next_send = time.perf_counter()
            while not self.done.is_set() or (self.unseen and time.perf_counter() < self.stop_by):
                now = time.perf_counter()
                if now >= next_send and not self.done.is_set():
                    self._send()
                    next_send = now + 0.1
                if self.unseen:
                    found = database.execute(
                        "SELECT event_id FROM events_event WHERE app_id = %s AND event_id = ANY(%s)",
                        [self.app_id, list(self.unseen)],
                    ).fetchall()
                    seen_at = time.perf_counter()
                    for (event_id,) in found:
                        self.visible.append(seen_at - self.unseen.pop(event_id))
                time.sleep(0.02)

    def _send(self):
        event_id = uuid.uuid4()
        body = json.dumps({**EVENT, "event": f"probe-{event_id.hex[:12]}", "eventId": str(event_id)}).encode()
        request = urllib.request.Request(
            f"http://127.0.0.1:{BUFFERED_PORT}{COLLECT}", data=body, headers=self.headers, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310  (http, fixed host)
                status = response.status
        except OSError as exc:  # refused or reset under load: counted, and the next probe goes on time
            self.failed.append(exc.__class__.__name__)
            return
        if status != 202:
            raise SystemExit(f"probe: HTTP {status}")
        self.unseen[event_id] = time.perf_counter()

    def finish(self, grace: float = 30) -> None:
        self.stop_by = time.perf_counter() + grace
        self.done.set()
        self.join()


def lag_phase(args, client: redis.Redis, headers: dict, app_id) -> dict:
    sampler, probe = LagSampler(redis.Redis.from_url(settings.REDIS_URL)), VisibilityProbe(headers, app_id)
    sampler.start()
    probe.start()
    run = buffered_run(client, args.lag_seconds, args.connections, headers)
    sampler.done.set()
    probe.finish()
    sampler.join()
    return {
        "run": run,
        "lag": sampler.samples,
        "visible": probe.visible,
        "unseen": len(probe.unseen),
        "failed": probe.failed,
    }


# Report -----------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers per server")
    parser.add_argument("--ingest-workers", type=int, default=1, help="manage.py ingest_worker processes")
    parser.add_argument("--seconds", type=int, default=8, help="each wrk run of the rounds")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--lag-seconds", type=int, default=60, help="the buffered run sampling lag and visibility")
    parser.add_argument("--drain-rows", type=int, default=100_000, help="rows pre-filled in the stream a round")
    parser.add_argument("--drain-workers", type=int, default=2, help="also drain with this many processes (>1)")
    parser.add_argument("--entry-rows", type=int, default=1, help="rows per stream entry (collect: one a request)")
    parser.add_argument("--flush-rows", type=int, default=settings.INGEST_FLUSH_ROWS, help="INGEST_FLUSH_ROWS")
    parser.add_argument("--flush-ms", type=int, default=settings.INGEST_FLUSH_MS, help="INGEST_FLUSH_MS")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is needed: apt-get install wrk")
    settings.INGEST_FLUSH_ROWS, settings.INGEST_FLUSH_MS = args.flush_rows, args.flush_ms
    client = redis.Redis.from_url(settings.REDIS_URL)

    App.objects.filter(name="bench ingest").delete()
    registered = services.app_register(name="bench ingest", owner_email="bench@example.com")
    app_id = registered.app.id
    headers = {"Content-Type": "application/json", "X-API-Key": registered.secret_key.raw, "User-Agent": USER_AGENT}

    log = tempfile.NamedTemporaryFile("w+", prefix="bench-ingest-worker-", suffix=".log", delete=False)  # noqa: SIM115
    drain = drain_phase(args, client, app_id, log)

    reset(client)
    rate = {"INGEST_RATE": "100000000/m"}  # counted as in production, never reached
    servers = []
    try:
        servers.append(start_gunicorn(port=DIRECT_PORT, workers=args.workers, settings_module="bench.settings", **rate))
        servers.append(
            start_gunicorn(
                port=BUFFERED_PORT, workers=args.workers, settings_module="bench.settings", **rate, **worker_settings()
            )
        )
        WORKERS.extend(spawn_workers(args.ingest_workers, log))
        http = http_rounds(args, client, headers)
        reset(client)
        lag = lag_phase(args, client, headers, app_id)
    finally:
        for server in servers:
            server.terminate()
        for server in servers:
            server.wait()
        stop_workers(WORKERS, log)
        WORKERS.clear()
        reset(client)
    report(args, drain, http, lag)


def report(args, drain: dict, http: dict, lag: dict) -> None:
    def median(runs, field):
        return statistics.median(run[field] for run in runs)

    def paired(numerators, denominators):
        return statistics.median(a / b for a, b in zip(numerators, denominators, strict=True))

    direct, buffered = http["direct"], http["buffered"]
    print(f"command: {shlex.join([Path(sys.executable).name, *sys.argv])}")
    print(f"machine: {machine()}")
    print(
        f"settings: gunicorn sync, {args.workers} workers a server (direct :{DIRECT_PORT}, buffered :{BUFFERED_PORT}); "
        f"{args.ingest_workers} ingest_worker; INGEST_FLUSH_ROWS={settings.INGEST_FLUSH_ROWS}, "
        f"INGEST_FLUSH_MS={settings.INGEST_FLUSH_MS}; wrk -t2 -c{args.connections}, {args.seconds} s runs, "
        f"{args.rounds} rounds interleaved, medians; CPU = all processes per event\n"
    )
    print(f"{'single-event collect':<36}{'req/s':>9}{'stored/s':>10}{'p50 ms':>8}{'p99 ms':>8}{'CPU us':>8}")
    for label, runs in (("direct", direct), ("buffered (CPU incl. drain tail)", buffered)):
        stored = median(runs, "stored_rps") if "stored_rps" in runs[0] else median(runs, "rps")
        print(
            f"{label:<36}{median(runs, 'rps'):>9.0f}{stored:>10.0f}{median(runs, 'p50'):>8.2f}"
            f"{median(runs, 'p99'):>8.2f}{median(runs, 'cpu_us'):>8.0f}"
        )
    backlog, tail = median(buffered, "backlog"), median(buffered, "tail")
    print(f"buffered backlog at the end of a run: {backlog:.0f} entries, drained in {tail:.2f} s (medians)")
    ratios = [b["rps"] / d["rps"] for b, d in zip(buffered, direct, strict=True)]
    print(f"buffered / direct req/s by round: {', '.join(f'{r:.2f}' for r in ratios)}")
    ratio = statistics.median(ratios)
    stored_ratio = paired([r["stored_rps"] for r in buffered], [r["rps"] for r in direct])
    print(
        f"buffered / direct req/s: {ratio:.2f}x (target >= 1.5x); stored/s incl. drain tail: {stored_ratio:.2f}x; "
        f"CPU per event: {median(buffered, 'cpu_us') / median(direct, 'cpu_us'):.0%} of direct's\n"
    )

    run, samples, visible = lag["run"], lag["lag"], lag["visible"]
    print(
        f"lag run: {args.lag_seconds} s buffered, {run['rps']:.0f} req/s, p99 {run['p99']:.2f} ms, "
        f"CPU {run['cpu_us']:.0f} us/event, backlog at the end {run['backlog']} entries, tail {run['tail']:.2f} s"
    )
    print(
        f"oldest-entry age, {len(samples)} samples every 100 ms: max {max(samples, default=0):.3f} s, "
        f"p99 {percentile_ms(samples, 99) / 1000 if samples else 0:.3f} s (target < 2 s)"
    )
    failed = lag["failed"]
    if visible:
        print(
            f"visible after 202, {len(visible)} probes: p50 {percentile_ms(visible, 50):.0f} ms, "
            f"p99 {percentile_ms(visible, 99):.0f} ms, max {max(visible) * 1000:.0f} ms (target p99 <= 2000 ms)"
            + (f"; {lag['unseen']} never seen within 30 s" if lag["unseen"] else "")
            + (f"; {len(failed)} probe sends failed ({', '.join(sorted(set(failed)))})" if failed else "")
        )
    print()

    rows = f"{args.drain_rows} rows in entries of {args.entry_rows}, flushes of {settings.INGEST_FLUSH_ROWS} rows"
    print(f"storing the same rows ({rows}), empty table each time; rows/s")
    labels = {
        "worker": "IngestWorker draining the stream (1, in this process)",
        "workers": f"{args.drain_workers} ingest_worker processes draining it",
        "copy": "raw psycopg COPY (ceiling)",
        "json": "the same flushes by json_populate_recordset (direct path)",
    }
    for kind, label in labels.items():
        if not drain[kind]:
            continue
        print(f"  {label:<64}{statistics.median(drain[kind]):>9.0f}")
    several = ""
    if drain["workers"]:
        several = f", {args.drain_workers} workers {paired(drain['workers'], drain['copy']):.0%}"
    print(
        f"worker drain / COPY: {paired(drain['worker'], drain['copy']):.0%}{several} (target >= 60%); "
        f"worker / json_populate_recordset: {paired(drain['worker'], drain['json']):.2f}x"
    )


if __name__ == "__main__":
    main()
