"""HTTP under the ASGI server the live view needs (uvicorn) against gunicorn's sync workers: the same
ingest and report requests, the same database, the same number of worker processes, interleaved.

    .venv/bin/python bench/asgi.py [--workers 2] [--seconds 5] [--rounds 5] [--connections 8]

PostgreSQL + Redis (the bench database), direct ingestion. Per round, each server in turn (the order
alternating) takes wrk for --seconds on: collect with one event, and a cached event-summary. Medians
over the rounds. Needs `wrk` (Debian package wrk).
"""

import argparse
import os
import statistics
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import common
from bench.common import ROOT, bench_environment, machine, setup_django, start_gunicorn

setup_django()

from apikeys import services  # noqa: E402
from bench.rows import EVENT  # noqa: E402

PORTS = {"gunicorn (sync)": 8781, "uvicorn (ASGI)": 8782}
UNLIMITED = {"INGEST_RATE": "100000000/m", "REPORT_RATE": "100000000/m", "LOG_LEVEL": "WARNING"}


def start_uvicorn(*, port: int, workers: int) -> subprocess.Popen:
    environment = {
        **os.environ,
        **bench_environment(),
        "DJANGO_SETTINGS_MODULE": "analytics_project.settings",
        **UNLIMITED,
    }
    command = [
        str(Path(sys.executable).parent / "uvicorn"),
        "analytics_project.asgi:application",
        *("--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)),
        *("--no-access-log", "--log-level", "warning", "--lifespan", "off"),
    ]
    server = subprocess.Popen(command, cwd=ROOT, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return common.answering(server, port)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--connections", type=int, default=8)
    args = parser.parse_args()

    key = services.app_register(name="ASGI bench", owner_email="bench@example.com").secret_key.raw
    servers = {
        "gunicorn (sync)": start_gunicorn(port=PORTS["gunicorn (sync)"], workers=args.workers, **UNLIMITED),
        "uvicorn (ASGI)": start_uvicorn(port=PORTS["uvicorn (ASGI)"], workers=args.workers),
    }
    requests = {
        "collect (1 event)": ("/api/analytics/collect", EVENT),
        "event-summary (cached)": ("/api/analytics/event-summary", None),
    }
    headers = {"Content-Type": "application/json", "X-API-Key": key}
    results = {(server, request): [] for server in servers for request in requests}
    try:
        for round_number in range(args.rounds):
            order = list(servers) if round_number % 2 == 0 else list(reversed(servers))
            for server in order:
                for request, (path, body) in requests.items():
                    url = f"http://127.0.0.1:{PORTS[server]}{path}"
                    method = "POST" if body is not None else "GET"
                    results[server, request].append(
                        common.wrk(url, body, args.seconds, args.connections, headers, method=method)
                    )
    finally:
        for process in servers.values():
            process.terminate()
            process.wait(timeout=30)

    print(f"machine: {machine()}")
    print(f"{args.workers} worker processes each, wrk -c{args.connections}, {args.rounds} rounds of {args.seconds} s\n")
    header = f"{'request':<24}{'server':<18}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'CPU µs/req':>12}"
    print(header)
    print("-" * len(header))
    for request in requests:
        for server in servers:
            runs = results[server, request]
            figures = [statistics.median(run[name] for run in runs) for name in ("rps", "p50", "p99", "cpu_us")]
            print(f"{request:<24}{server:<18}{figures[0]:>9.0f}{figures[1]:>9.2f}{figures[2]:>9.2f}{figures[3]:>12.0f}")


if __name__ == "__main__":
    main()
