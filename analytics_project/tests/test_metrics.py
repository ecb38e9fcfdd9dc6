import ipaddress
import uuid

import pytest
from prometheus_client import CONTENT_TYPE_LATEST
from prometheus_client.parser import text_string_to_metric_families

from analytics_project.tests.conftest import COLLECT

LOCAL_MEMORY = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "metrics"}}


def scrape(client, **headers) -> dict[tuple, float]:
    """Every sample of GET /metrics, keyed by (name, labels)."""
    response = client.get("/metrics", **headers)
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == CONTENT_TYPE_LATEST
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.content.decode())
        for sample in family.samples
    }


def test_metrics_count_what_a_buffered_ingest_and_a_worker_flush_did(
    client, secret_client, ingest_buffer, drain, queue_unstorable
):
    seen_before = str(uuid.uuid4())
    batch = {"events": [{"event": "a", "userId": "u", "eventId": seen_before}, {"event": "b", "userId": "u"}, {}]}
    assert secret_client.post(COLLECT, batch, format="json").json()["queued"] == 2
    again = {"event": "a", "userId": "u", "eventId": seen_before}  # a duplicate only the worker can see
    assert secret_client.post(COLLECT, again, format="json").status_code == 202
    queue_unstorable()

    queued = scrape(client)
    assert queued[("uea_ingest_events_queued_total", ())] == 4
    assert queued[("uea_ingest_events_rejected_total", (("code", "missing_event"),))] == 1
    assert queued[("uea_ingest_buffer_entries", ())] == 3
    assert queued[("uea_ingest_lag_seconds", ())] > 0
    assert queued[("uea_ingest_events_stored_total", ())] == 0

    drain()
    stored = scrape(client)
    assert stored[("uea_ingest_mode_info", (("mode", "buffered"),))] == 1
    assert stored[("uea_ingest_events_queued_total", ())] == 4
    assert stored[("uea_ingest_events_stored_total", ())] == 2
    assert stored[("uea_ingest_events_duplicates_total", ())] == 1
    assert stored[("uea_ingest_events_dead_lettered_total", ())] == 1
    assert stored[("uea_ingest_dead_letters", ())] == 1
    assert (stored[("uea_ingest_buffer_entries", ())], stored[("uea_ingest_lag_seconds", ())]) == (0, 0)
    flushes = stored[("uea_ingest_flush_rows_count", ())]
    assert flushes >= 1 and stored[("uea_ingest_flush_rows_sum", ())] == 4
    assert stored[("uea_ingest_flush_rows_bucket", (("le", "+Inf"),))] == flushes
    assert stored[("uea_ingest_flush_seconds_count", ())] == flushes
    assert 0 < stored[("uea_ingest_flush_seconds_sum", ())] < 30


def test_without_redis_metrics_hold_only_the_ingest_mode(client, settings):
    settings.CACHES = LOCAL_MEMORY
    assert scrape(client) == {("uea_ingest_mode_info", (("mode", "direct"),)): 1}


def test_with_redis_configured_and_unreachable_metrics_are_503(client, dead_redis):
    response = client.get("/metrics")
    assert response.status_code == 503
    assert response.json()["code"] == "service_unavailable"
    assert int(response["Retry-After"]) > 0


BEARER = {"HTTP_AUTHORIZATION": "Bearer s3cret-for-tests"}
OUTSIDE = {"REMOTE_ADDR": "203.0.113.9"}


@pytest.mark.parametrize(
    ("token", "networks", "request_meta", "allowed"),
    [
        ("", None, {}, True),  # the test client's 127.0.0.1, in the loopback default
        ("", None, {"REMOTE_ADDR": "::1"}, True),
        ("", None, {"REMOTE_ADDR": "::ffff:127.0.0.1"}, True),
        ("", None, OUTSIDE, False),
        ("", None, {**OUTSIDE, "HTTP_AUTHORIZATION": "Bearer "}, False),  # no token set: none matches
        ("s3cret-for-tests", None, {**OUTSIDE, **BEARER}, True),
        ("s3cret-for-tests", None, {**OUTSIDE, "HTTP_AUTHORIZATION": "Bearer s3cret-for-test"}, False),
        ("s3cret-for-tests", None, {**OUTSIDE, "HTTP_AUTHORIZATION": "Basic s3cret-for-tests"}, False),
        ("", "10.0.0.0/8", {"REMOTE_ADDR": "10.1.2.3"}, True),
        ("", "10.0.0.0/8", {}, False),  # naming networks replaces the loopback default
    ],
)
def test_metrics_need_the_token_or_an_allowed_network(client, settings, token, networks, request_meta, allowed):
    settings.CACHES = LOCAL_MEMORY
    settings.METRICS_TOKEN = token
    if networks:
        settings.METRICS_ALLOWED_NETWORKS = (ipaddress.ip_network(networks),)
    response = client.get("/metrics", **request_meta)
    assert response.status_code == (200 if allowed else 403)
    if not allowed:
        assert response.json()["code"] == "permission_denied"


def test_behind_a_proxy_the_forwarded_client_address_is_checked_not_the_proxys(client, settings):
    settings.CACHES = LOCAL_MEMORY
    settings.TRUSTED_PROXY_COUNT = 1
    assert client.get("/metrics", HTTP_X_FORWARDED_FOR="203.0.113.9").status_code == 403
    assert client.get("/metrics", HTTP_X_FORWARDED_FOR="127.0.0.1").status_code == 200
