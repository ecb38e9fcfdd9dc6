"""posthog-js 1.449 in a real Chromium, on a customer's page, with the live server as its api_host:
remote config.js, its gzip-js batches (to /e/, then /i/v0/e/), identify, /flags/ and $pageleave; and
PostHog's HTML snippet, which loads posthog-js from the api_host's /static/array.js."""

import json
import logging
import time

import pytest

from analytics_project.testing import DATABASE_LOCK, SDK_MODULES
from apikeys.services import app_register
from events.models import Event

WAIT_SECONDS = 20  # posthog-js sends its queue every few seconds

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def posthog_page(site, server, sdk_modules):
    """Publish a page that loads posthog-js (inline, as a bundler would ship it) and inits it for ``key``.

    Besides api_host, two options for the test: no autocapture, so every event is one the test sent; and
    opt_out_useragent_filter, as posthog-js says to for end-to-end tests, since headless Chromium says so
    in its User-Agent and posthog-js drops a bot's events.
    """
    options = f"{{api_host: '{server.url}', autocapture: false, opt_out_useragent_filter: true}}"
    library = (SDK_MODULES / "posthog-js" / "dist" / "array.full.js").read_text()

    def publish(path: str, key: str) -> str:
        site.pages[path] = (
            "<!doctype html><html><head><meta charset='utf-8'><title>Acme shop</title>"
            f"<script>{library}</script>"
            f"<script>posthog.init('{key}', {options})</script>"
            f"</head><body><h1>Acme shop {path}</h1></body></html>"
        )
        return site.url(path)

    return publish


def wait_for_events(app, names: set[str]) -> dict[str, list[Event]]:
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        with DATABASE_LOCK:
            events = list(Event.objects.filter(app=app).order_by("id"))
        by_name = {}
        for event in events:
            by_name.setdefault(event.name, []).append(event)
        if names <= set(by_name) or time.monotonic() > deadline:
            assert names <= set(by_name), f"stored: {[(e.name, e.url) for e in events]}"
            return by_name
        time.sleep(0.1)


def test_posthog_js_pageview_event_identify_and_pageleave_arrive_as_sent(page, site, posthog_page, caplog, api_client):
    caplog.set_level(logging.INFO, logger="analytics.request")
    shop = app_register(name="Shop", owner_email="o@shop.example", domains=[f"localhost:{site.port}"])
    key = shop.publishable_key.raw
    url = posthog_page("/pricing.html", key) + "?utm_source=newsletter"
    page.goto(url)
    page.wait_for_function("window.posthog && window.posthog.__loaded")
    device_id = page.evaluate("posthog.get_property('$device_id')")
    page.evaluate("posthog.capture('signup clicked', {plan: 'pro', seats: 3})")
    page.evaluate("posthog.identify('u_42', {email: 'ada@example.com'})")
    page.evaluate("posthog.capture('checkout started')")
    wait_for_events(shop.app, {"pageview", "signup clicked", "identify", "checkout started"})
    site.pages["/bye.html"] = "<!doctype html><h1>Bye</h1>"
    page.goto(site.url("/bye.html"))  # leaving sends $pageleave, with sendBeacon
    events = wait_for_events(shop.app, {"$pageleave"})

    (view,) = events["pageview"]
    assert (view.url, view.host, view.path, view.utm_source) == (url, "localhost", "/pricing.html", "newsletter")
    assert (view.referrer, view.source) == ("", "posthog")  # a direct visit: PostHog's "$direct" is no referrer
    assert view.user_agent == page.evaluate("navigator.userAgent")
    assert view.session_id and view.screen and view.locale
    assert (view.user_id, view.anonymous_id, view.distinct_id) == ("", device_id, device_id)
    assert view.metadata["$lib"] == "web" and "token" not in view.metadata

    (signup,) = events["signup clicked"]
    assert (signup.metadata["plan"], signup.metadata["seats"]) == ("pro", 3)
    assert signup.anonymous_id == device_id and signup.session_id == view.session_id

    (identify,) = events["identify"]
    assert (identify.user_id, identify.anonymous_id) == ("u_42", device_id)
    assert identify.metadata["email"] == "ada@example.com"
    (checkout,) = events["checkout started"]
    assert (checkout.user_id, checkout.anonymous_id, checkout.distinct_id) == ("u_42", device_id, "u_42")
    assert events["$pageleave"][0].path == "/pricing.html"

    requests = [(r.method, r.path, r.status) for r in caplog.records if r.name == "analytics.request"]
    assert requests and all(status == 200 for _, _, status in requests), requests
    # The request log masks a key in a path as it does everywhere (sk_AbCd1234…).
    assert any(path == f"/array/{key[:11]}…/config.js" for _, path, _ in requests), requests
    # The config says there are no flags; identify asks again all the same, and hears "none" too.
    assert {path for _, path, _ in requests if path.startswith(("/flags", "/decide"))} <= {"/flags/"}

    top_pages = api_client.get("/api/analytics/top-pages", HTTP_X_API_KEY=shop.secret_key.raw).json()
    # The device id and u_42 are one person: identify linked them.
    assert {"value": "/pricing.html", "count": 5, "uniqueUsers": 1} in top_pages


# PostHog's installation snippet as its docs give it (the list of stubbed methods shortened): it loads
# api_host + /static/array.js as a CORS script and replays the calls made before it arrived.
SNIPPET = (
    "!function(t,e){var o,n,p,r;e.__SV||(window.posthog && window.posthog.__loaded)||(window.posthog=e,e._i=[],"
    'e.init=function(i,s,a){function g(t,e){var o=e.split(".");2==o.length&&(t=t[o[0]],e=o[1]),t[e]=function(){'
    't.push([e].concat(Array.prototype.slice.call(arguments,0)))}}(p=t.createElement("script")).type='
    '"text/javascript",p.crossOrigin="anonymous",p.async=!0,p.src=s.api_host.replace(".i.posthog.com",'
    '"-assets.i.posthog.com")+"/static/array.js",(r=t.getElementsByTagName("script")[0]).parentNode.insertBefore(p,r);'
    'var u=e;for(void 0!==a?u=e[a]=[]:a="posthog",u.people=u.people||[],u.toString=function(t){var e="posthog";'
    'return"posthog"!==a&&(e+="."+a),t||(e+=" (stub)"),e},u.people.toString=function(){return u.toString(1)+'
    '".people (stub)"},o="init capture register identify alias reset get_distinct_id".split(" "),n=0;n<o.length;n++)'
    "g(u,o[n]);e._i.push([i,s,a])},e.__SV=1)}(document,window.posthog||[]);"
)


def test_posthogs_snippet_loads_posthog_js_from_this_server_and_its_calls_arrive(page, site, server, api_client):
    shop = app_register(name="Shop", owner_email="o@shop.example", domains=[f"localhost:{site.port}"])
    site.pages["/"] = (
        "<!doctype html><html><head><meta charset='utf-8'><title>Acme</title>"
        f"<script>{SNIPPET}posthog.init('{shop.publishable_key.raw}', "
        f"{{api_host: '{server.url}', autocapture: false, opt_out_useragent_filter: true}});"
        # Called before array.js has arrived: the stub queues it, posthog-js sends it once loaded.
        "posthog.capture('early click', {plan: 'pro'});</script>"
        "</head><body><h1>Acme</h1></body></html>"
    )
    answers = []
    page.on("response", lambda response: answers.append((response.url.removeprefix(server.url), response.status)))
    page.goto(site.url("/"))
    page.wait_for_function("window.posthog && window.posthog.__loaded")
    page.evaluate("posthog.capture('signup clicked')")
    events = wait_for_events(shop.app, {"pageview", "early click", "signup clicked"})

    assert events["early click"][0].metadata["plan"] == "pro"
    assert {event.path for name in events for event in events[name]} == {"/"}
    with open(SDK_MODULES / "posthog-js" / "package.json") as package:
        assert page.evaluate("posthog.version") == json.load(package)["version"]
    ours = [(path, status) for path, status in answers if not path.startswith("http")]
    assert ("/static/array.js", 200) in ours and all(status == 200 for _, status in ours), ours
    figures = api_client.get("/api/analytics/event-summary", HTTP_X_API_KEY=shop.secret_key.raw).json()
    assert (figures["count"], figures["uniqueUsers"]) == (3, 1)
