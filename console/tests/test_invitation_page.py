"""An invitation from the page that sends it to the page that accepts it: the link works once, expires,
and cannot be used by another account."""

import json
import logging
import re
from datetime import timedelta

import pytest
from django.conf import settings
from django.core import mail
from django.shortcuts import resolve_url
from django.test import Client
from django.utils import timezone

from analytics_project.logging import JsonFormatter
from organisations.models import AuditAction, AuditEntry, Invitation, Membership, Role


def _sent_link() -> str:
    (message,) = mail.outbox
    return re.search(r"http://testserver(/invitations/[^/\s]+/)", message.body).group(1)


@pytest.fixture
def link(admin, organisation):
    response = admin.client.post(
        f"/orgs/{organisation.slug}/invitations", {"email": "Ada@Example.com", "role": "viewer"}
    )
    assert response.status_code == 302
    return _sent_link()


def test_the_invitee_accepts_the_emailed_link_once(link, member, organisation):
    ada = member("ada", email="ada@example.com")
    shown = ada.client.get(link)
    assert shown.status_code == 200
    assert "Accept and join as Viewer" in shown.content.decode()

    accepted = ada.client.post(link)
    assert accepted.status_code == 302
    assert accepted["Location"] == f"/orgs/{organisation.slug}/"
    assert Membership.objects.get(organisation=organisation, user=ada.user).role == Role.VIEWER
    assert "You joined Acme web as Viewer." in ada.client.get(accepted["Location"]).content.decode()

    again = ada.client.post(link)
    assert again.status_code == 410
    assert "already been accepted" in again.content.decode()
    assert ada.client.get(link).status_code == 410
    assert AuditEntry.objects.filter(action=AuditAction.MEMBER_ADDED, actor_user=ada.user).count() == 1


def test_another_account_cannot_use_the_link_before_or_after_the_invitee(link, member, organisation):
    mallory = member("mallory", email="mallory@example.com")
    page = mallory.client.get(link)
    assert page.status_code == 200
    assert "Accept" not in page.content.decode()
    assert "do not include ada@example.com" in page.content.decode()
    refused = mallory.client.post(link)
    assert refused.status_code == 403
    assert Invitation.objects.get().status == "pending"

    member("ada", email="ada@example.com").client.post(link)
    assert mallory.client.post(link).status_code == 410
    assert not Membership.objects.filter(user=mallory.user).exists()


def test_an_expired_link_says_so(link, member):
    Invitation.objects.update(expires_at=timezone.now() - timedelta(minutes=1))
    ada = member("ada", email="ada@example.com")
    for response in (ada.client.get(link), ada.client.post(link)):
        assert response.status_code == 410
        assert "has expired" in response.content.decode()
    assert not Membership.objects.filter(user=ada.user).exists()


def test_a_revoked_link_says_so(link, admin, organisation, member):
    invitation = Invitation.objects.get()
    revoked = admin.client.post(f"/orgs/{organisation.slug}/invitations/{invitation.pk}/revoke")
    assert revoked.status_code == 302
    listed = admin.client.get(f"/orgs/{organisation.slug}/invitations").content.decode()
    assert "withdrawn" in listed
    assert 'data-testid="invitation"' not in listed
    response = member("ada", email="ada@example.com").client.post(link)
    assert response.status_code == 410
    assert "withdrawn" in response.content.decode()


def test_signed_out_the_link_leads_to_sign_in_and_back(link):
    anonymous = Client()
    page = anonymous.get(link)
    assert page.status_code == 200
    assert f"{resolve_url(settings.LOGIN_URL)}?next=" in page.content.decode()
    posted = anonymous.post(link)
    assert posted.status_code == 302
    assert posted["Location"].startswith(resolve_url(settings.LOGIN_URL))
    assert Invitation.objects.get().status == "pending"


def test_a_made_up_link_is_a_404(db, member):
    assert member("ada").client.post("/invitations/not-a-real-token/").status_code == 404
    assert Client().get("/invitations/not-a-real-token/").status_code == 404


def test_accepting_needs_the_csrf_token(link, member):
    ada = member("ada", email="ada@example.com")
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(ada.user)
    assert strict.post(link).status_code == 403
    assert Invitation.objects.get().status == "pending"


def test_an_admin_invites_up_to_admin_and_only_an_owner_invites_an_owner(admin, owner, organisation):
    form = admin.client.get(f"/orgs/{organisation.slug}/invitations").content.decode()
    assert 'value="admin"' in form
    assert 'value="owner"' not in form
    refused = admin.client.post(
        f"/orgs/{organisation.slug}/invitations", {"email": "boss@example.com", "role": "owner"}
    )
    assert refused.status_code == 400
    assert not Invitation.objects.exists()
    assert not mail.outbox
    allowed = owner.client.post(
        f"/orgs/{organisation.slug}/invitations", {"email": "boss@example.com", "role": "owner"}
    )
    assert allowed.status_code == 302
    assert Invitation.objects.get().role == Role.OWNER


def test_inviting_a_member_or_a_bad_address_is_a_clear_error(admin, organisation):
    for email, error in [("admin@example.com", "already a member"), ("not-an-address", "Enter a valid email")]:
        response = admin.client.post(f"/orgs/{organisation.slug}/invitations", {"email": email, "role": "viewer"})
        assert response.status_code == 400
        assert error in response.content.decode()
    assert not Invitation.objects.exists()


def test_the_pending_list_shows_who_invited_and_until_when(link, admin, organisation):
    page = admin.client.get(f"/orgs/{organisation.slug}/invitations").content.decode()
    invitation = Invitation.objects.get()
    assert "ada@example.com" in page
    assert invitation.expires_at.strftime("%Y-%m-%d %H:%M") in page
    assert invitation.invited_by == admin.user
    assert link.split("/")[2] not in page  # the token is in the email only


def test_no_log_line_holds_the_links_token(link, member, caplog):
    caplog.set_level(logging.DEBUG)
    ada = member("ada", email="ada@example.com")
    ada.client.get(link)
    ada.client.post(link)
    Client().get(link)
    formatter = JsonFormatter()
    lines = [formatter.format(record) for record in caplog.records]
    assert {json.loads(line).get("path") for line in lines} >= {"/invitations/…/"}
    assert not any(link.split("/")[2] in line for line in lines)
