"""The browser tracker (SPEC §4.4) in a real Chromium, on a page served from another origin like a customer's site.

The page comes from a small http.server on its own port; the tracker and the collect endpoint come from
pytest-django's live server. Every test waits for stored Event rows by polling the database.
"""

import re

import pytest

from analytics_project.testing import DATABASE_LOCK
from apikeys.services import app_register
from events.tests.sites import stored_events, wait_for_events
from persons.models import PersonDistinctId

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def tracked_page(site, server):
    """Publish an HTML page on the site with the tracker snippet for ``key``; returns its URL."""

    def publish(path: str, key: str) -> str:
        site.pages[path] = (
            "<!doctype html><html><head><meta charset='utf-8'><title>Acme shop</title>"
            f'<script defer src="{server.url}/t.js" data-key="{key}"></script>'
            f"</head><body><h1>Acme shop {path}</h1></body></html>"
        )
        return site.url(path)

    return publish


def test_a_page_view_is_recorded_with_url_path_referrer_and_utm_fields(page, site, tracked_page):
    shop = app_register(name="Shop", owner_email="o@shop.example", domains=[f"localhost:{site.port}"])
    landing = (
        tracked_page("/landing.html", shop.publishable_key.raw)
        + "?utm_source=newsletter&utm_medium=email&utm_campaign=spring"
    )
    # The link lives on another host, as a newsletter or search engine would; Chromium's default referrer
    # policy (strict-origin-when-cross-origin) then sends only that host's origin.
    site.pages["/mail.html"] = f'<!doctype html><a id="go" href="{landing}">Spring sale</a>'
    page.goto(site.url("/mail.html", host="127.0.0.1"))
    page.click("#go")

    (view,) = wait_for_events(shop.app, 1)
    assert (view.name, view.source, view.url) == ("pageview", "browser", landing)
    assert (view.host, view.path) == ("localhost", "/landing.html")
    assert (view.referrer, view.referrer_host) == (f"http://127.0.0.1:{site.port}/", "127.0.0.1")
    assert (view.utm_source, view.utm_medium, view.utm_campaign) == ("newsletter", "email", "spring")
    assert view.anonymous_id and view.session_id
    assert re.fullmatch(r"\d+x\d+", view.screen) and view.locale


def test_history_push_state_records_a_page_view_for_the_new_path(page, tracked_page):
    shop = app_register(name="Shop", owner_email="o@shop.example")
    first_url = tracked_page("/app.html", shop.publishable_key.raw)
    page.goto(first_url)
    wait_for_events(shop.app, 1)

    page.evaluate("history.pushState({}, '', '/app/settings?tab=billing')")

    first, second = wait_for_events(shop.app, 2, name="pageview")
    assert first.path == "/app.html"
    # tab=billing is not an allowed query parameter: it never leaves the page.
    assert (second.path, second.url) == ("/app/settings", page.url.split("?")[0])
    assert second.referrer == ""  # the site's own previous page is no referrer
    assert second.anonymous_id == first.anonymous_id and second.session_id == first.session_id


def test_replace_state_is_not_a_page_view(page, tracked_page):
    shop = app_register(name="Shop", owner_email="o@shop.example")
    page.goto(tracked_page("/search.html", shop.publishable_key.raw))
    wait_for_events(shop.app, 1)

    page.evaluate("history.replaceState({}, '', '/search.html?q=shoes'); history.pushState({}, '', '/results.html')")

    first, second = wait_for_events(shop.app, 2, name="pageview")
    assert (first.path, second.path) == ("/search.html", "/results.html")


def test_the_url_keeps_only_utm_and_allowed_query_parameters_and_no_fragment(page, site, server):
    shop = app_register(name="Shop", owner_email="o@shop.example")
    site.pages["/reset.html"] = (
        f'<!doctype html><script defer src="{server.url}/t.js" data-key="{shop.publishable_key.raw}" '
        'data-query-params="plan, ref"></script>'
    )
    page.goto(site.url("/reset.html") + "?token=s3cret&plan=pro&utm_source=mail&email=a%40b.example#access_token=x")

    (view,) = wait_for_events(shop.app, 1)
    assert view.url == site.url("/reset.html") + "?plan=pro&utm_source=mail"
    assert view.utm_source == "mail" and "s3cret" not in str(view.metadata)


def test_a_reload_or_a_link_from_the_same_site_is_no_referrer(page, site, tracked_page):
    shop = app_register(name="Shop", owner_email="o@shop.example")
    about = tracked_page("/about.html", shop.publishable_key.raw)
    site.pages["/home.html"] = f'<!doctype html><a id="go" href="{about}">About</a>'
    page.goto(site.url("/home.html"))
    page.click("#go")

    (view,) = wait_for_events(shop.app, 1)
    assert (view.path, view.referrer, view.referrer_host) == ("/about.html", "", "")


def test_identify_links_the_visit_before_sign_in_to_the_user(page, tracked_page):
    shop = app_register(name="Shop", owner_email="o@shop.example")
    page.goto(tracked_page("/signup.html", shop.publishable_key.raw))
    (landing,) = wait_for_events(shop.app, 1)

    page.evaluate("uea.identify('user-42', {plan: 'pro'}); uea.track('signed_up')")

    # Two beacons in flight at once: either may be stored first.
    by_name = {event.name: event for event in wait_for_events(shop.app, 2, name__in=["identify", "signed_up"])}
    identify, signed_up = by_name["identify"], by_name["signed_up"]
    assert (identify.user_id, identify.anonymous_id) == ("user-42", landing.anonymous_id)
    assert identify.metadata == {"plan": "pro"}
    assert (signed_up.user_id, signed_up.distinct_id) == ("user-42", "user-42")
    with DATABASE_LOCK:
        linked = dict(PersonDistinctId.objects.filter(app=shop.app).values_list("distinct_id", "person_key"))
    assert linked == {"user-42": "user-42", landing.anonymous_id: "user-42"}

    page.reload()  # the user id is kept across page loads, until reset()
    (again,) = wait_for_events(shop.app, 2, name="pageview")[1:]
    assert again.user_id == "user-42"
    page.evaluate("uea.reset(); uea.track('after_sign_out')")
    (after,) = wait_for_events(shop.app, 1, name="after_sign_out")
    assert after.user_id == "" and after.anonymous_id not in ("", landing.anonymous_id)


def test_outbound_link_clicks_are_tracked_when_asked(page, site, server):
    shop = app_register(name="Shop", owner_email="o@shop.example")
    site.pages["/links.html"] = (
        f'<!doctype html><script defer src="{server.url}/t.js" data-key="{shop.publishable_key.raw}" '
        'data-outbound="true"></script>'
        '<a id="out" href="https://partner.example/deal">Partner</a><a id="in" href="/links.html#top">Top</a>'
    )
    page.route("https://partner.example/**", lambda route: route.fulfill(body="<h1>Partner</h1>"))
    page.goto(site.url("/links.html"))
    wait_for_events(shop.app, 1, name="pageview")
    page.click("#in")
    page.click("#out")

    (click,) = wait_for_events(shop.app, 1, name="outbound_click")
    assert click.metadata == {"url": "https://partner.example/deal"}


def test_uea_track_records_a_custom_event_with_its_metadata(page, tracked_page):
    shop = app_register(name="Shop", owner_email="o@shop.example")
    page.goto(tracked_page("/pricing.html", shop.publishable_key.raw))
    wait_for_events(shop.app, 1, name="pageview")

    page.evaluate("uea.track('signup', {plan: 'pro', seats: 3})")

    (signup,) = wait_for_events(shop.app, 1, name="signup")
    assert signup.metadata == {"plan": "pro", "seats": 3}
    assert (signup.source, signup.path) == ("browser", "/pricing.html")


def test_a_page_on_an_origin_outside_the_allowed_domains_stores_nothing(page, tracked_page):
    shop = app_register(name="Shop", owner_email="o@shop.example", domains=["shop.example"])
    with page.expect_response(lambda response: response.url.endswith("/api/analytics/collect")) as collected:
        page.goto(tracked_page("/landing.html", shop.publishable_key.raw))

    assert collected.value.status == 403
    assert stored_events(shop.app) == []


def test_the_anonymous_id_is_kept_across_page_loads_and_the_script_is_cacheable_javascript(page, tracked_page):
    shop = app_register(name="Shop", owner_email="o@shop.example")
    url = tracked_page("/landing.html", shop.publishable_key.raw)
    with page.expect_response(lambda response: response.url.endswith("/t.js")) as script:
        page.goto(url)
    wait_for_events(shop.app, 1)
    page.goto(url + "?again")

    first, second = wait_for_events(shop.app, 2)
    assert first.anonymous_id == second.anonymous_id == page.evaluate("localStorage.getItem('uea_aid')")
    headers = script.value.headers
    assert headers["content-type"].startswith(("application/javascript", "text/javascript"))
    max_age = re.search(r"max-age=(\d+)", headers["cache-control"])
    assert max_age and int(max_age.group(1)) > 0


def test_the_tracker_works_in_a_sandboxed_frame_where_local_storage_is_blocked(page, site, tracked_page):
    shop = app_register(name="Shop", owner_email="o@shop.example")
    tracked_page("/widget.html", shop.publishable_key.raw)
    site.pages["/host.html"] = '<!doctype html><iframe sandbox="allow-scripts" src="/widget.html"></iframe>'
    page.goto(site.url("/host.html"))
    wait_for_events(shop.app, 1, name="pageview")

    page.frame(url=re.compile("widget")).evaluate("uea.track('widget_opened')")

    view, opened = wait_for_events(shop.app, 2)
    assert (view.path, opened.name) == ("/widget.html", "widget_opened")
    assert view.anonymous_id == opened.anonymous_id != ""  # kept for the life of the page instead


def test_uea_track_with_metadata_that_is_not_an_object_still_records_the_event(page, tracked_page):
    shop = app_register(name="Shop", owner_email="o@shop.example")
    page.goto(tracked_page("/compare.html", shop.publishable_key.raw))
    wait_for_events(shop.app, 1, name="pageview")

    page.evaluate("uea.track('compare', ['basic', 'pro']); uea.track('search', 'shoes')")

    events = wait_for_events(shop.app, 2, name__in=["compare", "search"])
    assert sorted((event.name, event.metadata) for event in events) == [("compare", {}), ("search", {})]


def test_a_burst_of_large_events_past_the_beacon_budget_all_arrive_without_page_errors(page, tracked_page):
    shop = app_register(name="Shop", owner_email="o@shop.example")
    page_errors = []
    page.on("pageerror", lambda error: page_errors.append(error))
    page.goto(tracked_page("/catalogue.html", shop.publishable_key.raw))
    wait_for_events(shop.app, 1, name="pageview")

    # Five 30 KB events in one go: the browser refuses beacons past 64 KiB in flight.
    page.evaluate("for (var i = 0; i < 5; i++) uea.track('impression', {item: i, blob: 'x'.repeat(30000)})")

    impressions = wait_for_events(shop.app, 5, name="impression")
    assert sorted(event.metadata["item"] for event in impressions) == [0, 1, 2, 3, 4]
    assert page_errors == []


def test_when_send_beacon_refuses_events_arrive_by_fetch(page, tracked_page):
    shop = app_register(name="Shop", owner_email="o@shop.example")
    page.add_init_script("navigator.sendBeacon = function () { return false; };")
    with page.expect_request(lambda request: request.url.endswith("/api/analytics/collect")) as collect:
        page.goto(tracked_page("/landing.html", shop.publishable_key.raw))

    (view,) = wait_for_events(shop.app, 1)
    assert collect.value.resource_type == "fetch"
    assert (view.name, view.source, view.path) == ("pageview", "browser", "/landing.html")
