import json
import logging

from analytics_project.logging import JsonFormatter
from apikeys.models import App


def test_unknown_api_path_is_a_json_404(api_client, db):
    response = api_client.get("/api/nothing-here")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_wrong_method_is_405_in_the_error_format(secret_client):
    response = secret_client.delete("/api/auth/keys")
    assert response.status_code == 405
    assert response.json()["code"] == "method_not_allowed"


def test_every_response_carries_a_request_id(api_client, db):
    response = api_client.get("/health")
    assert len(response["X-Request-ID"]) >= 16
    assert api_client.get("/health", HTTP_X_REQUEST_ID="trace-123")["X-Request-ID"] == "trace-123"
    assert api_client.get("/health", HTTP_X_REQUEST_ID="bad id\n")["X-Request-ID"] != "bad id\n"


def test_request_log_line_is_json_with_the_documented_fields(secret_client, registered, caplog):
    caplog.set_level("INFO", logger="analytics.request")
    secret_client.get("/api/auth/keys?page=2")
    (record,) = [r for r in caplog.records if r.name == "analytics.request"]
    line = json.loads(JsonFormatter().format(record))
    assert line["path"] == "/api/auth/keys"  # no query string: it could carry secrets
    assert line["status"] == 200 and line["method"] == "GET"
    assert line["appId"] == str(registered.app.id)
    assert line["keyPrefix"] == registered.secret_key.api_key.prefix
    assert line["durationMs"] >= 0 and line["requestId"]


def test_registration_and_key_management_fail_closed_when_redis_is_down(api_client, secret_client, dead_redis):
    response = api_client.post("/api/auth/register", {"name": "x", "ownerEmail": "x@x.example"}, format="json")
    assert response.status_code == 503
    assert response.json()["code"] == "cache_unavailable"
    assert int(response["Retry-After"]) > 0
    assert App.objects.filter(name="x").count() == 0
    response = secret_client.post("/api/auth/keys", {"kind": "secret"}, format="json")
    assert response.status_code == 503
    assert int(response["Retry-After"]) > 0


def test_a_body_nested_too_deep_to_parse_is_a_400_on_every_json_endpoint(api_client, secret_client):
    nested = "[" * 60_000  # far deeper than the decoder follows, and under the 64 KiB body limit
    for client, path in (
        (api_client, "/api/auth/register"),
        (secret_client, "/api/auth/keys"),
        (secret_client, "/api/analytics/funnels"),
    ):
        response = client.generic("POST", path, nested, content_type="application/json")
        assert response.status_code == 400, path
        assert response.json()["code"] == "malformed_json", path


def test_no_log_line_carries_a_whole_key_whoever_logs_it(registered):
    """Django's own error lines carry the URL, and analytics.js and RudderStack JS put keys in URLs."""
    raw = registered.publishable_key.raw
    record = logging.LogRecord(
        "django.request", logging.ERROR, __file__, 1, "Service Unavailable: %s", (f"/v1/projects/{raw}/settings",), None
    )
    record.request = f"<WSGIRequest: GET '/sourceConfig/?writeKey={raw}'>"
    line = JsonFormatter().format(record)
    assert raw not in line
    assert line.count(registered.publishable_key.api_key.prefix) == 2
