"""The ClickHouse reports' SQL on two engines, same data, same run: Debian's 18.16 server (the only one
that installs here, and the one bench/reports.py serves over HTTP) against the current engine in
process (chdb).

    .venv/bin/python bench/report_engines.py [--runs 10]

Data: whatever bench/reports.py last loaded into the server (run it first); it is copied into a chdb
directory (bench-chdb/ under the system's temp directory) when the counts differ. Each report of
bench/reports.py (the four everyday ones for their default 30 days, a 3-step funnel) runs through the
reports' own code and ClickHouse dialect on each engine in turn, the order alternating each round;
the first two rounds warm up and are dropped; medians and p95, and the two engines' answers must be
equal.
"""

import argparse
import sys
import tempfile
import time
from pathlib import Path
from unittest import mock
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from django.test import override_settings
from django.utils import timezone

import bench.reports  # noqa: F401  (sets up Django on the benchmark's database)
from apikeys.models import App
from bench.common import machine, median_ms, percentile_ms
from bench.report_data import APP_NAME, clickhouse_client
from bench.reports import report_calls
from clickhouse_store import schema
from clickhouse_store.client import Client, connect
from clickhouse_store.rows import COLUMNS
from reports.dialect.clickhouse import ClickHouse
from reports.params import report_window

COPY_CHUNK = 100_000
WARM_UP = 2


def chdb_copy(server: Client) -> Client:
    engine = connect(f"chdb://{Path(tempfile.gettempdir()) / 'bench-chdb'}")
    schema.migrate(engine)
    count = "SELECT count() FROM {}.events"
    if engine.execute(count.format(engine.database)) != server.execute(count.format(server.database)):
        started = time.perf_counter()
        engine.execute(f"TRUNCATE TABLE {engine.database}.events")
        batch = []
        rows = server.iter_rows(f"SELECT {', '.join(COLUMNS)} FROM {server.database}.events", chunk=COPY_CHUNK)
        for row in rows:
            batch.append(row)
            if len(batch) == COPY_CHUNK:
                engine.insert(f"{engine.database}.events", COLUMNS, batch)
                batch = []
        engine.insert(f"{engine.database}.events", COLUMNS, batch)
        engine.execute(f"OPTIMIZE TABLE {engine.database}.events FINAL")
        print(
            f"copied {engine.execute(count.format(engine.database))[0][0]:,} events into chdb in "
            f"{time.perf_counter() - started:.0f} s"
        )
    return engine


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()

    server = clickhouse_client()
    engines = {"18.16 server": server, "chdb (current)": chdb_copy(server)}
    versions = {name: engine.execute("SELECT version()")[0][0] for name, engine in engines.items()}
    app = App.objects.get(name=APP_NAME)
    window = report_window(start=None, end=None, tz=ZoneInfo(app.timezone), now=timezone.now())
    calls = report_calls(app.id, window)
    samples = {(report, name): [] for report in calls for name in engines}
    answers = {}
    with override_settings(ANALYTICS_STORE="clickhouse"):
        for round_number in range(WARM_UP + args.runs):
            order = list(engines) if round_number % 2 == 0 else list(reversed(engines))
            for report, call in calls.items():
                for name in order:
                    with mock.patch.object(ClickHouse, "for_settings", lambda engine=engines[name]: ClickHouse(engine)):
                        started = time.perf_counter()
                        answers[report, name] = call()
                        elapsed = time.perf_counter() - started
                    if round_number >= WARM_UP:
                        samples[report, name].append(elapsed)

    print(f"machine: {machine()}")
    print("engines: " + ", ".join(f"{name} {version}" for name, version in versions.items()))
    print(f"{args.runs} rounds (after {WARM_UP} warm-up), reports and engines interleaved; the reports' own code\n")
    names = list(engines)
    header = f"{'report':<22}" + "".join(f"{name + ' p50':>20}{'p95':>8}" for name in names) + f"{'ratio':>8}  same"
    print(header)
    print("-" * len(header))
    for report in calls:
        medians = [median_ms(samples[report, name]) for name in names]
        cells = "".join(
            f"{median:>20.1f}{percentile_ms(samples[report, name], 95):>8.1f}"
            for median, name in zip(medians, names, strict=True)
        )
        same = answers[report, names[0]] == answers[report, names[1]]
        print(f"{report:<22}{cells}{medians[0] / medians[1]:>7.1f}x  {'yes' if same else 'NO'}")


if __name__ == "__main__":
    main()
