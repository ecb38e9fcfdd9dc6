"""The Segment-compatible endpoints (SPEC §4.3): the real Segment and RudderStack SDKs, and each endpoint."""

import base64
import gzip
import json
import logging
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone
from rudderstack.analytics import Client as RudderStackClient
from rudderstack.analytics import request as rudderstack_request
from segment.analytics import Client as SegmentClient
from segment.analytics import request as segment_request

from analytics_project.tests.test_health import run_with_environment
from apikeys.keys import KeyKind, generate
from events.models import Event
from events.segment import MESSAGE_ID_NAMESPACE
from events.tests.conftest import IPHONE

MIB = 1024 * 1024
WHEN = datetime(2025, 3, 1, 12, 30, tzinfo=UTC)
SDK_LOGGERS = ("segment", "rudderstack")


def basic_auth(raw_key: str) -> str:
    return "Basic " + base64.b64encode(f"{raw_key}:".encode()).decode()


def message_id() -> str:
    return str(uuid.uuid4())


def batch_requests(caplog) -> list[int]:
    """The status of every POST /v1/batch the server answered, in order, from the request log."""
    return [
        record.status
        for record in caplog.records
        if record.name == "analytics.request" and record.method == "POST" and record.path == "/v1/batch"
    ]


def assert_segment_error(response, status: int, code: str | None = None) -> None:
    assert response.status_code == status
    body = response.json()
    assert set(body) == {"code", "message"}
    assert body["message"]
    if code is not None:
        assert body["code"] == code


# The real SDKs against a live server --------------------------------------------------------------


@dataclass
class SdkUnderTest:
    """One SDK pointed at the live test server, with what its error callback received."""

    name: str
    host: str
    clients: list = field(default_factory=list)
    errors: list = field(default_factory=list)

    def client(self, write_key: str, **options):
        client_class = SegmentClient if self.name == "segment" else RudderStackClient
        if self.name == "segment":
            # A rate-limited Segment client waits out Retry-After; bound it so a regression fails fast.
            options.setdefault("max_rate_limit_duration", 5)
        client = client_class(
            write_key,
            host=self.host,
            on_error=lambda error, batch: self.errors.append((error, batch)),
            max_retries=2,
            # One message per request, so the request log tells exactly how many uploads (and retries) happened.
            upload_size=1,
            upload_interval=0.05,
            **options,
        )
        self.clients.append(client)
        return client


@pytest.fixture(params=["segment", "rudderstack"])
def sdk(request, live_server, monkeypatch):
    # Both SDKs send through a module-level requests session that keeps connections alive. A kept-alive
    # connection pins a live-server thread, and with it a database connection, past the test: PostgreSQL
    # then refuses to drop the test database, and SQLite's shared in-memory connection is closed from the
    # wrong thread. The log records of a failed upload hold the response, so closing the session is not
    # enough; asking the server to close after each response is.
    for session in (segment_request._session, rudderstack_request._session):
        monkeypatch.setitem(session.headers, "Connection", "close")
    under_test = SdkUnderTest(name=request.param, host=live_server.url)
    yield under_test
    for client in under_test.clients:
        client.join()
    for thread in threading.enumerate():
        if thread.name.endswith("(process_request_thread)"):
            thread.join(timeout=5)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("gzip_body", [False, True], ids=["plain", "gzip"])
def test_the_sdk_delivers_track_page_and_identify_calls_that_are_stored_with_their_fields(
    sdk, registered, caplog, gzip_body
):
    caplog.set_level(logging.INFO, logger="analytics.request")
    client = sdk.client(registered.secret_key.raw, gzip=gzip_body)

    client.track(
        user_id="u_42",
        event="Order Completed",
        properties={"revenue": 42.5, "plan": "pro"},
        timestamp=WHEN,
        message_id="ajs-next-order-1",
    )
    _, page = client.page(
        user_id="u_42",
        category="Marketing",
        name="Pricing",
        properties={"url": "https://shop.example/pricing?utm_source=news", "title": "Plans and pricing"},
    )
    _, identify = client.identify(user_id="u_42", traits={"email": "ada@example.com", "plan": "pro"})
    client.flush()

    assert sdk.errors == []
    assert batch_requests(caplog) == [200, 200, 200]  # one upload per message, none retried
    assert [r for r in caplog.records if r.name in SDK_LOGGERS and r.levelno >= logging.WARNING] == []

    events = {event.name: event for event in Event.objects.all()}
    assert set(events) == {"Order Completed", "pageview", "identify"}
    for event in events.values():
        assert (event.app_id, event.user_id, event.distinct_id) == (registered.app.id, "u_42", "u_42")
        assert event.source == "segment"
        # The SDK's own User-Agent describes the sending server, not the user's device: not stored.
        assert (event.user_agent, event.device_type) == ("", "")

    track = events["Order Completed"]
    assert track.metadata == {"revenue": 42.5, "plan": "pro"}
    assert track.event_id == uuid.uuid5(MESSAGE_ID_NAMESPACE, "ajs-next-order-1")
    assert abs(track.timestamp - WHEN) < timedelta(seconds=5)  # only the send/receive skew is added

    pageview = events["pageview"]
    assert pageview.url == "https://shop.example/pricing?utm_source=news"
    assert (pageview.host, pageview.path, pageview.utm_source) == ("shop.example", "/pricing", "news")
    assert pageview.metadata["name"] == "Pricing"
    assert pageview.metadata["category"] == "Marketing"
    assert pageview.metadata["title"] == "Plans and pricing"
    assert pageview.event_id == uuid.UUID(page["messageId"])

    # Segment's SDK sends traits at the top level, RudderStack's in context.traits: both must arrive.
    assert events["identify"].metadata == {"email": "ada@example.com", "plan": "pro"}
    assert events["identify"].event_id == uuid.UUID(identify["messageId"])


@pytest.mark.django_db(transaction=True)
def test_a_message_id_the_sdk_sends_twice_is_stored_once(sdk, registered, caplog):
    caplog.set_level(logging.INFO, logger="analytics.request")
    client = sdk.client(registered.secret_key.raw)
    for _ in range(2):
        client.track(user_id="u_1", event="Signed Up", message_id="ajs-next-signup-1")
    client.flush()

    assert sdk.errors == []
    assert batch_requests(caplog) == [200, 200]
    assert Event.objects.filter(name="Signed Up").count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_wrong_write_key_is_reported_as_401_through_the_sdk_error_callback(sdk, registered, caplog):
    caplog.set_level(logging.INFO, logger="analytics.request")
    client = sdk.client(generate(KeyKind.SECRET).raw)  # well-formed, checksum valid, but never stored
    client.track(user_id="u_1", event="Signed Up")
    client.flush()

    ((error, batch),) = sdk.errors
    assert error.status == 401
    assert error.code == "invalid_api_key"  # the SDK could read our {"code", "message"} body
    assert [message["event"] for message in batch] == ["Signed Up"]
    assert batch_requests(caplog) == [401]  # a 401 is final: no retries
    assert Event.objects.count() == 0


# Each endpoint, through the test client -------------------------------------------------------------


@pytest.fixture
def send(api_client, registered):
    """POST a JSON body to /v1/<path> with a write key as the Basic-auth user name, as the SDKs do."""

    def post(path: str, body, *, key: str | None = None, **extra):
        api_client.credentials(HTTP_AUTHORIZATION=basic_auth(key or registered.secret_key.raw))
        return api_client.post(f"/v1/{path}", body, format="json", **extra)

    return post


def assert_success(response) -> None:
    assert response.status_code == 200
    assert response.json() == {"success": True}


def test_track_is_stored_under_its_event_name_with_properties_as_metadata(send, registered):
    response = send(
        "track",
        {
            "userId": "u_1",
            "anonymousId": "anon-1",
            "event": "Order Completed",
            "properties": {"revenue": 19.99, "currency": "EUR", "items": [{"sku": "A1"}]},
            "timestamp": "2025-03-01T12:30:00Z",
            "messageId": "ajs-next-track-1",
        },
    )
    assert_success(response)
    event = Event.objects.get()
    assert (event.app_id, event.name, event.source) == (registered.app.id, "Order Completed", "segment")
    assert (event.user_id, event.anonymous_id, event.distinct_id) == ("u_1", "anon-1", "u_1")
    assert event.metadata == {"revenue": 19.99, "currency": "EUR", "items": [{"sku": "A1"}]}
    assert event.timestamp == WHEN
    assert event.event_id == uuid.uuid5(MESSAGE_ID_NAMESPACE, "ajs-next-track-1")


def test_an_anonymous_track_counts_the_anonymous_id_as_the_user(send):
    assert_success(send("track", {"anonymousId": "anon-7", "event": "Viewed"}))
    event = Event.objects.get()
    assert (event.user_id, event.anonymous_id, event.distinct_id) == ("", "anon-7", "anon-7")


def test_page_is_stored_as_a_pageview_with_the_context_url_split_into_host_and_path(send):
    response = send(
        "page",
        {
            "userId": "u_1",
            "name": "Getting started",
            "category": "Docs",
            "properties": {"section": "guides"},
            "context": {
                "page": {
                    "url": "https://docs.shop.example/start/install?utm_campaign=launch",
                    "referrer": "https://news.ycombinator.com/item?id=1",
                }
            },
        },
    )
    assert_success(response)
    event = Event.objects.get()
    assert event.name == "pageview"
    assert event.url == "https://docs.shop.example/start/install?utm_campaign=launch"
    assert (event.host, event.path, event.utm_campaign) == ("docs.shop.example", "/start/install", "launch")
    assert (event.referrer, event.referrer_host) == ("https://news.ycombinator.com/item?id=1", "news.ycombinator.com")
    assert event.metadata == {"section": "guides", "name": "Getting started", "category": "Docs"}


def test_page_without_a_context_page_takes_the_url_from_its_properties(send):
    assert_success(send("page", {"userId": "u_1", "properties": {"url": "https://shop.example/cart"}}))
    event = Event.objects.get()
    assert (event.name, event.host, event.path) == ("pageview", "shop.example", "/cart")


def test_screen_is_stored_as_screen_with_its_name_and_the_device_screen_size(send):
    response = send(
        "screen",
        {
            "userId": "u_1",
            "name": "Checkout",
            "properties": {"step": 2},
            "context": {"screen": {"width": 390, "height": 844}, "locale": "en-GB"},
        },
    )
    assert_success(response)
    event = Event.objects.get()
    assert (event.name, event.screen, event.locale) == ("screen", "390x844", "en-GB")
    assert event.metadata == {"step": 2, "name": "Checkout"}


def test_identify_is_stored_with_the_traits_as_metadata(send):
    response = send("identify", {"userId": "u_7", "anonymousId": "anon-7", "traits": {"email": "a@b.example"}})
    assert_success(response)
    event = Event.objects.get()
    assert (event.name, event.user_id, event.anonymous_id) == ("identify", "u_7", "anon-7")
    assert event.metadata == {"email": "a@b.example"}


def test_identify_takes_the_traits_from_the_context_when_the_message_has_none(send):
    assert_success(send("identify", {"userId": "u_7", "context": {"traits": {"plan": "pro"}}}))
    assert Event.objects.get().metadata == {"plan": "pro"}


def test_group_is_stored_with_the_group_id_and_its_traits(send):
    response = send("group", {"userId": "u_1", "groupId": "acme-inc", "traits": {"name": "Acme", "employees": 40}})
    assert_success(response)
    event = Event.objects.get()
    assert (event.name, event.distinct_id) == ("group", "u_1")
    assert event.metadata == {"groupId": "acme-inc", "traits": {"name": "Acme", "employees": 40}}


def test_alias_is_stored_with_the_previous_id(send):
    assert_success(send("alias", {"userId": "u_9", "previousId": "anon-9"}))
    event = Event.objects.get()
    assert (event.name, event.user_id) == ("alias", "u_9")
    assert event.metadata == {"previousId": "anon-9"}


def test_a_batch_maps_each_message_by_its_type(send, registered):
    response = send(
        "batch",
        {
            "batch": [
                {"type": "track", "userId": "u_1", "event": "Clicked", "properties": {"button": "buy"}},
                {"type": "page", "userId": "u_1", "name": "Home", "context": {"page": {"url": "https://s.example/"}}},
                {"type": "screen", "userId": "u_1", "name": "Feed"},
                {"type": "identify", "userId": "u_1", "traits": {"plan": "free"}},
                {"type": "group", "userId": "u_1", "groupId": "g1"},
                {"type": "alias", "userId": "u_1", "previousId": "anon-1"},
            ]
        },
    )
    assert_success(response)
    stored = {event.name: event.metadata for event in Event.objects.filter(app=registered.app)}
    assert stored == {
        "Clicked": {"button": "buy"},
        "pageview": {"name": "Home"},
        "screen": {"name": "Feed"},
        "identify": {"plan": "free"},
        "group": {"groupId": "g1", "traits": {}},
        "alias": {"previousId": "anon-1"},
    }


def test_a_batch_stores_its_valid_messages_when_others_are_invalid(send):
    response = send(
        "batch",
        {"batch": [{"type": "bogus"}, {"type": "track", "userId": "u_1", "event": "Kept"}, {"type": "track"}]},
    )
    assert_success(response)
    assert list(Event.objects.values_list("name", flat=True)) == ["Kept"]


def test_batch_context_is_merged_into_each_message_and_the_message_own_keys_win(send):
    response = send(
        "batch",
        {
            "context": {"userAgent": IPHONE, "locale": "de-DE", "page": {"url": "https://shop.example/from-batch"}},
            "batch": [
                {
                    "type": "track",
                    "userId": "u_1",
                    "event": "own",
                    "context": {"locale": "fr-FR", "page": {"url": "https://shop.example/from-message"}},
                },
                {"type": "track", "userId": "u_1", "event": "inherited"},
            ],
        },
    )
    assert_success(response)
    own, inherited = Event.objects.get(name="own"), Event.objects.get(name="inherited")
    assert (own.path, own.locale) == ("/from-message", "fr-FR")
    assert (inherited.path, inherited.locale) == ("/from-batch", "de-DE")
    for event in (own, inherited):
        assert (event.user_agent, event.browser, event.device_type) == (IPHONE, "Mobile Safari", "mobile")


@pytest.mark.parametrize(("kind", "stored_ip"), [("secret_key", "203.0.113.9"), ("publishable_key", "127.0.0.1")])
def test_the_context_ip_is_stored_only_for_a_secret_key(send, registered, kind, stored_ip):
    # A server-side SDK speaks for its users; a browser holding a publishable key could forge the address.
    body = {"userId": "u_1", "event": "Paid", "context": {"ip": "203.0.113.9"}}
    assert_success(send("track", body, key=getattr(registered, kind).raw))
    assert Event.objects.get().ip == stored_ip


def test_a_numeric_rudderstack_session_id_in_the_context_is_stored_as_text(send):
    assert_success(send("track", {"userId": "u_1", "event": "Paid", "context": {"sessionId": 1697040000000}}))
    assert Event.objects.get().session_id == "1697040000000"


def test_original_timestamp_is_corrected_by_the_clock_skew_the_batch_sent_at_reveals(send):
    # The client's clock runs an hour slow: it stamped the event 5 s before it sent the batch.
    client_now = timezone.now() - timedelta(hours=1)
    response = send(
        "batch",
        {
            "sentAt": client_now.isoformat(),
            "batch": [
                {
                    "type": "track",
                    "userId": "u_1",
                    "event": "Skewed",
                    "originalTimestamp": (client_now - timedelta(seconds=5)).isoformat(),
                }
            ],
        },
    )
    assert_success(response)
    age = timezone.now() - Event.objects.get().timestamp
    assert timedelta(seconds=4) < age < timedelta(seconds=30)


# Where the write key may come from --------------------------------------------------------------------


def _basic(raw_key: str, body: dict) -> tuple[dict, dict]:
    return body, {"HTTP_AUTHORIZATION": basic_auth(raw_key)}


def _body(raw_key: str, body: dict) -> tuple[dict, dict]:
    return {**body, "writeKey": raw_key}, {}


def _header(raw_key: str, body: dict) -> tuple[dict, dict]:
    return body, {"HTTP_X_API_KEY": raw_key}


KEY_CARRIERS = pytest.mark.parametrize("carry", [_basic, _body, _header], ids=["basic-auth", "body", "x-api-key"])


@KEY_CARRIERS
@pytest.mark.parametrize("kind", ["secret_key", "publishable_key"])
def test_the_write_key_is_accepted_from_basic_auth_the_body_or_the_api_key_header(
    api_client, registered, other_app, carry, kind
):
    body, headers = carry(getattr(registered, kind).raw, {"batch": [{"type": "track", "userId": "u", "event": "e"}]})
    assert_success(api_client.post("/v1/batch", body, format="json", **headers))
    assert Event.objects.get().app_id == registered.app.id
    assert not Event.objects.filter(app=other_app.app).exists()


@KEY_CARRIERS
def test_a_wrong_write_key_is_401_and_stores_nothing(api_client, registered, carry):
    body, headers = carry(generate(KeyKind.SECRET).raw, {"batch": [{"type": "track", "userId": "u", "event": "e"}]})
    response = api_client.post("/v1/batch", body, format="json", **headers)
    assert_segment_error(response, 401, "invalid_api_key")
    assert Event.objects.count() == 0


def test_a_request_without_any_write_key_is_401_with_a_basic_auth_challenge(api_client, registered):
    response = api_client.post("/v1/track", {"userId": "u", "event": "e"}, format="json")
    assert_segment_error(response, 401, "authentication_required")
    assert response["WWW-Authenticate"].startswith("Basic")
    assert Event.objects.count() == 0


# Bodies: gzip, size, shape ------------------------------------------------------------------------------


def test_a_gzip_body_is_accepted(api_client, registered):
    body = {"batch": [{"type": "track", "userId": "u_1", "event": "Zipped", "properties": {"n": 1}}]}
    response = api_client.post(
        "/v1/batch",
        gzip.compress(json.dumps(body).encode()),
        content_type="application/json",
        HTTP_CONTENT_ENCODING="gzip",
        HTTP_AUTHORIZATION=basic_auth(registered.secret_key.raw),
    )
    assert_success(response)
    event = Event.objects.get()
    assert (event.name, event.metadata) == ("Zipped", {"n": 1})


def test_a_body_that_is_not_valid_gzip_is_400(api_client, registered):
    response = api_client.post(
        "/v1/batch",
        b"not gzip at all",
        content_type="application/json",
        HTTP_CONTENT_ENCODING="gzip",
        HTTP_AUTHORIZATION=basic_auth(registered.secret_key.raw),
    )
    assert_segment_error(response, 400)
    assert Event.objects.count() == 0


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("track", b"{not json"),
        ("track", b'{"userId": "u", "event": "e", "properties": {"x": NaN}}'),
        ("batch", b'{"batch": [{"type": "track", "userId": "u", "event": "e", "properties": {"x": Infinity}}]}'),
        ("batch", b"[" * 200_000),
    ],
    ids=["not-json", "nan", "infinity", "nested-200000-deep"],
)
def test_a_body_that_is_not_json_is_400(api_client, registered, path, body):
    response = api_client.post(
        f"/v1/{path}",
        body,
        content_type="application/json",
        HTTP_AUTHORIZATION=basic_auth(registered.secret_key.raw),
    )
    assert_segment_error(response, 400, "malformed_json")
    assert Event.objects.count() == 0


def test_messages_with_a_lone_surrogate_are_dropped_and_the_rest_of_the_batch_is_stored(api_client, registered):
    batch = [
        {"type": "track", "userId": "u", "event": "bad id", "messageId": "m-\ud800"},
        {"type": "track", "userId": "u", "event": "bad property", "properties": {"k": "\udfff"}},
        {"type": "track", "userId": "u\ud800", "event": "bad user"},
        {"type": "track", "userId": "u", "event": "good"},
    ]
    response = api_client.post(
        "/v1/batch",
        json.dumps({"batch": batch}),  # ASCII-escaped, so the surrogates travel as \ud800 as from any client
        content_type="application/json",
        HTTP_AUTHORIZATION=basic_auth(registered.secret_key.raw),
    )
    assert_success(response)
    assert list(Event.objects.values_list("name", flat=True)) == ["good"]


def test_a_page_url_that_cannot_be_split_is_stored_without_host_or_path(send):
    assert_success(send("page", {"userId": "u", "context": {"page": {"url": "http://[::1", "referrer": "http://[x"}}}))
    event = Event.objects.get()
    assert (event.url, event.host, event.path, event.referrer_host) == ("http://[::1", "", "", "")


DATABASE_DOWN_REQUEST = """
import json, django
django.setup()
from django.test import Client
response = Client().post("/v1/batch", {"batch": []}, content_type="application/json", HTTP_X_API_KEY=%r)
print(json.dumps([response.status_code, response.json(), response.headers.get("Retry-After")]))
"""


def test_with_the_database_down_the_answer_is_503_with_retry_after_in_the_segment_shape():
    code = DATABASE_DOWN_REQUEST % generate(KeyKind.SECRET).raw  # well-formed, so its lookup needs the database
    result = run_with_environment(code, SQLITE_PATH="/nonexistent-directory/db.sqlite3")
    assert result.returncode == 0, result.stderr
    status, body, retry_after = json.loads(result.stdout.strip().splitlines()[-1])
    assert status == 503
    assert body == {"code": "database_unavailable", "message": body["message"]} and body["message"]
    assert int(retry_after) > 0


def test_a_body_over_one_mib_is_413(send):
    padding = "x" * MIB
    response = send(
        "batch", {"batch": [{"type": "track", "userId": "u", "event": "big", "properties": {"p": padding}}]}
    )
    assert_segment_error(response, 413, "payload_too_large")
    assert Event.objects.count() == 0


def test_a_gzip_body_that_inflates_past_one_mib_is_413(api_client, registered):
    body = {"batch": [{"type": "track", "userId": "u", "event": "bomb", "properties": {"p": "0" * (2 * MIB)}}]}
    compressed = gzip.compress(json.dumps(body).encode())
    assert len(compressed) < 64 * 1024
    response = api_client.post(
        "/v1/batch",
        compressed,
        content_type="application/json",
        HTTP_CONTENT_ENCODING="gzip",
        HTTP_AUTHORIZATION=basic_auth(registered.secret_key.raw),
    )
    assert_segment_error(response, 413, "payload_too_large")
    assert Event.objects.count() == 0


@pytest.mark.parametrize(
    "body",
    [{"batch": []}, {}, {"batch": "track"}, {"batch": None}, []],
    ids=["empty", "absent", "text", "null", "list"],
)
def test_a_batch_that_is_empty_absent_or_not_a_list_is_400(send, body):
    assert_segment_error(send("batch", body), 400, "invalid_request")
    assert Event.objects.count() == 0


def test_a_batch_with_more_messages_than_the_limit_is_400(send, settings):
    settings.INGEST_MAX_BATCH = 2
    response = send("batch", {"batch": [{"type": "track", "userId": "u", "event": f"e{i}"} for i in range(3)]})
    assert_segment_error(response, 400, "invalid_request")
    assert Event.objects.count() == 0


def test_a_batch_whose_messages_are_all_invalid_is_400(send):
    response = send("batch", {"batch": [{"type": "bogus"}, {"type": "track", "userId": "u"}, "not an object"]})
    assert_segment_error(response, 400, "invalid_request")
    assert "`event` (the event name) is required" in response.json()["message"]
    assert Event.objects.count() == 0


def test_the_400_message_names_each_invalid_message_by_its_index_in_the_batch(send):
    response = send("batch", {"batch": [{"type": "bogus"}, {"type": "track", "userId": "u"}]})
    assert_segment_error(response, 400, "invalid_request")
    assert "message 1: `event` (the event name) is required" in response.json()["message"]
    assert Event.objects.count() == 0


def test_blank_message_ids_are_no_ids_and_never_make_duplicates(send):
    for _ in range(3):
        assert send("track", {"userId": "u", "event": "e", "messageId": ""}).status_code == 200
    assert Event.objects.count() == 3


@pytest.mark.parametrize(
    ("path", "body"),
    [("track", {"userId": "u", "properties": {}}), ("track", ["not", "an", "object"]), ("page", {"userId": "u" * 300})],
    ids=["track-without-event", "track-not-an-object", "page-user-id-too-long"],
)
def test_a_single_invalid_message_is_400(send, path, body):
    assert_segment_error(send(path, body), 400, "invalid_request")
    assert Event.objects.count() == 0


# Idempotency ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "id_of_message", ["0b7f3c52-9d4e-4f7a-8c1b-2e6d5a9f8c31", "ajs-next-abc"], ids=["uuid", "not-a-uuid"]
)
def test_the_same_message_id_sent_twice_is_stored_once(send, id_of_message):
    message = {"userId": "u_1", "event": "Paid", "messageId": id_of_message}
    assert_success(send("track", message))
    assert_success(send("batch", {"batch": [{**message, "type": "track"}, {**message, "type": "track"}]}))
    assert Event.objects.count() == 1


def test_a_uuid_message_id_becomes_the_event_id_unchanged(send):
    id_of_message = message_id()
    assert_success(send("track", {"userId": "u_1", "event": "Paid", "messageId": id_of_message}))
    assert Event.objects.get().event_id == uuid.UUID(id_of_message)


def test_different_non_uuid_message_ids_are_stored_as_different_events(send):
    batch = [{"type": "track", "userId": "u_1", "event": "Paid", "messageId": f"ajs-next-ab{c}"} for c in "cde"]
    assert_success(send("batch", {"batch": batch}))
    assert Event.objects.values("event_id").distinct().count() == 3


def test_messages_without_a_message_id_are_each_stored(send):
    message = {"type": "track", "userId": "u_1", "event": "Paid"}
    assert_success(send("batch", {"batch": [message, message]}))
    assert Event.objects.count() == 2


# Rate limits and tenants ---------------------------------------------------------------------------------


def test_over_the_ingest_rate_the_next_call_is_429_with_an_integer_retry_after(send, settings):
    settings.INGEST_RATE = "1/m"
    assert_success(send("track", {"userId": "u_1", "event": "first"}))
    response = send("track", {"userId": "u_1", "event": "second"})
    assert_segment_error(response, 429, "rate_limited")
    assert 1 <= int(response["Retry-After"]) <= 60
    assert list(Event.objects.values_list("name", flat=True)) == ["first"]


def test_events_sent_with_one_app_key_never_land_in_another_app(send, registered, other_app):
    for path, body in [
        ("track", {"userId": "u_1", "event": "Paid"}),
        ("page", {"userId": "u_1", "context": {"page": {"url": "https://a.example/"}}}),
        ("identify", {"userId": "u_1", "traits": {"plan": "pro"}}),
        ("batch", {"batch": [{"type": "screen", "userId": "u_1"}, {"type": "alias", "userId": "u_1"}]}),
    ]:
        assert_success(send(path, body))
    assert Event.objects.filter(app=registered.app).count() == 5
    assert Event.objects.filter(app=other_app.app).count() == 0


def test_the_same_message_id_in_two_apps_is_stored_once_in_each(send, registered, other_app):
    message = {"userId": "u_1", "event": "Paid", "messageId": "ajs-next-shared"}
    assert_success(send("track", message))
    assert_success(send("track", message, key=other_app.secret_key.raw))
    assert_success(send("track", message, key=other_app.publishable_key.raw))
    assert Event.objects.filter(app=registered.app).count() == 1
    assert Event.objects.filter(app=other_app.app).count() == 1
