"""Request bodies on every JSON endpoint: size limits before parsing, the encodings the server decodes,
and the content types each protocol accepts."""

import base64
import gzip
import json
import uuid

import pytest

from apikeys.models import App
from events.models import Event

MIB = 1024 * 1024
REGISTER = "/api/auth/register"
REGISTRATION = {"name": "Gzipped", "ownerEmail": "gz@acme.example"}


def _segment_batch(*names: str) -> bytes:
    return json.dumps({"batch": [{"type": "track", "event": name, "userId": "u1"} for name in names]}).encode()


@pytest.fixture
def endpoints(api_client, secret_client):
    """Every DRF endpoint that reads a JSON body, with the client that may call it."""
    return [(api_client, REGISTER), (secret_client, "/api/auth/keys"), (secret_client, "/api/analytics/funnels")]


def test_a_body_over_the_limit_is_a_413_before_it_is_parsed(endpoints, settings):
    # 10 MiB of what is not even JSON: a 413 rather than a 400 shows it was refused unread.
    body = b"{" * (10 * MIB)
    for client, path in endpoints:
        response = client.generic("POST", path, body, content_type="application/json")
        assert response.status_code == 413, path
        assert response.json()["code"] == "payload_too_large", path
        assert str(settings.JSON_MAX_BODY_BYTES) in response.json()["detail"]
    assert not App.objects.filter(name="x").exists()


def test_a_body_just_under_the_limit_is_parsed(api_client, settings, db):
    settings.JSON_MAX_BODY_BYTES = 2048
    padded = {**REGISTRATION, "name": "n" * 100, "domains": ["a.example"] * 100}
    body = json.dumps(padded).encode()
    assert len(body) < 2048
    assert api_client.generic("POST", REGISTER, body, content_type="application/json").status_code == 201
    over = json.dumps({**padded, "domains": ["a.example"] * 150}).encode()
    assert api_client.generic("POST", REGISTER, over, content_type="application/json").status_code == 413


@pytest.mark.parametrize("encoding", ["br", "zstd", "deflate", "compress", "gzip, br"])
def test_an_encoding_the_server_does_not_decode_is_a_415_everywhere(encoding, api_client, client_for, registered):
    client = client_for(registered.secret_key.raw)
    requests = [
        (client, "/api/analytics/collect", json.dumps({"event": "a"}).encode()),
        (client, "/v1/batch", _segment_batch("a")),
        (api_client, REGISTER, json.dumps(REGISTRATION).encode()),
    ]
    for sender, path, body in requests:
        response = sender.generic("POST", path, body, content_type="application/json", HTTP_CONTENT_ENCODING=encoding)
        assert response.status_code == 415, (path, response.content)
        code = response.json()["code"]
        assert code == "unsupported_media_type", path
    assert not Event.objects.exists()


@pytest.mark.parametrize(
    ("name", "corrupt"),
    [
        ("trailing garbage", lambda body: gzip.compress(body) + b"garbage"),
        ("truncated", lambda body: gzip.compress(body)[:-6]),
        ("not gzip", lambda body: body),
    ],
)
def test_corrupt_gzip_is_a_400_everywhere(name, corrupt, api_client, client_for, registered):
    client = client_for(registered.secret_key.raw)
    for sender, path, body in (
        (client, "/api/analytics/collect", json.dumps({"event": "a"}).encode()),
        (client, "/v1/batch", _segment_batch("a")),
        (api_client, REGISTER, json.dumps(REGISTRATION).encode()),
    ):
        response = sender.generic(
            "POST", path, corrupt(body), content_type="application/json", HTTP_CONTENT_ENCODING="gzip"
        )
        assert response.status_code == 400, (name, path, response.content)
    assert not Event.objects.exists()


def test_gzip_bodies_are_read_on_every_json_endpoint(api_client, db):
    body = gzip.compress(json.dumps(REGISTRATION).encode())
    response = api_client.generic("POST", REGISTER, body, content_type="application/json", HTTP_CONTENT_ENCODING="gzip")
    assert response.status_code == 201, response.content


@pytest.mark.parametrize("compressed", [True, False], ids=["gzip", "plain"])
def test_segment_endpoints_read_json_whatever_its_content_type(compressed, api_client, registered):
    """RudderStack's Node SDK sends gzip JSON labelled application/x-www-form-urlencoded, and drops the
    batch for good on a 415. Segment's own API reads the body as JSON whatever its label; so does this one."""
    body = _segment_batch("signed_up", "upgraded")
    headers = {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(registered.secret_key.raw.encode() + b":").decode()}
    if compressed:
        body, headers["HTTP_CONTENT_ENCODING"] = gzip.compress(body), "gzip"
    response = api_client.generic(
        "POST", "/v1/batch", body, content_type="application/x-www-form-urlencoded", **headers
    )
    assert response.status_code == 200, response.content
    assert response.json() == {"success": True}
    assert sorted(Event.objects.values_list("name", flat=True)) == ["signed_up", "upgraded"]


def test_the_native_collect_endpoint_still_names_the_content_types_it_reads(client_for, registered):
    client = client_for(registered.secret_key.raw)
    body = json.dumps({"event": "a", "eventId": str(uuid.uuid4())}).encode()
    response = client.generic("POST", "/api/analytics/collect", body, content_type="application/x-www-form-urlencoded")
    assert response.status_code == 415
    assert not Event.objects.exists()
