"""Inputs a hostile or careless client sent that once answered 500: each must be a 4xx JSON error or a
stored event, on SQLite and on PostgreSQL alike. Bodies are raw bytes, so a lone surrogate or a NUL
reaches the server exactly as a client would send it."""

import base64
import json
import uuid

import pytest

from events.models import Event

COLLECT = "/api/analytics/collect"
REGISTER = "/api/auth/register"
KEYS = "/api/auth/keys"
FUNNELS = "/api/analytics/funnels"
LONE_SURROGATE = '"\\udc00"'  # JSON text: a UTF-16 escape with no partner, which no database can store


def _event(**fields) -> str:
    return json.dumps({"event": "page_view", "eventId": str(uuid.uuid4()), "userId": "u1", **fields})


def _cursor(moment_text: str) -> str:
    return base64.urlsafe_b64encode(json.dumps([moment_text, 10**6]).encode()).decode().rstrip("=")


def _funnel(filter_value: str = '"x"', operator: str = '"eq"') -> str:
    steps = [
        f'{{"event": "a", "filters": [{{"property": "path", "operator": {operator}, "value": {filter_value}}}]}}',
        '{"event": "b"}',
    ]
    return f'{{"steps": [{", ".join(steps)}]}}'


def _basic(raw: bytes) -> str:
    return "Basic " + base64.b64encode(raw).decode()


# (method, path, body text or None, extra request headers): what the audit sent.
HOSTILE = {
    "utm value that decodes to NUL": ("POST", COLLECT, _event(url="https://shop.example/?utm_source=%00"), {}),
    "timestamp offset +16:00": ("POST", COLLECT, _event(timestamp="2026-01-05T10:00:00+16:00"), {}),
    "timestamp offset -23:59 kept by skew correction": (
        "POST",
        COLLECT,
        _event(timestamp="2026-01-05T10:00:00-23:59", sentAt="2026-01-05T10:00:00-23:59"),
        {},
    ),
    "integer timestamp of 400 digits": ("POST", COLLECT, '{"event": "a", "timestamp": ' + "9" * 400 + "}", {}),
    "negative integer timestamp of 400 digits": ("POST", COLLECT, '{"event": "a", "sentAt": -' + "9" * 400 + "}", {}),
    "daily-stats start offset +20:00": (
        "GET",
        "/api/analytics/daily-stats?startDate=2026-01-01T00:00:00%2B20:00",
        None,
        {},
    ),
    "timeseries start offset +20:00": (
        "GET",
        "/api/analytics/timeseries?interval=hour&startDate=2026-01-01T00:00:00%2B20:00",
        None,
        {},
    ),
    "top-pages end offset -20:00": ("GET", "/api/analytics/top-pages?endDate=2026-01-01T00:00:00-20:00", None, {}),
    "export start offset +20:00": ("GET", "/api/analytics/export?startDate=2026-01-01T00:00:00%2B20:00", None, {}),
    "journey cursor with offset +20:00": (
        "GET",
        f"/api/analytics/users/u1/journey?cursor={_cursor('2026-01-01T00:00:00+20:00')}",
        None,
        {},
    ),
    "journey of a user id with NUL": ("GET", "/api/analytics/users/a%00/journey", None, {}),
    "user-stats of a user id with NUL": ("GET", "/api/analytics/user-stats?userId=a%00", None, {}),
    "lone surrogate as a register key": ("POST", REGISTER, '{"\\udc00": 1}', {}),
    "lone surrogate as a register name": (
        "POST",
        REGISTER,
        '{"name": ' + LONE_SURROGATE + ', "ownerEmail": "a@b.co"}',
        {},
    ),
    "lone surrogate as a key kind": ("POST", KEYS, '{"kind": ' + LONE_SURROGATE + "}", {}),
    "lone surrogate as a key name": ("POST", KEYS, '{"kind": "secret", "name": ' + LONE_SURROGATE + "}", {}),
    "lone surrogate as a funnel operator": ("POST", FUNNELS, _funnel(operator=LONE_SURROGATE), {}),
    "NUL in a funnel filter value": ("POST", FUNNELS, _funnel(filter_value='"a\\u0000b"'), {}),
    "lone surrogate in a funnel filter value": ("POST", FUNNELS, _funnel(filter_value=LONE_SURROGATE), {}),
    "NUL in a funnel event name": ("POST", FUNNELS, '{"steps": [{"event": "a\\u0000"}, {"event": "b"}]}', {}),
    "Basic auth with non-ASCII bytes": ("POST", "/v1/track", '{"event": "a", "userId": "u"}', {"basic": "é"}),
    "Basic auth that decodes to non-UTF-8": (
        "POST",
        "/v1/track",
        '{"event": "a", "userId": "u"}',
        {"basic": _basic(b"\xff\xfe:")},
    ),
    "Segment batch of a number with a batch context": ("POST", "/v1/batch", '{"batch": [1], "context": {"a": 1}}', {}),
    "Segment batch of non-objects with a batch context": (
        "POST",
        "/v1/batch",
        '{"batch": [1, "x", null], "context": {"a": 1}}',
        {},
    ),
}


@pytest.fixture
def hostile_request(client_for, registered):
    def send(method: str, path: str, body: str | None, headers: dict):
        client = client_for(registered.secret_key.raw)
        extra = {}
        if "basic" in headers:
            client.credentials()  # the Basic header is the only key sent
            value = headers["basic"]
            # WSGI carries header bytes as latin-1 text: this is what a non-ASCII header looks like there.
            extra["HTTP_AUTHORIZATION"] = value if value.startswith("Basic ") else "Basic " + value
        data = body.encode("utf-8", "surrogatepass") if body is not None else None
        return client.generic(method, path, data=data or "", content_type="application/json", **extra)

    return send


@pytest.mark.parametrize("case", HOSTILE, ids=list(HOSTILE))
def test_hostile_input_is_a_4xx_json_error_or_a_stored_event(case, hostile_request):
    method, path, body, headers = HOSTILE[case]
    response = hostile_request(method, path, body, headers)
    assert response.status_code < 500, response.content[:500]
    if response.status_code >= 400:
        assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
        error = response.json()
        assert error.get("code"), error
    elif path == COLLECT:
        assert response.status_code == 201
    else:
        # A stream that broke midway (as export once did, into an HTML 500) raises while it is read.
        content = b"".join(response.streaming_content) if response.streaming else response.content
        assert content


def test_timestamps_with_offsets_beyond_15_59_are_stored_at_their_instant(client_for, registered):
    client = client_for(registered.secret_key.raw)
    response = client.post(COLLECT, {"event": "a", "timestamp": "2026-01-05T10:00:00+16:00"}, format="json")
    assert response.status_code == 201, response.content
    assert Event.objects.get().timestamp.isoformat() == "2026-01-04T18:00:00+00:00"


def test_a_utm_value_that_decodes_to_nul_is_stored_without_it(client_for, registered):
    client = client_for(registered.secret_key.raw)
    response = client.post(COLLECT, {"event": "a", "url": "https://shop.example/?utm_source=ad%00s"}, format="json")
    assert response.status_code == 201, response.content
    assert Event.objects.get().utm_source == "ads"


def test_an_export_with_an_offset_beyond_15_59_streams_a_whole_file(client_for, registered):
    client = client_for(registered.secret_key.raw)
    client.post(COLLECT, {"event": "a", "timestamp": "2026-01-02T10:00:00Z"}, format="json")
    response = client.get(
        "/api/analytics/export?startDate=2026-01-01T00:00:00%2B20:00&endDate=2026-01-03&format=ndjson"
    )
    assert response.status_code == 200
    lines = b"".join(response.streaming_content).decode().splitlines()
    assert [json.loads(line)["event"] for line in lines] == ["a"]
