import uuid
from datetime import UTC, datetime

import pytest

COLLECT = "/api/analytics/collect"
IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1"
)
WINDOWS_CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"
)


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
