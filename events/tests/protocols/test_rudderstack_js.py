"""RudderStack JS v3 (@rudderstack/analytics-js, sdk_tests/package.json) against this server (SPEC §4.5):
the source configuration it loads in place of RudderStack's control plane, its beacon, and the real SDK in
Chromium on a customer's page, changed only in its write key and URLs."""

import base64
import json

import pytest
from django.utils import timezone

from apikeys.keys import KeyKind, generate
from apikeys.services import app_register
from events.models import Event
from events.tests.protocols.sdk_pages import (
    BrowserLog,
    assert_identify_page_and_track_arrived,
    js,
    open_pricing_page,
    shop_for,
)
from events.tests.sites import stored_events

# Every plugin compiled in, so it loads none from RudderStack's CDN (the browser has no internet).
RUDDERSTACK_JS = "@rudderstack/analytics-js/dist/npm/modern/bundled/umd/index.js"
# What RudderStack JS 3.34 adds to the source config URL besides the key.
SDK_QUERY = "p=npm&v=3.34.1&build=modern&lockIntegrationsVersion=false&lockPluginsVersion=false"


def basic(raw_key: str) -> str:
    return "Basic " + base64.b64encode(f"{raw_key}:".encode()).decode()


def assert_segment_error(response, status: int, code: str) -> None:
    assert response.status_code == status
    assert response.json() == {"code": code, "message": response.json()["message"]}
    assert response.json()["message"]


# The source configuration ---------------------------------------------------------------------------


def test_the_source_config_names_the_app_with_no_destinations_for_the_key_as_the_sdk_sends_it(api_client, registered):
    raw_key = registered.publishable_key.raw
    response = api_client.get(
        f"/sourceConfig/?{SDK_QUERY}&writeKey={raw_key}",
        HTTP_AUTHORIZATION=basic(raw_key),
        HTTP_ORIGIN="https://shop.example",
    )

    assert response.status_code == 200
    app_id = str(registered.app.id)
    assert response.json() == {
        "isHosted": False,
        "source": {
            "id": app_id,
            "name": "Acme web",
            "workspaceId": app_id,
            "enabled": True,
            "config": {},
            "destinations": [],
        },
    }
    assert response["Access-Control-Allow-Origin"] == "https://shop.example"


def test_the_source_config_takes_the_key_from_the_query_string_alone(api_client, registered):
    response = api_client.get(f"/sourceConfig/?writeKey={registered.secret_key.raw}")
    assert response.json()["source"]["id"] == str(registered.app.id)


@pytest.mark.parametrize("carrier", ["basic-auth", "query"])
def test_a_source_config_request_with_a_wrong_key_is_401(api_client, registered, carrier):
    raw_key = generate(KeyKind.PUBLISHABLE).raw
    if carrier == "basic-auth":
        response = api_client.get("/sourceConfig/", HTTP_AUTHORIZATION=basic(raw_key))
    else:
        response = api_client.get(f"/sourceConfig/?writeKey={raw_key}")
    assert_segment_error(response, 401, "invalid_api_key")


def test_a_source_config_request_without_a_key_is_401(api_client, db):
    assert_segment_error(api_client.get(f"/sourceConfig/?{SDK_QUERY}"), 401, "authentication_required")


def test_a_page_outside_the_allowed_domains_gets_no_source_config(api_client, db):
    shop = app_register(name="Shop", owner_email="o@shop.example", domains=["shop.example"])
    auth = basic(shop.publishable_key.raw)
    assert (
        api_client.get("/sourceConfig/", HTTP_AUTHORIZATION=auth, HTTP_ORIGIN="https://shop.example").status_code == 200
    )
    refused = api_client.get("/sourceConfig/", HTTP_AUTHORIZATION=auth, HTTP_ORIGIN="https://elsewhere.example")
    assert_segment_error(refused, 403, "origin_not_allowed")


def test_only_rudderstack_js_paths_take_a_key_from_the_query_string(api_client, registered):
    raw_key = registered.publishable_key.raw
    body = json.dumps({"batch": [{"type": "track", "userId": "u", "event": "e"}]})
    response = api_client.post(f"/v1/batch?writeKey={raw_key}", body, content_type="application/json")
    assert_segment_error(response, 400, "key_in_query_string")
    # Other names are still refused where writeKey is taken, so a key cannot ride along unnoticed.
    assert_segment_error(api_client.get(f"/sourceConfig/?apiKey={raw_key}"), 400, "key_in_query_string")
    assert not Event.objects.exists()


# The beacon -------------------------------------------------------------------------------------------


def beacon(api_client, raw_key: str, messages: list, **extra):
    """As navigator.sendBeacon sends RudderStack JS's queue: the key in the URL, a text/plain blob."""
    body = json.dumps({"batch": messages, "sentAt": timezone.now().isoformat()})
    return api_client.post(f"/beacon/v1/batch?writeKey={raw_key}", body, content_type="text/plain", **extra)


def test_a_beacon_batch_is_stored_with_the_key_from_the_query_string(api_client, registered):
    messages = [
        {
            "type": "page",
            "anonymousId": "anon-1",
            "messageId": "m-1",
            "context": {"page": {"url": "https://s.example/a"}},
        },
        {"type": "track", "anonymousId": "anon-1", "messageId": "m-2", "event": "Clicked", "properties": {"n": 1}},
    ]
    response = beacon(api_client, registered.publishable_key.raw, messages, HTTP_ORIGIN="https://s.example")

    assert (response.status_code, response.json()) == (200, {"success": True})
    stored = {event.name: event for event in Event.objects.filter(app=registered.app)}
    assert set(stored) == {"pageview", "Clicked"}
    assert stored["pageview"].path == "/a" and stored["Clicked"].metadata == {"n": 1}
    assert {event.anonymous_id for event in stored.values()} == {"anon-1"}


def test_a_beacon_with_a_wrong_key_is_401_and_stores_nothing(api_client, registered):
    response = beacon(api_client, generate(KeyKind.PUBLISHABLE).raw, [{"type": "track", "userId": "u", "event": "e"}])
    assert_segment_error(response, 401, "invalid_api_key")
    assert not Event.objects.exists()


def test_a_beacon_from_an_origin_outside_the_allowed_domains_is_403_and_stores_nothing(api_client, db):
    shop = app_register(name="Shop", owner_email="o@shop.example", domains=["shop.example"])
    messages = [{"type": "track", "userId": "u", "event": "e"}]
    response = beacon(api_client, shop.publishable_key.raw, messages, HTTP_ORIGIN="https://elsewhere.example")
    assert_segment_error(response, 403, "origin_not_allowed")
    assert not Event.objects.exists()


def test_a_beacon_without_a_batch_is_400(api_client, registered):
    assert_segment_error(beacon(api_client, registered.publishable_key.raw, []), 400, "invalid_request")


def test_rudderstack_direct_referrer_means_no_referrer(api_client, registered):
    page = {"url": "https://s.example/a", "referrer": "$direct"}
    response = beacon(
        api_client, registered.publishable_key.raw, [{"type": "page", "userId": "u", "context": {"page": page}}]
    )
    assert response.status_code == 200
    event = Event.objects.get()
    assert (event.referrer, event.referrer_host) == ("", "")


def test_a_preflight_for_rudderstack_js_headers_is_answered(api_client, db):
    asked = "anonymousid,authorization,content-type,rsa-retry-attempt,sentat"
    for path in ("/sourceConfig/", "/v1/track"):
        response = api_client.options(
            path,
            HTTP_ORIGIN="https://shop.example",
            HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST" if path.startswith("/v1") else "GET",
            HTTP_ACCESS_CONTROL_REQUEST_HEADERS=asked,
        )
        assert (response.status_code, response["Access-Control-Allow-Headers"]) == (204, asked)
        assert response["Access-Control-Allow-Origin"] == "https://shop.example"


# The real SDK in Chromium -----------------------------------------------------------------------------

SEND = """() => {
    rudderanalytics.identify('u_42', {email: 'ada@example.com', plan: 'pro'});
    rudderanalytics.page();
    rudderanalytics.track('Order Completed', {revenue: 42.5, plan: 'pro'});
}"""


@pytest.fixture
def open_shop(page, site, server, sdk_modules):
    """Open the shop's pricing page, reached by a link from another site, with RudderStack JS loaded
    from the shop and pointed at this server for its data plane and its configuration."""

    def open_page(raw_key: str, options: dict | None = None) -> BrowserLog:
        options = {"configUrl": server.url, **(options or {})}
        boot = (
            "window.rudderanalytics = new rudderanalytics.RudderAnalytics();"
            f"rudderanalytics.load({js(raw_key)}, {js(server.url)}, {js(options)});"
        )
        return open_pricing_page(page, site, server, sdk_modules / RUDDERSTACK_JS, boot)

    return open_page


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_rudderstack_js_loads_its_source_config_and_delivers_identify_page_and_track(page, site, open_shop):
    shop = shop_for(site)
    log = open_shop(shop.publishable_key.raw)
    page.evaluate(SEND)

    assert_identify_page_and_track_arrived(shop, site, page)
    assert all(event.session_id for event in stored_events(shop.app))  # RudderStack JS tracks sessions itself
    (config_path,) = log.paths("GET")
    assert config_path == "/sourceConfig/"
    (_, _, config_request), *_ = log.requests
    assert config_request.headers["authorization"] == basic(shop.publishable_key.raw)
    assert log.paths() == ["/v1/identify", "/v1/page", "/v1/track"]
    log.assert_clean()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_rudderstack_js_with_use_beacon_delivers_all_three_by_beacon(page, site, open_shop):
    shop = shop_for(site)
    log = open_shop(shop.publishable_key.raw, {"useBeacon": True, "beaconQueueOptions": {"flushQueueInterval": 200}})
    page.evaluate(SEND)

    assert_identify_page_and_track_arrived(shop, site, page)
    assert all(event.session_id for event in stored_events(shop.app))  # RudderStack JS tracks sessions itself
    assert set(log.paths()) == {"/beacon/v1/batch"}
    log.assert_clean()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_rudderstack_js_on_a_page_outside_the_allowed_domains_stops_at_its_source_config(page, open_shop):
    shop = app_register(name="Shop", owner_email="o@shop.example", domains=["shop.example"])
    with (
        page.expect_response(lambda response: "/sourceConfig/" in response.url) as refused,
        page.expect_console_message(lambda message: "source config" in message.text) as given_up,
    ):
        log = open_shop(shop.publishable_key.raw)
        page.evaluate("rudderanalytics.track('Order Completed')")

    assert refused.value.status == 403
    assert given_up.value.type == "error"
    assert log.paths() == []
    assert stored_events(shop.app) == []
    assert log.page_errors == []
