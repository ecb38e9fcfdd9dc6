"""Hostile JSON thrown at collect: never a 5xx, and the database holds exactly what the response reports."""

import json
import re

from django.db import transaction
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from apikeys.models import App
from events.models import Event
from events.tests.conftest import IPHONE

COLLECT = "/api/analytics/collect"
DOMAINS = ["shop.example", "*.blog.example"]

# JSON text that json.dumps cannot produce (nesting past Python's own limit, 1e400), spliced in after encoding.
_RAW = "@@raw@@"
_RAW_VALUE = re.compile(f'"{_RAW}(.*?){_RAW}"')


def raw(fragment: str) -> str:
    return f"{_RAW}{fragment}{_RAW}"


def nested(depth: int) -> str:
    return raw("[" * depth + "]" * depth)


def encode(body) -> str:
    # ASCII-escaped like most clients' output, so lone surrogates travel as \ud800.
    return _RAW_VALUE.sub(lambda match: match.group(1), json.dumps(body, allow_nan=True))


# Every code point, lone surrogates included: JSON can carry them escaped.
any_text = st.text(st.characters(exclude_categories=()), max_size=30)
scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | any_text
json_values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(any_text, children, max_size=4),
    max_leaves=12,
)
# Around the depth where the parser still succeeds but encoding the metadata again may not, and far past it.
deep = st.integers(min_value=850, max_value=1000).map(nested) | st.integers(min_value=1, max_value=50_000).map(nested)
odd_numbers = st.sampled_from(["1e400", "-1e999", "NaN", "Infinity", "-Infinity", "1" * 5000]).map(raw)
odd_urls = st.builds(
    "{}://{}{}".format,
    st.sampled_from(["http", "https", ""]),
    st.sampled_from(["[::1", "[bad", "[::1]", "[v1.x]", "[fe80::1%25eth0]", "x:99999", "[", "]"]) | any_text,
    st.sampled_from(["", "/p", ":99999/", "]:80/a?utm_source=x", "?utm_source=\udcff"]),
)
instants = st.integers(min_value=-(10**16), max_value=10**16) | any_text | st.floats() | odd_numbers
epoch_ms = st.integers(min_value=1_600_000_000_000, max_value=1_760_000_000_000)

valid_events = st.fixed_dictionaries(
    {"event": st.sampled_from(["signup", "page_view", "Order Completed"])},
    optional={
        "userId": st.sampled_from(["u1", "u2"]) | st.integers(min_value=0, max_value=10**6),
        "anonymousId": st.uuids().map(str),
        "url": st.sampled_from(["https://shop.example/pricing?utm_source=news", "https://en.blog.example/"]),
        "referrer": st.sampled_from(["https://www.google.com/search?q=x", ""]),
        "timestamp": epoch_ms,
        "sentAt": epoch_ms,
        "eventId": st.uuids().map(str),
        "metadata": st.dictionaries(st.text(max_size=10), st.integers() | st.text(max_size=10), max_size=4),
        "device": st.sampled_from(["mobile", "desktop", "tablet"]),
        "ipAddress": st.ip_addresses().map(str),
        "userAgent": st.just(IPHONE),
    },
)
hostile_values = {
    "event": any_text | json_values,
    "eventName": any_text | json_values,
    "userId": st.text(max_size=210) | any_text | json_values,
    "anonymousId": any_text | json_values,
    "sessionId": any_text | json_values,
    "url": odd_urls | any_text.map(lambda s: "https://x.example/" + s) | json_values,
    "referrer": odd_urls | any_text | json_values,
    "timestamp": instants | json_values,
    "sentAt": instants | json_values,
    "eventId": st.uuids().map(str) | any_text | json_values,
    "metadata": json_values | st.dictionaries(any_text, json_values, max_size=4) | deep | odd_numbers,
    "device": any_text | json_values,
    "ipAddress": st.ip_addresses().map(str) | any_text | json_values,
    "userAgent": any_text | json_values,
    "screen": any_text | json_values,
    "locale": any_text | json_values,
    "x\ud800": json_values,  # an unknown field, named with a lone surrogate, is echoed in a warning
    "extra": deep,
}


@st.composite
def mutated_events(draw):
    """A valid event with one field replaced by something hostile: each rule is reached, not just the first."""
    event = draw(valid_events)
    name = draw(st.sampled_from(sorted(hostile_values)))
    event[name] = draw(hostile_values[name])
    return event


events = mutated_events() | valid_events | json_values
bodies = st.one_of(
    events,
    st.fixed_dictionaries({"events": st.lists(events, max_size=6)}),
    st.fixed_dictionaries({"events": json_values}),
    deep,
)
# Mostly none; otherwise allowed, refused, or not an origin at all (printable ASCII: what HTTP can carry).
origins = st.one_of(
    st.none(),
    st.none(),
    st.none(),
    st.sampled_from(["https://shop.example", "https://en.blog.example", "http://x:99999", "http://[bad", "null"]),
    st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=30),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=bodies, origin=origins)
@example(body={"event": "e", "metadata": {"x": float("nan")}}, origin=None)
@example(body={"event": "e", "metadata": {"x": raw("1e400")}}, origin=None)
@example(body={"events": [{"event": "e", "userId": "\ud800"}, {"event": "ok"}]}, origin=None)
@example(body={"events": [{"event": "e", "metadata": {"\ud800": "v"}}, {"event": "ok"}]}, origin=None)
@example(body={"events": [{"event": "e", "metadata": {"k": "\udfff"}}, {"event": "ok"}]}, origin=None)
@example(body={"event": "e", "x\ud800": 1}, origin=None)
@example(body=raw("[" * 200_000), origin=None)
@example(body={"event": "e", "metadata": {"a": nested(900)}}, origin=None)
@example(body={"event": "e", "metadata": {"a": nested(5000)}}, origin=None)
@example(
    body={"events": [{"event": "e", "url": "http://[::1"}, {"event": "e", "referrer": "http://[::1"}]}, origin=None
)
@example(body={"event": "e", "timestamp": "2001-01-01T00:00:00Z", "sentAt": "2900-01-01T00:00:00Z"}, origin=None)
@example(body={"event": "e"}, origin="http://x:99999")
@example(body={"event": "e"}, origin="http://[bad")
def test_hostile_json_never_yields_a_5xx_or_an_unreported_write(client_for, registered, body, origin):
    client = client_for(registered.secret_key.raw)
    extra = {} if origin is None else {"HTTP_ORIGIN": origin}
    before = Event.objects.count()
    with transaction.atomic():  # each example leaves the database as it found it
        App.objects.filter(pk=registered.app.pk).update(domains=DOMAINS)
        response = client.generic("POST", COLLECT, encode(body), content_type="application/json", **extra)
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
