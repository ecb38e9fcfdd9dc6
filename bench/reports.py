"""Report latency over HTTP on PostgreSQL and on ClickHouse, same data, same run, against the same SQL run directly.

    .venv/bin/python bench/reports.py [--store postgresql|clickhouse|both] [--events 1000000] [--runs 20]
                                      [--reload] [--no-export] [--ingest-rate 50 [--ingest-seconds 30]]

Data: bench/report_data.py (1M events in the queried app by default, 500k in each of two others, the
same rows in both stores, kept between runs). One gunicorn server per store (2 sync workers each,
Redis db 2 as the report cache): PostgreSQL as installed by default; ClickHouse with
ANALYTICS_STORE=clickhouse (BENCH_CLICKHOUSE_URL, Debian's 18.16 server by default) and buffered ingestion.

Each report (the four everyday ones and web-stats for their default 30 days, and a 3-step funnel with a
one-day window) is asked uncached (a fresh cache generation first), cached, and its own statements are run
directly: PostgreSQL's as CaptureQueriesContext saw them, through psycopg; ClickHouse's as the dialect
fetched them, through a clickhouse_store client. Rounds go report by report, store by store (the order
of the stores alternating), so drift on a shared machine (tests run beside it) falls on both stores
alike; the first two rounds warm up and are dropped. Then the ClickHouse numbers are checked against
the PostgreSQL store's and against independent figures (bench/report_checks.py), and a 30-day CSV
export is streamed from each server while its workers' memory is sampled.

--ingest-rate N measures something else instead: for each store in turn, N events a second arrive at
its server's collect (the ClickHouse server's through `manage.py ingest_worker`, which inserts a flush
every INGEST_FLUSH_MS), while a dashboard user requests the four everyday reports back to back for
--ingest-seconds; the hit ratio and latency that user sees are printed.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from unittest import mock
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (
    DEFAULT_BENCH_DATABASE_URL,
    ROOT,
    bench_environment,
    machine,
    median_ms,
    percentile_ms,
    setup_django,
    start_gunicorn,
)

# Its own database: bench/ingest.py truncates the events table of the shared one.
os.environ.setdefault("BENCH_DATABASE_URL", DEFAULT_BENCH_DATABASE_URL + "_reports")
setup_django()

import psycopg  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import override_settings  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.utils import timezone  # noqa: E402

from apikeys import services  # noqa: E402
from apikeys.keys import KeyKind  # noqa: E402
from bench import report_data  # noqa: E402
from bench.report_checks import Direct, clickhouse_exact, same  # noqa: E402
from bench.report_http import Ingest, dashboard_user, measure_export, request  # noqa: E402
from events.generation import app_generation_bump  # noqa: E402
from reports.dialect.clickhouse import ClickHouse  # noqa: E402
from reports.params import report_window  # noqa: E402
from reports.queries import funnels, rankings, series, summary, visits  # noqa: E402

FUNNEL_STEPS = ("page_view", "add_to_cart", "purchase")
FUNNEL_WINDOW = 86400
REPORTS = {
    "event-summary": ("GET", "/api/analytics/event-summary", None),
    "daily-stats": ("GET", "/api/analytics/daily-stats", None),
    "top-pages": ("GET", "/api/analytics/top-pages", None),
    "breakdown?by=browser": ("GET", "/api/analytics/breakdown?by=browser", None),
    "web-stats": ("GET", "/api/analytics/web-stats", None),
    "funnel (3 steps)": (
        "POST",
        "/api/analytics/funnels",
        {"steps": [{"event": name} for name in FUNNEL_STEPS], "windowSeconds": FUNNEL_WINDOW},
    ),
}
EVERYDAY = list(REPORTS)[:4]
WARM_UP_ROUNDS = 2


def report_calls(app_id, window) -> dict:
    """Each report as its view runs it, for the default range."""
    steps = [funnels.FunnelStep(name) for name in FUNNEL_STEPS]
    return {
        "event-summary": lambda: summary.event_summary(app_id=app_id, window=window, event=None),
        "daily-stats": lambda: series.daily_stats(app_id=app_id, window=window, event=None),
        "top-pages": lambda: rankings.top_pages(app_id=app_id, window=window, event=None, limit=10),
        "breakdown?by=browser": lambda: rankings.breakdown(
            app_id=app_id, window=window, event=None, by="browser", limit=10
        ),
        "web-stats": lambda: visits.web_stats(app_id=app_id, window=window, limit=10),
        "funnel (3 steps)": lambda: funnels.funnel(
            app_id=app_id, window=window, steps=steps, window_seconds=FUNNEL_WINDOW
        ),
    }


class PostgreSQLStore:
    name, label, port, env = "postgresql", "PostgreSQL", 8771, {}

    def __init__(self):
        self.raw = psycopg.connect(os.environ["DATABASE_URL"], autocommit=True)

    def capture(self, call) -> list:
        with CaptureQueriesContext(connection) as captured:
            call()
        return [query["sql"] for query in captured.captured_queries]

    def replay(self, statements: list) -> None:
        for statement in statements:  # BEGIN, SET LOCAL jit = off, the SELECT, COMMIT
            cursor = self.raw.execute(statement)
            if cursor.description is not None:
                cursor.fetchall()


class ClickHouseStore:
    name, label, port = "clickhouse", "ClickHouse", 8772
    env = {
        "ANALYTICS_STORE": "clickhouse",
        "CLICKHOUSE_URL": report_data.CLICKHOUSE_URL,
        "INGEST_MODE": "buffered",
        "INGEST_MAX_BATCH": "1000",
    }

    def __init__(self):
        self.raw = ClickHouse(report_data.clickhouse_client())  # its own connection

    def capture(self, call) -> list:
        captured, fetch = [], ClickHouse.fetch

        def recording(dialect, sql, params):
            captured.append((sql, list(params)))
            return fetch(dialect, sql, params)

        with (
            override_settings(ANALYTICS_STORE="clickhouse", CLICKHOUSE_URL=report_data.CLICKHOUSE_URL),
            mock.patch.object(ClickHouse, "fetch", recording),
        ):
            call()
        return captured

    def replay(self, statements: list) -> None:
        for sql, params in statements:
            self.raw.fetch(sql, params)


def measure(stores: list, app_id, key: str, rounds: int) -> tuple[dict, dict, dict]:
    window = report_window(start=None, end=None, tz=ZoneInfo(report_data.APP_TIMEZONE), now=timezone.now())
    calls = report_calls(app_id, window)
    statements = {(store.name, name): store.capture(calls[name]) for store in stores for name in REPORTS}
    samples = {where: {"uncached": [], "cached": [], "sql": []} for where in statements}
    bodies = {}
    for round_number in range(-WARM_UP_ROUNDS, rounds):
        ordered = stores if round_number % 2 == 0 else stores[::-1]
        for name, (method, path, body) in REPORTS.items():
            for store in ordered:
                app_generation_bump(app_id)
                uncached, x_cache, content = request(store.port, method, path, key, body)
                assert x_cache == "miss", (store.name, name, x_cache)
                cached, x_cache, _ = request(store.port, method, path, key, body)
                assert x_cache == "hit", (store.name, name, x_cache)
                started = time.perf_counter()
                store.replay(statements[store.name, name])
                sql = time.perf_counter() - started
                bodies[store.name, name] = content
                if round_number >= 0:
                    for kind, value in (("uncached", uncached), ("cached", cached), ("sql", sql)):
                        samples[store.name, name][kind].append(value)
        print(f"round {round_number + 1}/{rounds} done", file=sys.stderr, flush=True)
    return samples, {where: len(found) for where, found in statements.items()}, bodies


def under_ingestion(stores: list, data, key: str, rate: float, seconds: float) -> dict:
    """Per store, alone: its ingestion and its dashboard user, so no other server's events bump the
    generation (the app and the report cache are shared)."""
    results = {}
    log = tempfile.NamedTemporaryFile("w+", prefix="bench-reports-worker-", suffix=".log", delete=False)  # noqa: SIM115
    for store in stores:
        worker = None
        if store.name == "clickhouse":
            environment = {**os.environ, **bench_environment(), **store.env}
            command = [sys.executable, "manage.py", "ingest_worker"]
            worker = subprocess.Popen(command, cwd=ROOT, env=environment, stdout=log, stderr=log)
        started = timezone.now()
        ingest = Ingest(store.port, key, rate)
        ingest.start()
        time.sleep(3)  # the worker up, ingestion steady
        seen = dashboard_user(store.port, key, seconds)
        ingest.stop()
        stored = 0
        for _ in range(100):  # the buffered store's last flushes
            stored = ingested_count(store, data.app.id, started)
            if stored >= ingest.sent:
                break
            time.sleep(0.2)
        if worker is not None:
            worker.terminate()
            worker.wait()
        results[store.name] = {**seen, "sent": ingest.sent, "failed": ingest.failed, "stored": stored}
    print(f"worker log: {log.name}")
    return results


def ingested_count(store, app_id, since) -> int:
    if store.name == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT COUNT(*) FROM events_event WHERE app_id = %s AND timestamp >= %s", [app_id, since])
            return cursor.fetchone()[0]
    sql = f"SELECT count() FROM {store.raw.table} WHERE app_id = %s AND timestamp_us >= %s"
    return store.raw.fetch(sql, [app_id, store.raw.timestamp(since)])[0][0]


def print_store(store, samples: dict, queries: dict) -> None:
    print(f"\n{store.label} store")
    header = (
        f"{'report':<22}{'queries':>8}{'uncached p50':>14}{'p95':>8}{'cached p50':>12}{'p95':>8}"
        f"{'SQL p50':>10}{'p95':>8}{'HTTP/SQL':>10}"
    )
    print(header)
    print("-" * len(header))
    for name in REPORTS:
        row = samples[store.name, name]
        uncached, sql = median_ms(row["uncached"]), median_ms(row["sql"])
        print(
            f"{name:<22}{queries[store.name, name]:>8}{uncached:>14.1f}{percentile_ms(row['uncached'], 95):>8.1f}"
            f"{median_ms(row['cached']):>12.2f}{percentile_ms(row['cached'], 95):>8.2f}"
            f"{sql:>10.1f}{percentile_ms(row['sql'], 95):>8.1f}{uncached / sql:>9.2f}x"
        )


def print_verdicts(stores: list, samples: dict, exact: dict, events: int) -> None:
    names = [store.name for store in stores]
    p50 = {where: median_ms(row["uncached"]) for where, row in samples.items()}
    http_sql = {where: median_ms(row["uncached"]) / median_ms(row["sql"]) for where, row in samples.items()}
    if len(names) == 2:
        header = (
            f"{'report':<22}{'PG uncached p50':>17}{'CH uncached p50':>17}{'PG/CH':>8}"
            f"{'HTTP/SQL PG':>13}{'HTTP/SQL CH':>13}"
        )
        print(f"\nratios\n{header}\n{'-' * len(header)}")
        for name in REPORTS:
            pg, ch = p50["postgresql", name], p50["clickhouse", name]
            print(
                f"{name:<22}{pg:>17.1f}{ch:>17.1f}{pg / ch:>7.1f}x"
                f"{http_sql['postgresql', name]:>12.2f}x{http_sql['clickhouse', name]:>12.2f}x"
            )
    print()
    if "clickhouse" in names and events >= 10_000_000:
        print("targets (10M): ClickHouse uncached p50 <= 1 s for every everyday report and the funnel, exact")
        for name in REPORTS:
            ok = p50["clickhouse", name] <= 1000 and exact.get(name, False)
            print(f"  {name:<22} {p50['clickhouse', name]:7.1f} ms, exact {exact.get(name)}: {verdict(ok)}")
    elif "clickhouse" in names:
        print("targets (1M): ClickHouse uncached p50 <= 100 ms and >= 6x faster than PostgreSQL (everyday reports)")
        for name in EVERYDAY:
            ch = p50["clickhouse", name]
            speedup = p50["postgresql", name] / ch if "postgresql" in names else None
            ok = ch <= 100 and (speedup is None or speedup >= 6)
            shown = "" if speedup is None else f", {speedup:.1f}x faster"
            print(f"  {name:<22} {ch:6.1f} ms{shown}: {verdict(ok)}")
    print("targets: HTTP uncached p50 <= 1.3x the same SQL run directly")
    for name in REPORTS:
        shown = ", ".join(f"{store} {http_sql[store, name]:.2f}x" for store in names)
        print(f"  {name:<22} {shown}: {verdict(all(http_sql[store, name] <= 1.3 for store in names))}")
    if exact:
        print("ClickHouse exact (same as PostgreSQL where loaded, and as independent figures):")
        for name, ok in exact.items():
            print(f"  {name:<22} {verdict(ok, 'exact', 'DIFFERS')}")


def verdict(ok: bool, good: str = "ok", bad: str = "MISSED") -> str:
    return good if ok else bad


def check_exact(stores: list, data, bodies: dict) -> dict:
    """Per report: the ClickHouse body equals the PostgreSQL one (when both ran) and independent figures."""
    if not any(store.name == "clickhouse" for store in stores):
        return {}
    window = report_window(start=None, end=None, tz=ZoneInfo(data.app.timezone), now=timezone.now())
    clickhouse = next(store for store in stores if store.name == "clickhouse")
    direct = Direct(clickhouse.raw.store, data.app.id, window)
    ours = {name: bodies["clickhouse", name] for name in REPORTS}
    found = clickhouse_exact(direct, ours, FUNNEL_STEPS, FUNNEL_WINDOW)
    if len(stores) == 2:
        # A report without independent figures (web-stats) is exact when it is PostgreSQL's.
        for name in REPORTS:
            agree = same(json.loads(bodies["postgresql", name]), json.loads(bodies["clickhouse", name]))
            found[name] = found.get(name, True) and agree
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", choices=("postgresql", "clickhouse", "both"), default="both")
    parser.add_argument("--events", type=int, default=report_data.EVENTS_IN_APP, help="in the queried app")
    parser.add_argument("--runs", type=int, default=20, help="rounds, at least 5")
    parser.add_argument("--reload", action="store_true", help="rebuild the data set")
    parser.add_argument("--export", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--ingest-rate", type=float, default=0, help="events/s: measure under ingestion instead")
    parser.add_argument("--ingest-seconds", type=float, default=30)
    args = parser.parse_args()
    if args.runs < 5:
        parser.error("--runs: at least 5 rounds")
    names = ["postgresql", "clickhouse"] if args.store == "both" else [args.store]

    clickhouse = report_data.clickhouse_client() if "clickhouse" in names else None
    data = report_data.load(stores=names, events=args.events, reload=args.reload, clickhouse=clickhouse)
    if "postgresql" in names:
        # Index-only scans need the visibility map, which a fresh load leaves unset.
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE events_event")
    key = services.api_key_create(app=data.app, kind=KeyKind.SECRET, name="bench").raw
    stores = [{"postgresql": PostgreSQLStore, "clickhouse": ClickHouseStore}[name]() for name in names]

    # REPORT_RATE: counted as in production, never reached.
    # GUNICORN_TIMEOUT: a sync worker is killed after 30 s on one request, and a 30-day export on a
    # busy 2-core machine streams longer than that.
    servers = {
        store.name: start_gunicorn(
            port=store.port,
            workers=2,
            REPORT_RATE="100000000/m",
            LOG_LEVEL="WARNING",
            GUNICORN_TIMEOUT="600",
            **store.env,
        )
        for store in stores
    }
    try:
        print_setting(data, names)
        if args.ingest_rate:
            ingestion = under_ingestion(stores, data, key, args.ingest_rate, args.ingest_seconds)
            print_ingestion(stores, ingestion, args.ingest_rate, args.ingest_seconds)
            return
        samples, queries, bodies = measure(stores, data.app.id, key, args.runs)
        exact = check_exact(stores, data, bodies)
        print(f"{args.runs} rounds (after {WARM_UP_ROUNDS} warm-up), reports and stores interleaved")
        for store in stores:
            print_store(store, samples, queries)
        print_verdicts(stores, samples, exact, data.events)
        for store in stores if args.export else []:
            export = measure_export(servers[store.name], store.port, key)
            print(
                f"\nexport on {store.label} (CSV, 30 days): {export['rows']:,} rows, {export['mb']:.0f} MB in "
                f"{export['seconds']:.1f} s; server worker RSS {export['rss_before']:.0f} MB before, "
                f"peak {export['rss_peak']:.0f} MB during",
                flush=True,
            )
    finally:
        for server in servers.values():
            server.terminate()
            server.wait()


def print_setting(data, names: list[str]) -> None:
    print(f"\nmachine: {machine()}")
    print(
        f"data: {data.events:,} events in the app over {report_data.DAYS} days, "
        f"{2 * report_data.EVENTS_IN_OTHER_APPS:,} in two other apps; stores: {', '.join(names)}"
    )
    print("server: gunicorn sync, 2 workers per store, one request at a time", flush=True)


def print_ingestion(stores: list, ingestion: dict, rate: float, seconds: float) -> None:
    print(f"\nunder ingestion: {rate:g} events/s to collect, a dashboard user for {seconds:g} s per store")
    header = (
        f"{'store':<12}{'requests':>9}{'hit ratio':>11}{'p50 ms':>9}{'p95 ms':>9}{'sent':>7}{'failed':>8}{'stored':>8}"
    )
    print(f"{header}\n{'-' * len(header)}")
    for store in stores:
        row = ingestion[store.name]
        print(
            f"{store.label:<12}{row['requests']:>9}{row['hit_ratio']:>10.0%}{row['p50']:>9.1f}{row['p95']:>9.1f}"
            f"{row['sent']:>7}{row['failed']:>8}{row['stored']:>8}"
        )


if __name__ == "__main__":
    main()
