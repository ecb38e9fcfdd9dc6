"""A new owner's first visit and their teammate's, in Chromium against the ASGI server the README runs:
sign up, verify the address from the mail, start an organisation and an app, put the tracker snippet
on a page, watch the first event arrive; invite a teammate, who joins as a viewer, reads the app and
cannot touch its keys."""

import html
import re

import pytest
from django.core import mail

from apikeys.models import ApiKey, App
from organisations.models import Membership, Role
from reports.tests.pages import wait_for_panels

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PASSWORD = "a-long-browser-test-passphrase"


def mailed_path(to: str, prefix: str) -> str:
    """The path of the link starting with ``prefix`` in the last mail sent to ``to``."""
    body = next(message.body for message in reversed(mail.outbox) if to in message.to)
    found = re.findall(rf"https?://[^/\s]+({re.escape(prefix)}\S+)", body)
    assert found, body
    return found[0]


def sign_up_and_verify(page, server, email: str) -> None:
    page.goto(f"{server.url}/accounts/signup/")
    page.fill("input[name=email]", email)
    page.fill("input[name=password1]", PASSWORD)
    if page.locator("input[name=password2]").count():
        page.fill("input[name=password2]", PASSWORD)
    with page.expect_navigation():
        page.click("form button[type=submit]")
    assert page.url.endswith("/accounts/confirm-email/"), page.url
    page.goto(server.url + mailed_path(email, "/accounts/confirm-email/"))
    with page.expect_navigation():
        page.click("form button[type=submit]")
    assert page.url == f"{server.url}/dashboard/", page.url


def test_an_owner_starts_from_nothing_and_a_teammate_joins_as_a_viewer(browser, asgi_server, settings):
    settings.SIGNUP_MODE = "invite"  # the default: a fresh install's first person, then invitees only
    owner = browser.new_context()
    page = owner.new_page()
    sign_up_and_verify(page, asgi_server, "ada@shop.example")

    page.goto(f"{asgi_server.url}/orgs/")
    page.fill("[data-testid=organisation-form] input[name=name]", "Ada's shop")
    with page.expect_navigation():
        page.click("[data-testid=organisation-form] button")
    slug = Membership.objects.get(user__email="ada@shop.example", role=Role.OWNER).organisation.slug
    page.goto(f"{asgi_server.url}/orgs/{slug}/apps/new")
    page.fill("input[name=name]", "Storefront")
    with page.expect_navigation():
        page.click("form button[type=submit]")
    snippet = page.inner_text("[data-testid=snippet]")
    app = App.objects.get(name="Storefront")
    assert re.fullmatch(rf'<script defer src="{asgi_server.url}/t.js" data-key="pk_[^"]+"></script>', snippet)

    page.goto(f"{asgi_server.url}/dashboard/apps/{app.pk}/")
    page.wait_for_selector("[data-testid=waiting]")
    site = owner.new_page()  # the shop's own page, with the snippet copied into it
    site.route(
        f"{asgi_server.url}/shop/pricing",
        lambda route: route.fulfill(
            content_type="text/html", body=f"<html><head>{snippet}</head><body>Hi</body></html>"
        ),
    )
    site.goto(f"{asgi_server.url}/shop/pricing")
    page.locator("[data-testid=total-events]").filter(has_text="1").wait_for(timeout=10_000)

    page.goto(f"{asgi_server.url}/orgs/{slug}/invitations")
    page.fill("input[name=email]", "bo@shop.example")
    page.select_option("select[name=role]", "viewer")
    with page.expect_navigation():
        page.click("form button[type=submit]")
    invitation = mailed_path("bo@shop.example", "/invitations/")

    teammate = browser.new_context()
    bo = teammate.new_page()
    sign_up_and_verify(bo, asgi_server, "bo@shop.example")  # invite-only: the address is awaited
    bo.goto(asgi_server.url + invitation)
    with bo.expect_navigation():
        bo.click("form button[type=submit]")
    assert Membership.objects.get(user__email="bo@shop.example").role == Role.VIEWER

    bo.goto(f"{asgi_server.url}/dashboard/")
    bo.click(f"text={app.name}")
    wait_for_panels(bo)
    assert bo.inner_text("[data-testid=total-events]") == "1"
    assert bo.locator("[data-testid=export]").count() == 0  # export needs the member role
    keys_page = bo.goto(f"{asgi_server.url}/orgs/{slug}/apps/{app.pk}/keys")
    assert keys_page.status == 403
    key = ApiKey.objects.filter(app=app).first()
    rotate = bo.request.post(
        f"{asgi_server.url}/orgs/{slug}/apps/{app.pk}/keys/{key.pk}/rotate",
        form={"grace_hours": "0"},
        headers={
            "X-CSRFToken": html.unescape(next(c["value"] for c in teammate.cookies() if c["name"] == "csrftoken"))
        },
    )
    assert rotate.status == 403
    assert ApiKey.objects.filter(app=app).count() == 2  # nothing rotated
    owner.close()
    teammate.close()
