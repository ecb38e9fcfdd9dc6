"""PostHog's capture endpoints (SPEC §4.5) through the test client: paths, body forms, token places,
the mapping of each property to native columns, identity, and PostHog's answers."""

import base64
import gzip
import json
import uuid
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import pytest
from django.utils import timezone

from analytics_project.tests.test_health import run_with_environment
from apikeys.keys import KeyKind, generate
from events.models import Event
from events.tests.conftest import IPHONE

CAPTURE_PATHS = ["/e/", "/i/v0/e/", "/batch/", "/capture/", "/track/"]
WHEN = datetime(2026, 1, 6, 8, 12, 44, tzinfo=UTC)
MIB = 1024 * 1024


def posthog_event(**fields) -> dict:
    return {"event": "signed_up", "distinct_id": "u_42", "uuid": str(uuid.uuid4()), **fields}


def assert_posthog_error(response, status: int, code: str, error_type: str) -> None:
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"type", "code", "detail", "attr"}
    assert (body["type"], body["code"], body["attr"]) == (error_type, code, None)
    assert body["detail"]


@pytest.fixture
def capture(api_client, registered):
    """POST a JSON body to a capture path, the publishable key in ``api_key`` as posthog-node sends it."""

    def post(body, *, path: str = "/batch/", key: str | None = None, **extra):
        if isinstance(body, dict) and "batch" in body:
            body = {"api_key": key or registered.publishable_key.raw, **body}
        return api_client.post(path, json.dumps(body), content_type="application/json", **extra)

    return post


def only_event(**filters) -> Event:
    (event,) = Event.objects.filter(**filters)
    return event


# Paths, body forms and token places ----------------------------------------------------------------------


@pytest.mark.parametrize("path", CAPTURE_PATHS + [path.rstrip("/") for path in CAPTURE_PATHS])
def test_every_capture_path_with_or_without_its_slash_stores_the_event_and_answers_status_1(capture, path):
    response = capture({"batch": [posthog_event(event="paid")]}, path=path)
    assert (response.status_code, response.json()) == (200, {"status": 1})
    event = only_event()
    assert (event.name, event.source, event.distinct_id) == ("paid", "posthog", "u_42")


def test_gzip_labelled_text_plain_without_content_encoding_is_recognised_by_its_bytes(api_client, registered):
    body = {"api_key": registered.publishable_key.raw, "batch": [posthog_event()]}
    response = api_client.post("/e/", gzip.compress(json.dumps(body).encode()), content_type="text/plain")
    assert response.json() == {"status": 1}
    assert only_event().name == "signed_up"


def test_gzip_with_a_content_encoding_header_is_accepted(api_client, registered):
    body = {"api_key": registered.secret_key.raw, "batch": [posthog_event()]}
    response = api_client.post(
        "/batch/",
        gzip.compress(json.dumps(body).encode()),
        content_type="application/json",
        HTTP_CONTENT_ENCODING="gzip",
    )
    assert response.json() == {"status": 1}
    assert Event.objects.count() == 1


def _beacon_data(registered, name: str, padding: str = "") -> str:
    # posthog-js's sendBeacon: base64 of a JSON array whose events carry the token in their properties.
    properties = {"token": registered.publishable_key.raw, "π": "ü" + padding}
    return base64.b64encode(json.dumps([posthog_event(event=name, properties=properties)]).encode()).decode()


def test_a_data_form_of_base64_json_is_accepted_as_sendbeacon_sends_it(api_client, registered):
    body = "data=" + quote(_beacon_data(registered, "left"), safe="")
    response = api_client.post(
        "/e/?compression=base64", body, content_type="application/x-www-form-urlencoded; charset=UTF-8"
    )
    assert response.json() == {"status": 1}
    assert only_event().metadata == {"π": "ü"}


def test_a_data_form_whose_plus_signs_were_decoded_as_spaces_is_still_read(api_client, registered):
    data = next(data for n in range(64) if "+" in (data := _beacon_data(registered, "left", ">" * n)))
    response = api_client.post(
        "/e/", "data=" + data.replace("+", " "), content_type="application/x-www-form-urlencoded"
    )
    assert response.json() == {"status": 1}
    assert only_event().name == "left"


def test_data_in_the_query_string_is_read_when_the_body_is_empty(api_client, registered):
    response = api_client.post("/e/?data=" + quote(_beacon_data(registered, "pixel"), safe=""))
    assert response.json() == {"status": 1}
    assert only_event().name == "pixel"


def test_a_data_form_of_plain_json_is_accepted(api_client, registered):
    event = posthog_event(properties={"token": registered.publishable_key.raw})
    response = api_client.post(
        "/capture/", "data=" + quote(json.dumps(event)), content_type="application/x-www-form-urlencoded"
    )
    assert response.json() == {"status": 1}
    assert Event.objects.count() == 1


def _token_places(key: str) -> dict:
    return {
        "api_key": {"api_key": key, "batch": [posthog_event()]},
        "token": {"token": key, "batch": [posthog_event()]},
        "$token": {**posthog_event(), "$token": key},
        "properties.token": posthog_event(properties={"token": key}),
        "an event's api_key": [{**posthog_event(), "api_key": key}],
        "an event's properties.token": {"batch": [posthog_event(properties={"token": key})]},
    }


@pytest.mark.parametrize("place", [*_token_places(""), "X-API-Key header"])
@pytest.mark.parametrize("kind", ["publishable", "secret"])
def test_the_token_is_read_from_every_place_posthog_clients_put_it(api_client, registered, place, kind):
    key = registered.publishable_key.raw if kind == "publishable" else registered.secret_key.raw
    if place == "X-API-Key header":
        payload, headers = [posthog_event()], {"HTTP_X_API_KEY": key}
    else:
        payload, headers = _token_places(key)[place], {}
    response = api_client.post("/e/", json.dumps(payload), content_type="application/json", **headers)
    assert response.json() == {"status": 1}
    event = only_event()
    assert event.app_id == registered.app.id
    assert "token" not in event.metadata  # the key itself is never stored


def test_events_carrying_two_different_tokens_are_refused_whole(capture, registered, other_app):
    batch = [posthog_event(), posthog_event(properties={"token": other_app.publishable_key.raw})]
    assert_posthog_error(capture({"batch": batch}), 400, "invalid_payload", "validation_error")
    assert Event.objects.count() == 0


# Mapping -------------------------------------------------------------------------------------------------


def test_a_pageview_maps_each_posthog_property_to_its_native_column(capture, registered):
    sent = WHEN + timedelta(seconds=1)
    properties = {
        "$current_url": "https://shop.example/pricing?utm_source=news",
        "$pathname": "/pricing",
        "$referrer": "https://search.example/?q=shop",
        "$raw_user_agent": IPHONE,
        "$session_id": "0190-session",
        "$device_id": "0190-device",
        "$screen_width": 390,
        "$screen_height": 844,
        "$browser_language": "de-DE",
        "$lib": "web",
        "$lib_version": "1.449.2",
        "plan": "pro",
        "token": registered.publishable_key.raw,
    }
    event_uuid = str(uuid.uuid4())
    before = timezone.now()
    capture(
        {
            "sent_at": sent.isoformat(),
            "batch": [
                posthog_event(event="$pageview", uuid=event_uuid, timestamp=WHEN.isoformat(), properties=properties)
            ],
        }
    )
    view = only_event()
    assert view.name == "pageview"
    assert (view.url, view.host, view.path, view.utm_source) == (
        properties["$current_url"],
        "shop.example",
        "/pricing",
        "news",
    )
    assert (view.referrer, view.referrer_host) == ("https://search.example/?q=shop", "search.example")
    assert (view.user_agent, view.device_type, view.os) == (IPHONE, "mobile", "iOS")
    assert (view.session_id, view.screen, view.locale) == ("0190-session", "390x844", "de-DE")
    assert view.event_id == uuid.UUID(event_uuid)
    # The client's clock ran a second behind its send time: the event happened a second before receipt.
    assert before - timedelta(seconds=1, milliseconds=50) <= view.timestamp <= timezone.now() - timedelta(seconds=1)
    assert view.metadata == {"$pathname": "/pricing", "$lib": "web", "$lib_version": "1.449.2", "plan": "pro"}


def test_a_direct_visit_has_no_referrer(capture):
    capture({"batch": [posthog_event(event="$pageview", properties={"$referrer": "$direct"})]})
    assert (only_event().referrer, only_event().referrer_host) == ("", "")


def test_a_pathname_is_the_page_when_there_is_no_current_url(capture):
    capture({"batch": [posthog_event(event="$pageview", properties={"$pathname": "/docs"})]})
    assert only_event().path == "/docs"


def test_an_offset_dates_the_event_that_many_milliseconds_before_its_receipt(capture):
    before = timezone.now()
    capture({"batch": [posthog_event(offset=60_000, timestamp="2001-01-01T00:00:00Z")]})
    assert before - timedelta(seconds=60) <= only_event().timestamp <= timezone.now() - timedelta(seconds=59)


def test_an_epoch_millisecond_sent_at_in_the_query_string_corrects_the_clock_skew(capture):
    sent_ms = int((WHEN + timedelta(hours=1)).timestamp() * 1000)
    capture({"batch": [posthog_event(timestamp=WHEN.isoformat())]}, path=f"/e/?_={sent_ms}")
    skew = timezone.now() - only_event().timestamp
    assert timedelta(hours=1) <= skew < timedelta(hours=1, seconds=5)


@pytest.mark.parametrize(
    ("properties", "user_id", "anonymous_id"),
    [
        ({"$device_id": "dev-1"}, "u_42", "dev-1"),
        ({}, "", "u_42"),
        ({"$device_id": "u_42"}, "", "u_42"),
        ({"$device_id": "dev-1", "$is_identified": False}, "", "u_42"),
        ({"$is_identified": True}, "u_42", ""),
        ({"$user_id": "u_42"}, "u_42", ""),
    ],
    ids=[
        "device-differs",
        "no-device",
        "device-is-distinct-id",
        "flag-says-anonymous",
        "flag-says-identified",
        "user-id",
    ],
)
def test_distinct_id_is_the_user_id_only_when_the_person_is_identified(capture, properties, user_id, anonymous_id):
    capture({"batch": [posthog_event(properties=properties)]})
    event = only_event()
    assert (event.user_id, event.anonymous_id, event.distinct_id) == (user_id, anonymous_id, "u_42")


def test_identify_links_the_anonymous_id_to_the_user_with_the_set_traits(capture):
    properties = {
        "$anon_distinct_id": "anon-7",
        "$device_id": "anon-7",
        "$set": {"email": "ada@example.com", "plan": "pro"},
        "$set_once": {"first_seen_plan": "free"},
        "$lib": "web",
    }
    capture({"batch": [posthog_event(event="$identify", properties=properties)]})
    identify = only_event()
    assert (identify.name, identify.user_id, identify.anonymous_id) == ("identify", "u_42", "anon-7")
    assert identify.metadata == {"email": "ada@example.com", "plan": "pro", "$set_once": {"first_seen_plan": "free"}}


def test_create_alias_links_the_alias_to_the_distinct_id_as_previous_id(capture):
    capture({"batch": [posthog_event(event="$create_alias", properties={"distinct_id": "u_42", "alias": "old-9"})]})
    alias = only_event()
    assert (alias.name, alias.user_id, alias.metadata) == ("alias", "u_42", {"previousId": "old-9"})


def test_set_and_set_once_on_any_event_stay_in_metadata_as_objects_the_properties_winning(capture):
    event = posthog_event(
        **{"$set": {"plan": "free", "seats": 1}},
        properties={"$set": {"plan": "pro"}, "$set_once": {"source": "ads"}, "step": 2},
    )
    capture({"batch": [event]})
    assert only_event().metadata == {"step": 2, "$set": {"plan": "pro", "seats": 1}, "$set_once": {"source": "ads"}}


def test_engage_stores_the_people_update_as_an_identify_with_its_traits(api_client, registered):
    body = {"$token": registered.publishable_key.raw, "$distinct_id": "u_42", "$set": {"name": "Ada"}}
    response = api_client.post("/engage/", json.dumps(body), content_type="application/json")
    assert response.json() == {"status": 1}
    identify = only_event()
    assert (identify.name, identify.user_id, identify.metadata) == ("identify", "u_42", {"name": "Ada"})


def test_groupidentify_is_stored_as_a_group_event_with_type_key_and_traits(capture):
    properties = {"$group_type": "company", "$group_key": "acme", "$group_set": {"employees": 12}}
    capture({"batch": [posthog_event(event="$groupidentify", properties=properties)]})
    group = only_event()
    assert (group.name, group.metadata) == (
        "group",
        {"groupType": "company", "groupId": "acme", "traits": {"employees": 12}},
    )


# Idempotency and partial batches -------------------------------------------------------------------------


def test_the_same_uuid_sent_twice_is_stored_once(capture):
    event = posthog_event()
    assert capture({"batch": [event]}).json() == {"status": 1}
    assert capture({"batch": [event]}).json() == {"status": 1}
    assert Event.objects.count() == 1


def test_in_buffered_mode_events_are_queued_answered_as_posthog_does_and_stored_by_the_worker(capture, drain):
    event = posthog_event()
    assert capture({"batch": [event]}).json() == {"status": 1}
    assert Event.objects.count() == 0
    drain()
    assert only_event().event_id == uuid.UUID(event["uuid"])


def test_a_batch_stores_its_valid_events_and_succeeds_when_others_are_invalid(capture):
    batch = [posthog_event(event="kept"), {"event": "no id"}, "not an object", posthog_event(event="x" * 201)]
    assert capture({"batch": batch}).json() == {"status": 1}
    assert list(Event.objects.values_list("name", flat=True)) == ["kept"]


def test_a_batch_of_only_invalid_events_is_400_naming_each(capture):
    response = capture({"batch": [{"event": "no id"}, posthog_event(uuid="not-a-uuid")]})
    assert_posthog_error(response, 400, "invalid_payload", "validation_error")
    assert "event 0" in response.json()["detail"] and "event 1" in response.json()["detail"]
    assert Event.objects.count() == 0


# Errors ----------------------------------------------------------------------------------------------------


def test_a_request_without_a_token_is_401_missing_api_key(api_client):
    response = api_client.post("/e/", json.dumps(posthog_event()), content_type="application/json")
    assert_posthog_error(response, 401, "missing_api_key", "authentication_error")


def test_an_unknown_token_is_401_invalid_api_key_and_stores_nothing(capture):
    response = capture({"batch": [posthog_event()]}, key=generate(KeyKind.PUBLISHABLE).raw)
    assert_posthog_error(response, 401, "invalid_api_key", "authentication_error")
    assert Event.objects.count() == 0


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        ("{not json", "application/json"),
        ("data=%%%not-base64", "application/x-www-form-urlencoded"),
        ("hello", "text/plain"),
        ("", "application/json"),
        ("[]", "application/json"),
        ('{"batch": "nope"}', "application/json"),
    ],
    ids=["malformed-json", "bad-base64", "not-a-form", "empty", "empty-array", "batch-not-a-list"],
)
def test_a_body_that_holds_no_events_is_400(api_client, registered, body, content_type):
    response = api_client.post("/e/", body, content_type=content_type, HTTP_X_API_KEY=registered.publishable_key.raw)
    assert response.status_code == 400
    assert response.json()["type"] == "validation_error"


def test_corrupt_gzip_is_400(api_client, registered):
    response = api_client.post(
        "/e/", gzip.compress(b'{"a": 1}')[:-6], content_type="text/plain", HTTP_X_API_KEY=registered.secret_key.raw
    )
    assert_posthog_error(response, 400, "malformed_request", "validation_error")


def test_a_body_over_one_mib_or_gzip_inflating_past_it_is_413(api_client, registered):
    big = json.dumps({"api_key": registered.secret_key.raw, "batch": [posthog_event(properties={"p": "0" * MIB})]})
    for body in (big.encode(), gzip.compress(big.encode())):
        response = api_client.post("/batch/", body, content_type="application/json")
        assert_posthog_error(response, 413, "payload_too_large", "validation_error")
    assert Event.objects.count() == 0


def test_over_the_ingest_rate_the_next_call_is_429_with_retry_after(capture, settings):
    settings.INGEST_RATE = "1/m"
    assert capture({"batch": [posthog_event(event="first")]}).status_code == 200
    response = capture({"batch": [posthog_event(event="second")]})
    assert_posthog_error(response, 429, "rate_limited", "throttled_error")
    assert 1 <= int(response["Retry-After"]) <= 60
    assert list(Event.objects.values_list("name", flat=True)) == ["first"]


def test_a_browser_origin_outside_the_app_domains_is_403(capture, registered):
    registered.app.domains = ["shop.example"]
    registered.app.save()
    response = capture({"batch": [posthog_event()]}, HTTP_ORIGIN="https://evil.example")
    assert_posthog_error(response, 403, "origin_not_allowed", "authentication_error")
    assert capture({"batch": [posthog_event()]}, HTTP_ORIGIN="https://shop.example").status_code == 200


DATABASE_DOWN_REQUEST = """
import json, django
django.setup()
from django.test import Client
response = Client().post("/batch/", json.dumps({"api_key": %r, "batch": []}), content_type="application/json")
print(json.dumps([response.status_code, response.json(), response.headers.get("Retry-After")]))
"""


def test_with_the_database_down_the_answer_is_503_in_posthog_shape():
    result = run_with_environment(DATABASE_DOWN_REQUEST % generate(KeyKind.SECRET).raw, SQLITE_PATH="/nonexistent/db")
    assert result.returncode == 0, result.stderr
    status, body, retry_after = json.loads(result.stdout.strip().splitlines()[-1])
    assert (status, body["type"], body["code"]) == (503, "server_error", "database_unavailable")
    assert int(retry_after) > 0
