"""Umami's clients against the live server, what they send being what the reports show: its Node client
(@umami/node), Umami 2.10's tracker (the last one npm ships, inside the `umami` package: `make sdk` keeps
its src/tracker/index.js alone), and a page in Chromium sending what Umami's current tracker sends.

No npm package ships the current tracker (src/tracker/index.js of Umami 3), so that page does what its
`send` does, request for request: JSON with `x-umami-cache` from the last answer (so Chromium preflights
it), keepalive, no credentials, and its payload fields.
"""

import json

import pytest

from analytics_project.testing import DATABASE_LOCK, SDK_MODULES, run_node
from apikeys.services import app_register
from events.tests.conftest import WINDOWS_CHROME
from events.tests.sites import browse_as, wait_for_events

pytestmark = [pytest.mark.django_db(transaction=True)]

TRACKER_SEND = """
let cache, identity;
async function send(payload, type = 'event') {
  const res = await fetch('%(host)s/api/send', {
    keepalive: true,
    method: 'POST',
    body: JSON.stringify({ type, payload }),
    headers: { 'Content-Type': 'application/json', ...(typeof cache !== 'undefined' && { 'x-umami-cache': cache }) },
    credentials: 'omit',
  });
  const data = await res.json();
  cache = data.cache;
}
const getPayload = () => ({
  website: '%(website)s', screen: `${screen.width}x${screen.height}`, language: navigator.language,
  title: document.title, hostname: location.hostname, url: location.href, referrer: document.referrer,
  id: identity ? identity : undefined,
});
window.umami = {
  track: (name, data) => send(typeof name === 'string' ? { ...getPayload(), name, data } : getPayload()),
  identify: (id, data) => { identity = id; cache = ''; return send({ ...getPayload(), data }, 'identify'); },
};
umami.track();
"""


def reports_of(app, client_for) -> dict:
    reports = client_for(app.secret_key.raw)
    with DATABASE_LOCK:
        return {
            "summary": reports.get("/api/analytics/event-summary").json(),
            "pages": reports.get("/api/analytics/top-pages", {"event": "pageview"}).json(),
            "referrers": reports.get("/api/analytics/top-referrers").json(),
            "plans": reports.get("/api/analytics/breakdown", {"by": "metadata.plan"}).json()["values"],
        }


@pytest.mark.browser
def test_a_page_sending_as_umamis_tracker_records_views_events_and_the_identified_user(page, site, server, client_for):
    shop = app_register(name="Shop", owner_email="o@shop.example", domains=[f"localhost:{site.port}"])
    site.pages["/pricing.html"] = (
        "<!doctype html><html><head><meta charset='utf-8'><title>Pricing</title>"
        f"<script>{TRACKER_SEND % {'host': server.url, 'website': shop.app.id}}</script>"
        "</head><body><h1>Pricing</h1></body></html>"
    )
    site.pages["/mail.html"] = f'<!doctype html><a id="go" href="{site.url("/pricing.html")}">Pricing</a>'
    page_errors, sent = [], []
    page.on("pageerror", lambda error: page_errors.append(error))
    page.on("request", lambda request: request.url.endswith("/api/send") and sent.append(request))
    browse_as(page, WINDOWS_CHROME)
    page.goto(site.url("/mail.html", host="127.0.0.1"))
    page.click("#go")
    wait_for_events(shop.app, 1)
    # The event is stored before its answer reaches the page: wait for the cache token it carries.
    page.wait_for_function("typeof cache !== 'undefined'")

    page.evaluate("umami.track('signup', {plan: 'pro', seats: 3})")
    wait_for_events(shop.app, 2)
    page.evaluate("umami.identify('u_42', {plan: 'pro', company: 'Acme'})")
    wait_for_events(shop.app, 3)
    page.evaluate("umami.track('upgrade', {plan: 'team'})")

    view, signup, identify, upgrade = wait_for_events(shop.app, 4)
    assert [event.name for event in (view, signup, identify, upgrade)] == ["pageview", "signup", "identify", "upgrade"]
    assert {event.path for event in (view, signup, identify, upgrade)} == {"/pricing.html"}
    assert (view.referrer_host, view.metadata, view.source) == ("127.0.0.1", {"title": "Pricing"}, "umami")
    assert signup.metadata == {"title": "Pricing", "plan": "pro", "seats": 3}
    assert (identify.user_id, identify.anonymous_id) == ("u_42", view.distinct_id)
    assert identify.metadata == {"plan": "pro", "company": "Acme"}
    assert upgrade.user_id == "u_42"
    posts = [request for request in sent if request.method == "POST"]
    assert "x-umami-cache" not in posts[0].headers and posts[1].headers["x-umami-cache"]

    figures = reports_of(shop, client_for)
    # One visitor, identified at the third event: the persons layer counts the anonymous view as theirs.
    assert (figures["summary"]["count"], figures["summary"]["uniqueUsers"]) == (4, 1)
    assert [(entry["value"], entry["count"]) for entry in figures["pages"]] == [("/pricing.html", 1)]
    assert [(entry["value"], entry["count"]) for entry in figures["referrers"]] == [("127.0.0.1", 4)]
    plans = sorted((entry["value"], entry["count"]) for entry in figures["plans"] if entry["value"] is not None)
    assert plans == [("pro", 2), ("team", 1)]
    assert page_errors == []


@pytest.mark.browser
def test_umami_2_10s_tracker_records_the_view_a_tagged_click_a_route_change_and_identify(
    page, site, server, sdk_modules, client_for
):
    shop = app_register(name="Shop", owner_email="o@shop.example", domains=[f"localhost:{site.port}"])
    site.pages["/script.js"] = (SDK_MODULES / ".umami-tracker" / "index.js").read_text()
    site.pages["/pricing.html"] = (
        "<!doctype html><html><head><meta charset='utf-8'><title>Pricing & plans</title>"
        f"<script defer src='/script.js' data-website-id='{shop.app.id}' data-host-url='{server.url}/'></script>"
        "</head><body><button id='buy' data-umami-event='Signup' data-umami-event-plan='pro'>Buy</button></body></html>"
    )
    site.pages["/mail.html"] = f'<!doctype html><a id="go" href="{site.url("/pricing.html?ref=mail")}">Pricing</a>'
    page_errors, answers = [], []
    page.on("pageerror", lambda error: page_errors.append(error))
    page.on("response", lambda response: response.url.endswith("/api/send") and answers.append(response.status))
    browse_as(page, WINDOWS_CHROME)
    page.goto(site.url("/mail.html", host="127.0.0.1"))
    page.click("#go")
    wait_for_events(shop.app, 1)
    page.click("#buy")
    wait_for_events(shop.app, 2)
    page.evaluate("history.pushState({}, '', '/pricing/annual')")  # the tracker sends it 300 ms later
    wait_for_events(shop.app, 3)
    page.evaluate("umami.identify({plan: 'pro', company: 'Acme'})")

    view, signup, annual, identify = wait_for_events(shop.app, 4)
    assert [event.name for event in (view, signup, annual, identify)] == ["pageview", "Signup", "pageview", "identify"]
    # Umami 2.10 sends the host and path alone, as Umami stores them; the URL is rebuilt as https.
    assert (view.url, view.path, view.referrer_host) == (
        "https://localhost/pricing.html?ref=mail",
        "/pricing.html",
        "127.0.0.1",
    )
    # Umami 2.10 sends the title percent-encoded; the server stores what the page shows.
    assert view.metadata == {"title": "Pricing & plans"} and signup.metadata == {
        "title": "Pricing & plans",
        "plan": "pro",
    }
    # After a route change the tracker's referrer is the previous path: the same site, so no referrer.
    assert (annual.path, annual.referrer_host) == ("/pricing/annual", "")
    assert identify.metadata == {"plan": "pro", "company": "Acme"}
    assert len({event.distinct_id for event in (view, signup, annual, identify)}) == 1
    assert {event.source for event in (view, signup, annual, identify)} == {"umami"}
    assert answers == [200, 200, 200, 200] and page_errors == []

    figures = reports_of(shop, client_for)
    assert (figures["summary"]["count"], figures["summary"]["uniqueUsers"]) == (4, 1)
    assert sorted((entry["value"], entry["count"]) for entry in figures["pages"]) == [
        ("/pricing.html", 1),
        ("/pricing/annual", 1),
    ]
    assert [(entry["value"], entry["count"]) for entry in figures["referrers"]] == [("127.0.0.1", 2)]


def test_umamis_node_client_records_a_view_an_event_and_traits(sdk_modules, server, client_for):
    shop = app_register(name="Shop", owner_email="o@shop.example")
    script = """
    const umami = require('@umami/node').default;
    umami.init({ websiteId: process.env.WEBSITE, hostUrl: process.env.HOST });
    (async () => {
      const answers = [
        await umami.track({ hostname: 'shop.example', url: '/home', referrer: 'https://news.example/a' }),
        await umami.track('signup', { plan: 'pro' }),
        await umami.identify({ plan: 'pro' }),
      ];
      console.log(JSON.stringify(await Promise.all(answers.map(async (r) => [r.status, await r.json()]))));
    })();
    """
    answers = json.loads(run_node(script, WEBSITE=str(shop.app.id), HOST=server.url))

    assert [status for status, _ in answers] == [200, 200, 200]
    assert all(set(body) == {"cache", "sessionId", "visitId"} for _, body in answers)
    view, signup, identify = wait_for_events(shop.app, 3)
    assert (view.name, view.url, view.referrer_host) == ("pageview", "https://shop.example/home", "news.example")
    assert (signup.name, signup.metadata, identify.name, identify.metadata) == (
        "signup",
        {"plan": "pro"},
        "identify",
        {"plan": "pro"},
    )
    figures = reports_of(shop, client_for)
    assert (figures["summary"]["count"], figures["summary"]["uniqueUsers"]) == (3, 1)
    assert [(entry["value"], entry["count"]) for entry in figures["pages"]] == [("/home", 1)]
