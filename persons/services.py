"""Recording persons from events on their way into the store, in the Django database and, when the
reports read ClickHouse, in its copy of the id mappings."""

import uuid
from collections.abc import Iterable, Sequence

from clickhouse_store.client import client
from events import store
from events.models import Event
from persons import identity, mirror


def persons_record(rows: Iterable[Sequence], *, clickhouse: bool = False, replaying: bool = False) -> None:
    """Link ids and set properties as the rows (events.store.COLUMNS order) ask, and with
    ``clickhouse`` copy the mappings that changed there. Before the rows are stored, so a retried flush
    records again (linking is idempotent); but not for an event the store already has, so an SDK's
    retry of an old event cannot set its old traits over newer ones, unless ``replaying`` stored
    events on purpose (persons_rebuild)."""
    changes = identity.changes_in(rows)
    if not changes:
        return
    if not replaying:
        stored = _stored_event_ids(changes, clickhouse=clickhouse)
        changes = [change for change in changes if _key(change.app_id, change.event_id) not in stored]
    mappings = identity.record(changes)
    if mappings and clickhouse:
        mirror.write(mappings)


def _key(app_id, event_id) -> tuple[uuid.UUID, uuid.UUID]:
    return uuid.UUID(str(app_id)), uuid.UUID(str(event_id))


def _stored_event_ids(changes: list[identity.Change], *, clickhouse: bool) -> set[tuple[uuid.UUID, uuid.UUID]]:
    """Which of the changes' events the store already holds: one query per app."""
    by_app: dict[uuid.UUID, list[uuid.UUID]] = {}
    for change in changes:
        app_id, event_id = _key(change.app_id, change.event_id)
        by_app.setdefault(app_id, []).append(event_id)
    stored = set()
    for app_id, event_ids in by_app.items():
        if clickhouse:
            store = client()
            found = store.execute(
                f"SELECT event_id FROM {store.database}.event_ids WHERE app_id = %(app)s AND event_id IN %(ids)s",  # noqa: S608
                {"app": app_id, "ids": tuple(event_ids)},
            )
            found = [event_id for (event_id,) in found]
        else:
            found = Event.objects.filter(app_id=app_id, event_id__in=event_ids).values_list("event_id", flat=True)
        stored.update((app_id, event_id) for event_id in found)
    return stored


def persons_record_copy_text(text: str, *, clickhouse: bool) -> None:
    """As persons_record, for the ingestion buffer's COPY text: only the lines that may ask are parsed."""
    rows = (store.copy_line_row(line) for line in store.copy_lines(text) if identity.may_change(line))
    persons_record(rows, clickhouse=clickhouse)
