"""Ingestion throughput and latency over HTTP: gunicorn on PostgreSQL + Redis, wrk on the same machine.

    .venv/bin/python bench/ingest.py [--workers 4] [--seconds 8] [--rounds 5] [--connections 8]

Single events: POST /api/analytics/collect against a bare DRF view that inserts the same row with one
INSERT (bench/urls.py), interleaved in rounds on the same server. Batches of 500: collect against a raw
psycopg COPY of the same rows into the same table, interleaved. Figures are medians over the rounds;
each share is the median of the rounds' own ratios. CPU per event counts every process (server,
PostgreSQL, Redis, wrk): a second view of the same costs, steadier here than throughput.
Needs `wrk` (Debian package wrk).
"""

import argparse
import shutil
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import common
from bench.common import machine, setup_django, start_gunicorn

setup_django()

from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402

from apikeys import services  # noqa: E402
from apikeys.models import App  # noqa: E402
from bench.rows import EVENT, USER_AGENT, copy_rows, stored_row  # noqa: E402

PORT = 8765


def wrk(path: str, body: dict, seconds: int, connections: int, headers: dict) -> dict:
    return common.wrk(f"http://127.0.0.1:{PORT}{path}", body, seconds, connections, headers)


def copy_rows_per_second(app_id, rows: int) -> float:
    """Raw psycopg COPY of the rows collect stores for the benchmark's event, into the same table."""
    now = timezone.now()
    return rows / copy_rows(stored_row(app_id, now) for _ in range(rows))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--connections", type=int, default=8)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is needed: apt-get install wrk")

    App.objects.filter(name="bench ingest").delete()
    registered = services.app_register(name="bench ingest", owner_email="bench@example.com")
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE events_event")
    headers = {"Content-Type": "application/json", "X-API-Key": registered.secret_key.raw, "User-Agent": USER_AGENT}
    batch = {"events": [EVENT] * 500}

    # INGEST_RATE: counted as in production, never reached.
    server = start_gunicorn(
        port=PORT, workers=args.workers, settings_module="bench.settings", INGEST_RATE="100000000/m"
    )
    results = {"bare": [], "single": [], "batch": [], "copy": []}
    try:
        wrk("/api/analytics/collect", EVENT, 2, args.connections, headers)  # warm-up
        wrk("/bench/bare-insert", EVENT, 2, args.connections, headers)
        for _ in range(args.rounds):
            results["bare"].append(wrk("/bench/bare-insert", EVENT, args.seconds, args.connections, headers))
            results["single"].append(wrk("/api/analytics/collect", EVENT, args.seconds, args.connections, headers))
            results["copy"].append({"rps": copy_rows_per_second(registered.app.id, 200_000)})
            results["batch"].append(wrk("/api/analytics/collect", batch, args.seconds, 4, headers))
    finally:
        server.terminate()
        server.wait()

    def median(kind, field):
        return statistics.median(run[field] for run in results[kind])

    def paired(kind, ceiling, scale=1):
        """The median of the rounds' ratios: a round's two runs follow each other, so the machine's drift
        over the minutes of the whole benchmark cancels out of each ratio."""
        pairs = zip(results[kind], results[ceiling], strict=True)
        return statistics.median(run["rps"] * scale / top["rps"] for run, top in pairs)

    def row(label, kind, events_per_request=1):
        rps, p50, p99 = median(kind, "rps"), median(kind, "p50"), median(kind, "p99")
        cpu = f"{median(kind, 'cpu_us') / events_per_request:>12.0f}"
        return f"{label:<34}{rps:>10.1f}{rps * events_per_request:>11.0f}{p50:>9.2f}{p99:>9.2f}{cpu}"

    single, batch_events, copy_rows = median("single", "rps"), median("batch", "rps") * 500, median("copy", "rps")
    single_share, batch_share = paired("single", "bare"), paired("batch", "copy", 500)
    cpu_share = median("bare", "cpu_us") / median("single", "cpu_us")
    print(f"machine: {machine()}")
    print(
        f"server: gunicorn sync, {args.workers} workers; "
        f"wrk -t2 -c{args.connections} (batches -c4), {args.seconds} s runs"
    )
    print(f"rounds: {args.rounds}, interleaved; medians; CPU = all processes (server, databases, wrk) per event\n")
    print(f"{'run':<34}{'req/s':>10}{'events/s':>11}{'p50 ms':>9}{'p99 ms':>9}{'CPU us':>12}")
    print(row("bare DRF view, one INSERT", "bare"))
    print(row("collect, single event", "single"))
    print(row("collect, batches of 500", "batch", 500))
    print(f"{'raw psycopg COPY, same rows':<34}{'':>10}{copy_rows:>11.0f}\n")
    print(
        f"single event: {single:.0f} req/s (target >= 800), {single_share:.0%} of the bare view (target >= 70%; "
        f"median of the rounds' ratios); the bare view's CPU per request is {cpu_share:.0%} of collect's"
    )
    print(
        f"batches of 500: {batch_events:.0f} events/s (target >= 20,000), "
        f"{batch_share:.0%} of COPY (target >= 30%; median of the rounds' ratios)"
    )


if __name__ == "__main__":
    main()
