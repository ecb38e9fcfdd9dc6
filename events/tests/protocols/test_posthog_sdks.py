"""The real posthog-python and posthog-node against the live server, changed only in host and key;
what they sent is read back through the report API and the stored rows."""

import json
import logging
import uuid

import pytest
from posthog import Posthog
from posthog import request as posthog_request

from analytics_project.testing import run_node
from events.models import Event

pytestmark = pytest.mark.django_db(transaction=True)


def capture_requests(caplog) -> list[tuple[str, int]]:
    return [
        (record.path, record.status)
        for record in caplog.records
        if record.name == "analytics.request" and record.method == "POST"
    ]


def report(api_client, registered, name: str, **params) -> dict:
    response = api_client.get(f"/api/analytics/{name}", params, HTTP_X_API_KEY=registered.secret_key.raw)
    assert response.status_code == 200, response.content
    return response.json()


@pytest.fixture(autouse=True)
def _close_connections_after_each_response(monkeypatch):
    # posthog-python keeps its connections alive in module-level sessions, and a kept-alive connection
    # pins a live-server thread and its database connection past the test: PostgreSQL then cannot drop
    # the test database (as in test_segment.py's sdk fixture).
    for session in (posthog_request._session, posthog_request._flags_session):
        monkeypatch.setitem(session.headers, "Connection", "close")


@pytest.fixture
def python_client(server, registered):
    errors = []
    client = Posthog(
        registered.publishable_key.raw,
        host=server.url,
        on_error=lambda error, batch: errors.append((error, batch)),
        gzip=True,
        max_retries=0,
    )
    yield client, errors
    client.shutdown()


def test_posthog_python_capture_set_and_alias_arrive_as_sent(python_client, registered, api_client, caplog):
    caplog.set_level(logging.INFO, logger="analytics.request")
    client, errors = python_client
    order_uuid = str(uuid.uuid4())
    client.capture(
        "order completed",
        distinct_id="u_42",
        properties={"revenue": 42.5, "$current_url": "https://shop.example/checkout"},
        uuid=order_uuid,
    )
    client.capture("order completed", distinct_id="u_42", uuid=order_uuid)  # a retry: stored once
    client.set(distinct_id="u_42", properties={"email": "ada@example.com"})
    client.alias(previous_id="anon-1", distinct_id="u_42")
    client.flush()
    client.shutdown()

    assert errors == []
    assert capture_requests(caplog) and all(status == 200 for _, status in capture_requests(caplog))
    events = {event.name: event for event in Event.objects.filter(app=registered.app)}
    assert set(events) == {"order completed", "$set", "alias"}
    assert Event.objects.filter(name="order completed").count() == 1
    order = events["order completed"]
    assert (order.event_id, order.distinct_id, order.source) == (uuid.UUID(order_uuid), "u_42", "posthog")
    assert (order.host, order.path) == ("shop.example", "/checkout")
    assert order.metadata["revenue"] == 42.5 and order.metadata["$lib"] == "posthog-python"
    # The SDK's own User-Agent describes the sending server, not a user's device.
    assert (order.user_agent, order.device_type) == ("", "")
    assert events["$set"].metadata["$set"] == {"email": "ada@example.com"}
    # posthog-python's alias(previous_id, distinct_id) sends the previous id as distinct_id.
    alias = events["alias"]
    assert (alias.user_id, alias.metadata) == ("anon-1", {"previousId": "u_42"})

    summary = report(api_client, registered, "event-summary", event="order completed")
    assert (summary["count"], summary["uniqueUsers"]) == (1, 1)
    assert report(api_client, registered, "top-pages") == [{"value": "/checkout", "count": 1, "uniqueUsers": 1}]


def test_posthog_python_with_an_unknown_key_reports_the_401_detail_to_on_error(server, caplog):
    caplog.set_level(logging.INFO, logger="analytics.request")
    errors = []
    client = Posthog(
        "pk_unknownunknownunknownunknownunknownunknown0",
        host=server.url,
        on_error=lambda error, batch: errors.append((error, batch)),
        max_retries=0,
    )
    client.capture("signup", distinct_id="u_1")
    client.shutdown()

    ((error, batch),) = errors
    assert error.status == 401
    assert error.message == "The API key is not valid."  # posthog-python read our `detail`
    assert [message["event"] for message in batch] == ["signup"]
    assert Event.objects.count() == 0


NODE_SCRIPT = """
const { PostHog } = require('posthog-node')
const client = new PostHog(process.env.KEY, { host: process.env.HOST, flushAt: 1, flushInterval: 0 })
const errors = []
client.on('error', (error) => errors.push(String(error && (error.status || error.message))))
;(async () => {
  client.capture({ distinctId: 'u_7', event: 'plan upgraded', properties: { plan: 'pro',
    $current_url: 'https://shop.example/billing', $referrer: 'https://news.example/post' } })
  client.identify({ distinctId: 'u_7',
    properties: { $set: { email: 'grace@example.com' }, $anon_distinct_id: 'anon-7' } })
  client.alias({ distinctId: 'u_7', alias: 'anon-7' })
  client.groupIdentify({ groupType: 'company', groupKey: 'acme', properties: { employees: 12 } })
  const flag = await client.isFeatureEnabled('new-checkout', 'u_7')
  await client.shutdown()
  console.log(JSON.stringify({ errors, flag: flag === undefined ? 'undefined' : flag }))
})()
"""


def test_posthog_node_capture_identify_alias_and_group_arrive_and_flags_are_off(
    sdk_modules, server, registered, api_client
):
    out = json.loads(run_node(NODE_SCRIPT, KEY=registered.secret_key.raw, HOST=server.url).strip().splitlines()[-1])

    # A flag this server does not define is undefined, as PostHog answers for a flag it has not got.
    assert out == {"errors": [], "flag": "undefined"}
    events = {event.name: event for event in Event.objects.filter(app=registered.app)}
    assert set(events) == {"plan upgraded", "identify", "alias", "group", "$feature_flag_called"}
    # posthog-node read our /flags/ answer as a valid one: the flag missing, nothing failing to compute.
    assert events["$feature_flag_called"].metadata["$feature_flag_error"] == "flag_missing"
    upgrade = events["plan upgraded"]
    assert (upgrade.distinct_id, upgrade.path, upgrade.referrer_host) == ("u_7", "/billing", "news.example")
    assert upgrade.metadata["plan"] == "pro" and upgrade.metadata["$lib"] == "posthog-node"
    identify = events["identify"]
    assert (identify.user_id, identify.anonymous_id) == ("u_7", "anon-7")
    assert identify.metadata == {"email": "grace@example.com"}
    assert (events["alias"].user_id, events["alias"].metadata) == ("u_7", {"previousId": "anon-7"})
    assert events["group"].metadata == {"groupType": "company", "groupId": "acme", "traits": {"employees": 12}}
    referrers = report(api_client, registered, "top-referrers")
    assert referrers == [{"value": "news.example", "count": 1, "uniqueUsers": 1}]
