"""Plausible's own tracker (@plausible-analytics/tracker, pinned in sdk_tests/) in Chromium, on a customer's
page served from another origin, sending to the live server: what it sends is what the reports show."""

import logging
import time

import pytest

from analytics_project.testing import DATABASE_LOCK
from apikeys.services import app_register
from events.tests.conftest import WINDOWS_CHROME
from events.tests.sites import browse_as, wait_for_events

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def tracked_page(sdk_modules, server, **options) -> str:
    """A page with Plausible's tracker as its installation guide puts it, for shop.example."""
    settings = "".join(f", {name}: {value}" for name, value in options.items())
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>Pricing</title>"
        # The tracker ignores browsers driven by automation (navigator.webdriver) and pages on localhost
        # unless told otherwise: its own switches for testing, on the page, not in the tracker.
        "<script>window.__plausible = true;</script>"
        "<script type='module'>import { init } from '/plausible.js';"
        f"init({{ domain: 'shop.example', endpoint: '{server.url}/api/event', captureOnLocalhost: true{settings} }});"
        "</script></head><body><h1>Pricing</h1></body></html>"
    )


@pytest.fixture
def shop(site, sdk_modules, server):
    """An app for shop.example, and its pricing page."""
    shop = app_register(
        name="Shop", owner_email="o@shop.example", site_domain="shop.example", domains=[f"localhost:{site.port}"]
    )
    site.pages["/plausible.js"] = (sdk_modules / "@plausible-analytics/tracker/plausible.js").read_text()
    site.pages["/pricing.html"] = tracked_page(sdk_modules, server)
    return shop


def test_pageviews_and_a_custom_event_with_props_arrive_as_sent(page, site, shop, client_for):
    page_errors, answers = [], []
    page.on("pageerror", lambda error: page_errors.append(error))
    page.on("response", lambda response: response.url.endswith("/api/event") and answers.append(response.status))
    browse_as(page, WINDOWS_CHROME)
    # Arriving by a link on another site, as from a newsletter: the referrer is that site's origin.
    site.pages["/mail.html"] = f'<!doctype html><a id="go" href="{site.url("/pricing.html")}">Pricing</a>'
    page.goto(site.url("/mail.html", host="127.0.0.1"))
    page.click("#go")
    wait_for_events(shop.app, 1, name="pageview")

    page.evaluate("plausible('Signup', {props: {plan: 'pro', seats: '3'}, revenue: {amount: 15.99, currency: 'USD'}})")
    page.evaluate("history.pushState({}, '', '/pricing/annual')")

    events = wait_for_events(shop.app, 3)
    assert [(event.name, event.path) for event in events] == [
        ("pageview", "/pricing.html"),
        ("Signup", "/pricing.html"),
        ("pageview", "/pricing/annual"),
    ]
    assert {event.source for event in events} == {"plausible"}
    assert {event.referrer for event in events} == {f"http://127.0.0.1:{site.port}/"}
    assert len({event.distinct_id for event in events}) == 1 and events[0].browser == "Chrome"
    assert events[1].metadata == {"plan": "pro", "seats": "3", "revenue_amount": 15.99, "revenue_currency": "USD"}

    reports = client_for(shop.secret_key.raw)
    with DATABASE_LOCK:
        summary = reports.get("/api/analytics/event-summary").json()
        pages = reports.get("/api/analytics/top-pages", {"event": "pageview"}).json()
        referrers = reports.get("/api/analytics/top-referrers").json()
        plans = reports.get("/api/analytics/breakdown", {"by": "metadata.plan", "event": "Signup"}).json()
    assert (summary["count"], summary["uniqueUsers"]) == (3, 1)
    assert sorted((entry["event"], entry["count"]) for entry in summary["eventBreakdown"]) == [
        ("Signup", 1),
        ("pageview", 2),
    ]
    assert sorted((entry["value"], entry["count"]) for entry in pages) == [("/pricing.html", 1), ("/pricing/annual", 1)]
    assert [(entry["value"], entry["count"]) for entry in referrers] == [("127.0.0.1", 3)]
    assert [(entry["value"], entry["count"]) for entry in plans["values"]] == [("pro", 1)]
    assert page_errors == [] and set(answers) == {202}


def test_hash_based_routing_counts_each_route_as_its_own_page(
    page, site, shop, sdk_modules, server, client_for, caplog
):
    caplog.set_level(logging.INFO, logger="analytics.request")
    site.pages["/app.html"] = tracked_page(sdk_modules, server, hashBasedRouting="true")
    browse_as(page, WINDOWS_CHROME)
    page.goto(site.url("/app.html#/cart"))
    wait_for_events(shop.app, 1)
    page.evaluate("location.hash = '#/checkout'")  # the router's navigation; the tracker hears hashchange

    events = wait_for_events(shop.app, 2)
    assert [event.path for event in events] == ["/app.html#/cart", "/app.html#/checkout"]
    with DATABASE_LOCK:
        pages = client_for(shop.secret_key.raw).get("/api/analytics/top-pages", {"event": "pageview"}).json()
    assert sorted(entry["value"] for entry in pages) == ["/app.html#/cart", "/app.html#/checkout"]

    # Each route left sends an engagement event, answered and not stored; the one for leaving the page
    # is awaited, so that no request is in flight when the database is emptied for the next test.
    page.goto("about:blank")
    deadline = time.monotonic() + 5
    while len([r for r in caplog.records if r.getMessage() == "POST /api/event 202"]) < 4:
        assert time.monotonic() < deadline, [r.getMessage() for r in caplog.records]
        time.sleep(0.05)
