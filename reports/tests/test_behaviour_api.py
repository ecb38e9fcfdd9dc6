"""The behavioural-analytics endpoints over HTTP: parameters, isolation, caching. The figures themselves are
checked against plain-Python oracles in test_funnels.py, test_retention.py, test_journeys.py and
test_live.py; here each answer must equal its selector's."""

import json
import time
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.cache import cache
from django.utils import timezone

from events.services import RequestFacts, events_ingest
from reports import views
from reports.params import Window
from reports.queries import funnels, retention
from reports.serializers import FunnelOutput
from reports.tests.conftest import CHROME_ANDROID, CHROME_WINDOWS, FIREFOX_MAC, SAFARI_IPHONE

FUNNELS = "/api/analytics/funnels"
STEPS = [{"event": "view"}, {"event": "signup"}, {"event": "buy"}]


def ingest(registered, events):
    facts = RequestFacts(
        api_key=registered.secret_key.api_key, ip="127.0.0.1", user_agent="", received_at=timezone.now(), source="api"
    )
    return events_ingest(raw_events=events, facts=facts)


@pytest.fixture
def journeys(registered, other_app):
    """Three users through a view -> signup -> buy funnel over the last days, and noise in another app."""
    now = timezone.now().replace(microsecond=0)
    base = now - timedelta(days=3)
    plan = {"ann": ["view", "signup", "buy"], "bob": ["view", "signup"], "cy": ["view"]}
    events = []
    for user, steps in plan.items():
        for offset, name in enumerate(steps):
            moment = base + timedelta(minutes=10 * offset)
            events.append(
                {"event": name, "userId": user, "timestamp": moment.isoformat(), "url": f"https://s.example/{name}"}
            )
    ingest(registered, events)
    ingest(
        other_app,
        [{"event": name, "userId": "zed", "timestamp": base.isoformat()} for name in ("view", "signup", "buy")],
    )
    return base


def test_a_funnel_answers_what_its_selector_computes(secret_client, registered, journeys):
    response = secret_client.post(FUNNELS, {"steps": STEPS}, format="json")
    assert response.status_code == 200
    body = response.json()
    assert [(s["event"], s["count"], s["dropOff"]) for s in body["steps"]] == [
        ("view", 3, 0),
        ("signup", 2, 1),
        ("buy", 1, 1),
    ]
    assert body["steps"][1]["conversionFromStart"] == pytest.approx(2 / 3, abs=1e-4)
    assert body["steps"][1]["medianSecondsToConvert"] == 600
    assert body["steps"][0]["medianSecondsToConvert"] is None


def test_a_funnel_is_cached_and_refreshed_by_a_new_event(secret_client, registered, journeys):
    assert secret_client.post(FUNNELS, {"steps": STEPS}, format="json")["X-Cache"] == "miss"
    assert secret_client.post(FUNNELS, {"steps": STEPS}, format="json")["X-Cache"] == "hit"
    ingest(registered, [{"event": "view", "userId": "dee", "timestamp": (journeys + timedelta(hours=1)).isoformat()}])
    refreshed = secret_client.post(FUNNELS, {"steps": STEPS}, format="json")
    assert refreshed["X-Cache"] == "miss" and refreshed.json()["steps"][0]["count"] == 4


def test_a_funnel_with_filters_and_a_breakdown(secret_client, registered, journeys):
    steps = [
        {"event": "view", "filters": [{"property": "path", "operator": "eq", "value": "/view"}]},
        {"event": "signup"},
    ]
    body = secret_client.post(FUNNELS, {"steps": steps, "breakdown": "path"}, format="json").json()
    assert body["breakdown"] == "path"
    assert [(v["value"], [s["count"] for s in v["steps"]]) for v in body["breakdownValues"]] == [("/view", [3, 2])]


def test_a_funnel_takes_the_device_and_referrer_aliases(secret_client, registered):
    """The spellings of the issue and the API example: `device` filters on the device type, a `referrer`
    breakdown splits by the referring host."""
    base = timezone.now().replace(microsecond=0) - timedelta(days=2)
    visits = {  # user: (device of the view, its referrer, device of the signup or None)
        "ann": (SAFARI_IPHONE, "https://www.google.com/search", SAFARI_IPHONE),
        "bob": (CHROME_WINDOWS, "https://t.co/x", CHROME_WINDOWS),
        "cy": (CHROME_ANDROID, "https://www.google.com/", FIREFOX_MAC),  # signs up on a desktop
        "dee": (CHROME_ANDROID, None, CHROME_ANDROID),
        "eve": (SAFARI_IPHONE, "https://t.co/y", None),
    }
    events = []
    for user, (view_agent, referrer, signup_agent) in visits.items():
        view = {"event": "view", "userId": user, "timestamp": base.isoformat(), "userAgent": view_agent}
        events.append({**view, "referrer": referrer} if referrer else view)
        if signup_agent:
            later = (base + timedelta(minutes=5)).isoformat()
            events.append({"event": "signup", "userId": user, "timestamp": later, "userAgent": signup_agent})
    ingest(registered, events)
    steps = [{"event": "view"}, {"event": "signup", "filters": [{"property": "device", "value": "mobile"}]}]
    dates = {"startDate": (base - timedelta(days=1)).date().isoformat(), "endDate": timezone.now().date().isoformat()}
    response = secret_client.post(FUNNELS, {"steps": steps, "breakdown": "referrer", **dates}, format="json")
    assert response.status_code == 200, response.content
    body = response.json()

    # Counted by hand: mobile signups are ann's and dee's; cy's and bob's were on desktops.
    assert [step["count"] for step in body["steps"]] == [5, 2]
    assert [(value["value"], [step["count"] for step in value["steps"]]) for value in body["breakdownValues"]] == [
        ("t.co", [2, 0]),
        ("www.google.com", [2, 1]),
        ("", [1, 1]),
    ]
    start = datetime.combine(date.fromisoformat(dates["startDate"]), datetime.min.time(), tzinfo=UTC)
    end = datetime.combine(date.fromisoformat(dates["endDate"]) + timedelta(days=1), datetime.min.time(), tzinfo=UTC)
    expected = funnels.funnel(
        app_id=registered.app.pk,
        window=Window(start, end, ZoneInfo("UTC")),
        steps=[
            funnels.FunnelStep("view"),
            funnels.FunnelStep("signup", [funnels.FunnelFilter("device", "eq", "mobile")]),
        ],
        window_seconds=14 * 86400,
        breakdown="referrer",
    )
    assert body == FunnelOutput(expected).data


def _filtered(filters: list[dict], step: int = 0) -> dict:
    steps = [{"event": "a"}, {"event": "b"}]
    steps[step] = {**steps[step], "filters": filters}
    return {"steps": steps}


PATH_FILTER = {"property": "path", "operator": "eq", "value": "/x"}


@pytest.mark.parametrize(
    ("body", "path"),
    [
        # A list's own length errors are DRF's non_field_errors of that list.
        ({"steps": [{"event": "view"}]}, ("steps", "non_field_errors")),
        ({"steps": [{"event": f"e{i}"} for i in range(11)]}, ("steps", "non_field_errors")),
        ({"steps": [{"event": ""}, {"event": "x"}]}, ("steps", 0, "event")),
        ({"steps": [{"event": "x"}, {"event": ""}]}, ("steps", 1, "event")),
        ({"steps": STEPS, "windowSeconds": 0}, ("windowSeconds",)),
        ({"steps": STEPS, "windowSeconds": -1}, ("windowSeconds",)),
        (_filtered([{"property": "path", "operator": "like", "value": "x"}]), ("steps", 0, "filters", 0, "operator")),
        (_filtered([PATH_FILTER, {"property": "password", "value": "x"}], 1), ("steps", 1, "filters", 1, "property")),
        (_filtered([{"property": "path", "operator": "in", "value": "x"}]), ("steps", 0, "filters", 0, "value")),
        (_filtered([PATH_FILTER] * 11), ("steps", 0, "filters", "non_field_errors")),
        ({"steps": STEPS, "breakdown": "metadata.bad key!"}, ("breakdown",)),
        ({"steps": STEPS, "startDate": "2026-02-30"}, ("startDate",)),
        ({"steps": STEPS, "appId": "not-a-uuid"}, ("appId",)),
        ({"steps": STEPS, "extra": 1}, ("extra",)),
    ],
)
def test_bad_funnel_requests_are_400_naming_the_exact_field(secret_client, db, body, path):
    response = secret_client.post(FUNNELS, body, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["code"] == "validation_error"
    found = response.json()["fields"]
    for key in path:
        found = found[key]
    assert found and all(isinstance(message, str) for message in found), response.json()
    if path[0] == "steps" and isinstance(path[1], int):  # the other step is named, and has no errors
        assert response.json()["fields"]["steps"][1 - path[1]] == {}


def test_retention_answers_what_its_selector_computes(secret_client, registered, journeys):
    first_day, last_day = journeys.date() - timedelta(days=1), timezone.now().date()
    query = f"period=day&periods=3&tz=UTC&startDate={first_day}&endDate={last_day}"
    response = secret_client.get(f"/api/analytics/retention?{query}")
    assert response.status_code == 200
    start = datetime.combine(first_day, datetime.min.time(), tzinfo=UTC)
    end = datetime.combine(last_day + timedelta(days=1), datetime.min.time(), tzinfo=UTC)
    expected = retention.retention(
        app_id=registered.app.pk,
        window=Window(start, end, ZoneInfo("UTC")),
        cohort_event=None,
        return_event=None,
        period="day",
        periods=3,
    )
    body = response.json()
    as_tuples = [
        (c["start"], c["size"], [(p["period"], p["users"], p["rate"]) for p in c["periods"]]) for c in body["cohorts"]
    ]
    assert as_tuples == [
        (c.start.isoformat(), c.size, [(p.period, p.users, p.rate) for p in c.periods]) for c in expected.cohorts
    ]
    (cohort,) = [c for c in body["cohorts"] if c["size"]]
    assert cohort["start"] == journeys.date().isoformat() and cohort["size"] == 3
    assert cohort["periods"][0] == {"period": 0, "users": 3, "rate": 1.0}


def test_retention_by_month_over_the_default_30_days_starts_with_the_month_of_the_first_day(
    secret_client, registered, journeys
):
    today = timezone.now().astimezone(UTC).date()  # the app's zone is UTC
    body = secret_client.get("/api/analytics/retention?period=month").json()
    starts = [cohort["start"] for cohort in body["cohorts"]]
    assert starts[0] == (today - timedelta(days=29)).replace(day=1).isoformat()
    assert starts[-1] == today.replace(day=1).isoformat()
    sizes = {cohort["start"]: cohort["size"] for cohort in body["cohorts"]}
    assert sizes[journeys.date().replace(day=1).isoformat()] == 3


@pytest.mark.parametrize(
    ("query", "field"),
    [("period=year", "period"), ("periods=0", "periods"), ("periods=53", "periods"), ("tz=Mars/Base", "tz")],
)
def test_bad_retention_parameters_are_400_naming_the_field(secret_client, db, query, field):
    response = secret_client.get(f"/api/analytics/retention?{query}")
    assert response.status_code == 400
    assert field in response.json()["fields"]


def test_a_journey_pages_through_sessions_with_a_cursor(secret_client, registered, journeys):
    first = secret_client.get("/api/analytics/users/ann/journey?limit=2").json()
    assert first["userId"] == "ann"
    assert [e["event"] for s in first["sessions"] for e in s["events"]] == ["view", "signup"]
    assert first["sessions"][0]["eventCount"] == 3 and first["sessions"][0]["entryPage"] == "/view"
    second = secret_client.get(f"/api/analytics/users/ann/journey?limit=2&cursor={first['nextCursor']}").json()
    assert [e["event"] for s in second["sessions"] for e in s["events"]] == ["buy"]
    assert second["nextCursor"] is None


def test_a_journey_of_another_apps_user_or_an_unknown_user_is_404(secret_client, registered, journeys):
    assert secret_client.get("/api/analytics/users/zed/journey").status_code == 404
    assert secret_client.get("/api/analytics/users/nobody/journey").status_code == 404


@pytest.mark.parametrize(
    ("ids", "user"),
    [
        ({"userId": "ann", "anonymousId": "device-1"}, "ann"),  # signed in: the userId is the user
        ({"anonymousId": "anon1"}, "anon1"),  # never signed in: the anonymousId is
    ],
)
def test_user_stats_and_the_journey_take_the_id_every_report_counts_as_a_user(
    secret_client, registered, other_app, ids, user
):
    ingest(registered, [{"event": "view", **ids}, {"event": "buy", **ids}])
    ingest(other_app, [{"event": "view", "userId": "theirs"}, {"event": "view", "anonymousId": "their-anon"}])
    export = secret_client.get("/api/analytics/export", {"format": "ndjson"})
    assert {json.loads(line)["distinctId"] for line in b"".join(export.streaming_content).splitlines()} == {user}

    stats = secret_client.get("/api/analytics/user-stats", {"userId": user})
    assert stats.status_code == 200, stats.content
    assert (stats.json()["userId"], stats.json()["totalEvents"]) == (user, 2)
    journey = secret_client.get(f"/api/analytics/users/{user}/journey")
    assert journey.status_code == 200, journey.content
    assert [event["event"] for session in journey.json()["sessions"] for event in session["events"]] == ["view", "buy"]

    # Neither finds an id that no report counts as a user: an anonymousId a userId superseded, another
    # app's users.
    for stranger in ["device-1", "theirs", "their-anon"]:
        assert secret_client.get("/api/analytics/user-stats", {"userId": stranger}).status_code == 404
        assert secret_client.get(f"/api/analytics/users/{stranger}/journey").status_code == 404


def test_a_bad_cursor_is_400(secret_client, registered, journeys):
    response = secret_client.get("/api/analytics/users/ann/journey?cursor=garbage")
    assert response.status_code == 400
    assert "cursor" in response.json()["fields"]


def test_user_ids_with_dots_and_at_signs_reach_their_journey(secret_client, registered):
    ingest(registered, [{"event": "view", "userId": "ann.lee@example.com"}])
    assert (
        secret_client.get("/api/analytics/users/ann.lee@example.com/journey").json()["userId"] == "ann.lee@example.com"
    )


def test_live_counts_the_last_30_minutes_and_is_cached_for_at_most_its_lifetime(secret_client, registered, monkeypatch):
    monkeypatch.setattr(views.LiveViewSet, "cache_seconds", 1)  # 5 in production; a second keeps the test quick
    ingest(registered, [{"event": "tick", "userId": f"u{i}"} for i in range(3)])
    first = secret_client.get("/api/analytics/live")
    body = first.json()
    assert first["X-Cache"] == "miss"
    assert len(body["minutes"]) == 30 and body["activeUsers5m"] == 3 and body["totalEvents"] == 3
    assert secret_client.get("/api/analytics/live")["X-Cache"] == "hit"
    time.sleep(1.1)
    assert secret_client.get("/api/analytics/live")["X-Cache"] == "miss"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("post", FUNNELS),
        ("get", "/api/analytics/retention"),
        ("get", "/api/analytics/users/ann/journey"),
        ("get", "/api/analytics/live"),
    ],
)
def test_publishable_keys_get_403_and_another_apps_id_gets_404(
    publishable_client, secret_client, other_app, method, path
):
    body = {"steps": STEPS} if method == "post" else None
    assert getattr(publishable_client, method)(path, body, format="json").status_code == 403
    foreign = {"steps": STEPS, "appId": str(other_app.app.id)} if method == "post" else {"appId": str(other_app.app.id)}
    response = (
        getattr(secret_client, method)(path, foreign, format="json")
        if method == "post"
        else secret_client.get(path, foreign)
    )
    assert response.status_code == 404


def test_behaviour_reports_in_one_app_are_unchanged_by_another_apps_events(
    secret_client, registered, other_app, journeys
):
    def read():
        funnel = secret_client.post(FUNNELS, {"steps": STEPS, "breakdown": "path"}, format="json")
        retention = secret_client.get("/api/analytics/retention", {"period": "day", "periods": 3})
        journey = secret_client.get("/api/analytics/users/ann/journey")
        live = secret_client.get("/api/analytics/live")
        return {"funnel": funnel, "retention": retention, "journey": journey, "live": live}

    before = {name: response.json() for name, response in read().items()}
    # Another tenant's users, ann among them, going through every step now and when ann did.
    moments = [journeys, timezone.now()]
    ingest(
        other_app,
        [
            {"event": name, "userId": user, "timestamp": (moment + timedelta(seconds=n)).isoformat(), "url": "/x"}
            for user in ["ann", "x1", "x2"]
            for moment in moments
            for n, name in enumerate(("view", "signup", "buy"))
        ],
    )
    cache.clear()  # so the second answers are computed again, not the first ones read back
    after = read()
    assert {name: response["X-Cache"] for name, response in after.items()} == dict.fromkeys(after, "miss")
    after_bodies = {name: response.json() for name, response in after.items()}
    # The live view's clock moves on between the two reads; its figures must not.
    for body in (before["live"], after_bodies["live"]):
        body.pop("now")
        body["minutes"] = sum(minute["events"] for minute in body.pop("minutes"))
    assert after_bodies == before
    assert before["funnel"]["steps"][0]["count"] == 3
    assert sum(cohort["size"] for cohort in before["retention"]["cohorts"]) == 3
    assert len(before["journey"]["sessions"][0]["events"]) == 3


def test_user_stats_describe_the_device_of_the_latest_event_that_had_a_user_agent(secret_client, registered):
    segment = {"HTTP_X_API_KEY": registered.secret_key.raw}
    page = {"userId": "ann", "timestamp": "2026-01-05T10:00:00Z", "context": {"userAgent": FIREFOX_MAC}}
    assert secret_client.post("/v1/page", page, format="json", **segment).status_code == 200
    # Server-side calls after it: no user agent, as Segment's server SDKs send identify, group and alias.
    for kind, extra in (("identify", {"traits": {"plan": "pro"}}), ("group", {"groupId": "g1"})):
        message = {"userId": "ann", "timestamp": "2026-01-05T11:00:00Z", **extra}
        assert secret_client.post(f"/v1/{kind}", message, format="json", **segment).status_code == 200
    body = secret_client.get("/api/analytics/user-stats", {"userId": "ann"}).json()
    assert body["totalEvents"] == 3
    assert body["deviceDetails"] == {"browser": "Firefox", "os": "Mac OS X"}
