"""Shared links: a read-only app page for whoever holds the link (and its password), until revoked."""

import re
from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from reports.models import SharedLink
from reports.sharing import shared_link_create, shared_link_revoke
from reports.tests.pages import whole_page
from reports.tests.test_dashboard import ingest


@pytest.fixture
def analytics_store():
    return "django"


@pytest.fixture
def seeded(registered, other_app):
    moment = (timezone.now() - timedelta(hours=1)).isoformat()
    ingest(
        registered,
        [{"event": "pageview", "userId": u, "url": "https://s.example/pricing", "timestamp": moment} for u in "abc"],
    )
    ingest(other_app, [{"event": "pageview", "userId": "z", "url": "https://o.example/secret", "timestamp": moment}])
    return registered


def figure(page: str, testid: str) -> str:
    return re.search(rf'data-testid="{testid}"[^>]*>([^<]*)<', page).group(1).strip()


def test_a_shared_link_opens_the_apps_page_without_login_and_nothing_else(client, seeded):
    made = shared_link_create(app=seeded.app, label="investors")
    page = whole_page(client, made.path)
    assert figure(page, "total-events") == "3" and "/pricing" in page and "/secret" not in page
    assert "a shared, read-only dashboard" in page
    assert 'data-testid="export"' not in page and "/live" not in page and "/admin/" not in page
    # Its presets and filters stay on the shared page.
    assert figure(whole_page(client, made.path + "?range=7d&f=path:/pricing"), "total-events") == "3"
    assert client.get(f"/dashboard/apps/{seeded.app.pk}/").status_code == 302  # the dashboard still needs a login


def test_only_the_tokens_digest_is_stored_and_a_revoked_or_unknown_link_is_404(client, seeded):
    made = shared_link_create(app=seeded.app)
    stored = SharedLink.objects.get()
    assert made.token not in stored.token_digest and len(made.token) >= 43
    shared_link_revoke(link=stored)
    assert client.get(made.path).status_code == 404
    assert client.get(made.path + "panels/totals").status_code == 404
    assert client.get("/share/not-a-token/").status_code == 404


def test_a_password_is_asked_once_per_session_and_wrong_ones_are_refused(client, seeded, settings):
    made = shared_link_create(app=seeded.app, password="open sesame")
    assert SharedLink.objects.get().password_hash.startswith(("pbkdf2", "argon2", "bcrypt", "scrypt"))
    form = client.get(made.path)
    assert client.get(made.path + "panels/totals").status_code == 403  # nor its panels, before the password
    assert (
        'data-testid="share-password"' in form.content.decode()
        and 'data-testid="total-events"' not in form.content.decode()
    )
    wrong = client.post(made.path, {"password": "guess"})
    assert wrong.status_code == 403 and "not the password" in wrong.content.decode()
    right = client.post(made.path + "?range=7d", {"password": "open sesame"})
    assert (right.status_code, right["Location"]) == (302, made.path + "?range=7d")
    assert figure(whole_page(client, made.path), "total-events") == "3"


def test_password_guesses_are_limited_per_client(client, seeded, settings):
    settings.SHARE_PASSWORD_RATE = "2/d"  # a window of a day: no boundary falls between the attempts
    made = shared_link_create(app=seeded.app, password="open sesame")
    statuses = [client.post(made.path, {"password": f"guess {n}"}).status_code for n in range(3)]
    assert statuses == [403, 403, 429]
    assert client.post(made.path, {"password": "open sesame"}).status_code == 429  # even the right one, for now


def test_the_admin_makes_a_link_shown_once_and_revokes_it(client, seeded):
    client.force_login(User.objects.create_superuser("root", "root@example.com", "pw-for-tests"))
    response = client.post(
        "/admin/reports/sharedlink/add/", {"app": seeded.app.pk, "label": "board", "password": ""}, follow=True
    )
    link = re.search(r"shown this once: http://testserver(/share/[^/]+/)", response.content.decode()).group(1)
    assert figure(whole_page(client, link), "total-events") == "3"
    shared = SharedLink.objects.get()
    client.post("/admin/reports/sharedlink/", {"action": "revoke", "_selected_action": [shared.pk]})
    assert client.get(link).status_code == 404
