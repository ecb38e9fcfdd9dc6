"""The events table's columns as the benchmarks load them, and the row collect stores for the event
the ingestion benchmark sends.

Both ceilings of bench/ingest.py write this same row: the bare insert view (bench/urls.py) with one
INSERT, and the raw COPY; collect derives the same values from the event and its request.
"""

import uuid

from events.models import Event

USER_AGENT = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"
)
EVENT = {"event": "page_view", "userId": "bench-user", "url": "https://shop.example/pricing?utm_source=bench"}

# Every column but the id, in the model's order: what the benchmarks' COPYs write and stored_row returns.
COLUMNS = tuple(field.column for field in Event._meta.concrete_fields if not field.primary_key)


def stored_row(app_id, now, event: dict = EVENT) -> tuple:
    """What collect stores for ``event`` sent from 127.0.0.1 with USER_AGENT, in COLUMNS order."""
    user = event.get("userId", "")
    return (
        app_id,
        uuid.uuid4(),
        event["event"],
        user,
        user,
        "",
        "",
        now,
        now,
        event.get("url", ""),
        "shop.example",
        "/pricing",
        "",
        "",
        "bench",
        "",
        "",
        "",
        "",
        "desktop",
        "Chrome",
        "Windows",
        "",
        "",
        "",
        "127.0.0.1",
        USER_AGENT,
        "{}",
        "api",
    )
