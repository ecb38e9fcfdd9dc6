"""purge_events in ClickHouse mode, on the server and on chdb."""

import io
from datetime import UTC, datetime
from uuid import uuid4

import pytest
from django.core.management import call_command

from clickhouse_store import purge
from clickhouse_store.rows import COLUMNS, from_event
from events.generation import app_generation
from events.models import Event

# Two whole months before the cutoff (dropped as partitions), one day of the boundary month before it
# (deleted by a mutation), and two days after it.
DAYS = [
    datetime(2024, 11, 15, 12, tzinfo=UTC),
    datetime(2024, 12, 10, 12, tzinfo=UTC),
    datetime(2025, 1, 1, 12, tzinfo=UTC),
    datetime(2025, 1, 20, 12, tzinfo=UTC),
    datetime(2025, 2, 5, 12, tzinfo=UTC),
]
CUTOFF = "2025-01-15"


def run(*args) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


@pytest.fixture
def stored(clickhouse_settings, registered, other_app):
    """Each app's events on DAYS, in events and event_ids as the writer leaves them."""
    client = clickhouse_settings
    rows = [
        from_event(
            Event(
                app_id=app.app.id,
                event_id=uuid4(),
                name=f"{prefix}{day:%Y%m%d}",
                timestamp=day,
            ),
            seq=1000 * number + index,
        )
        for number, (app, prefix) in enumerate([(registered, "d"), (other_app, "o")])
        for index, day in enumerate(DAYS)
    ]
    client.insert("event_ids", ("app_id", "event_id", "seq"), [(r[0], r[1], r[-1]) for r in rows])
    client.insert("events", COLUMNS, rows)
    return client


def names(client) -> list[str]:
    return [name for (name,) in client.execute("SELECT name FROM events ORDER BY name")]


def ids(client) -> int:
    return client.execute("SELECT count() FROM event_ids")[0][0]


def partitions(client) -> list[str]:
    found = client.execute(
        "SELECT DISTINCT partition FROM system.parts WHERE database = %(database)s AND table = 'events' AND active",
        {"database": client.database},
    )
    return sorted(partition for (partition,) in found)


def test_a_dry_run_counts_what_clickhouse_holds_and_changes_nothing(stored):
    output = run("purge_events", "--before", CUTOFF)
    assert "would delete 6 events" in output and "Dry run" in output
    assert len(names(stored)) == 10 and ids(stored) == 10


def test_purge_drops_the_old_months_and_deletes_the_boundary_months_rows_and_their_ids(stored, registered, other_app):
    generations = app_generation(registered.app.id), app_generation(other_app.app.id)
    output = run("purge_events", "--before", CUTOFF, "--yes")
    assert "deleted 6 events before 2025-01-15T00:00:00+00:00 in all apps" in output
    assert names(stored) == ["d20250120", "d20250205", "o20250120", "o20250205"]
    assert ids(stored) == 4
    assert partitions(stored) == ["202501", "202502"]
    assert app_generation(registered.app.id) != generations[0]
    assert app_generation(other_app.app.id) != generations[1]


def test_purge_of_one_app_deletes_only_its_rows_and_leaves_the_shared_months(stored, registered, other_app):
    theirs = app_generation(other_app.app.id)
    output = run("purge_events", "--before", CUTOFF, "--app", "Acme web", "--yes")
    assert "deleted 3 events" in output and "app 'Acme web'" in output
    assert [name for name in names(stored) if name.startswith("d")] == ["d20250120", "d20250205"]
    assert len([name for name in names(stored) if name.startswith("o")]) == 5
    assert ids(stored) == 7
    assert app_generation(other_app.app.id) == theirs


def test_purge_with_nothing_old_enough_deletes_nothing(stored):
    assert "deleted 0 events" in run("purge_events", "--before", "2024-01-01", "--yes")
    assert len(names(stored)) == 10


def test_purge_at_a_month_boundary_drops_partitions_and_rewrites_no_part_of_events(stored):
    before = mutations_of_events(stored)
    purge.purge(stored, before=datetime(2025, 1, 1, tzinfo=UTC))
    assert partitions(stored) == ["202501", "202502"]
    assert mutations_of_events(stored) == before
    assert ids(stored) == 6


def mutations_of_events(client) -> int:
    query = "SELECT count() FROM system.mutations WHERE database = %(database)s AND table = 'events'"
    return client.execute(query, {"database": client.database})[0][0]
