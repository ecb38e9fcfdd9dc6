import pytest

from reports.cache import cached_report, report_cache_key
from reports.tests.conftest import event

REPORTS = [
    ("event-summary", {}),
    ("user-stats", {"userId": "ann"}),
    ("daily-stats", {}),
    ("timeseries", {"interval": "week"}),
    ("top-pages", {}),
    ("top-referrers", {}),
    ("breakdown", {"by": "metadata.plan"}),
    ("active-users", {}),
]
SOME_EVENTS = [
    event(userId="ann", url="https://a.example/pricing", referrer="https://www.google.com/", metadata={"plan": "pro"}),
    event(userId="ann", url="https://a.example/docs"),
    event(userId="bob", url="https://a.example/pricing", event="signup"),
]


def test_a_report_is_computed_once_then_served_from_the_cache(report, send, registered):
    send(registered, SOME_EVENTS)
    first = report(registered, "event-summary")
    second = report(registered, "event-summary")
    assert (first["X-Cache"], second["X-Cache"]) == ("miss", "hit")
    assert second.json() == first.json()
    assert first.json()["count"] == 3


def test_an_ingest_into_the_app_invalidates_its_reports(report, send, registered):
    send(registered, SOME_EVENTS)
    report(registered, "event-summary")
    send(registered, [event(userId="carol")])
    after = report(registered, "event-summary")
    assert after["X-Cache"] == "miss"
    assert (after.json()["count"], after.json()["uniqueUsers"]) == (4, 3)
    assert report(registered, "event-summary")["X-Cache"] == "hit"


def test_an_ingest_into_another_app_leaves_the_cache_alone(report, send, registered, other_app):
    send(registered, SOME_EVENTS)
    report(registered, "event-summary")
    send(other_app, [event(userId="stranger")])
    again = report(registered, "event-summary")
    assert again["X-Cache"] == "hit"
    assert again.json()["count"] == 3


def test_a_request_of_only_duplicates_leaves_the_cache_alone(report, send, registered):
    send(registered, SOME_EVENTS)
    report(registered, "event-summary")
    send(registered, SOME_EVENTS[:1])
    assert report(registered, "event-summary")["X-Cache"] == "hit"


def test_the_same_question_asked_two_ways_shares_one_entry(report, send, registered):
    send(registered, SOME_EVENTS)
    days = report(registered, "daily-stats").json()
    spelled_out = {"startDate": days[0]["date"], "endDate": days[-1]["date"], "tz": "UTC", "extra": "ignored"}
    assert report(registered, "daily-stats", **spelled_out)["X-Cache"] == "hit"


@pytest.mark.parametrize(
    ("name", "params", "different"),
    [
        ("event-summary", {}, {"event": "signup"}),
        ("daily-stats", {}, {"tz": "Asia/Tokyo"}),
        ("top-pages", {"limit": 5}, {"limit": 6}),
        ("breakdown", {"by": "browser"}, {"by": "os"}),
        ("timeseries", {"interval": "day"}, {"interval": "week"}),
        ("user-stats", {"userId": "ann"}, {"userId": "bob"}),
    ],
)
def test_different_parameters_are_different_entries(report, send, registered, name, params, different):
    send(registered, SOME_EVENTS)
    assert report(registered, name, **params)["X-Cache"] == "miss"
    assert report(registered, name, **{**params, **different})["X-Cache"] == "miss"
    assert report(registered, name, **params)["X-Cache"] == "hit"


def test_the_cache_lifetime_comes_from_the_settings(report, send, registered, settings):
    send(registered, SOME_EVENTS)
    settings.REPORT_CACHE_TTL = 0  # Django's "expire at once": nothing is kept
    report(registered, "event-summary")
    assert report(registered, "event-summary")["X-Cache"] == "miss"


def test_cache_entries_are_per_app(registered, other_app):
    calls = []

    def compute():
        calls.append(1)
        return {"n": len(calls)}

    mine = cached_report(app_id=registered.app.id, endpoint="x", params={"a": 1}, compute=compute)
    theirs = cached_report(app_id=other_app.app.id, endpoint="x", params={"a": 1}, compute=compute)
    again = cached_report(app_id=registered.app.id, endpoint="x", params={"a": 1}, compute=compute)
    assert (mine, theirs, again) == (({"n": 1}, False), ({"n": 2}, False), ({"n": 1}, True))


def test_a_cache_key_names_app_generation_and_endpoint_and_ignores_parameter_order(registered):
    app_id = registered.app.id
    key = report_cache_key(app_id=app_id, generation=7, endpoint="top-pages", params={"limit": 5, "event": "a"})
    assert key.startswith(f"reports:{app_id}:7:top-pages:")
    assert key == report_cache_key(app_id=app_id, generation=7, endpoint="top-pages", params={"event": "a", "limit": 5})
    assert key != report_cache_key(app_id=app_id, generation=8, endpoint="top-pages", params={"limit": 5, "event": "a"})


def test_with_redis_down_every_report_still_answers_with_the_right_numbers(request, report, send, registered):
    send(registered, SOME_EVENTS)
    expected = {name: report(registered, name, **params).json() for name, params in REPORTS}
    assert expected["event-summary"]["count"] == 3
    assert expected["user-stats"]["totalEvents"] == 2

    request.getfixturevalue("dead_redis")
    for name, params in REPORTS:
        response = report(registered, name, **params)
        assert response.status_code == 200, (name, response.content)
        assert response["X-Cache"] == "miss"
        assert response.json() == expected[name]
    export = report(registered, "export")
    assert export.status_code == 200
    assert len(b"".join(export.streaming_content).decode().splitlines()) == 1 + 3


def test_with_redis_down_new_events_show_at_once(request, report, send, registered):
    request.getfixturevalue("dead_redis")
    send(registered, SOME_EVENTS)
    assert report(registered, "event-summary").json()["count"] == 3
    send(registered, [event(userId="dave")])
    assert report(registered, "event-summary").json()["count"] == 4
