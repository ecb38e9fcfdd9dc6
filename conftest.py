import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from apikeys import services
from apikeys.keys import KeyKind

pytest_plugins = ["analytics_project.testing"]


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
