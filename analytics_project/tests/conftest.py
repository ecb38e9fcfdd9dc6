import random

import pytest
from django.db import connection

from events import buffer, store
from events.worker import IngestWorker

COLLECT = "/api/analytics/collect"

# A path of 900 random CJK characters, 2,701 bytes: more than a PostgreSQL B-tree entry holds, so with
# the collect-time budget lifted the database itself refuses the row, as it would a row queued by an
# older server. Random, so it does not compress under the limit.
_RANDOM = random.Random(900)
UNINDEXABLE_URL = "https://shop.example/" + "".join(chr(_RANDOM.randint(0x4E00, 0x9FFF)) for _ in range(900))


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


@pytest.fixture
def queue_unstorable(ingest_buffer, secret_client, monkeypatch):
    """Queue one request holding an event the database will refuse; a flush makes it a dead letter."""
    monkeypatch.setattr(store, "MAX_INDEXED_TEXT_BYTES", 10**6)

    def queue(client=None, name: str = "unstorable") -> None:
        event = {"event": name, "userId": "u", "url": UNINDEXABLE_URL}
        response = (client or secret_client).post(COLLECT, event, format="json")
        assert response.status_code == 202, response.content

    return queue
