"""Plausible's `POST /api/event` (SPEC §4.5): each body form, domains, errors and limits, as Plausible answers."""

import json

import pytest

from apikeys.services import app_register
from events.models import Event
from events.tests.conftest import IPHONE, WINDOWS_CHROME

EVENT = "/api/event"
HEADLESS = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/120.0.0.0 Safari/537.36"
)


@pytest.fixture
def shop(db):
    return app_register(name="Shop", owner_email="o@shop.example", site_domain="shop.example")


@pytest.fixture
def send(api_client):
    """POST a body the way Plausible's tracker does: text/plain JSON, a browser's User-Agent."""

    def post(body, *, user_agent=WINDOWS_CHROME, **headers):
        text = body if isinstance(body, str) else json.dumps(body)
        return api_client.generic("POST", EVENT, text, content_type="text/plain", HTTP_USER_AGENT=user_agent, **headers)

    return post


def test_the_request_log_names_the_app_a_keyless_request_was_for(send, shop, caplog):
    caplog.set_level("INFO", logger="analytics.request")
    send({"n": "pageview", "u": "https://shop.example/", "d": "shop.example"})
    (record,) = [r for r in caplog.records if r.name == "analytics.request"]
    assert (record.appId, record.keyPrefix) == (str(shop.app.id), None)


def test_a_tracker_pageview_is_stored_and_answered_202_ok(send, shop):
    response = send(
        {"n": "pageview", "u": "https://shop.example/pricing?utm_source=ads", "d": "shop.example", "r": None}
    )

    assert (response.status_code, response.content) == (202, b"ok")
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert "x-plausible-dropped" not in response
    event = Event.objects.get()
    assert (event.app_id, event.name, event.source) == (shop.app.id, "pageview", "plausible")
    assert (event.host, event.path, event.utm_source, event.referrer) == ("shop.example", "/pricing", "ads", "")
    assert (event.browser, event.device_type) == ("Chrome", "desktop")


@pytest.mark.parametrize(
    ("mode", "path"), [({"h": 1}, "/app#/settings"), ({"hashMode": 1}, "/app#/settings"), ({}, "/app")]
)
def test_hash_mode_makes_the_fragment_part_of_the_path_as_plausible_does(send, shop, mode, path):
    assert (
        send({"n": "pageview", "u": "https://shop.example/app#/settings", "d": "shop.example", **mode}).status_code
        == 202
    )
    assert Event.objects.get().path == path


def test_the_events_api_long_names_map_like_the_short_ones(api_client, shop):
    body = {
        "name": "Signup",
        "url": "https://shop.example/join",
        "domain": "shop.example",
        "referrer": "https://news.example/story",
        "props": {"plan": "pro", "seats": 3},
        "revenue": {"amount": "15.99", "currency": "usd"},
    }
    response = api_client.post(EVENT, body, format="json", HTTP_USER_AGENT=IPHONE)

    assert response.status_code == 202
    event = Event.objects.get()
    assert (event.name, event.path, event.referrer_host, event.device_type) == (
        "Signup",
        "/join",
        "news.example",
        "mobile",
    )
    assert event.metadata == {"plan": "pro", "seats": 3, "revenue_amount": 15.99, "revenue_currency": "USD"}


def test_short_props_revenue_and_a_non_interactive_flag_become_metadata(send, shop):
    send(
        {
            "n": "Purchase",
            "u": "https://shop.example/",
            "d": "shop.example",
            "p": {"sku": "A1"},
            "$": {"amount": 9, "currency": "EUR"},
            "i": False,
        }
    )

    assert Event.objects.get().metadata == {
        "sku": "A1",
        "revenue_amount": 9.0,
        "revenue_currency": "EUR",
        "interactive": False,
    }


def test_legacy_meta_as_a_json_text_is_read_and_unusable_props_are_left_out(send, shop):
    meta = json.dumps({"author": "Ann", "tags": ["a"], "nested": {"x": 1}, "blank": " ", "none": None})
    send({"n": "Read", "u": "https://shop.example/blog", "d": "shop.example", "m": meta})

    assert Event.objects.get().metadata == {"author": "Ann"}


def test_an_unreadable_revenue_is_ignored_and_the_event_kept(send, shop):
    send(
        {"n": "Purchase", "u": "https://shop.example/", "d": "shop.example", "$": {"amount": "lots", "currency": "EUR"}}
    )

    assert Event.objects.get().metadata == {}


def test_www_and_case_are_ignored_and_a_missing_domain_comes_from_the_url(send, shop):
    send({"n": "pageview", "u": "https://shop.example/a", "d": "WWW.Shop.Example"})
    send({"n": "pageview", "u": "https://www.shop.example/b"})

    assert sorted(Event.objects.filter(app=shop.app).values_list("path", flat=True)) == ["/a", "/b"]


def test_a_rollup_stores_the_event_once_in_the_first_listed_app_this_server_knows(send, shop):
    blog = app_register(name="Blog", owner_email="o@blog.example", site_domain="blog.example")
    send({"n": "pageview", "u": "https://blog.example/", "d": "unknown.example,blog.example,shop.example"})

    assert list(Event.objects.values_list("app_id", flat=True)) == [blog.app.id]


def test_an_unknown_domain_is_answered_202_and_dropped_as_plausible_does(send, shop):
    response = send({"n": "pageview", "u": "https://elsewhere.example/", "d": "elsewhere.example"})

    assert (response.status_code, response.content, response["x-plausible-dropped"]) == (202, b"ok", "1")
    assert not Event.objects.exists()


def test_an_event_goes_to_the_app_of_its_domain_and_no_other(send, shop):
    other = app_register(name="Other", owner_email="o@other.example", site_domain="other.example")
    send({"n": "pageview", "u": "https://other.example/", "d": "other.example"})

    assert list(Event.objects.values_list("app_id", flat=True)) == [other.app.id]
    assert not Event.objects.filter(app=shop.app).exists()


@pytest.mark.parametrize("user_agent", [HEADLESS, "Googlebot/2.1 (+http://www.google.com/bot.html)", "curl/8.5.0"])
def test_bots_are_answered_202_and_not_stored(send, shop, user_agent):
    response = send({"n": "pageview", "u": "https://shop.example/", "d": "shop.example"}, user_agent=user_agent)

    assert (response.status_code, response["x-plausible-dropped"]) == (202, "1")
    assert not Event.objects.exists()


def test_engagement_events_are_validated_answered_and_not_stored(send, shop):
    engagement = {"n": "engagement", "u": "https://shop.example/", "d": "shop.example", "sd": 80, "e": 5300, "v": 36}
    assert send(engagement).status_code == 202
    refused = send({**engagement, "sd": "deep", "e": -1})

    assert refused.status_code == 400
    assert refused.json() == {
        "errors": {
            "event_name": ["engagement event requires a valid integer value for at least one of 'sd' or 'e' fields"]
        }
    }
    assert not Event.objects.exists()


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        ({"u": "https://shop.example/", "d": "shop.example"}, {"event_name": ["can't be blank"]}),
        (
            {"n": "x" * 121, "u": "https://shop.example/", "d": "shop.example"},
            {"event_name": ["should be at most 120 character(s)"]},
        ),
        ({"n": {"a": 1}, "u": "https://shop.example/", "d": "shop.example"}, {"event_name": ["is invalid"]}),
        ({"n": "pageview", "d": "shop.example"}, {"url": ["is required"]}),
        (
            {"n": "pageview", "u": "https://shop.example/" + "a" * 2000, "d": "shop.example"},
            {"url": ["must be a valid url"]},
        ),
        ({"n": "pageview", "u": "data:text/html,hi", "d": "shop.example"}, {"url": ["scheme is not allowed"]}),
        ({"n": "pageview", "u": "https://shop.example/", "d": " "}, {"domain": ["can't be blank"]}),
        ({"n": "pageview", "u": "/no-host"}, {"domain": ["can't be blank"]}),
        (
            {"n": "pageview", "u": "https://shop.example/", "d": "shop.example", "p": {"k": "v" * 2001}},
            {"props": ["keys should have at most 300 bytes and values 2000 bytes"]},
        ),
        (["not", "an", "object"], {"request": ["Unable to parse request body as json"]}),
    ],
)
def test_bad_input_is_a_400_with_plausibles_errors(send, shop, body, errors):
    response = send(body)

    assert (response.status_code, response.json()) == (400, {"errors": errors})
    assert not Event.objects.exists()


def test_a_body_that_is_not_json_is_a_400_in_plausibles_shape(send, shop):
    response = send("{n: pageview")

    assert response.status_code == 400
    assert response.json() == {"errors": {"request": ["The body is not valid JSON."]}}


def test_a_number_is_a_valid_event_name_as_for_404_tracking(send, shop):
    assert send({"n": 404, "u": "https://shop.example/missing", "d": "shop.example"}).status_code == 202
    assert Event.objects.get().name == "404"


def test_a_browser_origin_outside_the_apps_allowed_domains_is_refused(send, db):
    app_register(name="Locked", owner_email="o@l.example", site_domain="locked.example", domains=["locked.example"])
    body = {"n": "pageview", "u": "https://locked.example/", "d": "locked.example"}

    refused = send(body, HTTP_ORIGIN="https://evil.example")
    allowed = send(body, HTTP_ORIGIN="https://locked.example")

    assert refused.status_code == 403
    assert refused.json() == {"errors": {"request": ["This origin is not in the app's allowed domains."]}}
    assert allowed.status_code == 202 and Event.objects.count() == 1


def test_the_visitor_is_a_daily_hash_of_ip_and_user_agent_without_cookies(send, shop):
    page = {"n": "pageview", "u": "https://shop.example/", "d": "shop.example"}
    send(page)
    send(page)
    send(page, user_agent=IPHONE)

    first, second, third = Event.objects.order_by("id")
    assert first.distinct_id == second.distinct_id != third.distinct_id
    assert first.distinct_id.startswith("anon_") and first.user_id == first.anonymous_id == ""


def test_forwarded_for_is_honoured_only_from_trusted_proxies(send, shop, settings):
    page = {"n": "pageview", "u": "https://shop.example/", "d": "shop.example"}
    send(page, HTTP_X_FORWARDED_FOR="198.51.100.7")  # an Events API client speaking for its visitor: no proxy of ours
    settings.TRUSTED_PROXY_COUNT = 1
    send(page, HTTP_X_FORWARDED_FOR="6.6.6.6, 198.51.100.7")

    assert list(Event.objects.order_by("id").values_list("ip", flat=True)) == ["127.0.0.1", "198.51.100.7"]


def test_the_user_agent_header_describes_the_visitor(api_client, shop):
    api_client.post(
        EVENT,
        {"name": "pageview", "url": "https://shop.example/", "domain": "shop.example"},
        format="json",
        HTTP_USER_AGENT=IPHONE,
    )

    event = Event.objects.get()
    assert (event.os, event.device_type, event.user_agent) == ("iOS", "mobile", IPHONE)


def test_each_app_has_its_own_rate_limit_answered_429_in_plausibles_shape(send, shop, settings):
    settings.INGEST_RATE = "2/m"
    other = app_register(name="Other", owner_email="o@other.example", site_domain="other.example")
    page = {"n": "pageview", "u": "https://shop.example/", "d": "shop.example"}

    statuses = [send(page).status_code for _ in range(3)]
    other_status = send({**page, "d": "other.example"}).status_code
    unknown_status = send({**page, "d": "unknown.example"}).status_code

    assert statuses == [202, 202, 429] and other_status == unknown_status == 202
    limited = send(page)
    assert int(limited["Retry-After"]) >= 1 and list(limited.json()) == ["errors"]
    assert Event.objects.filter(app=shop.app).count() == 2 and Event.objects.filter(app=other.app).count() == 1


def test_buffered_ingestion_answers_202_and_the_worker_stores_the_event(send, shop, drain):
    response = send({"n": "pageview", "u": "https://shop.example/", "d": "shop.example"})

    assert (response.status_code, response.content) == (202, b"ok") and not Event.objects.exists()
    drain()
    assert list(Event.objects.values_list("name", "source")) == [("pageview", "plausible")]
