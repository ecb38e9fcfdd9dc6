"""The dashboard's app page over HTTP, as a browser loads it: the shell, then every panel at once.

    .venv/bin/python bench/dashboard.py [--store clickhouse|postgresql|both] [--runs 7] [--workers 4]
                                        [--connections 6]

Data: bench/report_data.py's (1M events in the queried app, 500k in each of two others; loaded if
missing, as bench/reports.py loads it). One gunicorn server per store (--workers sync workers), a staff
operator's session. Each round, per store (the order alternating): the shell alone; the panels one
after another, which is what the page cost when it was one request; and the page as a browser loads
it, the shell and then every panel over --connections connections at once (Chromium opens 6 per host),
timed to the last panel. The dashboard reads the reports' queries directly (no report cache), so every
request is uncached. Two warm-up rounds are dropped; medians.
"""

import argparse
import re
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from http.client import HTTPConnection
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import bench.reports  # noqa: F401  (sets up Django on the benchmark's database)
from bench import report_data
from bench.common import machine, median_ms, percentile_ms, start_gunicorn
from bench.reports import ClickHouseStore, PostgreSQLStore

WARM_UP = 2
STAFF = "bench-dashboard"


def session_cookie(app) -> str:
    from django.contrib.auth.models import Permission, User  # once bench.reports has set Django up
    from django.test import Client

    user, _ = User.objects.get_or_create(username=STAFF, defaults={"is_staff": True})
    user.user_permissions.add(Permission.objects.get(codename="view_event"))
    app.operators.add(user)
    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}"


def get(port: int, path: str, cookie: str) -> tuple[float, str]:
    started = time.perf_counter()
    http = HTTPConnection("127.0.0.1", port, timeout=120)
    http.request("GET", path, headers={"Cookie": cookie})
    response = http.getresponse()
    body = response.read().decode()
    elapsed = time.perf_counter() - started
    http.close()
    if response.status != 200:
        raise SystemExit(f"GET {path} on :{port}: {response.status} {body[:300]!r}")
    return elapsed, body


def panel_sources(shell: str) -> list[str]:
    return [src.replace("&amp;", "&") for src in re.findall(r'data-panel-src="([^"]+)"', shell)]


def one_round(port: int, page: str, cookie: str, pool: ThreadPoolExecutor) -> dict:
    shell_seconds, shell = get(port, page, cookie)
    sources = panel_sources(shell)
    panels = {src.split("/panels/")[1].split("?")[0]: get(port, src, cookie)[0] for src in sources}
    started = time.perf_counter()
    get(port, page, cookie)
    list(pool.map(lambda src: get(port, src, cookie), sources))
    return {
        "shell": shell_seconds,
        "panels one by one": sum(panels.values()),
        "page, panels at once": time.perf_counter() - started,
        **{f"panel {name}": seconds for name, seconds in panels.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", choices=["postgresql", "clickhouse", "both"], default="clickhouse")
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--connections", type=int, default=6)
    args = parser.parse_args()
    stores = {"postgresql": [PostgreSQLStore], "clickhouse": [ClickHouseStore]}.get(
        args.store, [PostgreSQLStore, ClickHouseStore]
    )
    names = [store.name for store in stores]
    clickhouse = report_data.clickhouse_client() if "clickhouse" in names else None
    data = report_data.load(stores=names, events=1_000_000, reload=False, clickhouse=clickhouse)
    cookie = session_cookie(data.app)
    page = f"/dashboard/apps/{data.app.id}/"
    servers = [start_gunicorn(port=store.port, workers=args.workers, **store.env) for store in stores]
    samples = {store.name: {} for store in stores}
    try:
        with ThreadPoolExecutor(args.connections) as pool:
            for round_number in range(-WARM_UP, args.runs):
                for store in stores if round_number % 2 == 0 else stores[::-1]:
                    for name, seconds in one_round(store.port, page, cookie, pool).items():
                        if round_number >= 0:
                            samples[store.name].setdefault(name, []).append(seconds)
                print(f"round {round_number + 1}/{args.runs} done", file=sys.stderr, flush=True)
    finally:
        for server in servers:
            server.terminate()

    print(f"machine: {machine()}")
    print(f"{data.events:,} events in the app; {args.workers} sync workers; {args.connections} connections")
    print(f"{args.runs} rounds after {WARM_UP} warm-up, stores alternating; medians (p95)\n")
    header = f"{'':<26}" + "".join(f"{store.label:>24}" for store in stores)
    print(header)
    print("-" * len(header))
    for name in samples[stores[0].name]:
        cells = "".join(
            f"{median_ms(samples[store.name][name]):>12.1f} ms ({percentile_ms(samples[store.name][name], 95):>6.0f})"
            for store in stores
        )
        print(f"{name:<26}{cells}")


if __name__ == "__main__":
    main()
