from datetime import timedelta

import pytest
from django.utils import timezone

from reports.cache import cached_report, report_cache_key
from reports.tests.conftest import REPORTS as API
from reports.tests.conftest import event, iso

REPORTS = [
    ("event-summary", {}),
    ("user-stats", {"userId": "ann"}),
    ("daily-stats", {}),
    ("timeseries", {"interval": "week"}),
    ("top-pages", {}),
    ("top-referrers", {}),
    ("breakdown", {"by": "metadata.plan"}),
    ("active-users", {}),
    ("web-stats", {}),
]
# The behavioural reports, each asked one fixed question (the funnel is a POST).
BEHAVIOUR = {
    "funnels": {
        "steps": [
            {"event": "page_view", "filters": [{"property": "path", "operator": "eq", "value": "/pricing"}]},
            {"event": "page_view", "filters": [{"property": "path", "operator": "eq", "value": "/docs"}]},
        ],
        "breakdown": "referrer",
    },
    "retention": {"period": "day", "periods": 2},
    "users/ann/journey": {},
    "live": {},
}


def ago(seconds: int) -> str:
    return iso(timezone.now() - timedelta(seconds=seconds))


@pytest.fixture
def some_events() -> list[dict]:
    """Ann reads the pricing page, then the docs; Bob signs up. A few minutes ago, so live counts them."""
    return [
        event(
            userId="ann",
            url="https://a.example/pricing",
            referrer="https://www.google.com/",
            metadata={"plan": "pro"},
            timestamp=ago(180),
        ),
        event(userId="ann", url="https://a.example/docs", timestamp=ago(120)),
        event(userId="bob", url="https://a.example/pricing", event="signup", timestamp=ago(60)),
    ]


def ask(client, name: str):
    if name == "funnels":
        return client.post(API + name, BEHAVIOUR[name], format="json")
    return client.get(API + name, BEHAVIOUR[name])


def steady(name: str, body: dict) -> dict:
    """The live view's clock and minute buckets move on between two reads; its totals must not."""
    if name != "live":
        return body
    return {**body, "now": None, "minutes": sum(minute["events"] for minute in body["minutes"])}


def test_a_report_is_computed_once_then_served_from_the_cache(report, send, registered, some_events):
    send(registered, some_events)
    first = report(registered, "event-summary")
    second = report(registered, "event-summary")
    assert (first["X-Cache"], second["X-Cache"]) == ("miss", "hit")
    assert second.json() == first.json()
    assert first.json()["count"] == 3


def test_an_ingest_into_the_app_invalidates_its_reports(report, send, registered, some_events):
    send(registered, some_events)
    report(registered, "event-summary")
    send(registered, [event(userId="carol")])
    after = report(registered, "event-summary")
    assert after["X-Cache"] == "miss"
    assert (after.json()["count"], after.json()["uniqueUsers"]) == (4, 3)
    assert report(registered, "event-summary")["X-Cache"] == "hit"


def test_an_ingest_into_another_app_leaves_the_cache_alone(report, send, registered, other_app, some_events):
    send(registered, some_events)
    report(registered, "event-summary")
    send(other_app, [event(userId="stranger")])
    again = report(registered, "event-summary")
    assert again["X-Cache"] == "hit"
    assert again.json()["count"] == 3


def test_a_request_of_only_duplicates_leaves_the_cache_alone(report, send, registered, some_events):
    send(registered, some_events)
    report(registered, "event-summary")
    send(registered, some_events[:1])
    assert report(registered, "event-summary")["X-Cache"] == "hit"


def test_the_same_question_asked_two_ways_shares_one_entry(report, send, registered, some_events):
    send(registered, some_events)
    days = report(registered, "daily-stats").json()
    spelled_out = {"startDate": days[0]["date"], "endDate": days[-1]["date"], "tz": "UTC", "extra": "ignored"}
    assert report(registered, "daily-stats", **spelled_out)["X-Cache"] == "hit"


@pytest.mark.parametrize(
    ("name", "params", "different"),
    [
        ("event-summary", {}, {"event": "signup"}),
        ("daily-stats", {}, {"tz": "Asia/Tokyo"}),
        ("top-pages", {"limit": 5}, {"limit": 6}),
        ("web-stats", {"limit": 5}, {"limit": 6}),
        ("breakdown", {"by": "browser"}, {"by": "os"}),
        ("timeseries", {"interval": "day"}, {"interval": "week"}),
        ("user-stats", {"userId": "ann"}, {"userId": "bob"}),
    ],
)
def test_different_parameters_are_different_entries(report, send, registered, name, params, different, some_events):
    send(registered, some_events)
    assert report(registered, name, **params)["X-Cache"] == "miss"
    assert report(registered, name, **{**params, **different})["X-Cache"] == "miss"
    assert report(registered, name, **params)["X-Cache"] == "hit"


def test_the_cache_lifetime_comes_from_the_settings(report, send, registered, settings, some_events):
    send(registered, some_events)
    settings.REPORT_CACHE_TTL = 0  # Django's "expire at once": nothing is kept
    report(registered, "event-summary")
    assert report(registered, "event-summary")["X-Cache"] == "miss"


def test_cache_entries_are_per_app(registered, other_app):
    calls = []

    def compute():
        calls.append(1)
        return {"n": len(calls)}

    mine = cached_report(app_id=registered.app.id, endpoint="x", query={"a": 1}, compute=compute)
    theirs = cached_report(app_id=other_app.app.id, endpoint="x", query={"a": 1}, compute=compute)
    again = cached_report(app_id=registered.app.id, endpoint="x", query={"a": 1}, compute=compute)
    assert (mine, theirs, again) == (({"n": 1}, False), ({"n": 2}, False), ({"n": 1}, True))


def test_a_cache_key_names_app_generation_and_endpoint_and_ignores_parameter_order(registered):
    app_id = registered.app.id
    key = report_cache_key(app_id=app_id, generation=7, endpoint="top-pages", query={"limit": 5, "event": "a"})
    assert key.startswith(f"reports:{app_id}:7:top-pages:")
    assert key == report_cache_key(app_id=app_id, generation=7, endpoint="top-pages", query={"event": "a", "limit": 5})
    assert key != report_cache_key(app_id=app_id, generation=8, endpoint="top-pages", query={"limit": 5, "event": "a"})


def test_with_redis_down_every_report_still_answers_with_the_right_numbers(
    request, report, client_for, send, registered, some_events
):
    send(registered, some_events)
    client = client_for(registered.secret_key.raw)
    expected = {name: report(registered, name, **params).json() for name, params in REPORTS}
    expected |= {name: ask(client, name).json() for name in BEHAVIOUR}
    assert expected["event-summary"]["count"] == 3
    assert expected["user-stats"]["totalEvents"] == 2
    funnel = expected["funnels"]["breakdownValues"]
    assert [(value["value"], [step["count"] for step in value["steps"]]) for value in funnel] == [
        ("www.google.com", [1, 1])
    ]
    assert sum(cohort["size"] for cohort in expected["retention"]["cohorts"]) == 2
    assert [event["event"] for event in expected["users/ann/journey"]["sessions"][0]["events"]] == ["page_view"] * 2
    assert (expected["live"]["totalEvents"], expected["live"]["activeUsers5m"]) == (3, 2)

    request.getfixturevalue("dead_redis")
    answers = [(name, report(registered, name, **params)) for name, params in REPORTS]
    answers += [(name, ask(client, name)) for name in BEHAVIOUR]
    for name, response in answers:
        assert response.status_code == 200, (name, response.content)
        assert response["X-Cache"] == "miss"
        assert steady(name, response.json()) == steady(name, expected[name]), name
    export = report(registered, "export")
    assert export.status_code == 200
    assert len(b"".join(export.streaming_content).decode().splitlines()) == 1 + 3


@pytest.mark.parametrize("name", list(BEHAVIOUR))
def test_a_behaviour_report_is_cached_until_its_app_gets_an_event(client_for, send, registered, other_app, name):
    send(registered, [event(userId="ann", url="https://a.example/pricing", timestamp=ago(60))])
    client = client_for(registered.secret_key.raw)
    first, second = ask(client, name), ask(client, name)
    assert (first["X-Cache"], second["X-Cache"]) == ("miss", "hit")
    assert second.json() == first.json()
    send(other_app, [event(userId="ann", url="https://a.example/docs", timestamp=ago(30))])
    assert ask(client, name)["X-Cache"] == "hit"

    # Ann reads the docs, Carol arrives: every one of the four answers changes.
    send(registered, [event(userId="ann", url="https://a.example/docs", timestamp=ago(30)), event(userId="carol")])
    after = ask(client, name)
    assert after["X-Cache"] == "miss"
    assert steady(name, after.json()) != steady(name, first.json())
    assert ask(client, name)["X-Cache"] == "hit"


def test_with_redis_down_new_events_show_at_once(request, report, send, registered, some_events):
    request.getfixturevalue("dead_redis")
    send(registered, some_events)
    assert report(registered, "event-summary").json()["count"] == 3
    send(registered, [event(userId="dave")])
    assert report(registered, "event-summary").json()["count"] == 4
