"""Segment's analytics.js (@segment/analytics-next, sdk_tests/package.json) against this server (SPEC §4.5):
the settings it loads in place of Segment's CDN, the one-letter paths it posts to, and the real SDK in
Chromium on a customer's page, changed only in its write key and cdnURL."""

import base64
import json
import logging

import pytest
from django.utils import timezone

from apikeys.keys import KeyKind, generate
from apikeys.services import api_key_revoke, app_register
from events.models import Event
from events.tests.protocols.sdk_pages import (
    BrowserLog,
    assert_identify_page_and_track_arrived,
    js,
    open_pricing_page,
    shop_for,
)
from events.tests.sites import stored_events

ANALYTICS_NEXT = "@segment/analytics-next/dist/umd/index.js"


def settings_of(api_client, raw_key: str, **extra):
    return api_client.get(f"/v1/projects/{raw_key}/settings", **extra)


def assert_segment_error(response, status: int, code: str) -> None:
    assert response.status_code == status
    assert response.json() == {"code": code, "message": response.json()["message"]}
    assert response.json()["message"]


# The settings analytics.js loads ---------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["publishable_key", "secret_key"])
def test_the_settings_send_analytics_js_to_this_server_with_the_key_it_asked_with(api_client, registered, kind):
    raw_key = getattr(registered, kind).raw
    response = settings_of(api_client, raw_key, HTTP_ORIGIN="https://shop.example")

    assert response.status_code == 200
    body = response.json()
    assert body["integrations"] == {"Segment.io": {"apiKey": raw_key, "apiHost": "testserver/v1", "protocol": "http"}}
    # Nothing it would fetch from Segment's CDN or send to Segment's metrics endpoint.
    assert body["remotePlugins"] == [] and body["enabledMiddleware"] == {} and body["metrics"] == {"sampleRate": 0}
    assert response["Access-Control-Allow-Origin"] == "https://shop.example"


def test_behind_a_trusted_proxy_the_settings_say_https_when_the_proxy_does(api_client, registered, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    response = settings_of(api_client, registered.publishable_key.raw, HTTP_X_FORWARDED_PROTO="https")
    assert response.json()["integrations"]["Segment.io"]["protocol"] == "https"


def test_without_a_trusted_proxy_a_forwarded_proto_header_is_ignored(api_client, registered):
    response = settings_of(api_client, registered.publishable_key.raw, HTTP_X_FORWARDED_PROTO="https")
    assert response.json()["integrations"]["Segment.io"]["protocol"] == "http"


def test_the_api_host_is_the_host_the_request_came_to(api_client, registered, settings):
    settings.ALLOWED_HOSTS = ["analytics.shop.example"]
    response = settings_of(api_client, registered.publishable_key.raw, HTTP_HOST="analytics.shop.example:8443")
    assert response.json()["integrations"]["Segment.io"]["apiHost"] == "analytics.shop.example:8443/v1"


@pytest.mark.parametrize("key", ["unknown", "revoked", "garbage"])
def test_a_key_that_does_not_work_gets_segment_cdn_404(api_client, registered, key):
    raw_key = {
        "unknown": generate(KeyKind.PUBLISHABLE).raw,  # well-formed, checksum valid, never stored
        "revoked": registered.publishable_key.raw,
        "garbage": "not-a-key",
    }[key]
    if key == "revoked":
        api_key_revoke(api_key=registered.publishable_key.api_key)
    assert_segment_error(settings_of(api_client, raw_key), 404, "invalid_write_key")


def test_a_page_outside_the_allowed_domains_gets_no_settings(api_client, db):
    shop = app_register(name="Shop", owner_email="o@shop.example", domains=["shop.example"])
    allowed = settings_of(api_client, shop.publishable_key.raw, HTTP_ORIGIN="https://shop.example")
    assert allowed.status_code == 200
    refused = settings_of(api_client, shop.publishable_key.raw, HTTP_ORIGIN="https://elsewhere.example")
    assert_segment_error(refused, 403, "origin_not_allowed")


def test_failed_settings_lookups_count_toward_the_authentication_failure_limit(api_client, registered, settings):
    settings.AUTH_FAILURE_RATE = "2/m"
    for _ in range(2):
        assert settings_of(api_client, generate(KeyKind.PUBLISHABLE).raw).status_code == 404
    response = settings_of(api_client, generate(KeyKind.PUBLISHABLE).raw)
    assert_segment_error(response, 429, "rate_limited")
    assert int(response["Retry-After"]) > 0
    assert (
        settings_of(api_client, registered.publishable_key.raw).status_code == 200
    )  # working keys are never locked out


def test_the_request_log_shows_the_key_in_the_settings_path_masked(api_client, registered, caplog):
    caplog.set_level(logging.INFO, logger="analytics.request")
    raw_key = registered.publishable_key.raw
    settings_of(api_client, raw_key)
    (record,) = [r for r in caplog.records if r.name == "analytics.request"]
    assert record.path == f"/v1/projects/{raw_key[:11]}…/settings"
    assert raw_key not in record.getMessage()


# The paths analytics.js posts to ---------------------------------------------------------------------


def post_text(api_client, path: str, body: dict, **extra):
    """As analytics.js sends: JSON labelled text/plain, with the write key in the body."""
    return api_client.post(path, json.dumps(body), content_type="text/plain", **extra)


@pytest.mark.parametrize(
    ("path", "message", "stored_name", "metadata"),
    [
        (
            "t",
            {"type": "track", "event": "Order Completed", "properties": {"revenue": 42.5}},
            "Order Completed",
            {"revenue": 42.5},
        ),
        (
            "p",
            {"type": "page", "name": "Pricing", "properties": {"title": "Plans"}},
            "pageview",
            {"title": "Plans", "name": "Pricing"},
        ),
        ("i", {"type": "identify", "traits": {"plan": "pro"}}, "identify", {"plan": "pro"}),
        ("a", {"type": "alias", "previousId": "anon-1"}, "alias", {"previousId": "anon-1"}),
        ("g", {"type": "group", "groupId": "acme"}, "group", {"groupId": "acme", "traits": {}}),
        ("s", {"type": "screen", "name": "Home"}, "screen", {"name": "Home"}),
    ],
)
def test_each_one_letter_path_stores_its_message_type(api_client, registered, path, message, stored_name, metadata):
    body = {**message, "userId": "u_42", "anonymousId": "anon-1", "writeKey": registered.publishable_key.raw}
    response = post_text(api_client, f"/v1/{path}", body)

    assert (response.status_code, response.json()) == (200, {"success": True})
    event = Event.objects.get()
    assert (event.app_id, event.name, event.metadata) == (registered.app.id, stored_name, metadata)
    assert (event.user_id, event.anonymous_id, event.source) == ("u_42", "anon-1", "segment")


def test_the_batching_path_stores_every_message_once(api_client, registered):
    batch = [
        {
            "type": "page",
            "anonymousId": "anon-1",
            "messageId": "ajs-next-1",
            "properties": {"url": "https://s.example/a"},
        },
        {"type": "track", "anonymousId": "anon-1", "messageId": "ajs-next-2", "event": "Clicked"},
    ]
    body = {"batch": batch, "writeKey": registered.publishable_key.raw, "sentAt": timezone.now().isoformat()}
    for _ in range(2):  # a retried batch
        response = post_text(api_client, "/v1/b", body, HTTP_X_RETRY_COUNT="1")
        assert (response.status_code, response.json()) == (200, {"success": True})
    assert sorted(Event.objects.values_list("name", flat=True)) == ["Clicked", "pageview"]


def test_a_one_letter_path_with_a_wrong_key_is_401_and_stores_nothing(api_client, registered):
    body = {"type": "track", "event": "e", "userId": "u", "writeKey": generate(KeyKind.PUBLISHABLE).raw}
    assert_segment_error(post_text(api_client, "/v1/t", body), 401, "invalid_api_key")
    assert not Event.objects.exists()


def test_a_page_outside_the_allowed_domains_is_403_on_the_one_letter_paths(api_client, db):
    shop = app_register(name="Shop", owner_email="o@shop.example", domains=["shop.example"])
    body = {"type": "track", "event": "e", "userId": "u", "writeKey": shop.publishable_key.raw}
    response = post_text(api_client, "/v1/t", body, HTTP_ORIGIN="https://elsewhere.example")
    assert_segment_error(response, 403, "origin_not_allowed")
    assert not Event.objects.exists()


def test_a_preflight_for_analytics_js_headers_is_answered_and_a_429_wait_is_readable(api_client, registered):
    preflight = api_client.options(
        "/v1/t",
        HTTP_ORIGIN="https://shop.example",
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="authorization,content-type,x-retry-count",
    )
    assert preflight.status_code == 204
    assert preflight["Access-Control-Allow-Headers"] == "authorization,content-type,x-retry-count"
    key = base64.b64encode(f"{registered.publishable_key.raw}:".encode()).decode()
    body = {"type": "track", "event": "e", "userId": "u"}
    response = post_text(
        api_client, "/v1/t", body, HTTP_ORIGIN="https://shop.example", HTTP_AUTHORIZATION=f"Basic {key}"
    )
    assert response["Access-Control-Expose-Headers"] == "Retry-After"


# The real SDK in Chromium -----------------------------------------------------------------------------

SEND = """async () => {
    await analytics.identify('u_42', {email: 'ada@example.com', plan: 'pro'});
    await analytics.page();
    await analytics.track('Order Completed', {revenue: 42.5, plan: 'pro'});
}"""
# Batched, each call waits for the upload of the whole batch: sent together, not one after the other.
SEND_AT_ONCE = """() => Promise.all([
    analytics.identify('u_42', {email: 'ada@example.com', plan: 'pro'}),
    analytics.page(),
    analytics.track('Order Completed', {revenue: 42.5, plan: 'pro'}),
])"""


@pytest.fixture
def open_shop(page, site, server, sdk_modules):
    """Open the shop's pricing page, reached by a link from another site, with analytics.js loaded
    from the shop and pointed at this server; returns what the browser saw."""

    def open_page(raw_key: str, options: dict | None = None) -> BrowserLog:
        settings = {"writeKey": raw_key, "cdnURL": server.url}
        boot = f"window.analytics = AnalyticsNext.AnalyticsBrowser.load({js(settings)}, {js(options or {})});"
        return open_pricing_page(page, site, server, sdk_modules / ANALYTICS_NEXT, boot)

    return open_page


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_analytics_js_delivers_identify_page_and_track_to_the_one_letter_paths(page, site, open_shop):
    shop = shop_for(site)
    log = open_shop(shop.publishable_key.raw)
    page.evaluate(SEND)

    assert_identify_page_and_track_arrived(shop, site, page)
    assert log.paths("GET") == [f"/v1/projects/{shop.publishable_key.raw}/settings"]
    assert log.paths() == ["/v1/i", "/v1/p", "/v1/t"]
    log.assert_clean()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_analytics_js_with_the_batching_strategy_delivers_all_three_in_one_upload(page, site, open_shop):
    shop = shop_for(site)
    batching = {"strategy": "batching", "config": {"size": 3, "timeout": 500}}
    log = open_shop(shop.publishable_key.raw, {"integrations": {"Segment.io": {"deliveryStrategy": batching}}})
    page.evaluate(SEND_AT_ONCE)

    assert_identify_page_and_track_arrived(shop, site, page)
    assert log.paths() == ["/v1/b"]
    log.assert_clean()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_analytics_js_on_a_page_outside_the_allowed_domains_stops_at_its_settings(page, open_shop):
    shop = app_register(name="Shop", owner_email="o@shop.example", domains=["shop.example"])
    with page.expect_response(lambda response: response.url.endswith("/settings")) as refused:
        log = open_shop(shop.publishable_key.raw)
    # Calls made before the load wait for it; with the load failed they are never sent.
    page.evaluate("void analytics.track('Order Completed')")
    outcome = page.evaluate("() => analytics.then(() => 'loaded', () => 'refused')")

    assert (refused.value.status, outcome) == (403, "refused")
    assert log.paths() == []
    assert stored_events(shop.app) == []
