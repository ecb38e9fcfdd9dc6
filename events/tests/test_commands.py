import io
from datetime import UTC, datetime

import pytest
from django.core.management import CommandError, call_command

from events.generation import app_generation
from events.models import Event
from events.tests.conftest import make_event


def run(*args) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


@pytest.fixture
def dated_events(collect, other_app):
    """Events on 2025-01-01..05 at noon UTC in the registered app, and the same days in another app."""
    days = [datetime(2025, 1, day, 12, tzinfo=UTC) for day in range(1, 6)]
    collect({"events": [make_event(event=f"d{d.day}", timestamp=d.isoformat()) for d in days]})
    collect(
        {"events": [make_event(event=f"o{d.day}", timestamp=d.isoformat()) for d in days]}, key=other_app.secret_key.raw
    )
    return days


def test_purge_without_yes_changes_nothing(dated_events):
    output = run("purge_events", "--before", "2025-01-03")
    assert "would delete 4 events" in output  # two days in each of two apps
    assert Event.objects.count() == 10


def test_a_dry_run_leaves_every_apps_cached_reports_valid(dated_events, registered, other_app):
    generations = app_generation(registered.app.id), app_generation(other_app.app.id)
    run("purge_events", "--before", "2025-01-03")
    assert (app_generation(registered.app.id), app_generation(other_app.app.id)) == generations


def test_purge_with_yes_deletes_exactly_the_rows_before_the_date(dated_events, registered):
    run("purge_events", "--before", "2025-01-03", "--app", "Acme web", "--yes", "--batch-size", "1")
    mine = set(Event.objects.filter(app=registered.app).values_list("name", flat=True))
    assert mine == {"d3", "d4", "d5"}
    assert Event.objects.exclude(app=registered.app).count() == 5


def test_purge_accepts_a_datetime_and_invalidates_the_apps_reports(dated_events, registered, other_app):
    mine, theirs = app_generation(registered.app.id), app_generation(other_app.app.id)
    run("purge_events", "--before", "2025-01-02T12:00:00+00:00", "--app", str(registered.app.id), "--yes")
    assert set(Event.objects.filter(app=registered.app).values_list("name", flat=True)) == {"d2", "d3", "d4", "d5"}
    assert app_generation(registered.app.id) != mine
    assert app_generation(other_app.app.id) == theirs


def test_purge_without_app_deletes_the_rows_before_the_date_in_every_app_and_invalidates_both(
    dated_events, registered, other_app
):
    generations = app_generation(registered.app.id), app_generation(other_app.app.id)
    output = run("purge_events", "--before", "2025-01-03", "--yes", "--batch-size", "3")
    assert "deleted 4 events" in output and "all apps" in output
    assert sorted(Event.objects.values_list("name", flat=True)) == ["d3", "d4", "d5", "o3", "o4", "o5"]
    assert app_generation(registered.app.id) != generations[0]
    assert app_generation(other_app.app.id) != generations[1]


def test_a_report_cached_before_the_purge_shows_the_new_count_after(dated_events, secret_client):
    url = "/api/analytics/event-summary?startDate=2025-01-01&endDate=2025-01-05"
    assert secret_client.get(url).json()["count"] == 5
    cached = secret_client.get(url)
    assert cached["X-Cache"] == "hit" and cached.json()["count"] == 5
    run("purge_events", "--before", "2025-01-03", "--yes")
    after = secret_client.get(url)
    assert after["X-Cache"] == "miss" and after.json()["count"] == 3


@pytest.mark.parametrize("batch_size", ["0", "-1"])
def test_purge_refuses_a_batch_size_below_one_and_deletes_nothing(dated_events, batch_size):
    with pytest.raises(CommandError, match="batch-size"):
        run("purge_events", "--before", "2025-01-03", "--yes", f"--batch-size={batch_size}")
    assert Event.objects.count() == 10


def test_purge_refuses_a_batch_size_that_is_not_a_number(db):
    with pytest.raises(CommandError, match="batch-size"):
        run("purge_events", "--before", "2025-01-03", "--batch-size", "many")


def test_purge_refuses_a_bad_date(db):
    with pytest.raises(CommandError, match="not a date"):
        run("purge_events", "--before", "last tuesday")
