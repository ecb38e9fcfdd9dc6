"""What the JavaScript SDKs' browser tests share: a shop page that loads one SDK from the customer's site,
the browser's view of it (requests, errors), and the reports a secret key reads afterwards."""

import json
from dataclasses import dataclass, field

from rest_framework.test import APIClient

from analytics_project.testing import DATABASE_LOCK
from apikeys.services import app_register
from events.tests.sites import wait_for_events

SDK_PATH = "/vendor/sdk.js"
# The site has no favicon: without this its 404 would be a console error on every page.
NO_FAVICON = '<link rel="icon" href="data:,">'


def shop_page(*, title: str, boot: str) -> str:
    """An HTML page that loads the SDK from the site itself, then runs ``boot`` (JavaScript) to start it."""
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{title}</title>{NO_FAVICON}"
        f'<script src="{SDK_PATH}"></script><script>{boot}</script>'
        f"</head><body><h1>{title}</h1></body></html>"
    )


def js(value) -> str:
    return json.dumps(value)


@dataclass
class BrowserLog:
    """Everything a test must see empty or as expected: uncaught errors, console errors, and the
    requests the page sent to the analytics server, in order."""

    server_url: str
    page_errors: list = field(default_factory=list)
    console_errors: list = field(default_factory=list)
    requests: list = field(default_factory=list)

    def watch(self, page) -> "BrowserLog":
        page.on("pageerror", lambda error: self.page_errors.append(error))
        page.on("console", lambda message: message.type == "error" and self.console_errors.append(_located(message)))
        page.on("request", lambda request: self._record(request))
        return self

    def _record(self, request) -> None:
        if request.url.startswith(self.server_url) and request.method != "OPTIONS":
            self.requests.append((request.method, request.url.removeprefix(self.server_url), request))

    def paths(self, method: str = "POST") -> list[str]:
        return [path.split("?")[0] for sent_method, path, _ in self.requests if sent_method == method]

    def assert_clean(self) -> None:
        assert self.page_errors == [], self.page_errors
        assert self.console_errors == [], self.console_errors


def _located(message) -> str:
    return f"{message.text} ({message.location.get('url', '')})"


def report(secret_key: str, name: str, **params) -> dict | list:
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=secret_key)
    with DATABASE_LOCK:
        response = client.get(f"/api/analytics/{name}", params)
    assert response.status_code == 200, response.content
    return response.json()


def landing_url(site) -> str:
    return site.url("/pricing?utm_source=newsletter")


def shop_for(site):
    return app_register(name="Shop", owner_email="o@shop.example", domains=[f"localhost:{site.port}"])


def assert_identify_page_and_track_arrived(shop, site, page) -> None:
    """What the Segment-protocol browser SDKs' SEND script sent, as stored and as the reports show it."""
    events = {event.name: event for event in wait_for_events(shop.app, 3)}
    assert set(events) == {"identify", "pageview", "Order Completed"}
    for event in events.values():
        assert (event.user_id, event.distinct_id, event.source) == ("u_42", "u_42", "segment")
        assert (event.url, event.host, event.path) == (landing_url(site), "localhost", "/pricing")
        assert event.utm_source == "newsletter"
        assert (event.referrer, event.referrer_host) == (f"http://127.0.0.1:{site.port}/", "127.0.0.1")
        assert event.user_agent == page.evaluate("navigator.userAgent")
    assert len({event.anonymous_id for event in events.values()} - {""}) == 1
    assert events["identify"].metadata == {"email": "ada@example.com", "plan": "pro"}
    assert events["Order Completed"].metadata == {"revenue": 42.5, "plan": "pro"}
    assert events["pageview"].metadata["title"] == "Pricing"

    secret = shop.secret_key.raw
    summary = report(secret, "event-summary")
    assert (summary["count"], summary["uniqueUsers"]) == (3, 1)
    assert summary["topReferrers"] == [{"value": "127.0.0.1", "count": 3}]
    assert report(secret, "top-pages", event="pageview") == [{"value": "/pricing", "count": 1, "uniqueUsers": 1}]
    revenue = report(secret, "breakdown", by="metadata.revenue", event="Order Completed")
    assert revenue["values"] == [{"value": "42.5", "count": 1, "uniqueUsers": 1}]


def open_pricing_page(page, site, server, sdk_file, boot: str) -> BrowserLog:
    """Open the shop's pricing page, which loads the SDK (``sdk_file``) from the shop and runs ``boot``,
    reached by a link from another site (so it has a referrer); returns what the browser saw."""
    site.pages[SDK_PATH] = sdk_file.read_text()
    site.pages["/pricing"] = shop_page(title="Pricing", boot=boot)
    site.pages["/mail.html"] = f'<!doctype html>{NO_FAVICON}<a id="go" href="{landing_url(site)}">Plans</a>'
    log = BrowserLog(server.url).watch(page)
    page.goto(site.url("/mail.html", host="127.0.0.1"))
    page.click("#go")
    page.wait_for_url(landing_url(site))
    return log
