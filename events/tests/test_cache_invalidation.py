from events.generation import app_generation
from events.tests.conftest import make_event


def test_an_ingest_bumps_its_apps_report_generation_and_no_other(collect, registered, other_app):
    mine, theirs = app_generation(registered.app.id), app_generation(other_app.app.id)
    collect(make_event())
    assert app_generation(registered.app.id) != mine
    assert app_generation(other_app.app.id) == theirs


def test_a_request_of_only_duplicates_does_not_invalidate(collect, registered):
    event = make_event()
    collect(event)
    generation = app_generation(registered.app.id)
    collect(event)
    assert app_generation(registered.app.id) == generation
