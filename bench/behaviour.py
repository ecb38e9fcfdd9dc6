"""Latency of the behavioural reports (reports/queries/) in-process, beside the same SQL through psycopg.

    .venv/bin/python bench/behaviour.py [--runs 20] [--reload]

Data (loaded once with psycopg COPY, kept between runs; --reload rebuilds it): an app "bench behaviour"
with 1M events from 50k users over 90 days, plus 500k events of another app in the same table. Visits
start with a page view and go on to clicks, searches, signups and purchases, so a three-step funnel has
real drop-off. Each report runs ``--runs`` times; the SQL it sent (captured from the first run, with its
parameters bound) runs as many times through a separate psycopg connection, interleaved with it.

Its own database by default (analytics_bench_behaviour; BENCH_DATABASE_URL overrides), because
bench/ingest.py truncates the events table of the shared analytics_bench. Only the two apps named here
are ever deleted.
"""

import argparse
import heapq
import itertools
import os
import random
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import DEFAULT_BENCH_DATABASE_URL, machine, median_ms, percentile_ms, setup_django

os.environ.setdefault("BENCH_DATABASE_URL", DEFAULT_BENCH_DATABASE_URL + "_behaviour")
setup_django()

import psycopg  # noqa: E402
from django.db import connection  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.utils import timezone  # noqa: E402

from apikeys import services  # noqa: E402
from apikeys.models import App  # noqa: E402
from bench.rows import COLUMNS  # noqa: E402
from reports.params import Window  # noqa: E402
from reports.queries import funnels, journeys, live, retention  # noqa: E402
from reports.queries.funnels import FunnelFilter, FunnelStep  # noqa: E402

APP_NAME = "bench behaviour"
OTHER_APP_NAME = "bench behaviour other"
EVENTS_IN_APP = 1_000_000
EVENTS_IN_OTHER_APP = 500_000
USERS = 50_000
DAYS = 90
APP_TIMEZONE = "America/New_York"
# Events after a visit's first page view.
NAMES = {"page_view": 55, "click": 15, "search": 8, "add_to_cart": 6, "signup": 4, "purchase": 3, "logout": 2}
PROFILES = [
    ("desktop", "Chrome", "Windows", 35),
    ("desktop", "Firefox", "Windows", 6),
    ("desktop", "Safari", "Mac OS X", 10),
    ("mobile", "Mobile Safari", "iOS", 25),
    ("mobile", "Chrome Mobile", "Android", 20),
    ("tablet", "Mobile Safari", "iOS", 4),
]
PAGES = [f"/{section}/{n}" for section in ("docs", "blog", "shop", "pricing") for n in range(50)]
PLANS = ["free", "pro", "team"]


def _rows(app_id, count: int, seed: int, now):
    """``count`` events over the last DAYS days in time order: visits of 1 to 40 events, 5 s to 3 min
    apart, by users picked with a long-tailed weight (a few very active users, many occasional ones)."""
    rng = random.Random(seed)
    users = [f"user_{n:05d}" for n in range(USERS)]
    user_weights = list(itertools.accumulate(1 / (n + 1) ** 0.6 for n in range(USERS)))
    names, name_weights = list(NAMES), list(itertools.accumulate(NAMES.values()))
    profiles, profile_weights = PROFILES, list(itertools.accumulate(p[-1] for p in PROFILES))
    first_day = now - timedelta(days=DAYS, hours=3)
    for day in range(DAYS):
        wanted = count * (day + 1) // DAYS - count * day // DAYS
        rows = []
        while len(rows) < wanted:
            user = rng.choices(users, cum_weights=user_weights)[0]
            device, browser, os_name, _ = rng.choices(profiles, cum_weights=profile_weights)[0]
            moment = first_day + timedelta(days=day, seconds=rng.random() * 86400)
            metadata = f'{{"plan": "{rng.choice(PLANS)}"}}' if rng.random() < 0.4 else "{}"
            for index in range(1 + min(int(rng.expovariate(1 / 3)), 39)):
                moment += timedelta(seconds=rng.randrange(5, 180), microseconds=rng.randrange(1_000_000))
                name = "page_view" if index == 0 else rng.choices(names, cum_weights=name_weights)[0]
                path = rng.choice(PAGES)
                rows.append(
                    (
                        app_id,
                        uuid.UUID(int=rng.getrandbits(128), version=4),
                        name,
                        user,
                        user,
                        "",
                        "",
                        moment,
                        moment,
                        f"https://shop.example{path}",
                        "shop.example",
                        path,
                        "",
                        "",
                        "",
                        "",
                        "",
                        "",
                        "",
                        device,
                        browser,
                        os_name,
                        "US",
                        "",
                        "en-US",
                        None,  # ip
                        "",
                        metadata,
                        "api",
                    )
                )
        rows = rows[:wanted]
        rows.sort(key=lambda row: row[7])
        yield from rows


def load_data(*, reload: bool) -> App:
    app = App.objects.filter(name=APP_NAME).first()
    if app is not None and not reload and app.events.count() == EVENTS_IN_APP:
        return app
    # Deleting the apps cascades to their events and nothing else.
    App.objects.filter(name__in=(APP_NAME, OTHER_APP_NAME)).delete()
    app = services.app_register(name=APP_NAME, owner_email="bench@example.com", timezone_name=APP_TIMEZONE).app
    other = services.app_register(name=OTHER_APP_NAME, owner_email="bench@example.com").app
    now = timezone.now()
    started = time.perf_counter()
    streams = [_rows(app.id, EVENTS_IN_APP, 1, now), _rows(other.id, EVENTS_IN_OTHER_APP, 2, now)]
    with connection.cursor() as cursor:
        with cursor.cursor.copy(f"COPY events_event ({', '.join(COLUMNS)}) FROM STDIN") as copy:
            # Merged in time order: the physical order live ingestion would give, apps interleaved.
            for row in heapq.merge(*streams, key=lambda row: row[7]):
                copy.write_row(row)
        cursor.execute("VACUUM ANALYZE events_event")
    print(f"loaded {EVENTS_IN_APP + EVENTS_IN_OTHER_APP:,} events with COPY in {time.perf_counter() - started:.0f} s")
    return app


def _last_event_at(app: App):
    with connection.cursor() as cursor:
        cursor.execute("SELECT MAX(timestamp) FROM events_event WHERE app_id = %s", [app.id])
        return cursor.fetchone()[0]


def _heaviest_user(app: App) -> tuple[str, int]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT distinct_id, COUNT(*) FROM events_event WHERE app_id = %s GROUP BY 1 ORDER BY 2 DESC LIMIT 1",
            [app.id],
        )
        return cursor.fetchone()


def _measure(label: str, call, runs: int, raw: psycopg.Connection, target_ms: float | None) -> dict:
    with CaptureQueriesContext(connection) as captured:
        call()  # warm-up, and the SQL to replay
    statements = [query["sql"] for query in captured.captured_queries]
    selector, sql = [], []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        selector.append(time.perf_counter() - started)
        started = time.perf_counter()
        for statement in statements:  # BEGIN, SET LOCAL jit = off, the query, COMMIT: as the selector ran
            cursor = raw.execute(statement)
            if cursor.description is not None:
                cursor.fetchall()
        sql.append(time.perf_counter() - started)
    return {
        "label": label,
        "queries": len(statements),
        "p50": median_ms(selector),
        "p95": percentile_ms(selector, 95),
        "sql_p50": median_ms(sql),
        "sql_p95": percentile_ms(sql, 95),
        "target": target_ms,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--reload", action="store_true")
    parser.add_argument("--explain", action="store_true", help="print EXPLAIN ANALYZE of each report's SQL")
    args = parser.parse_args()

    app = load_data(reload=args.reload)
    now = timezone.now()
    user, user_events = _heaviest_user(app)
    last_event = _last_event_at(app)
    journey_first = journeys.journey(app_id=app.pk, distinct_id=user, cursor=None, limit=1000)
    three_steps = [FunnelStep("page_view"), FunnelStep("signup"), FunnelStep("purchase")]
    reordered_steps = [FunnelStep("signup"), FunnelStep("page_view"), FunnelStep("purchase")]
    repeated_steps = [FunnelStep("page_view"), FunnelStep("page_view"), FunnelStep("purchase")]
    filtered_steps = [
        FunnelStep("page_view", [FunnelFilter("device_type", "eq", "mobile")]),
        FunnelStep("add_to_cart", [FunnelFilter("metadata.plan", "in", ["pro", "team"])]),
        FunnelStep("purchase"),
    ]
    month = {"app_id": app.pk, "window": Window(now - timedelta(days=30), now, ZoneInfo("UTC"))}
    retention_range = {
        "app_id": app.pk,
        "window": Window(now - timedelta(weeks=8), now, ZoneInfo(APP_TIMEZONE)),
        "now": now,
    }
    cases = [
        (
            "funnel: 3 steps, 30 days, 14-day window",
            lambda: funnels.funnel(steps=three_steps, window_seconds=14 * 86400, **month),
            300,
        ),
        (
            "funnel: same, breakdown by browser",
            lambda: funnels.funnel(steps=three_steps, window_seconds=14 * 86400, breakdown="browser", **month),
            None,
        ),
        (
            "funnel: signup -> page_view -> purchase",
            lambda: funnels.funnel(steps=reordered_steps, window_seconds=14 * 86400, **month),
            None,
        ),
        (
            "funnel: page_view -> page_view -> purchase",
            lambda: funnels.funnel(steps=repeated_steps, window_seconds=14 * 86400, **month),
            None,
        ),
        (
            "funnel: 3 steps with column + metadata filters",
            lambda: funnels.funnel(steps=filtered_steps, window_seconds=86400, **month),
            None,
        ),
        (
            "retention: 8 weeks, first seen -> any event",
            lambda: retention.retention(
                cohort_event=None, return_event=None, period="week", periods=8, **retention_range
            ),
            500,
        ),
        (
            "retention: 8 weeks, signup -> purchase",
            lambda: retention.retention(
                cohort_event="signup", return_event="purchase", period="week", periods=8, **retention_range
            ),
            500,
        ),
        (
            "retention: 56 days, signup -> any event",
            lambda: retention.retention(
                cohort_event="signup", return_event=None, period="day", periods=28, **retention_range
            ),
            None,
        ),
        (
            f"journey: first 1,000 of {user_events:,} events",
            lambda: journeys.journey(app_id=app.pk, distinct_id=user, cursor=None, limit=1000),
            50,
        ),
        (
            "journey: second page of 1,000",
            lambda: journeys.journey(app_id=app.pk, distinct_id=user, cursor=journey_first.next_cursor, limit=1000),
            50,
        ),
        # The data ends a few hours ago: the live view is asked as of the last event.
        ("live: 30 minutes up to the last event", lambda: live.live(app_id=app.pk, now=last_event), None),
    ]

    results = []
    with psycopg.connect(os.environ["DATABASE_URL"], autocommit=True) as raw:
        for label, call, target in cases:
            results.append(_measure(label, call, args.runs, raw, target))
            if args.explain:
                with CaptureQueriesContext(connection) as captured:
                    call()
                for query in captured.captured_queries:
                    if not query["sql"].startswith(("WITH", "SELECT")):
                        continue
                    plan = raw.execute("EXPLAIN (ANALYZE, BUFFERS) " + query["sql"]).fetchall()
                    print(f"\n-- {label}\n" + "\n".join(line for (line,) in plan))

    print(f"\n{machine()}")
    print(f"{EVENTS_IN_APP:,} events of {USERS:,} users over {DAYS} days in the app; {args.runs} runs each\n")
    header = f"{'report':<46} {'queries':>7} {'p50 ms':>8} {'p95 ms':>8} {'SQL p50':>8} {'SQL p95':>8} {'target':>7}"
    print(header)
    print("-" * len(header))
    for row in results:
        target = f"{row['target']:.0f}" if row["target"] else "-"
        verdict = "" if not row["target"] else (" ok" if row["p50"] <= row["target"] else " SLOW")
        print(
            f"{row['label']:<46} {row['queries']:>7} {row['p50']:>8.1f} {row['p95']:>8.1f} "
            f"{row['sql_p50']:>8.1f} {row['sql_p95']:>8.1f} {target:>7}{verdict}"
        )


if __name__ == "__main__":
    main()
