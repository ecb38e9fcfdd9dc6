"""The reports benchmark's data, generated once and loaded into each store it is read from.

1M events (--events) in the queried app over 90 days and 500k in each of two other apps, as visits
(a visitor, one device, a few events minutes apart): a month holds about 330k events of 45k users in
the app. The generator is deterministic given the apps and the instant the data ends, which is the
queried app's creation time, so a store loaded in a later run holds exactly the rows of a store
loaded earlier. PostgreSQL is loaded with one COPY; ClickHouse with inserts of 100k rows; both from
the same pass over the rows when both need loading. A store is kept between runs while it holds
exactly the expected events per app and the apps are less than 12 hours old.
"""

import heapq
import itertools
import json
import os
import random
import time
import uuid
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import timedelta
from functools import cache

from django.db import connection
from django.utils import timezone

from apikeys import services
from apikeys.models import App
from bench.rows import COLUMNS
from clickhouse_store import rows as clickhouse_rows
from clickhouse_store.client import Client
from clickhouse_store.client import connect as clickhouse_connect
from clickhouse_store.schema import migrate

CLICKHOUSE_URL = os.environ.get("BENCH_CLICKHOUSE_URL", "clickhouse://default@127.0.0.1:9000/analytics_bench")
CLICKHOUSE_CHUNK = 100_000

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


# ClickHouse's columns up to metadata are the model's (timestamps with an _us suffix).
_CLICKHOUSE_SOURCE = tuple(COLUMNS.index(name.removesuffix("_us")) for name in clickhouse_rows.COLUMNS[:-3])
_MICROSECOND_POSITIONS = tuple(
    position for position, name in enumerate(clickhouse_rows.COLUMNS) if name.endswith("_us")
)


@cache
def _metadata_arrays(text: str) -> tuple[list[str], list[str]]:
    return clickhouse_rows.metadata_arrays(json.loads(text))  # a handful of distinct texts


def clickhouse_row(row: tuple, seq: int) -> tuple:
    """A generated row (bench.rows.COLUMNS order) as a row of ClickHouse's events table."""
    values = [row[position] for position in _CLICKHOUSE_SOURCE]
    for position in _MICROSECOND_POSITIONS:
        values[position] = clickhouse_rows.microseconds(values[position])
    return (*values, *_metadata_arrays(values[-1]), seq)


@dataclass(frozen=True)
class DataSet:
    app: App
    others: list[App]
    events: int

    @property
    def now(self):
        return self.app.created_at

    def expected(self) -> dict[uuid.UUID, int]:
        return {self.app.id: self.events, **{other.id: EVENTS_IN_OTHER_APPS for other in self.others}}


def clickhouse_client() -> Client:
    client = clickhouse_connect(CLICKHOUSE_URL)
    client.create_database()
    migrate(client)
    return client


def _apps(*, reload: bool) -> tuple[App, list[App]]:
    """The bench's apps, new ones (and no PostgreSQL events) when asked or when the data would be too
    old: "the last 30 days" must still hold 30 days of data."""
    app = App.objects.filter(name=APP_NAME).first()
    others = list(App.objects.filter(name__in=OTHER_APP_NAMES).order_by("name"))
    if app is not None and len(others) == 2 and not reload and timezone.now() - app.created_at < timedelta(hours=12):
        return app, others
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE events_event")  # this benchmark's own database: nothing else lives here
    App.objects.filter(name__in=(APP_NAME, *OTHER_APP_NAMES)).delete()
    app = services.app_register(name=APP_NAME, owner_email="bench@example.com", timezone_name=APP_TIMEZONE).app
    others = [services.app_register(name=name, owner_email="bench@example.com").app for name in OTHER_APP_NAMES]
    return app, others


def _counts(store: str, clickhouse: Client | None) -> dict:
    if store == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT app_id, COUNT(*) FROM events_event GROUP BY app_id")
            return dict(cursor.fetchall())
    return dict(clickhouse.execute(f"SELECT app_id, count() FROM {clickhouse.database}.events GROUP BY app_id"))


def load(*, stores: list[str], events: int, reload: bool, clickhouse: Client | None) -> DataSet:
    app, others = _apps(reload=reload)
    data = DataSet(app, others, events)
    stale = [store for store in stores if reload or _counts(store, clickhouse) != data.expected()]
    if stale:
        _fill(data, stale, clickhouse)
    return data


def _fill(data: DataSet, stores: list[str], clickhouse: Client | None) -> None:
    """All apps' events merged in time order, as live ingestion stores them (apps interleaved, time
    ascending), so range scans read what they would in production; seq counts in that order."""
    streams = [
        _rows(data.app.id, data.events, 1, data.now),
        *(_rows(other.id, EVENTS_IN_OTHER_APPS, seed, data.now) for seed, other in enumerate(data.others, start=2)),
    ]
    started = time.perf_counter()
    with ExitStack() as stack:
        copy = None
        if "postgresql" in stores:
            cursor = stack.enter_context(connection.cursor())
            cursor.execute("TRUNCATE events_event")
            copy = stack.enter_context(cursor.cursor.copy(f"COPY events_event ({', '.join(COLUMNS)}) FROM STDIN"))
        if "clickhouse" in stores:
            clickhouse.execute(f"TRUNCATE TABLE {clickhouse.database}.events")
            clickhouse.execute(f"TRUNCATE TABLE {clickhouse.database}.event_ids")
        chunk = []
        for seq, row in enumerate(heapq.merge(*streams, key=lambda row: row[7]), start=1):
            if copy is not None:
                copy.write_row(row)
            if "clickhouse" in stores:
                chunk.append(clickhouse_row(row, seq))
                if len(chunk) == CLICKHOUSE_CHUNK:
                    clickhouse.insert(f"{clickhouse.database}.events", clickhouse_rows.COLUMNS, chunk)
                    chunk = []
        if chunk:
            clickhouse.insert(f"{clickhouse.database}.events", clickhouse_rows.COLUMNS, chunk)
    loaded = time.perf_counter() - started
    if "postgresql" in stores:
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE events_event")
    if "clickhouse" in stores:
        # One part per month, as background merges leave a table that has settled.
        clickhouse.execute(f"OPTIMIZE TABLE {clickhouse.database}.events FINAL")
    total = data.events + 2 * EVENTS_IN_OTHER_APPS
    print(
        f"loaded {total:,} events into {' and '.join(stores)} in {loaded:.0f} s "
        f"(+{time.perf_counter() - started - loaded:.0f} s VACUUM ANALYZE / OPTIMIZE FINAL)",
        flush=True,
    )
