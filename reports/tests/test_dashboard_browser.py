"""The dashboard and the API docs in a real Chromium, as an operator and a newcomer would use them.

Every request to a host other than the live server is aborted, so "works offline" is tested, not assumed.
"""

import dataclasses
import re
import threading
from datetime import timedelta
from pathlib import Path
from unittest import mock
from zoneinfo import ZoneInfo

import pytest
from allauth.account.models import EmailAddress
from django.contrib.auth.models import User
from django.db import connection
from django.utils import timezone

from analytics_project.testing import ARTIFACTS
from apikeys.services import app_register
from events.models import Event
from events.services import RequestFacts, events_ingest
from reports.panels import PANELS
from reports.sharing import shared_link_create, shared_link_revoke
from reports.templatetags.dashboard_format import percent, signed_percent
from reports.tests.conftest import may_read_events
from reports.tests.pages import wait_for_panels


@pytest.fixture
def analytics_store():
    """Django's store only: a browser run per store would double minutes of Chromium for SQL the other
    report tests already run on ClickHouse."""
    return "django"


pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PASSWORD = "pw-for-browser-tests"


@pytest.fixture
def offline_page(page, server):
    """The page may reach only the live server: any CDN or other host is refused."""
    blocked = []

    def route(request_route):
        if request_route.request.url.startswith(server.url):
            request_route.continue_()
        else:
            blocked.append(request_route.request.url)
            request_route.abort()

    page.route("**/*", route)
    page.blocked_requests = blocked
    return page


@pytest.fixture
def seeded_app(db):
    registered = app_register(name="Browser shop", owner_email="ops@shop.example", timezone_name="Europe/Berlin")
    now = timezone.now()
    facts = RequestFacts(
        api_key=registered.secret_key.api_key, ip="127.0.0.1", user_agent="", received_at=now, source="api"
    )
    events = [
        {
            "event": "pageview",
            "userId": f"user-{i % 4}",
            "url": "https://shop.example/pricing" if i % 3 else "https://shop.example/",
            # Today's three users are two minutes old: inside the live panel's five-minute window.
            "timestamp": (now - timedelta(days=i % 5, minutes=2)).isoformat(),
        }
        for i in range(15)
    ]
    events_ingest(raw_events=events, facts=facts)
    return registered


def log_in(page, server, path: str, username: str):
    """An operator signs in where operators do, the admin's login, on the way to ``path``."""
    page.goto(f"{server.url}/admin/login/?next={path}")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")


def test_a_staff_user_logs_in_and_reads_the_apis_figures_off_the_dashboard(offline_page, server, seeded_app, client):
    staff = may_read_events(User.objects.create_user("analyst", password=PASSWORD, is_staff=True))
    seeded_app.app.operators.add(staff)
    log_in(offline_page, server, f"/dashboard/apps/{seeded_app.app.pk}/", "analyst")
    wait_for_panels(offline_page)

    headers = {"HTTP_X_API_KEY": seeded_app.secret_key.raw}
    summary = client.get("/api/analytics/event-summary", **headers).json()
    top_page = client.get("/api/analytics/top-pages", **headers).json()[0]
    days = client.get("/api/analytics/daily-stats", **headers).json()
    assert offline_page.inner_text("[data-testid=total-events]") == str(summary["count"]) == "15"
    assert offline_page.inner_text("[data-testid=unique-users]") == str(summary["uniqueUsers"])
    first_row = offline_page.locator("h2:text('Top pages') + table tbody tr").first.inner_text().split("\t")
    assert first_row[:2] == [top_page["value"], str(top_page["count"])]
    assert offline_page.locator("[data-testid=timeseries] circle.point").count() == len(days)
    live = client.get("/api/analytics/live", **headers).json()
    assert offline_page.inner_text("[data-testid=live-users]") == str(live["activeUsers5m"]) == "3"
    assert offline_page.blocked_requests == []


def test_a_slow_panel_holds_up_only_itself(offline_page, server, seeded_app):
    """Retention made to wait until the test lets it go: every other panel shows its figures meanwhile."""
    if connection.vendor == "sqlite" and connection.is_in_memory_db():
        pytest.skip("the test server takes one request at a time on in-memory SQLite (see `server`)")
    staff = may_read_events(User.objects.create_user("analyst", password=PASSWORD, is_staff=True))
    seeded_app.app.operators.add(staff)
    released = threading.Event()
    slow = PANELS["retention"]

    def held(page):
        released.wait(timeout=30)
        return slow.context(page)

    with mock.patch.dict(PANELS, {"retention": dataclasses.replace(slow, context=held)}):
        log_in(offline_page, server, f"/dashboard/apps/{seeded_app.app.pk}/", "analyst")
        wait_for_panels(offline_page, pending=1)
        assert offline_page.inner_text("[data-testid=total-events]") == "15"
        assert offline_page.locator("[data-testid=goals]").count() == 1
        assert offline_page.locator("[data-testid=retention]").count() == 0
        released.set()
        wait_for_panels(offline_page)
    assert offline_page.locator("[data-testid=retention]").count() == 1


def test_a_person_outside_the_apps_organisation_signs_in_and_still_sees_nothing_of_it(offline_page, server, seeded_app):
    customer = User.objects.create_user("customer", "customer@example.com", PASSWORD)
    EmailAddress.objects.create(user=customer, email="customer@example.com", verified=True, primary=True)
    offline_page.goto(f"{server.url}/dashboard/apps/{seeded_app.app.pk}/")
    assert "/accounts/login/" in offline_page.url
    offline_page.fill("#id_login", "customer@example.com")
    offline_page.fill("#id_password", PASSWORD)
    offline_page.click("button[type=submit]")
    offline_page.wait_for_load_state()
    assert f"/dashboard/apps/{seeded_app.app.pk}/" in offline_page.url
    assert offline_page.locator("[data-testid=total-events]").count() == 0


def test_swagger_ui_works_offline_and_try_it_out_with_a_key_returns_200(offline_page, server, seeded_app):
    offline_page.goto(f"{server.url}/api/docs/")
    offline_page.wait_for_selector(".opblock-summary-path", timeout=15_000)
    paths = offline_page.locator(".opblock-summary-path").all_inner_texts()
    assert "/api/analytics/event-summary" in [re.sub(r"\s", "", path) for path in paths]

    offline_page.click("button.authorize")
    offline_page.locator(".modal-ux input[type=text]").first.fill(seeded_app.secret_key.raw)
    offline_page.locator(".modal-ux button.authorize").first.click()
    offline_page.click("button.btn-done")

    operation = (
        offline_page.locator("#operations-reports-api_analytics_event_summary_retrieve, .opblock-get")
        .filter(has_text="/api/analytics/event-summary")
        .first
    )
    operation.locator(".opblock-summary").click()
    operation.locator("button.try-out__btn").click()
    operation.locator("button.execute").click()
    status = operation.locator(".live-responses-table tbody .response-col_status").first
    status.wait_for(timeout=15_000)
    assert status.inner_text().strip().startswith("200")
    assert offline_page.blocked_requests == []


def test_redoc_renders_the_operations_and_sends_nothing_to_another_host(offline_page, server, db):
    requests = []
    offline_page.on("request", lambda request: requests.append(request))
    offline_page.goto(f"{server.url}/api/redoc/")
    offline_page.wait_for_selector("[data-section-id^='operation/']", timeout=15_000)
    assert offline_page.get_by_role("heading", name="Register an app").count() == 1
    assert offline_page.locator("[data-section-id^='operation/']").count() >= 8
    offline_page.wait_for_load_state("networkidle")
    # Redoc always asks for its logo on cdn.redoc.ly; the page's Content-Security-Policy must refuse
    # that inside the browser, before anything is sent; nothing may reach the network (offline_page).
    off_host = [(request.url, request.failure) for request in requests if not request.url.startswith(server.url)]
    assert all(failure == "csp" for _, failure in off_host), off_host
    assert offline_page.blocked_requests == []


@pytest.mark.parametrize(
    ("name", "options"),
    [
        ("light", {"viewport": {"width": 1280, "height": 900}, "color_scheme": "light"}),
        ("dark", {"viewport": {"width": 1280, "height": 900}, "color_scheme": "dark"}),
        ("mobile", {"viewport": {"width": 375, "height": 812}, "color_scheme": "light", "is_mobile": True}),
    ],
)
def test_the_app_page_in_light_dark_and_at_375_px_has_no_sideways_scroll(browser, server, seeded_app, name, options):
    staff = may_read_events(User.objects.create_user("analyst", password=PASSWORD, is_staff=True))
    seeded_app.app.operators.add(staff)
    context = browser.new_context(**options)
    page = context.new_page()
    try:
        log_in(page, server, f"/dashboard/apps/{seeded_app.app.pk}/?funnel=pageview,pageview", "analyst")
        wait_for_panels(page)
        background = page.evaluate("getComputedStyle(document.body).backgroundColor")
        dark = background == "rgb(18, 22, 29)"
        assert dark == (name == "dark"), background
        overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 0, f"{overflow}px of sideways scroll at {options['viewport']['width']} px"
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"dashboard-app-page-{name}.png"), full_page=True)
    finally:
        context.close()


def test_clicking_a_referrer_filters_the_page_and_its_url_and_the_chip_undoes_it(offline_page, server, seeded_app):
    now = timezone.now() - timedelta(minutes=30)
    facts = RequestFacts(
        api_key=seeded_app.secret_key.api_key, ip="127.0.0.1", user_agent="", received_at=timezone.now(), source="api"
    )
    referred = [
        {
            "event": "pageview",
            "userId": f"reader-{n}",
            "url": "https://shop.example/blog",
            "referrer": "https://news.example/",
            "timestamp": now.isoformat(),
        }
        for n in range(2)
    ]
    events_ingest(raw_events=referred, facts=facts)
    staff = may_read_events(User.objects.create_user("analyst", password=PASSWORD, is_staff=True))
    seeded_app.app.operators.add(staff)
    log_in(offline_page, server, f"/dashboard/apps/{seeded_app.app.pk}/", "analyst")
    wait_for_panels(offline_page)
    assert offline_page.inner_text("[data-testid=total-events]") == "17"

    offline_page.click("h2:text('Top referrers') + table >> text=news.example")
    offline_page.wait_for_selector("[data-testid=filters]")
    wait_for_panels(offline_page)
    assert "f=referrer%3Anews.example" in offline_page.url
    assert offline_page.inner_text("[data-testid=total-events]") == "2"
    assert offline_page.locator("h2:text('Top pages') + table tbody tr").all_inner_texts() == ["/blog\t2\t2"]
    with offline_page.expect_download() as download:
        offline_page.click("[data-testid=export]")
    lines = Path(download.value.path()).read_text().splitlines()
    assert len(lines) == 3 and all("news.example" in line for line in lines[1:])  # the filtered view's two
    offline_page.click("[aria-label='Remove the filter Referrer']")
    offline_page.wait_for_selector("[data-testid=filters]", state="detached")
    wait_for_panels(offline_page)
    assert offline_page.inner_text("[data-testid=total-events]") == "17"
    assert offline_page.blocked_requests == []


def test_a_shared_link_opens_without_login_and_stops_working_when_revoked(offline_page, server, seeded_app):
    made = shared_link_create(app=seeded_app.app, label="board", password="board only")
    offline_page.goto(server.url + made.path)
    offline_page.fill("[data-testid=share-password] input[name=password]", "board only")
    offline_page.click("[data-testid=share-password] button")
    wait_for_panels(offline_page)
    assert offline_page.inner_text("[data-testid=total-events]") == "15"
    offline_page.click("nav.presets >> text=Last 7 days")
    assert "range=7d" in offline_page.url and offline_page.url.startswith(server.url + made.path)

    shared_link_revoke(link=made.link)
    assert offline_page.reload().status == 404
    assert offline_page.blocked_requests == []


def test_a_preset_compares_with_the_days_before_and_a_goal_added_on_the_page_shows_its_conversion(
    offline_page, server, seeded_app
):
    """The figures against a count of the stored events by the app's local days, made here."""
    facts = RequestFacts(
        api_key=seeded_app.secret_key.api_key, ip="127.0.0.1", user_agent="", received_at=timezone.now(), source="api"
    )
    earlier = [
        {"event": "pageview", "userId": f"old-{n}", "url": "https://shop.example/", "timestamp": moment.isoformat()}
        for n, moment in enumerate(timezone.now() - timedelta(days=days, hours=1) for days in (8, 9, 9, 12))
    ]
    events_ingest(raw_events=earlier, facts=facts)
    staff = may_read_events(User.objects.create_user("analyst", password=PASSWORD, is_staff=True))
    seeded_app.app.operators.add(staff)
    zone = ZoneInfo(seeded_app.app.timezone)
    today = timezone.now().astimezone(zone).date()
    stored = [(e.timestamp.astimezone(zone).date(), e.distinct_id, e.path) for e in Event.objects.all()]
    current = [e for e in stored if today - timedelta(days=6) <= e[0] <= today]
    before = [e for e in stored if today - timedelta(days=13) <= e[0] <= today - timedelta(days=7)]
    visitors = {user for _, user, _ in current}
    converted = {user for _, user, path in current if path == "/pricing"}

    log_in(offline_page, server, f"/dashboard/apps/{seeded_app.app.pk}/", "analyst")
    wait_for_panels(offline_page)
    with offline_page.expect_navigation():
        offline_page.click("nav.presets >> text=Last 7 days")
    assert "range=7d" in offline_page.url
    wait_for_panels(offline_page)
    assert offline_page.inner_text("[data-testid=total-events]") == str(len(current))
    assert offline_page.inner_text("[data-testid=events-change]") == signed_percent(
        (len(current) - len(before)) / len(before)
    )
    assert f"against {len(before)} events" in offline_page.inner_text("[data-testid=previous-period]")

    offline_page.select_option("[data-testid=goal-form] select[name=kind]", "page")
    offline_page.fill("[data-testid=goal-form] input[name=value]", "/pricing")
    with offline_page.expect_navigation():
        offline_page.click("[data-testid=goal-form] button")
    assert "range=7d" in offline_page.url
    wait_for_panels(offline_page)
    row = offline_page.locator("[data-testid=goals] tbody tr").first.inner_text().split("\t")
    assert row[:4] == [
        "page view /pricing",
        str(len(converted)),
        str(sum(e[2] == "/pricing" for e in current)),
        percent(len(converted) / len(visitors)),
    ]
    assert offline_page.blocked_requests == []
