import random
import uuid
from datetime import UTC, datetime

import pytest

from events.tests.sites import Site

COLLECT = "/api/analytics/collect"
IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1"
)
WINDOWS_CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"
)

# 900 random CJK characters: 2,701 bytes of UTF-8 in a path, under the 2,048-character URL limit and over
# what a PostgreSQL B-tree entry holds (2,704 bytes with the entry's other columns). Random, so
# PostgreSQL cannot compress the entry under its limit.
_RANDOM = random.Random(900)
UNINDEXABLE_PATH = "/" + "".join(chr(_RANDOM.randint(0x4E00, 0x9FFF)) for _ in range(900))
UNINDEXABLE_URL = "https://shop.example" + UNINDEXABLE_PATH


def make_event(**fields) -> dict:
    return {"event": "page_view", "eventId": str(uuid.uuid4()), "userId": "u1", **fields}


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


@pytest.fixture
def collect(client_for, registered):
    """POST to collect with the registered app's secret key (or another key)."""

    def post(body, *, key=None, **extra):
        client = client_for(key or registered.secret_key.raw)
        return client.post(COLLECT, body, format="json", **extra)

    return post


@pytest.fixture(scope="module")
def site():
    site = Site()
    site.thread.start()
    yield site
    site.server.shutdown()
    site.server.server_close()
