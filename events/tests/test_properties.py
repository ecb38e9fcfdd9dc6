"""Arbitrary JSON thrown at collect: never a 5xx, and the database holds exactly what the response reports."""

import json

from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from events.models import Event

COLLECT = "/api/analytics/collect"

scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=30)
json_values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12,
)
field_values = {
    "event": st.text(max_size=210) | scalars,
    "eventName": st.text(max_size=20) | scalars,
    "userId": st.text(max_size=210) | st.integers() | scalars,
    "anonymousId": st.text(max_size=20) | scalars,
    "url": st.text(max_size=40).map(lambda s: "https://x.example/" + s) | scalars,
    "referrer": st.text(max_size=40) | scalars,
    "timestamp": st.integers(min_value=-(10**16), max_value=10**16) | st.text(max_size=30) | st.floats() | scalars,
    "sentAt": st.integers(min_value=-(10**16), max_value=10**16) | st.text(max_size=30) | scalars,
    "eventId": st.uuids().map(str) | st.text(max_size=40) | scalars,
    "metadata": json_values,
    "device": st.text(max_size=40) | scalars,
    "ipAddress": st.ip_addresses().map(str) | st.text(max_size=20) | scalars,
    "userAgent": st.text(max_size=50) | scalars,
}
events = st.fixed_dictionaries({}, optional=field_values) | json_values
bodies = st.one_of(
    events,
    st.fixed_dictionaries({"events": st.lists(events, max_size=6)}),
    st.fixed_dictionaries({"events": json_values}),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=bodies)
def test_arbitrary_json_never_yields_a_5xx_or_an_unreported_write(client_for, registered, body):
    client = client_for(registered.secret_key.raw)
    before = Event.objects.count()
    with transaction.atomic():  # each example leaves the database as it found it
        response = client.generic("POST", COLLECT, json.dumps(body, allow_nan=True), content_type="application/json")
        assert response.status_code < 500, response.content
        stored = Event.objects.count() - before
        payload = response.json()
        if response.status_code == 201:
            assert stored == payload["accepted"]
            total = len(body["events"]) if isinstance(body, dict) and "events" in body else 1
            assert payload["accepted"] + payload["duplicates"] + len(payload["rejected"]) == total
        else:
            assert stored == 0
            assert "code" in payload
        transaction.set_rollback(True)
