"""Report latency over HTTP: gunicorn on PostgreSQL + Redis, against the same query in raw SQL.

    .venv/bin/python bench/reports.py [--runs 20] [--reload]

Data (loaded once with psycopg COPY, kept between runs; --reload rebuilds it): 1M events in the
queried app over 90 days, plus 1M in two other apps over the same days. Each report is asked for its
default 30-day range; uncached (a fresh cache generation before every request), cached, and the
report's own SQL statements replayed through a plain psycopg connection run interleaved, 20 times
each. Then a 30-day CSV export is streamed while the server workers' resident memory is sampled.

Visits are modelled as sessions (a visitor, one device, a few events minutes apart), so a month holds
about 330k events of 45k users.
"""

import argparse
import heapq
import itertools
import os
import random
import subprocess
import sys
import threading
import time
import uuid
from datetime import timedelta
from http.client import HTTPConnection
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (
    DEFAULT_BENCH_DATABASE_URL,
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
from django.db.models import Count, Max  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.utils import timezone  # noqa: E402

from apikeys import services  # noqa: E402
from apikeys.keys import KeyKind  # noqa: E402
from apikeys.models import App  # noqa: E402
from bench.rows import COLUMNS  # noqa: E402
from events.generation import app_generation_bump  # noqa: E402
from reports.params import report_window  # noqa: E402
from reports.queries import rankings, series, summary  # noqa: E402

APP_NAME = "bench reports"
OTHER_APP_NAMES = ("bench reports other 1", "bench reports other 2")
EVENTS_IN_APP = 1_000_000
EVENTS_IN_OTHER_APPS = 500_000  # each
DAYS = 90
APP_TIMEZONE = "Europe/Berlin"

EVENT_NAMES = {
    "page_view": 60,
    "click": 12,
    "add_to_cart": 5,
    "search": 5,
    "login": 4,
    "signup": 2,
    "purchase": 2,
    "video_play": 3,
    "share": 1,
    "logout": 2,
    "form_submit": 2,
    "download": 1,
    "error": 1,
}
# (device_type, browser, os, user agent) in rough proportion to a consumer website's traffic.
PROFILES = [
    ("desktop", "Chrome", "Windows", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/120.0 Safari/537.36", 30),
    ("desktop", "Edge", "Windows", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/120.0 Edg/120.0", 6),
    ("desktop", "Firefox", "Windows", "Mozilla/5.0 (Windows NT 10.0; rv:121.0) Gecko/20100101 Firefox/121.0", 5),
    ("desktop", "Safari", "Mac OS X", "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) Version/17.1 Safari/605", 8),
    ("desktop", "Chrome", "Mac OS X", "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) Chrome/120.0 Safari/537", 6),
    ("desktop", "Firefox", "Linux", "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0", 2),
    ("mobile", "Mobile Safari", "iOS", "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) Mobile/15E148", 20),
    ("mobile", "Chrome Mobile", "Android", "Mozilla/5.0 (Linux; Android 14; Pixel 8) Chrome/120.0 Mobile", 14),
    ("mobile", "Samsung Internet", "Android", "Mozilla/5.0 (Linux; Android 13; SM-S911B) SamsungBrowser/23", 3),
    ("tablet", "Mobile Safari", "iOS", "Mozilla/5.0 (iPad; CPU OS 17_1 like Mac OS X) Mobile/15E148", 3),
    ("tablet", "Chrome", "Android", "Mozilla/5.0 (Linux; Android 13; SM-X700) Chrome/120.0 Safari/537.36", 1),
    ("bot", "Googlebot", "Other", "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", 1),
]
REFERRER_HOSTS = ["www.google.com", "news.ycombinator.com", "t.co", "www.facebook.com", "www.bing.com"] + [
    f"blog{n}.example" for n in range(35)
]
COUNTRIES = ["US", "DE", "GB", "FR", "IN", "BR", "CA", "NL", "ES", "IT", "JP", "PL", "SE", ""]
PLANS = ["free", "pro", "team", "enterprise"]
KNOWN_USERS = 40_000
ANONYMOUS_VISITORS = 60_000
ANONYMOUS_SHARE = 0.25
SESSION_EVENTS = 4  # mean events per visit


def _weighted(population: list, weights: list[float]) -> tuple[list, list[float]]:
    return population, list(itertools.accumulate(weights))


class _Sessions:
    """Visits as web analytics sees them: a visitor (known user or anonymous) arrives, maybe from a
    referrer, and sends a few events over some minutes on one device."""

    def __init__(self, seed: int):
        self.rng = random.Random(seed)
        pages = [f"/{section}/{n}" for section in ("docs", "blog", "shop", "pricing") for n in range(75)]
        self.pages = _weighted(pages, [1 / (rank + 1) for rank in range(len(pages))])
        self.users = _weighted(
            [f"user_{n}" for n in range(KNOWN_USERS)], [1 / (n + 1) ** 0.7 for n in range(KNOWN_USERS)]
        )
        self.referrers = _weighted(
            ["", *REFERRER_HOSTS], [40] + [60 / (rank + 1) for rank in range(len(REFERRER_HOSTS))]
        )
        self.names = _weighted(list(EVENT_NAMES), list(EVENT_NAMES.values()))
        self.profiles = _weighted(PROFILES, [profile[-1] for profile in PROFILES])

    def _pick(self, choices):
        population, cumulative = choices
        return self.rng.choices(population, cum_weights=cumulative)[0]

    def day(self, app_id, start, count: int) -> list[tuple]:
        """``count`` events of visits starting within the day from ``start``, in time order."""
        rng, rows = self.rng, []
        while len(rows) < count:
            anonymous = rng.random() < ANONYMOUS_SHARE
            distinct_id = f"anon_{rng.randrange(ANONYMOUS_VISITORS):06d}" if anonymous else self._pick(self.users)
            device_type, browser, os_name, user_agent, _ = self._pick(self.profiles)
            referrer_host = self._pick(self.referrers)
            country = rng.choice(COUNTRIES)
            moment = start + timedelta(seconds=rng.random() * 86400)
            for index in range(1 + min(int(rng.expovariate(1 / (SESSION_EVENTS - 1))), 40)):
                moment += timedelta(seconds=rng.randrange(5, 180))
                name = "page_view" if index == 0 else self._pick(self.names)
                path = self._pick(self.pages)
                utm = "newsletter" if index == 0 and rng.random() < 0.1 else ""
                rows.append(
                    (
                        app_id,
                        uuid.UUID(int=rng.getrandbits(128), version=4),
                        name,
                        distinct_id,
                        "" if anonymous else distinct_id,
                        distinct_id if anonymous else "",
                        "",
                        moment,
                        moment,
                        f"https://shop.example{path}" + (f"?utm_source={utm}" if utm else ""),
                        "shop.example",
                        path,
                        f"https://{referrer_host}/" if referrer_host and index == 0 else "",
                        referrer_host if index == 0 else "",
                        utm,
                        "",
                        "",
                        "",
                        "",
                        device_type,
                        browser,
                        os_name,
                        country,
                        "",
                        "en-US",
                        None,  # ip
                        user_agent,
                        f'{{"plan": "{rng.choice(PLANS)}"}}' if rng.random() < 0.3 else "{}",
                        "api",
                    )
                )
        rows = rows[:count]
        rows.sort(key=lambda row: row[7])
        return rows


def _rows(app_id, count: int, seed: int, now):
    """An app's events over the last DAYS days, oldest first, as live ingestion would store them."""
    sessions = _Sessions(seed)
    # Three hours back, so that the last visits of the last day (at most 41 events, 3 minutes apart)
    # still end before now.
    first_day = now - timedelta(days=DAYS, hours=3)
    for day in range(DAYS):
        day_count = count * (day + 1) // DAYS - count * day // DAYS  # days add up to exactly ``count``
        yield from sessions.day(app_id, first_day + timedelta(days=day), day_count)


def _copy(streams) -> None:
    """One COPY of all apps' events merged in time order, so the table's physical order is the one
    live ingestion gives (apps interleaved, time ascending) and range scans read what they would in production."""
    with (
        connection.cursor() as cursor,
        cursor.cursor.copy(f"COPY events_event ({', '.join(COLUMNS)}) FROM STDIN") as copy,
    ):
        for row in heapq.merge(*streams, key=lambda row: row[7]):
            copy.write_row(row)


def load_data(*, reload: bool) -> App:
    app = App.objects.filter(name=APP_NAME).first()
    if app is not None and not reload and app.events.count() == EVENTS_IN_APP:
        newest = app.events.aggregate(newest=Max("timestamp"))["newest"]
        if timezone.now() - newest < timedelta(hours=12):  # "the last 30 days" must still hold 30 days of data
            return app
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE events_event")  # this benchmark's own database: nothing else lives here
    App.objects.filter(name__in=(APP_NAME, *OTHER_APP_NAMES)).delete()
    app = services.app_register(name=APP_NAME, owner_email="bench@example.com", timezone_name=APP_TIMEZONE).app
    others = [services.app_register(name=name, owner_email="bench@example.com").app for name in OTHER_APP_NAMES]
    now = timezone.now()
    started = time.perf_counter()
    _copy(
        [
            _rows(app.id, EVENTS_IN_APP, 1, now),
            *(_rows(other.id, EVENTS_IN_OTHER_APPS, seed, now) for seed, other in enumerate(others, start=2)),
        ]
    )
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE events_event")
    print(
        f"loaded {EVENTS_IN_APP + 2 * EVENTS_IN_OTHER_APPS:,} events with COPY in {time.perf_counter() - started:.0f} s"
    )
    return app


PORT = 8771
REPORTS = [
    ("event-summary", "/api/analytics/event-summary"),
    ("daily-stats", "/api/analytics/daily-stats"),
    ("top-pages", "/api/analytics/top-pages"),
    ("breakdown?by=browser", "/api/analytics/breakdown?by=browser"),
]


def refresh_visibility_map() -> None:
    """Index-only scans on the covering index need the visibility map, which a fresh load or a newly
    built index leaves unset (autovacuum would get there, later)."""
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE events_event")


def get(path: str, key: str) -> tuple[float, str, bytes]:
    """One GET over a fresh connection (gunicorn's sync workers close after each response)."""
    started = time.perf_counter()
    http = HTTPConnection("127.0.0.1", PORT, timeout=60)
    http.request("GET", path, headers={"X-API-Key": key})
    response = http.getresponse()
    body = response.read()
    elapsed = time.perf_counter() - started
    http.close()
    if response.status != 200:
        raise SystemExit(f"{path}: {response.status} {body[:200]!r}")
    return elapsed, response.getheader("X-Cache", ""), body


def report_sql(app: App, name: str) -> list[str]:
    """The SQL statements the report runs for the default range, as the server sends them."""
    window = report_window(start=None, end=None, tz=ZoneInfo(app.timezone), now=timezone.now())
    calls = {
        "event-summary": lambda: summary.event_summary(app_id=app.id, window=window, event=None),
        "daily-stats": lambda: series.daily_stats(app_id=app.id, window=window, event=None),
        "top-pages": lambda: rankings.top_pages(app_id=app.id, window=window, event=None, limit=10),
        "breakdown?by=browser": lambda: rankings.breakdown(
            app_id=app.id, window=window, event=None, by="browser", limit=10
        ),
    }
    with CaptureQueriesContext(connection) as captured:
        calls[name]()
    return [query["sql"] for query in captured.captured_queries]


def measure(app: App, key: str, runs: int, raw: psycopg.Connection) -> list[dict]:
    results = []
    for name, path in REPORTS:
        statements = report_sql(app, name)
        for _ in range(3):  # warm-up: connections, caches, the OS page cache
            app_generation_bump(app.id)
            get(path, key)
        uncached, cached, sql = [], [], []
        for _ in range(runs):
            app_generation_bump(app.id)
            elapsed, x_cache, _ = get(path, key)
            assert x_cache == "miss", x_cache
            uncached.append(elapsed)
            elapsed, x_cache, _ = get(path, key)
            assert x_cache == "hit", x_cache
            cached.append(elapsed)
            started = time.perf_counter()
            for statement in statements:
                raw.execute(statement).fetchall()
            sql.append(time.perf_counter() - started)
        results.append({"name": name, "queries": len(statements), "uncached": uncached, "cached": cached, "sql": sql})
    return results


def _worker_pids(server: subprocess.Popen) -> list[int]:
    children = Path(f"/proc/{server.pid}/task/{server.pid}/children").read_text().split()
    return [int(pid) for pid in children]


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def measure_export(server: subprocess.Popen, key: str) -> dict:
    """Stream a 30-day CSV export, sampling the workers' resident memory every 20 ms meanwhile."""
    pids = _worker_pids(server)
    before = max(_rss_mb(pid) for pid in pids)
    peak, done = [before], threading.Event()

    def sample():
        while not done.is_set():
            peak.append(max(_rss_mb(pid) for pid in pids))
            time.sleep(0.02)

    sampler = threading.Thread(target=sample)
    sampler.start()
    started = time.perf_counter()
    http = HTTPConnection("127.0.0.1", PORT, timeout=300)
    http.request("GET", "/api/analytics/export?format=csv", headers={"X-API-Key": key})
    response = http.getresponse()
    size = lines = 0
    while chunk := response.read(1 << 16):
        size += len(chunk)
        lines += chunk.count(b"\n")
    elapsed = time.perf_counter() - started
    done.set()
    sampler.join()
    http.close()
    return {"rows": lines - 1, "mb": size / 1e6, "seconds": elapsed, "rss_before": before, "rss_peak": max(peak)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--reload", action="store_true", help="rebuild the data set")
    args = parser.parse_args()

    app = load_data(reload=args.reload)
    refresh_visibility_map()
    key = services.api_key_create(app=app, kind=KeyKind.SECRET, name="bench").raw
    window = report_window(start=None, end=None, tz=ZoneInfo(app.timezone), now=timezone.now())
    in_range = app.events.filter(timestamp__gte=window.start, timestamp__lt=window.end)
    totals = in_range.aggregate(events=Count("id"), users=Count("distinct_id", distinct=True))

    # REPORT_RATE: counted as in production, never reached.
    server = start_gunicorn(port=PORT, workers=2, REPORT_RATE="100000000/m", LOG_LEVEL="WARNING")
    try:
        with psycopg.connect(os.environ["DATABASE_URL"], autocommit=True) as raw:
            results = measure(app, key, args.runs, raw)
        export = measure_export(server, key)
    finally:
        server.terminate()
        server.wait()

    print(f"machine: {machine()}")
    print(
        f"data: {EVENTS_IN_APP:,} events in the app over {DAYS} days, {2 * EVENTS_IN_OTHER_APPS:,} in two other apps; "
        f"the 30-day range holds {totals['events']:,} events of {totals['users']:,} users"
    )
    print(f"server: gunicorn sync, 2 workers; {args.runs} runs each, interleaved\n")
    header = (
        f"{'report':<22}{'queries':>8}{'uncached p50':>14}{'p95':>8}{'cached p50':>12}{'p95':>8}"
        f"{'raw SQL p50':>13}{'p95':>8}{'HTTP/SQL':>10}"
    )
    print(header)
    print("-" * len(header))
    for row in results:
        uncached, sql = median_ms(row["uncached"]), median_ms(row["sql"])
        print(
            f"{row['name']:<22}{row['queries']:>8}{uncached:>14.1f}{percentile_ms(row['uncached'], 95):>8.1f}"
            f"{median_ms(row['cached']):>12.2f}{percentile_ms(row['cached'], 95):>8.2f}"
            f"{sql:>13.1f}{percentile_ms(row['sql'], 95):>8.1f}{uncached / sql:>9.2f}x"
        )
    print("\ntargets: uncached p50 <= 150 ms, cached p50 <= 5 ms")
    for row in results:
        uncached, cached = median_ms(row["uncached"]), median_ms(row["cached"])
        verdict = "ok" if uncached <= 150 and cached <= 5 else "MISSED"
        print(f"  {row['name']:<22} uncached {uncached:6.1f} ms, cached {cached:5.2f} ms: {verdict}")
    print(
        f"\nexport (CSV, 30 days): {export['rows']:,} rows, {export['mb']:.0f} MB in {export['seconds']:.1f} s; "
        f"server worker RSS {export['rss_before']:.0f} MB before, peak {export['rss_peak']:.0f} MB during"
    )


if __name__ == "__main__":
    main()
