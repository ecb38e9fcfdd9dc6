import gzip
import json
import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from events.models import Event
from events.services import RequestFacts, events_ingest
from events.tests.conftest import COLLECT, IPHONE, WINDOWS_CHROME, iso, make_event

KIB = 1024


def test_a_single_event_is_stored_enriched(collect, registered):
    response = collect(
        make_event(
            event="signup",
            userId="u_42",
            url="https://shop.example/pricing/pro?utm_source=news&utm_medium=email&utm_campaign=launch",
            referrer="https://www.google.com/search?q=shop",
            userAgent=IPHONE,
            metadata={"plan": "pro", "seats": 3},
        )
    )
    assert response.status_code == 201
    assert response.json() == {"accepted": 1, "duplicates": 0, "rejected": [], "warnings": []}
    event = Event.objects.get()
    assert (event.app_id, event.name, event.user_id, event.distinct_id) == (registered.app.id, "signup", "u_42", "u_42")
    assert (event.host, event.path) == ("shop.example", "/pricing/pro")
    assert (event.utm_source, event.utm_medium, event.utm_campaign) == ("news", "email", "launch")
    assert event.referrer_host == "www.google.com"
    assert (event.browser, event.os, event.device_type) == ("Mobile Safari", "iOS", "mobile")
    assert event.metadata == {"plan": "pro", "seats": 3}
    assert event.source == "api"


def test_event_name_alias_and_client_device_hint_are_honoured(collect):
    collect(make_event(event=None, eventName="opened", device="Tablet", userAgent=WINDOWS_CHROME))
    event = Event.objects.get()
    assert (event.name, event.device_type, event.browser) == ("opened", "tablet", "Chrome")


def test_user_agent_header_is_used_when_the_body_has_none(collect):
    collect(make_event(), HTTP_USER_AGENT=WINDOWS_CHROME)
    assert Event.objects.get().device_type == "desktop"


def test_distinct_id_falls_back_to_anonymous_id_then_a_daily_visitor_hash(collect):
    collect(
        {
            "events": [
                make_event(userId=None, anonymousId="anon-1"),
                make_event(userId=None),
                make_event(userId=None),
                make_event(userId=None, userAgent=IPHONE),
            ]
        },
        HTTP_USER_AGENT=WINDOWS_CHROME,
    )
    ids = list(Event.objects.order_by("id").values_list("distinct_id", flat=True))
    assert ids[0] == "anon-1"
    assert ids[1] == ids[2] and ids[1].startswith("anon_")
    assert ids[3] != ids[1]


def test_the_visitor_hash_differs_between_apps(collect, other_app):
    collect(make_event(userId=None))
    collect(make_event(userId=None), key=other_app.secret_key.raw)
    first, second = Event.objects.values_list("distinct_id", flat=True)
    assert first != second


def test_a_batch_stores_the_good_events_and_names_the_bad_by_index(collect):
    good = [make_event(event=f"ok{i}") for i in range(3)]
    body = {"events": [good[0], {"userId": "no name"}, good[1], {"event": "x", "timestamp": "yesterday"}, good[2]]}
    response = collect(body)
    assert response.status_code == 201
    data = response.json()
    assert data["accepted"] == 3
    assert [(r["index"], r["code"]) for r in data["rejected"]] == [(1, "missing_event"), (3, "invalid_timestamp")]
    assert sorted(Event.objects.values_list("name", flat=True)) == ["ok0", "ok1", "ok2"]


def _big_string(size: int) -> str:
    return "x" * size


BAD_BATCH_EVENTS = [
    ("missing event", {"userId": "u"}, "missing_event"),
    ("empty event", {"event": ""}, "missing_event"),
    ("event not a string", {"event": 42}, "invalid_field"),
    ("event name too long", {"event": "e" * 201}, "invalid_field"),
    ("metadata not an object", {"event": "e", "metadata": [1, 2]}, "invalid_metadata"),
    ("metadata 40 KiB", {"event": "e", "metadata": {"blob": _big_string(40 * KIB)}}, "metadata_too_large"),
    (
        "event 40 KiB",
        {"event": "e", "url": "https://a.example/", "userAgent": "u", "x": _big_string(40 * KIB)},
        "event_too_large",
    ),
    ("bad timestamp", {"event": "e", "timestamp": "not a date"}, "invalid_timestamp"),
    ("timestamp a boolean", {"event": "e", "timestamp": True}, "invalid_timestamp"),
    ("epoch seconds, not ms", {"event": "e", "timestamp": 1_700_000_000}, "invalid_timestamp"),
    ("3 days in the future", {"event": "e", "timestamp": "FUTURE"}, "timestamp_in_future"),
    ("bad UUID", {"event": "e", "eventId": "not-a-uuid"}, "invalid_event_id"),
    ("eventId a number", {"event": "e", "eventId": 7}, "invalid_event_id"),
    ("url too long", {"event": "e", "url": "https://a.example/" + "p" * 2048}, "field_too_long"),
    ("userId too long", {"event": "e", "userId": "u" * 201}, "field_too_long"),
    ("userId an object", {"event": "e", "userId": {"id": 1}}, "invalid_field"),
    ("url a list", {"event": "e", "url": ["https://a.example"]}, "invalid_field"),
    ("ipAddress not an IP", {"event": "e", "ipAddress": "999.1.1.1"}, "invalid_field"),
    ("hashRouting not a boolean", {"event": "e", "hashRouting": "yes"}, "invalid_field"),
    ("event a list", ["e"], "invalid_event"),
    ("NUL in the name", {"event": "e\x00"}, "invalid_field"),
    ("NUL in a string field", {"event": "e", "userId": "u\x00"}, "invalid_field"),
    ("NUL in metadata", {"event": "e", "metadata": {"k": "v\x00"}}, "invalid_metadata"),
    # A lone surrogate travels as "\ud800" in JSON; Python decodes it, but it has no UTF-8 bytes to store.
    ("lone surrogate in the name", {"event": "e\ud800"}, "invalid_field"),
    ("lone surrogate in a string field", {"event": "e", "userId": "u\udfff"}, "invalid_field"),
    ("lone surrogate in a metadata key", {"event": "e", "metadata": {"k\ud800": 1}}, "invalid_metadata"),
    ("lone surrogate in a metadata value", {"event": "e", "metadata": {"k": ["\udc00"]}}, "invalid_metadata"),
    (
        "sentAt far ahead pushes the timestamp before 2000",
        {"event": "e", "timestamp": "2001-01-01T00:00:00Z", "sentAt": "2900-01-01T00:00:00Z"},
        "invalid_timestamp",
    ),
]


def test_a_literal_backslash_u0000_in_metadata_is_not_mistaken_for_nul(collect):
    assert collect(make_event(metadata={"path": "C:\\u0000"})).json()["accepted"] == 1


@pytest.mark.parametrize(
    ("raw", "code"), [(raw, code) for _, raw, code in BAD_BATCH_EVENTS], ids=[c[0] for c in BAD_BATCH_EVENTS]
)
def test_each_bad_event_is_rejected_with_its_code_and_the_good_one_beside_it_is_stored(
    client_for, registered, raw, code
):
    if isinstance(raw, dict) and raw.get("timestamp") == "FUTURE":
        raw = {**raw, "timestamp": iso(timezone.now() + timedelta(days=3))}
    # json.dumps escapes non-ASCII as a client library would, so a lone surrogate can be sent at all.
    body = json.dumps({"events": [make_event(event="good"), raw]})
    response = client_for(registered.secret_key.raw).generic("POST", COLLECT, body, content_type="application/json")
    assert response.status_code == 201
    assert response.json()["rejected"] == [
        {"index": 1, "code": code, "detail": response.json()["rejected"][0]["detail"]}
    ]
    assert list(Event.objects.values_list("name", flat=True)) == ["good"]


@pytest.mark.parametrize(
    ("raw", "code"), [(raw, code) for _, raw, code in BAD_BATCH_EVENTS[:6]], ids=[c[0] for c in BAD_BATCH_EVENTS[:6]]
)
def test_a_request_with_no_valid_event_is_400_listing_the_rejections(collect, raw, code):
    response = collect({"events": [raw]})
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "no_valid_events"
    assert body["rejected"][0]["code"] == code
    assert Event.objects.count() == 0


BAD_BODIES = [
    ("non-JSON", b"{event: nope", "application/json", 400, "malformed_json"),
    ("JSON array at the top", b'[{"event": "e"}]', "application/json", 400, "validation_error"),
    ("JSON string at the top", b'"hello"', "application/json", 400, "validation_error"),
    ("events not a list", b'{"events": {"event": "e"}}', "application/json", 400, "validation_error"),
    ("empty batch", b'{"events": []}', "application/json", 400, "validation_error"),
    (
        "1001-event batch",
        json.dumps({"events": [{"event": "e"}] * 1001}).encode(),
        "application/json",
        400,
        "validation_error",
    ),
    (
        "1.5 MiB body",
        json.dumps({"event": "e", "metadata": {"x": "y" * (1536 * KIB)}}).encode(),
        "application/json",
        413,
        "payload_too_large",
    ),
    ("form-encoded body", b"event=e", "application/x-www-form-urlencoded", 415, "unsupported_media_type"),
    ("invalid UTF-8", b'{"event": "\xff"}', "application/json", 400, "malformed_json"),
    ("NaN in metadata", b'{"event": "e", "metadata": {"x": NaN}}', "application/json", 400, "malformed_json"),
    ("-Infinity as a value", b'{"event": "e", "timestamp": -Infinity}', "application/json", 400, "malformed_json"),
    ("nested 200,000 deep", b"[" * 200_000, "application/json", 400, "malformed_json"),
]


@pytest.mark.parametrize(
    ("body", "content_type", "status", "code"),
    [case[1:] for case in BAD_BODIES],
    ids=[case[0] for case in BAD_BODIES],
)
def test_bad_bodies_answer_their_documented_status_and_code(client_for, registered, body, content_type, status, code):
    response = client_for(registered.secret_key.raw).generic("POST", COLLECT, body, content_type=content_type)
    assert response.status_code == status
    assert response.json()["code"] == code
    assert Event.objects.count() == 0


def test_a_hash_routed_pages_path_keeps_its_fragment_and_any_other_page_drops_it(collect):
    url = "https://shop.example/app/?utm_source=ads#/settings/billing"
    assert collect(make_event(url=url, hashRouting=True)).status_code == 201
    assert collect(make_event(url=url, hashRouting=False)).status_code == 201
    assert sorted(Event.objects.values_list("path", flat=True)) == ["/app/", "/app/#/settings/billing"]
    assert set(Event.objects.values_list("utm_source", flat=True)) == {"ads"}


def test_a_url_and_referrer_that_cannot_be_split_are_stored_without_host_or_path(collect):
    response = collect(make_event(url="http://[::1", referrer="https://[bad/?utm_source=x"))
    assert response.status_code == 201
    event = Event.objects.get()
    assert (event.url, event.referrer) == ("http://[::1", "https://[bad/?utm_source=x")
    assert (event.host, event.path, event.referrer_host, event.utm_source) == ("", "", "", "")


def test_a_number_too_large_for_a_double_in_metadata_rejects_only_its_event(client_for, registered):
    body = b'{"events": [{"event": "good"}, {"event": "e", "metadata": {"big": 1e400}}]}'
    response = client_for(registered.secret_key.raw).generic("POST", COLLECT, body, content_type="application/json")
    assert response.status_code == 201
    assert [(r["index"], r["code"]) for r in response.json()["rejected"]] == [(1, "invalid_metadata")]
    assert list(Event.objects.values_list("name", flat=True)) == ["good"]


def _nested(depth: int) -> dict:
    root = inner = {}
    for _ in range(depth):
        inner["a"] = inner = {}
    return root


def test_nesting_too_deep_to_encode_rejects_only_its_event(registered):
    # A body cannot carry this (the parser stops first), but metadata a little under the parser's limit
    # can still exceed the encoder's, which runs deeper in the stack.
    facts = RequestFacts(
        api_key=registered.secret_key.api_key, ip="127.0.0.1", user_agent="", received_at=timezone.now(), source="api"
    )
    raw_events = [{"event": "deep", "metadata": _nested(5000)}, {"event": "good"}, {"event": "e", "x": _nested(5000)}]
    result = events_ingest(raw_events=raw_events, facts=facts, measure_size=True)
    assert [(r.index, r.code) for r in result.rejected] == [(0, "invalid_metadata"), (2, "invalid_event")]
    assert list(Event.objects.values_list("name", flat=True)) == ["good"]


def test_an_unknown_field_named_with_a_lone_surrogate_is_ignored_with_a_readable_warning(client_for, registered):
    body = json.dumps(make_event(**{"x\ud800": 1}))
    response = client_for(registered.secret_key.raw).generic("POST", COLLECT, body, content_type="application/json")
    assert response.status_code == 201
    assert "x\\ud800" in response.json()["warnings"][0]["detail"]


def test_a_1000_event_batch_is_accepted(collect):
    response = collect({"events": [make_event() for _ in range(1000)]})
    assert response.json()["accepted"] == 1000
    assert Event.objects.count() == 1000


def test_unknown_fields_are_ignored_with_a_warning(collect):
    response = collect(make_event(userid="typo"))
    assert response.status_code == 201
    assert response.json()["warnings"][0]["code"] == "unknown_fields_ignored"
    assert "userid" in response.json()["warnings"][0]["detail"]


def test_replaying_a_1000_event_batch_three_times_stores_1000_rows(collect):
    batch = {"events": [make_event(event=f"e{i % 7}") for i in range(1000)]}
    first = collect(batch).json()
    assert (first["accepted"], first["duplicates"]) == (1000, 0)
    for _ in range(2):
        replay = collect(batch).json()
        assert (replay["accepted"], replay["duplicates"]) == (0, 1000)
    assert Event.objects.count() == 1000


def test_the_same_event_id_twice_in_one_batch_is_stored_once(collect):
    event = make_event()
    assert collect({"events": [event, event]}).json() == {
        "accepted": 1,
        "duplicates": 1,
        "rejected": [],
        "warnings": [],
    }


def test_the_same_event_id_in_two_apps_is_two_events(collect, other_app):
    event = make_event()
    collect(event)
    assert collect(event, key=other_app.secret_key.raw).json()["accepted"] == 1
    assert Event.objects.count() == 2


def test_epoch_milliseconds_and_iso_timestamps_are_both_understood(collect):
    collect(
        {
            "events": [
                make_event(event="ms", timestamp=1_700_000_000_000),
                make_event(event="iso", timestamp="2023-11-14T22:13:20Z"),
            ]
        }
    )
    stamps = dict(Event.objects.values_list("name", "timestamp"))
    assert stamps["ms"] == stamps["iso"]
    assert stamps["ms"].isoformat() == "2023-11-14T22:13:20+00:00"


def test_a_naive_iso_timestamp_is_utc(collect):
    collect(make_event(timestamp="2024-03-01T12:00:00"))
    assert Event.objects.get().timestamp.isoformat() == "2024-03-01T12:00:00+00:00"


def test_clock_skew_is_corrected_with_sent_at(collect):
    now = timezone.now()
    # The client's clock runs two hours behind: it stamps and sends in its own time.
    client_clock = now - timedelta(hours=2)
    collect(make_event(timestamp=iso(client_clock - timedelta(minutes=5)), sentAt=iso(client_clock)))
    corrected = Event.objects.get().timestamp
    assert abs((corrected - (now - timedelta(minutes=5))).total_seconds()) < 5


def test_a_future_timestamp_within_24_hours_is_accepted(collect):
    assert collect(make_event(timestamp=iso(timezone.now() + timedelta(hours=23)))).status_code == 201


def test_missing_timestamp_defaults_to_now(collect):
    before = timezone.now()
    collect(make_event())
    assert before <= Event.objects.get().timestamp <= timezone.now()


def test_body_ip_address_is_honoured_only_with_a_secret_key(collect, registered):
    collect(make_event(event="server", ipAddress="203.0.113.9"))
    collect(make_event(event="browser", ipAddress="203.0.113.9"), key=registered.publishable_key.raw)
    ips = dict(Event.objects.values_list("name", "ip"))
    assert ips == {"server": "203.0.113.9", "browser": "127.0.0.1"}


def test_client_ip_comes_from_forwarded_for_only_behind_trusted_proxies(collect, settings):
    collect(make_event(event="direct"), HTTP_X_FORWARDED_FOR="198.51.100.7")
    settings.TRUSTED_PROXY_COUNT = 1
    collect(make_event(event="proxied"), HTTP_X_FORWARDED_FOR="6.6.6.6, 198.51.100.7")
    assert dict(Event.objects.values_list("name", "ip")) == {"direct": "127.0.0.1", "proxied": "198.51.100.7"}


def test_ip_anonymisation_drops_the_host_part(collect, settings):
    settings.ANONYMIZE_IP = True
    collect(
        {
            "events": [
                make_event(event="v4", ipAddress="203.0.113.77"),
                make_event(event="v6", ipAddress="2001:db8:1234:5678::1"),
            ]
        }
    )
    assert dict(Event.objects.values_list("name", "ip")) == {"v4": "203.0.113.0", "v6": "2001:db8:1234::"}


def test_country_comes_from_a_trusted_proxy_header_when_configured(collect, settings):
    collect(make_event(event="untrusted"), HTTP_CF_IPCOUNTRY="DE")
    settings.COUNTRY_HEADER = "CF-IPCountry"
    settings.TRUSTED_PROXY_COUNT = 1
    collect(make_event(event="trusted"), HTTP_CF_IPCOUNTRY="de")
    assert dict(Event.objects.values_list("name", "country")) == {"untrusted": "", "trusted": "DE"}


def test_a_publishable_key_may_send_events(collect, registered):
    assert collect(make_event(), key=registered.publishable_key.raw).status_code == 201


def test_sendbeacon_style_text_plain_body_with_the_key_inside(api_client, registered):
    body = json.dumps({"apiKey": registered.publishable_key.raw, "events": [make_event(event="beacon")]})
    response = api_client.generic("POST", COLLECT, body, content_type="text/plain;charset=UTF-8")
    assert response.status_code == 201
    event = Event.objects.get()
    assert event.name == "beacon" and event.app_id == registered.app.id


def test_a_single_event_body_may_carry_the_key(api_client, registered):
    body = json.dumps({"apiKey": registered.publishable_key.raw, **make_event(event="single")})
    response = api_client.generic("POST", COLLECT, body, content_type="text/plain")
    assert response.json()["warnings"] == []
    assert Event.objects.get().name == "single"


def test_missing_and_wrong_keys_are_refused_and_store_nothing(api_client, db):
    assert api_client.post(COLLECT, make_event(), format="json").status_code == 401
    body = json.dumps({"apiKey": "pk_garbage", **make_event()})
    response = api_client.generic("POST", COLLECT, body, content_type="text/plain")
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_api_key"
    assert Event.objects.count() == 0


def test_gzip_bodies_are_accepted(client_for, registered):
    body = gzip.compress(json.dumps({"events": [make_event(event="zipped")]}).encode())
    response = client_for(registered.secret_key.raw).generic(
        "POST", COLLECT, body, content_type="application/json", HTTP_CONTENT_ENCODING="gzip"
    )
    assert response.status_code == 201
    assert Event.objects.get().name == "zipped"


def test_a_gzip_bomb_is_413_not_a_memory_blowup(client_for, registered):
    bomb = gzip.compress(b'{"event": "e", "metadata": {"x": "' + b"a" * (20 * 1024 * 1024) + b'"}}')
    response = client_for(registered.secret_key.raw).generic(
        "POST", COLLECT, bomb, content_type="application/json", HTTP_CONTENT_ENCODING="gzip"
    )
    assert response.status_code == 413


def test_ingestion_over_the_per_key_rate_is_429_with_retry_after(collect, settings):
    settings.INGEST_RATE = "2/m"
    assert [collect(make_event()).status_code for _ in range(2)] == [201, 201]
    response = collect(make_event())
    assert response.status_code == 429
    assert int(response["Retry-After"]) >= 1
    assert Event.objects.count() == 2


def test_a_key_can_carry_its_own_ingest_rate(client_for, make_key):
    limited = make_key(ingest_rate="1/m")
    client = client_for(limited.raw)
    assert client.post(COLLECT, make_event(), format="json").status_code == 201
    assert client.post(COLLECT, make_event(), format="json").status_code == 429


def test_ingestion_keeps_working_when_redis_is_down(collect, dead_redis):
    response = collect({"events": [make_event(), make_event()]})
    assert response.status_code == 201
    assert Event.objects.count() == 2


class TestOrigins:
    def test_an_app_with_domains_accepts_its_own_origins_and_subdomain_wildcards(self, collect, registered):
        registered.app.domains = ["shop.example", "*.blog.example"]
        registered.app.save()
        for origin in ["https://shop.example", "https://en.blog.example", "https://blog.example"]:
            response = collect(make_event(), HTTP_ORIGIN=origin, key=registered.publishable_key.raw)
            assert response.status_code == 201, origin
            assert response["Access-Control-Allow-Origin"] == origin
        assert set(Event.objects.values_list("source", flat=True)) == {"browser"}

    def test_an_app_with_domains_refuses_other_origins_and_stores_nothing(self, collect, registered):
        registered.app.domains = ["shop.example"]
        registered.app.save()
        for origin in ["https://evil.example", "https://shop.example.evil.example", "https://notshop.example"]:
            response = collect(make_event(), HTTP_ORIGIN=origin, key=registered.publishable_key.raw)
            assert response.status_code == 403
            assert response.json()["code"] == "origin_not_allowed"
        assert Event.objects.count() == 0

    @pytest.mark.parametrize("origin", ["http://shop.example:99999", "http://[bad", "https://[::1"])
    def test_an_origin_that_cannot_be_parsed_is_not_allowed(self, collect, registered, origin):
        registered.app.domains = ["shop.example"]
        registered.app.save()
        response = collect(make_event(), HTTP_ORIGIN=origin, key=registered.publishable_key.raw)
        assert response.status_code == 403
        assert response.json()["code"] == "origin_not_allowed"
        assert Event.objects.count() == 0

    def test_an_app_without_domains_accepts_any_origin(self, collect, registered):
        assert collect(make_event(), HTTP_ORIGIN="https://anywhere.example").status_code == 201


def test_events_land_only_in_the_keys_app(collect, registered, other_app):
    collect({"events": [make_event() for _ in range(3)]}, key=other_app.publishable_key.raw)
    assert Event.objects.filter(app=other_app.app).count() == 3
    assert Event.objects.filter(app=registered.app).count() == 0


def test_event_ids_are_generated_when_the_client_sends_none(collect):
    collect({"events": [{"event": "a"}, {"event": "a"}]})
    ids = list(Event.objects.values_list("event_id", flat=True))
    assert len(set(ids)) == 2 and all(isinstance(i, uuid.UUID) for i in ids)


@pytest.fixture
def geoip_database(tmp_path, settings):
    """A real .mmdb file in MaxMind's country format, written for the test."""
    from mmdb_writer import MMDBWriter
    from netaddr import IPSet

    writer = MMDBWriter(ip_version=6, database_type="GeoIP2-Country", ipv4_compatible=True)
    writer.insert_network(IPSet(["203.0.113.0/24"]), {"country": {"iso_code": "NZ"}})
    writer.insert_network(IPSet(["2001:db8::/32"]), {"country": {"iso_code": "JP"}})
    path = tmp_path / "countries.mmdb"
    writer.to_db_file(str(path))
    settings.GEOIP_DATABASE = str(path)
    return path


def test_country_comes_from_the_geoip_database_when_one_is_configured(collect, geoip_database):
    collect(
        {
            "events": [
                make_event(event="nz", ipAddress="203.0.113.50"),
                make_event(event="jp", ipAddress="2001:db8::7"),
                make_event(event="unknown", ipAddress="198.51.100.1"),
            ]
        }
    )
    assert dict(Event.objects.values_list("name", "country")) == {"nz": "NZ", "jp": "JP", "unknown": ""}


def test_country_is_looked_up_before_the_ip_is_anonymised(collect, geoip_database, settings):
    settings.ANONYMIZE_IP = True
    collect(make_event(ipAddress="203.0.113.50"))
    assert Event.objects.values_list("country", "ip").get() == ("NZ", "203.0.113.0")
