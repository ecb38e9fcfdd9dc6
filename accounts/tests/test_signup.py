import pytest
from allauth.account.models import EmailAddress
from django.contrib.auth import get_user_model
from django.core import mail
from django.utils.html import escape

from accounts.forms import NOT_INVITED
from accounts.tests.conftest import PASSWORD, mailed_link, sign_up
from apikeys.models import App
from organisations.models import AuditAction, AuditEntry, Membership, Role


def signed_in(client) -> bool:
    return "_auth_user_id" in client.session


def test_the_register_endpoints_owner_becomes_owner_on_verifying_the_address_they_signed_up_with(
    client, api_client, someone_else
):
    registered = api_client.post(
        "/api/auth/register", {"name": "Ada's shop", "ownerEmail": "ada@shop.example"}, format="json"
    ).json()

    response = sign_up(client, "Ada@Shop.example")
    assert response.status_code == 302 and response["Location"] == "/accounts/confirm-email/"
    ada = get_user_model().objects.get(email__iexact="ada@shop.example")
    assert not signed_in(client), "no session before the address is verified"
    assert not Membership.objects.filter(user=ada).exists(), "an unverified address claims nothing"

    confirm = mailed_link("/accounts/confirm-email/")
    assert client.get(confirm).status_code == 200  # a page with a button, so mail scanners confirm nothing
    response = client.post(confirm)

    assert response.status_code == 302 and response["Location"] == "/dashboard/"
    assert signed_in(client)
    membership = Membership.objects.get(user=ada)
    app = App.objects.get(pk=registered["appId"])
    assert (membership.organisation_id, membership.role) == (app.organisation_id, Role.OWNER)
    membership.organisation.refresh_from_db()
    assert membership.organisation.pending_owner_email == ""
    entry = AuditEntry.objects.get(action=AuditAction.MEMBER_ADDED, organisation=membership.organisation)
    assert (entry.actor_user, entry.details) == (ada, {"role": "owner"})


def test_signing_in_claims_an_organisation_registered_after_the_account_was_verified(client, someone_else):
    from apikeys import services

    ada = get_user_model().objects.create_user("ada", "ada@shop.example", PASSWORD)
    EmailAddress.objects.create(user=ada, email="ada@shop.example", verified=True, primary=True)
    registered = services.app_register(name="Later shop", owner_email="ada@shop.example")

    response = client.post("/accounts/login/", {"login": "ada@shop.example", "password": PASSWORD})

    assert response.status_code == 302 and response["Location"] == "/dashboard/"
    assert Membership.objects.get(user=ada).organisation == registered.app.organisation


def test_an_address_verified_by_another_account_claims_nothing_for_an_unverified_one(client, someone_else, pending_app):
    mallory = get_user_model().objects.create_user("mallory", "ada@shop.example", PASSWORD)
    EmailAddress.objects.create(user=mallory, email="ada@shop.example", verified=False, primary=True)

    client.post("/accounts/login/", {"login": "ada@shop.example", "password": PASSWORD})

    assert not signed_in(client)
    assert not Membership.objects.filter(user=mallory).exists()


def test_invite_mode_refuses_an_address_that_no_organisation_waits_for(client, someone_else, pending_app):
    response = sign_up(client, "stranger@example.com")

    assert response.status_code == 200
    assert escape(NOT_INVITED) in response.content.decode()
    assert not get_user_model().objects.filter(email="stranger@example.com").exists()
    assert mail.outbox == []


def test_the_sign_up_page_says_when_it_is_by_invitation(client, settings, someone_else):
    assert 'data-testid="invite-only"' in client.get("/accounts/signup/").content.decode()
    settings.SIGNUP_MODE = "open"
    assert 'data-testid="invite-only"' not in client.get("/accounts/signup/").content.decode()


def test_invite_mode_takes_the_pending_owners_address(client, someone_else, pending_app):
    assert sign_up(client, "ada@shop.example").status_code == 302
    assert get_user_model().objects.filter(email="ada@shop.example").exists()


def test_the_first_account_of_a_fresh_install_may_sign_up_in_invite_mode(client, db):
    assert sign_up(client, "first@example.com").status_code == 302
    first = get_user_model().objects.get(email="first@example.com")
    assert not (first.is_staff or first.is_superuser)


@pytest.mark.parametrize("first", [True, False], ids=["fresh install", "with accounts"])
def test_closed_mode_creates_no_account(client, db, settings, django_user_model, first):
    settings.SIGNUP_MODE = "closed"
    if not first:
        django_user_model.objects.create_user("operator", "operator@example.com", PASSWORD)
    page = client.get("/accounts/signup/")
    assert "Sign Up Closed" in page.content.decode()
    sign_up(client, "someone@example.com")
    assert not django_user_model.objects.filter(email="someone@example.com").exists()


def test_open_mode_takes_anyone(client, settings, someone_else):
    settings.SIGNUP_MODE = "open"
    assert sign_up(client, "anyone@example.com").status_code == 302
    assert get_user_model().objects.filter(email="anyone@example.com").exists()


def test_an_unverified_account_cannot_sign_in(client, someone_else, pending_app):
    sign_up(client, "ada@shop.example")
    client.logout()
    response = client.post("/accounts/login/", {"login": "ada@shop.example", "password": PASSWORD})
    assert response["Location"] == "/accounts/confirm-email/"
    assert not signed_in(client)


def test_sign_in_is_throttled_after_repeated_wrong_passwords_even_with_the_right_one(client, someone_else):
    for _ in range(5):
        client.post("/accounts/login/", {"login": "operator@example.com", "password": "wrong"})
    EmailAddress.objects.create(user=someone_else, email="operator@example.com", verified=True, primary=True)

    response = client.post("/accounts/login/", {"login": "operator@example.com", "password": PASSWORD})

    assert "Too many failed login attempts" in response.content.decode()
    assert not signed_in(client)


def test_a_forgotten_password_is_reset_through_the_mailed_link(client, someone_else):
    EmailAddress.objects.create(user=someone_else, email="operator@example.com", verified=True, primary=True)
    client.post("/accounts/password/reset/", {"email": "operator@example.com"})
    link = client.get(mailed_link("/accounts/password/reset/key/"))
    form_url = link["Location"]  # allauth moves the key out of the URL into the session first

    response = client.post(form_url, {"password1": "a-new-long-password-1", "password2": "a-new-long-password-1"})

    assert response.status_code == 302
    assert client.post("/accounts/login/", {"login": "operator@example.com", "password": PASSWORD}).status_code == 200
    client.post("/accounts/login/", {"login": "operator@example.com", "password": "a-new-long-password-1"})
    assert signed_in(client)
