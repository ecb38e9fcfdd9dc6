"""CORS for the ingestion paths (events/cors.py): a preflight is answered for any origin, without a key,
with the headers each SDK asks for; the origin check that matters runs once the key is known
(test_collect.TestOrigins)."""

import pytest

PREFLIGHT = {"HTTP_ORIGIN": "https://shop.example", "HTTP_ACCESS_CONTROL_REQUEST_METHOD": "POST"}


@pytest.mark.parametrize(
    ("path", "headers"),
    [
        ("/api/analytics/collect", "content-type, x-api-key"),
        ("/v1/t", "content-type, x-retry-count"),  # Segment analytics.js retrying
        ("/v1/batch", "anonymousid, sentat, rsa-retry-attempt"),  # RudderStack JS
        ("/sourceConfig/", "authorization"),
        ("/e/", "content-type"),  # posthog-js
        ("/api/send", "content-type, x-umami-cache"),
        ("/api/event", "content-type"),  # Plausible
    ],
)
def test_every_sdks_preflight_gets_the_headers_it_asks_for_without_a_key(api_client, db, path, headers):
    response = api_client.options(path, HTTP_ACCESS_CONTROL_REQUEST_HEADERS=headers, **PREFLIGHT)
    assert response.status_code == 204
    assert response["Access-Control-Allow-Origin"] == "https://shop.example"
    assert response["Access-Control-Allow-Headers"] == headers
    assert "POST" in response["Access-Control-Allow-Methods"]


def test_a_preflight_elsewhere_is_not_answered_for_ingestion(api_client, db):
    response = api_client.options(
        "/api/analytics/event-summary", HTTP_ACCESS_CONTROL_REQUEST_HEADERS="authorization", **PREFLIGHT
    )
    assert "Access-Control-Allow-Origin" not in response
