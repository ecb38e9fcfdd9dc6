"""Umami's `/api/send` and `/api/batch` (SPEC §4.5): sends, identify, batches, errors and limits, as Umami answers."""

import uuid

import pytest

from apikeys.services import app_register
from events.models import Event
from events.tests.conftest import IPHONE, WINDOWS_CHROME

SEND, BATCH = "/api/send", "/api/batch"


@pytest.fixture
def shop(db):
    return app_register(name="Shop", owner_email="o@shop.example")


def pageview(website, **payload) -> dict:
    """What Umami's tracker sends on a page load (src/tracker/index.js getPayload)."""
    base = {
        "website": str(website),
        "screen": "1280x720",
        "language": "en-GB",
        "title": "Pricing",
        "hostname": "shop.example",
        "url": "https://shop.example/pricing?utm_source=ads",
        "referrer": "https://news.example/story",
    }
    return {"type": "event", "payload": {**base, **payload}}


@pytest.fixture
def send(api_client):
    def post(body, *, path=SEND, user_agent=WINDOWS_CHROME, **headers):
        return api_client.post(path, body, format="json", HTTP_USER_AGENT=user_agent, **headers)

    return post


def test_a_tracker_pageview_is_stored_and_answered_with_cache_session_and_visit(send, shop):
    response = send(pageview(shop.app.id))

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"cache", "sessionId", "visitId"} and body["cache"]
    uuid.UUID(body["sessionId"]), uuid.UUID(body["visitId"])
    event = Event.objects.get()
    assert (event.app_id, event.name, event.source) == (shop.app.id, "pageview", "umami")
    assert (event.path, event.utm_source, event.referrer_host) == ("/pricing", "ads", "news.example")
    assert (event.screen, event.locale, event.browser, event.metadata) == (
        "1280x720",
        "en-GB",
        "Chrome",
        {"title": "Pricing"},
    )


def test_a_named_send_is_a_custom_event_with_its_data_as_metadata(send, shop):
    send(pageview(shop.app.id, name="signup", data={"plan": "pro", "seats": 3}, tag="spring"))

    event = Event.objects.get()
    assert (event.name, event.metadata) == ("signup", {"title": "Pricing", "tag": "spring", "plan": "pro", "seats": 3})


def test_a_uri_encoded_title_as_umami_2s_tracker_sends_it_is_decoded(send, shop):
    send(pageview(shop.app.id, title="50%25%20off%20%E2%80%93%20today"))
    send(pageview(shop.app.id, title="100% real"))

    assert [event.metadata["title"] for event in Event.objects.order_by("id")] == ["50% off – today", "100% real"]


def test_a_path_url_is_read_against_the_hostname_as_umami_does(send, shop):
    send(pageview(shop.app.id, url="/docs/start", referrer=""))

    event = Event.objects.get()
    assert (event.url, event.host, event.path, event.referrer) == (
        "https://shop.example/docs/start",
        "shop.example",
        "/docs/start",
        "",
    )


def test_identify_stores_an_identify_event_linking_the_anonymous_visitor_to_the_user(send, shop):
    send(pageview(shop.app.id))
    send({"type": "identify", "payload": {**pageview(shop.app.id)["payload"], "id": "u_42", "data": {"plan": "pro"}}})
    send(pageview(shop.app.id, id="u_42", name="upgrade"))

    view, identify, upgrade = Event.objects.order_by("id")
    assert (identify.name, identify.user_id, identify.metadata) == ("identify", "u_42", {"plan": "pro"})
    assert identify.anonymous_id == view.distinct_id and view.distinct_id.startswith("anon_")
    assert (upgrade.user_id, upgrade.distinct_id) == ("u_42", "u_42")


def test_identify_without_id_or_data_and_performance_reports_are_answered_and_not_stored(send, shop):
    quiet = send({"type": "identify", "payload": {"website": str(shop.app.id)}})
    vitals = send({"type": "performance", "payload": {**pageview(shop.app.id)["payload"], "lcp": 1200.5, "cls": 0.01}})

    assert quiet.status_code == vitals.status_code == 200 and "cache" in vitals.json()
    assert not Event.objects.exists()


def test_the_cache_header_is_accepted_and_trusted_for_nothing(send, shop):
    other = app_register(name="Other", owner_email="o@other.example")
    cache = send(pageview(shop.app.id)).json()["cache"]

    assert send(pageview(other.app.id), HTTP_X_UMAMI_CACHE=cache).status_code == 200
    assert send(pageview(uuid.uuid4()), HTTP_X_UMAMI_CACHE=cache).status_code == 400
    assert sorted(Event.objects.values_list("app__name", flat=True)) == ["Other", "Shop"]


def test_the_session_id_is_the_visitors_and_the_users_once_identified(send, shop):
    first = send(pageview(shop.app.id)).json()
    again = send(pageview(shop.app.id)).json()
    phone = send(pageview(shop.app.id), user_agent=IPHONE).json()
    user = send(pageview(shop.app.id, id="u_42")).json()

    assert first["sessionId"] == again["sessionId"] != phone["sessionId"] != user["sessionId"]
    assert first["cache"] != again["cache"]


def test_an_unknown_website_is_umamis_400(send, shop):
    response = send(pageview(uuid.uuid4()))

    assert response.status_code == 400
    assert response.json() == {"error": {"message": "Website not found.", "code": "bad-request", "status": 400}}
    assert not Event.objects.exists()


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"type": "click", "payload": {}}, "`type` must be one of event, identify, performance."),
        ({"type": "event"}, "`payload` must be an object."),
        ({"type": "event", "payload": {"website": "shop"}}, "`payload.website` must be a website id (a UUID)."),
        ({"name": "x" * 51}, "`payload.name` may be at most 50 characters."),
        ({"hostname": 7}, "`payload.hostname` must be a string."),
        ({"data": ["a"]}, "`payload.data` must be an object."),
        ({"timestamp": "soon"}, "`payload.timestamp` must be whole seconds since the epoch."),
        ({"url": "https://shop.example/" + "a" * 2048}, "`url` may be at most 2048 characters."),
    ],
)
def test_bad_input_is_a_400_in_umamis_shape(send, shop, body, message):
    if "type" not in body:
        body = pageview(shop.app.id, **body)
    response = send(body)

    assert (response.status_code, response.json()) == (
        400,
        {"error": {"message": message, "code": "bad-request", "status": 400}},
    )
    assert not Event.objects.exists()


def test_a_timestamp_in_seconds_dates_the_event(send, shop):
    send(pageview(shop.app.id, timestamp=1_767_225_600))

    assert Event.objects.get().timestamp.isoformat() == "2026-01-01T00:00:00+00:00"


def test_bots_are_answered_beep_boop_and_not_stored(send, shop):
    response = send(pageview(shop.app.id), user_agent="Googlebot/2.1 (+http://www.google.com/bot.html)")
    payload_agent = send(pageview(shop.app.id, userAgent="curl/8.5.0"))

    assert response.json() == payload_agent.json() == {"beep": "boop"}
    assert not Event.objects.exists()


def test_the_payload_user_agent_describes_the_visitor_but_a_payload_ip_is_ignored(send, shop):
    send(pageview(shop.app.id, userAgent=IPHONE, ip="203.0.113.9"))

    event = Event.objects.get()
    assert (event.device_type, event.ip) == ("mobile", "127.0.0.1")


def test_forwarded_for_is_honoured_only_from_trusted_proxies(send, shop, settings):
    send(pageview(shop.app.id, name="direct"), HTTP_X_FORWARDED_FOR="198.51.100.7")
    settings.TRUSTED_PROXY_COUNT = 1
    send(pageview(shop.app.id, name="proxied"), HTTP_X_FORWARDED_FOR="6.6.6.6, 198.51.100.7")

    assert dict(Event.objects.values_list("name", "ip")) == {"direct": "127.0.0.1", "proxied": "198.51.100.7"}


def test_a_browser_origin_outside_the_apps_allowed_domains_is_forbidden(send, db):
    locked = app_register(name="Locked", owner_email="o@l.example", domains=["shop.example"])

    refused = send(pageview(locked.app.id), HTTP_ORIGIN="https://evil.example")
    allowed = send(pageview(locked.app.id), HTTP_ORIGIN="https://shop.example")

    assert refused.status_code == 403
    assert refused.json()["error"] == {
        "message": "This origin is not in the app's allowed domains.",
        "code": "forbidden",
        "status": 403,
    }
    assert allowed.status_code == 200 and Event.objects.count() == 1


def test_each_app_has_its_own_rate_limit(send, shop, settings):
    settings.INGEST_RATE = "2/m"
    other = app_register(name="Other", owner_email="o@other.example")

    statuses = [send(pageview(shop.app.id)).status_code for _ in range(3)]
    limited = send(pageview(shop.app.id))

    assert statuses == [200, 200, 429] and send(pageview(other.app.id)).status_code == 200
    assert int(limited["Retry-After"]) >= 1 and limited.json()["error"]["code"] == "rate_limited"
    assert Event.objects.filter(app=shop.app).count() == 2


def test_a_batch_stores_its_valid_sends_and_names_the_others_by_index(send, shop):
    other = app_register(name="Other", owner_email="o@other.example")
    bodies = [
        pageview(shop.app.id),
        pageview(shop.app.id, name="x" * 51),
        pageview(shop.app.id, name="signup", data={"plan": "pro"}),
        pageview(other.app.id),
        {"type": "identify", "payload": {"website": str(shop.app.id), "id": "u_1", "data": {"plan": "pro"}}},
    ]
    response = send(bodies, path=BATCH)

    assert response.status_code == 200
    body = response.json()
    assert (body["size"], body["processed"], body["errors"]) == (5, 3, 2) and body["cache"]
    assert [(d["index"], d["response"]["error"]["status"]) for d in body["details"]] == [(1, 400), (3, 400)]
    assert "one website" in body["details"][1]["response"]["error"]["message"]
    assert sorted(Event.objects.filter(app=shop.app).values_list("name", flat=True)) == [
        "identify",
        "pageview",
        "signup",
    ]
    assert not Event.objects.filter(app=other.app).exists()


def test_a_batch_for_an_unknown_website_fails_every_send(send, shop):
    body = send([pageview(uuid.uuid4()), pageview(uuid.uuid4())], path=BATCH).json()

    assert (body["processed"], body["errors"], body["cache"]) == (0, 2, None)
    assert {d["response"]["error"]["message"] for d in body["details"]} == {"Website not found."}


@pytest.mark.parametrize("bodies", [[], {"type": "event"}, "text"])
def test_a_batch_that_is_not_a_non_empty_array_is_a_400(send, shop, bodies):
    response = send(bodies, path=BATCH)

    assert response.status_code == 400 and response.json()["error"]["code"] == "bad-request"


def test_a_batch_over_the_size_limit_is_a_400(send, shop, settings):
    settings.INGEST_MAX_BATCH = 2

    assert send([pageview(shop.app.id)] * 3, path=BATCH).status_code == 400
    assert not Event.objects.exists()


def test_buffered_ingestion_answers_as_usual_and_the_worker_stores_the_sends(send, shop, drain):
    single = send(pageview(shop.app.id))
    batch = send([pageview(shop.app.id, name="signup"), pageview(shop.app.id, name="x" * 51)], path=BATCH)

    assert set(single.json()) == {"cache", "sessionId", "visitId"} and batch.json()["processed"] == 1
    drain()
    assert sorted(Event.objects.values_list("name", flat=True)) == ["pageview", "signup"]
