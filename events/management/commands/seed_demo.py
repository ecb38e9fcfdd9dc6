"""A realistic demo app: visitors in sessions, page views from referrers and campaigns, a sign-up
funnel that converts partially, and returning users whose retention decays week by week.

Events go through events_ingest, the same service the API uses, so they are validated and enriched
exactly like real traffic.
"""

import random
import uuid
from datetime import timedelta

from django.core.management.base import BaseCommand
from django.db import connection, reset_queries
from django.utils import timezone

from apikeys import services as app_services
from apikeys.models import App
from events.models import Event, EventSource
from events.services import RequestFacts, events_ingest

PAGES = ["/", "/pricing", "/features", "/blog/launch", "/blog/guide", "/docs", "/about", "/contact"]
PAGE_WEIGHTS = [30, 15, 12, 8, 6, 14, 3, 2]
REFERRERS = [
    ("", 40),
    ("https://www.google.com/", 30),
    ("https://news.ycombinator.com/", 8),
    ("https://twitter.com/", 7),
    ("https://www.reddit.com/r/analytics/", 5),
    ("https://duckduckgo.com/", 10),
]
CAMPAIGNS = [
    None,
    None,
    None,
    ("newsletter", "email", "november"),
    ("google", "cpc", "brand"),
    ("twitter", "social", "launch"),
]
AGENTS = [
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",  # noqa: E501
        35,
    ),
    (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Safari/605.1.15",  # noqa: E501
        15,
    ),
    (
        "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0",
        8,
    ),
    (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1",  # noqa: E501
        22,
    ),
    (
        "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36",  # noqa: E501
        15,
    ),
    (
        "Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/16.6 Mobile/15E148 Safari/604.1",  # noqa: E501
        5,
    ),
]
FUNNEL = [("view_pricing", 0.45), ("signup_started", 0.55), ("signup_completed", 0.6), ("purchase", 0.35)]
BATCH = 1000


def _pick(weighted):
    values, weights = zip(*weighted, strict=True)
    return random.choices(values, weights)[0]


class Command(BaseCommand):
    help = "Create (or top up) a demo app with realistic traffic. Prints the demo app's keys when it creates it."

    def add_arguments(self, parser):
        parser.add_argument("--events", type=int, default=20_000, help="About how many events to create.")
        parser.add_argument("--days", type=int, default=60, help="Spread over this many past days.")
        parser.add_argument("--app-name", default="Demo shop")
        parser.add_argument("--seed", type=int, help="Random seed, for repeatable data.")

    def handle(self, *args, events, days, app_name, seed, **options):
        if seed is not None:
            random.seed(seed)
        app = App.objects.filter(name=app_name).first()
        if app is None:
            registered = app_services.app_register(
                name=app_name, owner_email="demo@example.com", timezone_name="Europe/Berlin"
            )
            app = registered.app
            self.stdout.write(f"created app {app.id}\nsecret key: {registered.secret_key.raw}")
        api_key = (
            app.api_keys.filter(kind="secret", revoked_at__isnull=True).first()
            or app_services.api_key_create(app=app, kind="secret", name="seed_demo").api_key
        )
        facts = RequestFacts(
            api_key=api_key, ip="127.0.0.1", user_agent="", received_at=timezone.now(), source=EventSource.API
        )
        stored, pending = 0, []
        for event in self._traffic(events, days):
            pending.append(event)
            if len(pending) == BATCH:
                stored += events_ingest(raw_events=pending, facts=facts, measure_size=False).accepted
                pending = []
                reset_queries()  # with DEBUG on, Django keeps every query's SQL: 1M events held 1 GB
                if stored % 100_000 < BATCH:
                    self.stdout.write(f"  {stored:,} events")
        if pending:
            stored += events_ingest(raw_events=pending, facts=facts, measure_size=False).accepted
        if connection.vendor == "postgresql":
            # Fresh statistics, or reports plan as if the table were still empty: right after 1M
            # events a four-step funnel ran over 3 minutes before ANALYZE and 1.7 s after it.
            with connection.cursor() as cursor:
                cursor.execute(f"ANALYZE {connection.ops.quote_name(Event._meta.db_table)}")
        self.stdout.write(f"stored {stored:,} events in {app.name!r} ({app.id})")

    def _traffic(self, target: int, days: int):
        """Users arrive over the period; each comes back in later weeks with a decaying probability."""
        now = timezone.now()
        produced, user_number = 0, 0
        while produced < target:
            user_number += 1
            user = _Visitor(user_number, first_seen=now - timedelta(days=random.uniform(0, days)))
            week = 0
            while produced < target:
                for event in user.session(user.first_seen + timedelta(weeks=week, hours=random.uniform(0, 72))):
                    if event["timestamp"] < now.timestamp() * 1000:
                        yield event
                        produced += 1
                        if produced == target:
                            return
                week += 1
                # Retention decays: ~45% come back the next week, fewer each week after.
                if random.random() > 0.45 * (0.8**week):
                    break


class _Visitor:
    def __init__(self, number: int, first_seen):
        # One id for the visitor's whole life: distinctId does not merge an anonymous id with a userId
        # that appears later, so a sign-up that switched ids would break every funnel through it.
        self.anonymous_id = str(uuid.uuid4())
        self.number = number
        self.first_seen = first_seen
        self.agent = _pick(AGENTS)
        self.ip = f"10.{number // 65536 % 256}.{number // 256 % 256}.{number % 256}"
        self.funnel_step = 0

    def session(self, start):
        session_id = str(uuid.uuid4())
        referrer = _pick(REFERRERS)
        campaign = random.choice(CAMPAIGNS)
        moment = start
        for page_index in range(random.randint(1, 6)):
            path = random.choices(PAGES, PAGE_WEIGHTS)[0]
            query = ""
            if page_index == 0 and campaign:
                query = "?utm_source={}&utm_medium={}&utm_campaign={}".format(*campaign)
            yield self._event("pageview", moment, session_id, path + query, referrer if page_index == 0 else "")
            moment += timedelta(seconds=random.randint(5, 240))
        yield from self._funnel(moment, session_id)

    def _funnel(self, moment, session_id):
        # Each session may move the visitor one or more steps further down the sign-up funnel.
        while self.funnel_step < len(FUNNEL) and random.random() < FUNNEL[self.funnel_step][1]:
            name = FUNNEL[self.funnel_step][0]
            metadata = {"plan": random.choice(["starter", "pro", "team"])} if name == "purchase" else {}
            yield self._event(name, moment, session_id, "/signup" if "signup" in name else "/pricing", "", metadata)
            self.funnel_step += 1
            moment += timedelta(seconds=random.randint(20, 600))

    def _event(self, name, moment, session_id, path, referrer, metadata=None):
        event = {
            "event": name,
            "eventId": str(uuid.uuid4()),
            "anonymousId": self.anonymous_id,
            "sessionId": session_id,
            "url": f"https://demo-shop.example{path}",
            "referrer": referrer,
            "userAgent": self.agent,
            "ipAddress": self.ip,
            "timestamp": int(moment.timestamp() * 1000),
            "metadata": metadata or {},
        }
        return event
