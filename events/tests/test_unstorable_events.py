"""An event the database cannot store is rejected by its index; the rest of its batch is stored, and
only a lost database is a 503 (a poison event must not make an SDK retry its whole batch forever)."""

import psycopg
import pytest
from django.db import OperationalError, connection

from analytics_project.errors import is_database_outage
from events import store
from events.models import Event
from events.tests.conftest import UNINDEXABLE_PATH, UNINDEXABLE_URL, make_event

CJK_PATH, POISON_URL = UNINDEXABLE_PATH, UNINDEXABLE_URL


def _batch_with_poison_in_the_middle():
    return {
        "events": [make_event(event="before"), make_event(event="poison", url=POISON_URL), make_event(event="after")]
    }


def test_an_event_too_large_for_the_report_index_is_rejected_by_index_and_the_rest_stored(collect):
    response = collect(_batch_with_poison_in_the_middle())
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["accepted"] == 2
    assert [(r["index"], r["code"]) for r in body["rejected"]] == [(1, "event_too_large")]
    assert "bytes" in body["rejected"][0]["detail"]
    assert sorted(Event.objects.values_list("name", flat=True)) == ["after", "before"]


def test_the_index_budget_counts_bytes_not_characters(collect):
    # 865 CJK characters: 2,596 bytes of path (2,598 with name and user id), under the budget in bytes,
    # far over it counted at 4 bytes a character; PostgreSQL's index holds it.
    fits = "/" + CJK_PATH[1:866]
    response = collect(make_event(event="e", userId="u", url="https://shop.example" + fits))
    assert response.status_code == 201, response.content
    assert Event.objects.get().path == fits


def test_the_budget_check_is_what_stands_between_a_poison_event_and_the_database(collect, monkeypatch):
    """With the budget lifted, PostgreSQL itself refuses the entry: the batch is then stored row by row and
    only the refused event is rejected, with its index. SQLite has no such limit and stores all three."""
    monkeypatch.setattr(store, "MAX_INDEXED_TEXT_BYTES", 10**6)
    response = collect(_batch_with_poison_in_the_middle())
    assert response.status_code == 201, response.content
    body = response.json()
    if connection.vendor == "postgresql":
        assert (body["accepted"], [(r["index"], r["code"]) for r in body["rejected"]]) == (2, [(1, "unstorable_event")])
        assert sorted(Event.objects.values_list("name", flat=True)) == ["after", "before"]
    else:
        assert (body["accepted"], body["rejected"]) == (3, [])


def test_a_lone_refused_event_is_a_400_naming_it_not_a_503(collect, monkeypatch):
    monkeypatch.setattr(store, "MAX_INDEXED_TEXT_BYTES", 10**6)
    if connection.vendor != "postgresql":
        pytest.skip("only PostgreSQL limits an index entry's size")
    response = collect(make_event(url=POISON_URL))
    assert response.status_code == 400
    assert response.json()["rejected"][0]["code"] == "unstorable_event"


def _wrapped(cause: Exception) -> OperationalError:
    error = OperationalError(str(cause))
    error.__cause__ = cause
    return error


@pytest.mark.parametrize(
    ("cause", "outage"),
    [
        (psycopg.OperationalError("connection refused"), True),  # no SQLSTATE: the server was never reached
        (psycopg.errors.AdminShutdown("terminating connection"), True),
        (psycopg.errors.CannotConnectNow("the database system is starting up"), True),
        (psycopg.errors.TooManyConnections("too many clients"), True),
        (psycopg.errors.QueryCanceled("statement timeout"), True),
        (psycopg.errors.DeadlockDetected("deadlock detected"), True),
        (psycopg.errors.ProgramLimitExceeded("index row size 2720 exceeds btree version 4 maximum 2704"), False),
    ],
)
def test_only_a_server_that_cannot_work_is_an_outage(cause, outage):
    assert is_database_outage(_wrapped(cause)) is outage
