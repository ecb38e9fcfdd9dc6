"""The dashboard's live view in Chromium, served by uvicorn (the ASGI server the README runs) in this
process: its socket shows an event sent after the page opened, and comes back after a server restart."""

import json
import urllib.request

import pytest
from django.contrib.auth.models import User

from analytics_project.testing import AsgiServer
from apikeys.services import app_register
from reports.tests.conftest import may_read_events

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PASSWORD = "pw-for-browser-tests"
SHOWN_WITHIN_MS = 2000


def send_event(server: AsgiServer, key: str, name: str, path: str) -> None:
    body = json.dumps({"event": name, "userId": f"visitor-{name}", "url": f"https://shop.example{path}"}).encode()
    request = urllib.request.Request(
        f"{server.url}/api/analytics/collect", body, {"Content-Type": "application/json", "X-API-Key": key}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 201


def open_as_watcher(page, server: AsgiServer, shop, path: str) -> None:
    """Log in, as staff who may read the shop's events, on the way to ``path``."""
    watcher = may_read_events(User.objects.create_user("watcher", password=PASSWORD, is_staff=True))
    shop.app.operators.add(watcher)
    page.goto(f"{server.url}/admin/login/?next={path}")
    page.fill("#id_username", "watcher")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")


def test_a_new_apps_page_waits_for_the_first_event_and_shows_it_when_it_arrives(page, asgi_server):
    shop = app_register(name="New shop", owner_email="ops@shop.example")
    open_as_watcher(page, asgi_server, shop, f"/dashboard/apps/{shop.app.pk}/")
    page.wait_for_selector("[data-testid=waiting]")
    assert page.inner_text("[data-testid=total-events]") == "0"
    send_event(asgi_server, shop.secret_key.raw, "first visit", "/")
    page.locator("[data-testid=total-events]").filter(has_text="1").wait_for(timeout=5000)
    assert page.locator("[data-testid=empty-state]").count() == 0


def test_the_live_view_shows_an_event_sent_after_it_opened_and_reconnects_after_a_restart(page, asgi_server):
    shop = app_register(name="Live shop", owner_email="ops@shop.example")
    open_as_watcher(page, asgi_server, shop, f"/dashboard/apps/{shop.app.pk}/live")
    status = page.locator("[data-testid=live-status]")
    status.filter(has_text="live").wait_for(timeout=5000)

    send_event(asgi_server, shop.secret_key.raw, "checkout", "/cart")
    first = page.locator("[data-testid=live-events] li").first
    first.filter(has_text="checkout").wait_for(timeout=SHOWN_WITHIN_MS)
    assert "/cart" in first.inner_text()
    page.locator("[data-testid=live-visitors]").filter(has_text="1").wait_for(timeout=6000)  # the next refresh

    asgi_server.stop()
    status.filter(has_text="reconnecting").wait_for(timeout=5000)
    asgi_server.start()
    status.filter(has_text="live").wait_for(timeout=10_000)
    send_event(asgi_server, shop.secret_key.raw, "purchase", "/thanks")
    page.locator("[data-testid=live-events] li").first.filter(has_text="purchase").wait_for(timeout=SHOWN_WITHIN_MS)
    assert page.locator("[data-testid=live-last-minute]").inner_text() != ""
