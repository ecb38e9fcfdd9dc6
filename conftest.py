from dataclasses import dataclass

import pytest
from django.core.cache import cache
from django.db import connection
from rest_framework.test import APIClient

from apikeys import services
from apikeys.keys import KeyKind
from events import buffer
from events.worker import IngestWorker
from organisations import services as organisation_services

pytest_plugins = ["analytics_project.testing", "clickhouse_store.testing"]


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Rate-limit counters and cached reports must not leak from one test into the next."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()


@pytest.fixture
def registered(db) -> services.RegisteredApp:
    return services.app_register(name="Acme web", owner_email="owner@acme.example", timezone_name="UTC")


@pytest.fixture
def other_app(db) -> services.RegisteredApp:
    return services.app_register(name="Other", owner_email="other@other.example")


@pytest.fixture
def secret_client(registered) -> APIClient:
    return _client_with(registered.secret_key.raw)


@pytest.fixture
def publishable_client(registered) -> APIClient:
    return _client_with(registered.publishable_key.raw)


@pytest.fixture
def make_key(registered):
    def make(kind=KeyKind.SECRET, **kwargs) -> services.IssuedKey:
        return services.api_key_create(app=registered.app, kind=kind, **kwargs)

    return make


def _client_with(raw_key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=raw_key)
    return client


@pytest.fixture
def client_for():
    return _client_with


@dataclass
class Person:
    """A signed-up person with a personal key, and an API client that sends it."""

    user: object
    raw_key: str
    client: APIClient


@pytest.fixture
def person(db, django_user_model):
    """person("ada", organisation=org, role="viewer"): a user, a member of ``organisation`` with ``role``
    when both are given, holding a personal key."""

    def make(username: str = "ada", *, organisation=None, role=None) -> Person:
        user = django_user_model.objects.create_user(username, f"{username}@example.com", "pw")
        if organisation is not None and role is not None:
            organisation_services.membership_add(organisation=organisation, user=user, role=role)
        issued = services.personal_key_create(user=user, name="test")
        return Person(user=user, raw_key=issued.raw, client=_client_with(issued.raw))

    return make


@pytest.fixture
def dead_redis(settings):
    """A real Redis client pointed at a port nothing listens on: what a Redis outage looks like."""
    settings.CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.2, "SOCKET_TIMEOUT": 0.2},
        }
    }
    return settings


@pytest.fixture
def ingest_buffer(settings, db):
    """INGEST_MODE=buffered for one test, and the Redis client its queue lives in. It needs PostgreSQL and
    the Redis cache, as in production: without them the test is skipped."""
    redis_cache = settings.CACHES["default"]["BACKEND"] == "django_redis.cache.RedisCache"
    if not (redis_cache and connection.vendor == "postgresql"):
        pytest.skip("buffered ingestion needs PostgreSQL and Redis (DATABASE_URL and REDIS_URL)")
    settings.INGEST_MODE = "buffered"
    return buffer.web_client()


@pytest.fixture
def drain(ingest_buffer):
    """Store everything queued, as `manage.py ingest_worker --until-empty` does."""
    return lambda: IngestWorker(ingest_buffer, consumer="test-worker").run(until_empty=True)
