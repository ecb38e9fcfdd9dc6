import pytest

from events import store
from events.tests.conftest import COLLECT, UNINDEXABLE_URL


@pytest.fixture
def queue_unstorable(ingest_buffer, secret_client, monkeypatch):
    """Queue one request holding an event the database will refuse; a flush makes it a dead letter."""
    monkeypatch.setattr(store, "MAX_INDEXED_TEXT_BYTES", 10**6)

    def queue(client=None, name: str = "unstorable") -> None:
        event = {"event": name, "userId": "u", "url": UNINDEXABLE_URL}
        response = (client or secret_client).post(COLLECT, event, format="json")
        assert response.status_code == 202, response.content

    return queue
