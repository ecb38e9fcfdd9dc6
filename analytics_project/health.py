import logging
import uuid
from dataclasses import asdict

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from drf_spectacular.utils import OpenApiExample, extend_schema, inline_serializer
from rest_framework import serializers, viewsets
from rest_framework.permissions import AllowAny
from rest_framework.response import Response

from analytics_project.errors import DATABASE_RETRY_AFTER_SECONDS
from clickhouse_store import client as clickhouse_client
from events import buffer

logger = logging.getLogger(__name__)
# Short: a load balancer's probe should hear "down" before it gives up waiting itself.
CLICKHOUSE_TIMEOUT_SECONDS = 2

IngestHealth = inline_serializer(
    "IngestHealth",
    {
        "mode": serializers.ChoiceField(choices=["direct", "buffered"]),
        "status": serializers.ChoiceField(
            choices=["ok", "lagging", "unavailable"], required=False, help_text="Buffered mode only."
        ),
        "length": serializers.IntegerField(required=False, help_text="Requests queued and not yet stored."),
        "pending": serializers.IntegerField(required=False, help_text="Queued requests a worker holds."),
        "oldest_age_seconds": serializers.FloatField(required=False, help_text="The lag: the oldest one's age."),
        "dead_letters": serializers.IntegerField(required=False),
        "workers_seen": serializers.IntegerField(required=False, help_text="Workers that read in the last minute."),
    },
)

HealthOutput = inline_serializer(
    "Health",
    {
        "status": serializers.ChoiceField(choices=["ok", "degraded", "unavailable"]),
        "database": serializers.ChoiceField(choices=["ok", "unavailable"]),
        "clickhouse": serializers.ChoiceField(
            choices=["ok", "unavailable"], required=False, help_text="ANALYTICS_STORE=clickhouse only."
        ),
        "cache": serializers.ChoiceField(choices=["ok", "unavailable"]),
        "ingest": IngestHealth,
    },
)


def _database_ok() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return True
    except Exception as exc:  # any driver error means "not usable", which is what we report
        logger.warning("health: database check failed (%s)", exc.__class__.__name__)
        return False


def _clickhouse_ok() -> bool:
    """The event store, in ClickHouse mode: reports read nothing else, so it counts as the database does."""
    ok = clickhouse_client.reachable(settings.CLICKHOUSE_URL, timeout=CLICKHOUSE_TIMEOUT_SECONDS)
    if not ok:
        logger.warning("health: ClickHouse check failed")
    return ok


def _cache_ok() -> bool:
    # A key of its own per probe: with one shared key, a concurrent probe's write between this set and get
    # would read as a wrong value and report a healthy cache as down.
    key = f"health-probe:{uuid.uuid4().hex}"
    try:
        cache.set(key, "ok", timeout=10)
        return cache.get(key) == "ok"
    except Exception as exc:  # any cache client error
        logger.warning("health: cache check failed (%s)", exc.__class__.__name__)
        return False


def _ingest() -> dict:
    """Direct mode has no queue to report on: just the mode. Buffered, the queue's figures, read from
    Redis; a lag past INGEST_LAG_DEGRADED_SECONDS means the workers are stopped or too few."""
    if settings.INGEST_MODE != "buffered":
        return {"mode": "direct"}
    try:
        figures = buffer.buffer_status(buffer.web_client())
    except Exception as exc:  # any Redis client error: collect stores directly meanwhile
        logger.warning("health: ingest buffer check failed (%s)", exc.__class__.__name__)
        return {"mode": "buffered", "status": "unavailable"}
    lagging = figures.oldest_age_seconds > settings.INGEST_LAG_DEGRADED_SECONDS
    return {"mode": "buffered", "status": "lagging" if lagging else "ok", **asdict(figures)}


class HealthViewSet(viewsets.ViewSet):
    authentication_classes = []
    permission_classes = [AllowAny]

    @extend_schema(
        summary="Health check",
        description="200 while the database (and, with ANALYTICS_STORE=clickhouse, ClickHouse) answers: "
        "status `degraded` if the cache is down or, with "
        "INGEST_MODE=buffered, the ingestion queue is unreachable or its oldest entry older than "
        "INGEST_LAG_DEGRADED_SECONDS; 503 when the database or ClickHouse is unreachable. `ingest` is just the mode in "
        "direct mode, the queue's figures in buffered mode.",
        responses={200: HealthOutput, 503: HealthOutput},
        auth=[],
        examples=[
            OpenApiExample(
                "Healthy",
                value={"status": "ok", "database": "ok", "cache": "ok", "ingest": {"mode": "direct"}},
                response_only=True,
            ),
            OpenApiExample(
                "Buffered, workers behind",
                value={
                    "status": "degraded",
                    "database": "ok",
                    "cache": "ok",
                    "ingest": {
                        "mode": "buffered",
                        "status": "lagging",
                        "length": 5210,
                        "pending": 12,
                        "oldest_age_seconds": 48.2,
                        "dead_letters": 0,
                        "workers_seen": 1,
                    },
                },
                response_only=True,
            ),
            OpenApiExample(
                "Database down",
                value={"status": "unavailable", "database": "unavailable", "cache": "ok", "ingest": {"mode": "direct"}},
                response_only=True,
                status_codes=["503"],
            ),
        ],
    )
    def list(self, request):
        database, cache_ok, ingest = _database_ok(), _cache_ok(), _ingest()
        stores = {"database": database}
        if settings.ANALYTICS_STORE == "clickhouse":
            stores["clickhouse"] = _clickhouse_ok()
        up = all(stores.values())
        healthy = cache_ok and ingest.get("status", "ok") == "ok"
        status = "ok" if up and healthy else "degraded" if up else "unavailable"
        words = {name: _word(ok) for name, ok in stores.items()}
        body = {"status": status, **words, "cache": _word(cache_ok), "ingest": ingest}
        if up:
            return Response(body)
        return Response(body, status=503, headers={"Retry-After": str(DATABASE_RETRY_AFTER_SECONDS)})


def _word(ok: bool) -> str:
    return "ok" if ok else "unavailable"
