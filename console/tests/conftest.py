from dataclasses import dataclass

import pytest
from allauth.account.models import EmailAddress
from django.test import Client

from organisations import invitations
from organisations import services as organisation_services
from organisations.models import Role


@dataclass
class Member:
    user: object
    client: Client


@pytest.fixture
def member(db, django_user_model):
    """member("ada", organisation, Role.ADMIN): a signed-in person (a session, as the pages use), a member
    of ``organisation`` with ``role`` when both are given."""

    def make(username: str, organisation=None, role=None, *, email=None) -> Member:
        # No password: the session is made with force_login, and hashing one costs a third of a second.
        user = django_user_model.objects.create_user(username, email or f"{username}@example.com")
        # Verified, as sign-up leaves it: invitations go to verified addresses only.
        EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)
        if organisation is not None and role is not None:
            organisation_services.membership_add(organisation=organisation, user=user, role=role)
        client = Client()
        client.force_login(user)
        return Member(user=user, client=client)

    return make


@pytest.fixture
def organisation(registered):
    return registered.app.organisation


@pytest.fixture
def owner(member, organisation):
    return member("owner", organisation, Role.OWNER)


@pytest.fixture
def admin(member, organisation):
    return member("admin", organisation, Role.ADMIN)


@pytest.fixture
def invite(organisation):
    def send(email: str, role=Role.VIEWER) -> invitations.NewInvitation:
        return invitations.invitation_create(
            organisation=organisation, email=email, role=role, link_for=lambda token: f"http://testserver/{token}"
        )

    return send
