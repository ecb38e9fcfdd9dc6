"""An independent oracle: random events go in through the API, and every report is recomputed here in
plain Python from the generated list and compared field by field.

Three apps in zones with daylight saving and odd offsets (New York, Kolkata +05:30, Chatham +12:45),
events at 23:59:59 and 00:00:00 local, quiet days with no events, duplicate eventIds (in one batch and
across batches), missing userIds and anonymous ids, events outside the range.
"""

import csv
import io
import json
import random
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from apikeys import services
from reports.tests.conftest import USER_AGENTS

RANGE_START, RANGE_END = date(2024, 3, 1), date(2024, 4, 14)  # US DST starts 03-10, Chatham's ends 04-07
APPS = [("New York shop", "America/New_York"), ("Kolkata app", "Asia/Kolkata"), ("Chatham site", "Pacific/Chatham")]
EVENTS_PER_APP = 1000
NAMES = {"page_view": 50, "click": 20, "signup": 10, "purchase": 8, "search": 12}
PATHS = [f"/p{n}" for n in range(15)]
REFERRER_HOSTS = ["www.google.com", "t.co", "news.example", "blog.example", "mail.example", "b.example"]
COUNTRY = ""  # no GeoIP database in tests: every event's country is empty


@dataclass
class Stored:
    """One event as the server should store it, in the oracle's own terms."""

    event_id: str | None
    name: str
    distinct: object
    user_id: str
    moment: datetime
    device: str
    browser: str
    os: str
    path: str
    referrer_host: str
    utm_source: str
    url: str
    metadata: dict = field(default_factory=dict)


@dataclass
class GeneratedApp:
    name: str
    tz: ZoneInfo
    payloads: list[dict]  # what is sent, duplicates included
    stored: list[Stored]  # what should be stored: one per eventId
    quiet_days: set[date]


def _local(day: date, clock: time, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, clock, tzinfo=tz)


def _generate(seed: int, app_name: str, zone: str) -> GeneratedApp:
    rng = random.Random(seed)
    tz = ZoneInfo(zone)
    days = [RANGE_START + timedelta(days=n) for n in range(-2, (RANGE_END - RANGE_START).days + 3)]
    quiet = set(rng.sample(days[3:-3], 3))
    busy = [day for day in days if day not in quiet]
    edge_days = rng.sample(busy, 12)
    users = [f"user{n}" for n in range(60)]
    anonymous = [f"anon{n}" for n in range(40)]
    payloads, stored = [], []
    for index in range(EVENTS_PER_APP):
        if index < 2 * len(edge_days):
            # Last second of a local day and first second of the next: must land on their own days.
            day = edge_days[index // 2]
            moment = _local(day, time(23, 59, 59), tz) if index % 2 else _local(day, time(0, 0, 0), tz)
        else:
            day = rng.choice(busy)
            moment = _local(day, time(0), tz) + timedelta(seconds=rng.randrange(86400))
            if moment.astimezone(tz).date() in quiet:  # a long day could run onto a quiet one
                continue
        payload: dict = {"event": rng.choices(list(NAMES), weights=list(NAMES.values()))[0]}
        # Both spellings of a timestamp: ISO 8601 with the local offset, and epoch milliseconds.
        payload["timestamp"] = moment.isoformat() if rng.random() < 0.5 else int(moment.timestamp() * 1000)
        user_agent = rng.choice(list(USER_AGENTS))
        if user_agent:
            payload["userAgent"] = user_agent
        device, browser, os_name = USER_AGENTS[user_agent]
        if rng.random() < 0.1:
            payload["device"] = device = "tablet"
        roll = rng.random()
        user_id = ""
        if roll < 0.6:
            payload["userId"] = user_id = rng.choice(users)
            distinct = user_id
            if rng.random() < 0.2:
                payload["anonymousId"] = rng.choice(anonymous)
        elif roll < 0.85:
            payload["anonymousId"] = distinct = rng.choice(anonymous)
        else:
            # No id at all: the server's visitor hash of IP and user agent, the same for one client today.
            distinct = ("visitor", user_agent)
        path, utm = "", ""
        if rng.random() < 0.8:
            path = rng.choice(PATHS)
            utm = rng.choice(["", "", "newsletter", "ads"])
            payload["url"] = f"https://shop.example{path}" + (f"?utm_source={utm}&x=1" if utm else "")
        referrer_host = ""
        if rng.random() < 0.5:
            referrer_host = rng.choice(REFERRER_HOSTS)
            payload["referrer"] = f"https://{referrer_host}/from/{rng.randrange(5)}"
        metadata = rng.choice([{}, {}, {"plan": "free"}, {"plan": "pro"}, {"plan": 3}, {"plan": True}, {"x": 1}])
        if metadata or rng.random() < 0.5:
            payload["metadata"] = metadata
        event_id = None
        if rng.random() < 0.9:
            payload["eventId"] = event_id = str(uuid.uuid4())
        payloads.append(payload)
        stored.append(
            Stored(
                event_id=event_id,
                name=payload["event"],
                distinct=distinct,
                user_id=user_id,
                moment=moment.astimezone(UTC),
                device=device,
                browser=browser,
                os=os_name,
                path=path,
                referrer_host=referrer_host,
                utm_source=utm,
                url=payload.get("url", ""),
                metadata=metadata,
            )
        )
    # Retries: some events are sent again, later in the stream and so in the same or a later batch.
    with_ids = [payload for payload in payloads if "eventId" in payload]
    for duplicate in rng.sample(with_ids, 60):
        payloads.insert(rng.randrange(payloads.index(duplicate) + 1, len(payloads) + 1), dict(duplicate))
    return GeneratedApp(app_name, tz, payloads, stored, quiet)


GENERATED = [_generate(seed, name, zone) for seed, (name, zone) in enumerate(APPS)]


@pytest.fixture
def apps(db, send):
    registered = []
    for generated in GENERATED:
        app = services.app_register(name=generated.name, owner_email="o@example.com", timezone_name=generated.tz.key)
        send(app, generated.payloads)
        registered.append((app, generated))
    return registered


# The oracle ------------------------------------------------------------------------------------


def _window(tz: ZoneInfo, first: date = RANGE_START, last: date = RANGE_END) -> tuple[datetime, datetime]:
    return _local(first, time(0), tz), _local(last + timedelta(days=1), time(0), tz)


def _in(stored: list[Stored], window, event: str | None = None) -> list[Stored]:
    start, end = window
    return [s for s in stored if start <= s.moment < end and (event is None or s.name == event)]


def _top(rows: list[tuple[object, object]], limit: int, with_users: bool) -> list[dict]:
    """rows: (value, distinct) per event. Ranked by count, then value; null last."""
    counts, users = Counter(), defaultdict(set)
    for value, distinct in rows:
        counts[value] += 1
        users[value].add(distinct)
    ranked = sorted(counts, key=lambda value: (-counts[value], value is None, value or ""))[:limit]
    if with_users:
        return [{"value": value, "count": counts[value], "uniqueUsers": len(users[value])} for value in ranked]
    return [{"value": value, "count": counts[value]} for value in ranked]


def _summary(events: list[Stored], event: str | None) -> dict:
    devices = Counter(s.device or "unknown" for s in events)
    breakdown = None
    if event is None:
        breakdown = [
            {"event": row["value"], "count": row["count"]} for row in _top([(s.name, 0) for s in events], 100, False)
        ]
    return {
        "event": event,
        "count": len(events),
        "uniqueUsers": len({s.distinct for s in events}),
        "deviceData": dict(sorted(devices.items())),
        "eventBreakdown": breakdown,
        "topReferrers": _top([(s.referrer_host, 0) for s in events if s.referrer_host], 10, False),
        "browsers": _top([(s.browser or None, 0) for s in events], 10, False),
        "os": _top([(s.os or None, 0) for s in events], 10, False),
    }


def _days(first: date, last: date):
    day = first
    while day <= last:
        yield day
        day += timedelta(days=1)


def _daily(events: list[Stored], tz: ZoneInfo, first: date = RANGE_START, last: date = RANGE_END) -> list[dict]:
    per_day = defaultdict(list)
    for s in events:
        per_day[s.moment.astimezone(tz).date()].append(s.distinct)
    return [
        {"date": day.isoformat(), "count": len(per_day[day]), "uniqueUsers": len(set(per_day[day]))}
        for day in _days(first, last)
    ]


def _period_start(day: date, interval: str) -> date:
    if interval == "week":
        return day - timedelta(days=day.weekday())
    if interval == "month":
        return day.replace(day=1)
    return day


def _series(events: list[Stored], tz: ZoneInfo, interval: str, window) -> dict:
    buckets = defaultdict(list)
    labels = []
    if interval == "hour":

        def label(moment: datetime) -> str:
            return moment.astimezone(tz).replace(minute=0, second=0, microsecond=0).isoformat()

        moment = window[0].astimezone(UTC)  # steps of real time: wall-clock steps would visit skipped hours
        while moment < window[1]:
            if label(moment) not in labels:
                labels.append(label(moment))
            moment += timedelta(minutes=15)
    else:

        def label(moment: datetime) -> str:
            return _local(_period_start(moment.astimezone(tz).date(), interval), time(0), tz).isoformat()

        for day in _days(window[0].astimezone(tz).date(), (window[1] - timedelta(seconds=1)).astimezone(tz).date()):
            start = _local(day, time(0), tz)
            if label(start) not in labels:
                labels.append(label(start))
    for s in events:
        buckets[label(s.moment)].append(s.distinct)
    points = [{"t": t, "count": len(buckets[t]), "uniqueUsers": len(set(buckets[t]))} for t in labels]
    return {"interval": interval, "points": points}


def _metadata_text(value) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


BREAKDOWN = {
    "event": lambda s: s.name,
    "device": lambda s: s.device or None,
    "browser": lambda s: s.browser or None,
    "os": lambda s: s.os or None,
    "referrer": lambda s: s.referrer_host or None,
    "path": lambda s: s.path or None,
    "host": lambda s: "shop.example" if s.path else None,
    "utm_source": lambda s: s.utm_source or None,
    "country": lambda s: COUNTRY or None,
    "metadata.plan": lambda s: _metadata_text(s.metadata.get("plan")),
    "metadata.x": lambda s: _metadata_text(s.metadata.get("x")),
    "source": lambda s: "api",
}


def _active(stored: list[Stored], tz: ZoneInfo, event: str | None = None) -> dict:
    end = _local(RANGE_END + timedelta(days=1), time(0), tz)

    def users(days: int) -> int:
        start = _local(RANGE_END + timedelta(days=1 - days), time(0), tz)
        return len({s.distinct for s in _in(stored, (start, end), event)})

    series = _daily(_in(stored, _window(tz), event), tz)
    return {
        "dau": users(1),
        "wau": users(7),
        "mau": users(30),
        "asOf": RANGE_END.isoformat(),
        "series": [{"date": row["date"], "activeUsers": row["uniqueUsers"]} for row in series],
    }


RANGE = {"startDate": RANGE_START.isoformat(), "endDate": RANGE_END.isoformat()}


# The comparisons ------------------------------------------------------------------------------


def test_the_generated_data_covers_what_the_oracle_must_handle():
    for generated in GENERATED:
        assert len(generated.payloads) - len(generated.stored) == 60  # retried events
        assert any(s.event_id is None for s in generated.stored)
        assert any(isinstance(s.distinct, tuple) for s in generated.stored)  # no userId nor anonymousId
        assert generated.quiet_days <= set(_days(RANGE_START, RANGE_END))
        local_times = {s.moment.astimezone(generated.tz).time() for s in generated.stored}
        assert {time(23, 59, 59), time(0, 0, 0)} <= local_times
        assert len(_in(generated.stored, _window(generated.tz))) < len(generated.stored)  # some outside the range


def test_event_summary_matches_the_oracle_with_and_without_an_event(apps, report):
    for app, generated in apps:
        events = _in(generated.stored, _window(generated.tz))
        assert report(app, "event-summary", **RANGE).json() == _summary(events, None)
        purchases = _in(generated.stored, _window(generated.tz), "purchase")
        assert report(app, "event-summary", event="purchase", **RANGE).json() == _summary(purchases, "purchase")


def test_daily_stats_match_the_oracle_day_by_day_in_the_apps_zone(apps, report):
    for app, generated in apps:
        expected = _daily(_in(generated.stored, _window(generated.tz)), generated.tz)
        assert report(app, "daily-stats", **RANGE).json() == expected
        assert len(expected) == (RANGE_END - RANGE_START).days + 1


def test_daily_stats_in_another_zone_given_by_tz(apps, report):
    app, generated = apps[1]
    zone = ZoneInfo("America/Los_Angeles")
    expected = _daily(_in(generated.stored, _window(zone)), zone)
    assert report(app, "daily-stats", tz="America/Los_Angeles", **RANGE).json() == expected


@pytest.mark.parametrize("interval", ["day", "week", "month"])
def test_timeseries_matches_the_oracle(apps, report, interval):
    for app, generated in apps:
        window = _window(generated.tz)
        expected = _series(_in(generated.stored, window), generated.tz, interval, window)
        assert report(app, "timeseries", interval=interval, **RANGE).json() == expected


def test_hourly_timeseries_matches_the_oracle(apps, report):
    # New York springs forward on 2024-03-10, so its three days have 71 hours.
    ranges = [
        (date(2024, 3, 9), date(2024, 3, 11)),
        (date(2024, 3, 4), date(2024, 3, 5)),
        (date(2024, 3, 20), date(2024, 3, 21)),
    ]
    hours = []
    for (app, generated), (first, last) in zip(apps, ranges, strict=True):
        window = _window(generated.tz, first, last)
        expected = _series(_in(generated.stored, window), generated.tz, "hour", window)
        params = {"startDate": first.isoformat(), "endDate": last.isoformat(), "interval": "hour"}
        assert report(app, "timeseries", **params).json() == expected
        hours.append(len(expected["points"]))
    assert hours == [71, 48, 48]


def test_top_pages_and_referrers_match_the_oracle(apps, report):
    for app, generated in apps:
        events = _in(generated.stored, _window(generated.tz))
        for limit in (3, 10, 100):
            pages = _top([(s.path, s.distinct) for s in events if s.path], limit, True)
            assert report(app, "top-pages", limit=limit, **RANGE).json() == pages
            referrers = _top([(s.referrer_host, s.distinct) for s in events if s.referrer_host], limit, True)
            assert report(app, "top-referrers", limit=limit, **RANGE).json() == referrers


@pytest.mark.parametrize("by", list(BREAKDOWN))
def test_breakdowns_match_the_oracle(apps, report, by):
    for app, generated in apps:
        events = _in(generated.stored, _window(generated.tz))
        expected = {"by": by, "values": _top([(BREAKDOWN[by](s), s.distinct) for s in events], 100, True)}
        assert report(app, "breakdown", by=by, limit=100, **RANGE).json() == expected
        clicks = [s for s in events if s.name == "click"]
        expected = {"by": by, "values": _top([(BREAKDOWN[by](s), s.distinct) for s in clicks], 4, True)}
        assert report(app, "breakdown", by=by, limit=4, event="click", **RANGE).json() == expected


def test_active_users_match_the_oracle(apps, report):
    for app, generated in apps:
        assert report(app, "active-users", **RANGE).json() == _active(generated.stored, generated.tz)
        assert report(app, "active-users", event="signup", **RANGE).json() == _active(
            generated.stored, generated.tz, "signup"
        )


def test_user_stats_match_the_oracle(apps, report):
    for app, generated in apps:
        for user_id in ("user0", "user7", "user33"):
            # A user is a distinct id: the events sent with this userId, whatever their anonymousId.
            mine = sorted((s for s in generated.stored if s.distinct == user_id), key=lambda s: s.moment, reverse=True)
            body = report(app, "user-stats", userId=user_id).json()
            latest = mine[0]
            # Every generated user agent names a browser: the latest with one is the latest with a user agent.
            with_agent = next((s for s in mine if s.browser), None)
            assert body == {
                "userId": user_id,
                "totalEvents": len(mine),
                "firstSeen": mine[-1].moment.isoformat().replace("+00:00", "Z"),
                "lastSeen": latest.moment.isoformat().replace("+00:00", "Z"),
                "deviceDetails": {"browser": with_agent.browser, "os": with_agent.os}
                if with_agent
                else {
                    "browser": "",
                    "os": "",
                },
                "devices": dict(sorted(Counter(s.device or "unknown" for s in mine).items())),
                "ipAddress": "127.0.0.1",
                "recentEvents": [
                    {
                        "eventId": body["recentEvents"][n]["eventId"] if s.event_id is None else s.event_id,
                        "event": s.name,
                        "timestamp": s.moment.isoformat().replace("+00:00", "Z"),
                        "url": s.url,
                        "metadata": s.metadata,
                    }
                    for n, s in enumerate(mine[:10])
                ],
                # No identify or alias among the generated events: every id is a person of its own.
                "distinctIds": [user_id],
                "properties": {},
            }


@pytest.mark.parametrize("export_format", ["csv", "ndjson"])
def test_export_has_every_event_of_the_range_once_in_time_order(apps, client_for, export_format):
    for app, generated in apps:
        response = client_for(app.secret_key.raw).get("/api/analytics/export", {"format": export_format, **RANGE})
        body = b"".join(response.streaming_content).decode()
        if export_format == "csv":
            rows = list(csv.DictReader(io.StringIO(body)))
        else:
            rows = [json.loads(line) for line in body.splitlines()]
        expected = sorted(_in(generated.stored, _window(generated.tz)), key=lambda s: s.moment)
        assert [datetime.fromisoformat(row["timestamp"]) for row in rows] == [s.moment for s in expected]
        assert len(rows) == len(expected)
        assert len({row["eventId"] for row in rows}) == len(rows)
        assert {s.event_id for s in expected if s.event_id} <= {row["eventId"] for row in rows}
        assert Counter((row["event"], row["path"], row["deviceType"], row["browser"]) for row in rows) == Counter(
            (s.name, s.path, s.device, s.browser) for s in expected
        )
        metadata = [row["metadata"] if export_format == "ndjson" else json.loads(row["metadata"]) for row in rows]
        assert Counter(json.dumps(m, sort_keys=True) for m in metadata) == Counter(
            json.dumps(s.metadata, sort_keys=True) for s in expected
        )


def test_a_range_without_events_gives_zeros_and_empty_lists_in_the_usual_shape(apps, report):
    for app, generated in apps:
        quiet_day = min(generated.quiet_days)  # no event that local day, some either side of it
        assert not _in(generated.stored, _window(generated.tz, quiet_day, quiet_day))
        quiet = quiet_day.isoformat()
        day = {"startDate": quiet, "endDate": quiet}
        assert report(app, "event-summary", **day).json() == {
            "event": None,
            "count": 0,
            "uniqueUsers": 0,
            "deviceData": {},
            "eventBreakdown": [],
            "topReferrers": [],
            "browsers": [],
            "os": [],
        }
        assert report(app, "event-summary", event="signup", **day).json()["eventBreakdown"] is None
        assert report(app, "breakdown", by="browser", **day).json() == {"by": "browser", "values": []}
        assert report(app, "breakdown", by="metadata.plan", **day).json() == {"by": "metadata.plan", "values": []}
        assert report(app, "top-pages", **day).json() == []
        assert report(app, "daily-stats", **day).json() == [{"date": quiet, "count": 0, "uniqueUsers": 0}]


# Each app's figures counted in a zone not its own, one with other daylight-saving dates.
OTHER_ZONES = {
    "America/New_York": "Asia/Kolkata",
    "Asia/Kolkata": "Pacific/Chatham",
    "Pacific/Chatham": "Europe/London",
}


def test_timeseries_and_top_lists_in_the_zone_given_by_tz_match_the_oracle(apps, report):
    for app, generated in apps:
        zone = ZoneInfo(OTHER_ZONES[generated.tz.key])
        window = _window(zone)
        events = _in(generated.stored, window)
        params = {"tz": zone.key, **RANGE}
        for interval in ("day", "week"):
            expected = _series(events, zone, interval, window)
            assert report(app, "timeseries", interval=interval, **params).json() == expected
        # London springs forward on 31 March: 71 hours.
        hours = _window(zone, date(2024, 3, 30), date(2024, 4, 1))
        hourly = _series(_in(generated.stored, hours), zone, "hour", hours)
        three_days = {"tz": zone.key, "startDate": "2024-03-30", "endDate": "2024-04-01"}
        assert report(app, "timeseries", interval="hour", **three_days).json() == hourly
        pages = _top([(s.path, s.distinct) for s in events if s.path], 10, True)
        assert report(app, "top-pages", **params).json() == pages
        referrers = _top([(s.referrer_host, s.distinct) for s in events if s.referrer_host], 10, True)
        assert report(app, "top-referrers", **params).json() == referrers
        # Not vacuous: the other zone's range holds other events, and puts some on other days.
        assert events != _in(generated.stored, _window(generated.tz))
        assert _daily(events, zone) != _daily(events, generated.tz)


def test_date_time_bounds_include_the_start_instant_and_exclude_the_end_instant(apps, report):
    for app, generated in apps:
        moments = sorted({s.moment for s in generated.stored})
        start = moments[len(moments) // 5]
        end = moments[len(moments) * 4 // 5]
        # The start without an offset (read in the app's zone), the end in UTC.
        wall_clock = start.astimezone(generated.tz).replace(tzinfo=None)
        assert wall_clock.replace(tzinfo=generated.tz).astimezone(UTC) == start  # not in a repeated hour
        params = {"startDate": wall_clock.isoformat(), "endDate": end.isoformat()}
        window = (start, end)
        events = _in(generated.stored, window)
        assert any(s.moment == start for s in events) and not any(s.moment == end for s in events)
        assert report(app, "event-summary", **params).json() == _summary(events, None)
        first, last = (
            start.astimezone(generated.tz).date(),
            (end - timedelta(seconds=1)).astimezone(generated.tz).date(),
        )
        assert report(app, "daily-stats", **params).json() == _daily(events, generated.tz, first, last)
        assert report(app, "timeseries", interval="day", **params).json() == _series(
            events, generated.tz, "day", window
        )
        pages = _top([(s.path, s.distinct) for s in events if s.path], 10, True)
        assert report(app, "top-pages", **params).json() == pages
