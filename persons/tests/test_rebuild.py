"""manage.py persons_rebuild: the persons of events stored before persons were recorded, on either store."""

import io
import uuid
from datetime import UTC, datetime, timedelta

from django.core.management import call_command

from clickhouse_store import rows
from events.models import Event
from persons import mirror
from persons.models import Person, PersonDistinctId

START = datetime(2025, 3, 1, tzinfo=UTC)
HISTORY = [
    {"name": "pageview", "anonymous_id": "anon-1", "distinct_id": "anon-1", "metadata": {"$set": {"ref": "ad"}}},
    {"name": "identify", "user_id": "u1", "anonymous_id": "anon-1", "distinct_id": "u1", "metadata": {"plan": "pro"}},
    {"name": "signup", "user_id": "u1", "distinct_id": "u1", "metadata": {}},
    {"name": "identify", "user_id": "u2", "anonymous_id": "anon-2", "distinct_id": "u2", "metadata": {}},
    {"name": "alias", "user_id": "u1", "distinct_id": "u1", "metadata": {"previousId": "u2"}},
]


def stored(app) -> list[Event]:
    """The history as rows written before persons existed: no mappings were recorded for them."""
    return [
        Event(app=app, event_id=uuid.uuid4(), timestamp=START + timedelta(minutes=n), **fields)
        for n, fields in enumerate(HISTORY)
    ]


def rebuild() -> str:
    output = io.StringIO()
    call_command("persons_rebuild", stdout=output)
    return output.getvalue()


def linked(app) -> dict[str, str]:
    return dict(PersonDistinctId.objects.filter(app=app).values_list("distinct_id", "person_key"))


EXPECTED = {"anon-1": "anon-1", "u1": "anon-1", "anon-2": "anon-1", "u2": "anon-1"}


def test_persons_are_rebuilt_from_the_django_databases_events_once(registered, other_app):
    Event.objects.bulk_create([*stored(registered.app), *stored(other_app.app)])
    assert "read 8 " in rebuild()  # the signups ask nothing
    assert linked(registered.app) == linked(other_app.app) == EXPECTED
    assert Person.objects.get(app=registered.app).properties == {"ref": "ad", "plan": "pro"}
    versions = list(PersonDistinctId.objects.values_list("distinct_id", "version").order_by("id"))
    rebuild()
    assert list(PersonDistinctId.objects.values_list("distinct_id", "version").order_by("id")) == versions


def test_persons_are_rebuilt_from_clickhouse_and_copied_back_to_it(registered, clickhouse_settings):
    events = stored(registered.app)
    clickhouse_settings.insert(
        f"{clickhouse_settings.database}.events",
        rows.COLUMNS,
        [rows.from_event(event, seq=number) for number, event in enumerate(events, start=1)],
    )
    # What ClickHouse still holds from before the Django database's mappings were lost: a higher version.
    stale = [(registered.app.id, "anon-2", "someone-else", 50)]
    clickhouse_settings.insert(f"{clickhouse_settings.database}.person_ids", mirror.COLUMNS, stale)
    rebuild()
    assert linked(registered.app) == EXPECTED
    copied = clickhouse_settings.execute(
        "SELECT distinct_id, argMax(person_key, version) FROM person_ids GROUP BY distinct_id ORDER BY distinct_id"
    )
    assert dict(copied) == EXPECTED
