"""What clients of the other protocols may send that must never be a 500 (SPEC §6): digits int() refuses,
lone surrogates and NULs where an app is looked up or an id hashed. Each case found by review."""

import pytest
from rest_framework.test import APIClient

from apikeys.services import app_register
from events.models import Event

UA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"


@pytest.fixture
def shop(db):
    return app_register(name="Shop", owner_email="o@shop.example", site_domain="shop.example")


def post(path: str, body: str):
    client = APIClient(raise_request_exception=False)
    return client.generic("POST", path, body, content_type="text/plain", HTTP_USER_AGENT=UA)


@pytest.mark.parametrize(
    "body",
    [
        '{"n": "engagement", "u": "https://shop.example/", "d": "shop.example", "sd": "\u00b2"}',
        '{"n": "pageview", "u": "https://shop.example/", "d": "\\ud800"}',
        '{"n": "pageview", "u": "https://\\ud800.example/"}',
        '{"n": "pageview", "u": "https://shop.example/", "d": "a\\u0000b"}',
    ],
)
def test_plausible_never_answers_a_server_error(shop, body):
    response = post("/api/event", body)
    assert response.status_code in (202, 400), response.content
    assert not Event.objects.filter(name="pageview", host="").exists()


@pytest.mark.parametrize(
    ("path", "extra"),
    [
        ("/i/v0/e/", ', "sent_at": "\u00b2"'),
        ("/i/v0/e/?_=%C2%B2", ""),
        ("/i/v0/e/", ', "timestamp": "\u00b2\u00b3"'),
        ("/i/v0/e/", ', "timestamp": "' + "9" * 5000 + '"'),
    ],
)
def test_posthog_send_times_of_odd_digits_are_no_server_error(shop, path, extra):
    body = f'{{"api_key": "{shop.publishable_key.raw}", "event": "x", "distinct_id": "d1"{extra}}}'
    response = post(path, body)
    assert response.status_code in (200, 400), response.content


@pytest.mark.parametrize(
    "payload",
    ['{{"website": "{app}", "id": "\\ud800"}}', '{{"website": "{app}", "url": "/", "userAgent": "\\ud800"}}'],
)
def test_umami_text_that_cannot_be_hashed_or_parsed_is_a_400(shop, payload):
    body = f'{{"type": "identify", "payload": {payload.format(app=shop.app.id)}}}'
    response = post("/api/send", body)
    assert response.status_code == 400, response.content
    assert not Event.objects.exists()
