import logging
import uuid

from django.core.cache import cache
from django.db import connection
from drf_spectacular.utils import OpenApiExample, extend_schema, inline_serializer
from rest_framework import serializers, viewsets
from rest_framework.permissions import AllowAny
from rest_framework.response import Response

from analytics_project.errors import DATABASE_RETRY_AFTER_SECONDS

logger = logging.getLogger(__name__)

HealthOutput = inline_serializer(
    "Health",
    {
        "status": serializers.ChoiceField(choices=["ok", "degraded", "unavailable"]),
        "database": serializers.ChoiceField(choices=["ok", "unavailable"]),
        "cache": serializers.ChoiceField(choices=["ok", "unavailable"]),
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


class HealthViewSet(viewsets.ViewSet):
    authentication_classes = []
    permission_classes = [AllowAny]

    @extend_schema(
        summary="Health check",
        description="200 while the database answers (status `degraded` if only the cache is down); "
        "503 when the database is unreachable.",
        responses={200: HealthOutput, 503: HealthOutput},
        auth=[],
        examples=[
            OpenApiExample("Healthy", value={"status": "ok", "database": "ok", "cache": "ok"}, response_only=True),
            OpenApiExample(
                "Database down",
                value={"status": "unavailable", "database": "unavailable", "cache": "ok"},
                response_only=True,
                status_codes=["503"],
            ),
        ],
    )
    def list(self, request):
        database, cache_ok = _database_ok(), _cache_ok()
        status = "ok" if database and cache_ok else "degraded" if database else "unavailable"
        body = {"status": status, "database": _word(database), "cache": _word(cache_ok)}
        if database:
            return Response(body)
        return Response(body, status=503, headers={"Retry-After": str(DATABASE_RETRY_AFTER_SECONDS)})


def _word(ok: bool) -> str:
    return "ok" if ok else "unavailable"
