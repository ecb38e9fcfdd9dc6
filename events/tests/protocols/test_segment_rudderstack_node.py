"""Segment's and RudderStack's Node SDKs (@segment/analytics-node, @rudderstack/rudder-sdk-node, pinned in
sdk_tests/) against the live server, unchanged but for the host: what they send is what the reports show.
The Python SDKs of both run in events/tests/test_segment.py."""

import json

import pytest

from analytics_project.testing import DATABASE_LOCK, run_node
from events.tests.sites import wait_for_events

pytestmark = [pytest.mark.django_db(transaction=True)]

# Each SDK's documented set-up and calls; the script prints what its error callback saw (nothing).
CALLS = """
  client.identify({ userId: 'u_42', traits: { plan: 'pro', email: 'ada@example.com' } });
  client.page({ userId: 'u_42', name: 'Pricing', properties: { url: 'https://shop.example/pricing?utm_source=ads',
    referrer: 'https://news.example/a' } });
  client.track({ userId: 'u_42', event: 'Order Completed', properties: { revenue: 42.5, currency: 'EUR' } });
  client.track({ anonymousId: 'anon_7', event: 'Order Completed', properties: { revenue: 10 } });
"""
SCRIPTS = {
    "segment": """
  const errors = [];
  const { Analytics } = require('@segment/analytics-node');
  const client = new Analytics({ writeKey: process.env.KEY, host: process.env.HOST, maxEventsInBatch: 10 });
  client.on('error', (error) => errors.push(String(error.reason || error)));
  %(calls)s
  client.closeAndFlush().then(() => console.log(JSON.stringify(errors)));
""",
    "rudderstack": """
  const errors = [];
  const Analytics = require('@rudderstack/rudder-sdk-node');
  const client = new Analytics(process.env.KEY, { dataPlaneUrl: process.env.HOST, logLevel: 'error',
    errorHandler: (error) => errors.push(String(error)) });
  %(calls)s
  client.flush(() => console.log(JSON.stringify(errors)));
""",
}


@pytest.mark.parametrize("sdk", sorted(SCRIPTS))
def test_the_node_sdk_delivers_identify_page_and_track_as_sent(sdk, sdk_modules, server, registered, client_for):
    out = run_node(SCRIPTS[sdk] % {"calls": CALLS}, KEY=registered.secret_key.raw, HOST=server.url).strip().splitlines()
    assert json.loads(out[-1]) == []

    identify, page, order, anonymous_order = wait_for_events(registered.app, 4)
    assert (identify.name, identify.user_id, identify.metadata["plan"]) == ("identify", "u_42", "pro")
    assert (page.path, page.utm_source, page.referrer_host) == ("/pricing", "ads", "news.example")
    assert (order.name, order.metadata["revenue"], order.metadata["currency"]) == ("Order Completed", 42.5, "EUR")
    assert (anonymous_order.anonymous_id, anonymous_order.user_id) == ("anon_7", "")
    assert {event.source for event in (identify, page, order)} == {"segment"}  # the protocol, for both

    reports = client_for(registered.secret_key.raw)
    with DATABASE_LOCK:
        summary = reports.get("/api/analytics/event-summary").json()
        pages = reports.get("/api/analytics/top-pages").json()
        revenue = reports.get("/api/analytics/breakdown", {"by": "metadata.currency"}).json()["values"]
    assert (summary["count"], summary["uniqueUsers"]) == (4, 2)
    assert ("/pricing", 1) in [(entry["value"], entry["count"]) for entry in pages]
    assert ("EUR", 1) in [(entry["value"], entry["count"]) for entry in revenue]
