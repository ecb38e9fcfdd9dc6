import hashlib
from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from organisations import invitations
from organisations.audit import Actor
from organisations.invitations import InvitationError
from organisations.models import AuditAction, AuditEntry, Invitation, Membership, Role
from organisations.services import membership_add


def link(token: str) -> str:
    return f"https://analytics.example/orgs/invitations/{token}/"


@pytest.fixture
def invite(organisation, user_factory):
    admin = user_factory("admin")

    def send(email="ada@example.com", role=Role.MEMBER):
        return invitations.invitation_create(
            organisation=organisation, email=email, role=role, link_for=link, actor=Actor(user=admin)
        )

    return send


def test_the_invitee_gets_the_link_by_email_and_only_its_digest_is_kept(invite):
    new = invite(email=" Ada@Example.com ")
    assert len(mail.outbox) == 1
    sent = mail.outbox[0]
    assert sent.to == ["ada@example.com"]
    assert link(new.token) in sent.body
    stored = Invitation.objects.get()
    assert stored.token_digest == hashlib.sha256(new.token.encode()).hexdigest()
    assert new.token not in str(Invitation.objects.values().get())
    assert (stored.email, stored.role, stored.status) == ("ada@example.com", "member", "pending")


def test_accepting_makes_the_invited_address_a_member_with_the_role_once(invite, organisation, user_factory):
    new = invite(role=Role.ADMIN)
    ada = user_factory("ada", email="ada@example.com")
    membership = invitations.invitation_accept(token=new.token, user=ada)
    assert (membership.organisation, membership.user, membership.role) == (organisation, ada, Role.ADMIN)
    stored = Invitation.objects.get()
    assert (stored.accepted_by, stored.status) == (ada, "accepted")
    with pytest.raises(InvitationError, match="already been accepted"):
        invitations.invitation_accept(token=new.token, user=ada)
    assert Membership.objects.filter(organisation=organisation).count() == 1


def test_another_account_cannot_use_the_link_before_or_after_the_invitee(invite, organisation, user_factory):
    new = invite()
    mallory = user_factory("mallory", email="mallory@example.com")
    with pytest.raises(InvitationError, match=r"for ada@example\.com"):
        invitations.invitation_accept(token=new.token, user=mallory)
    assert Invitation.objects.get().status == "pending"
    invitations.invitation_accept(token=new.token, user=user_factory("ada", email="ada@example.com"))
    with pytest.raises(InvitationError):
        invitations.invitation_accept(token=new.token, user=mallory)
    assert not Membership.objects.filter(user=mallory).exists()


def test_an_expired_link_is_refused(invite, user_factory, settings):
    settings.INVITATION_TTL_DAYS = 3
    new = invite()
    assert new.invitation.expires_at - new.invitation.created_at == timedelta(days=3)
    Invitation.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    with pytest.raises(InvitationError, match="expired"):
        invitations.invitation_accept(token=new.token, user=user_factory("ada", email="ada@example.com"))
    assert not Membership.objects.exists()


def test_a_revoked_link_is_refused_and_the_revocation_audited(invite, organisation, user_factory):
    new = invite()
    invitations.invitation_revoke(invitation=new.invitation, actor=Actor(user=user_factory("other-admin")))
    with pytest.raises(InvitationError, match="withdrawn"):
        invitations.invitation_accept(token=new.token, user=user_factory("ada", email="ada@example.com"))
    actions = list(AuditEntry.objects.filter(organisation=organisation).values_list("action", flat=True))
    assert actions == [AuditAction.INVITATION_REVOKED, AuditAction.MEMBER_INVITED]


def test_an_unknown_or_malformed_token_is_refused(db, user_factory):
    ada = user_factory("ada")
    for token in ["", "x" * 43, "x" * 500]:
        with pytest.raises(InvitationError, match="not valid"):
            invitations.invitation_accept(token=token, user=ada)


def test_inviting_again_replaces_the_earlier_link(invite, user_factory):
    first, second = invite(), invite(role=Role.VIEWER)
    ada = user_factory("ada", email="ada@example.com")
    with pytest.raises(InvitationError, match="withdrawn"):
        invitations.invitation_accept(token=first.token, user=ada)
    assert invitations.invitation_accept(token=second.token, user=ada).role == Role.VIEWER


def test_a_member_is_not_invited_again(invite, organisation, user_factory):
    membership_add(organisation=organisation, user=user_factory("ada", email="ADA@example.com"), role=Role.VIEWER)
    with pytest.raises(InvitationError, match="already a member"):
        invite()
    assert not mail.outbox


def test_acceptance_is_audited_as_the_member_joining(invite, organisation, user_factory):
    new = invite(role=Role.VIEWER)
    ada = user_factory("ada", email="ada@example.com")
    invitations.invitation_accept(token=new.token, user=ada)
    added = AuditEntry.objects.get(action=AuditAction.MEMBER_ADDED)
    assert (added.actor_user, added.target_label, added.details) == (ada, "ada", {"role": "viewer"})
    invited = AuditEntry.objects.get(action=AuditAction.MEMBER_INVITED)
    assert invited.details == {"email": "ada@example.com", "role": "viewer"}
    assert invited.actor_label == "admin"


def test_pending_invitation_exists_only_while_a_link_is_open(invite, user_factory):
    assert not invitations.pending_invitation_exists("ada@example.com")
    new = invite()
    assert invitations.pending_invitation_exists("ADA@example.com ")
    assert not invitations.pending_invitation_exists("bob@example.com")
    assert not invitations.pending_invitation_exists("")
    invitations.invitation_accept(token=new.token, user=user_factory("ada", email="ada@example.com"))
    assert not invitations.pending_invitation_exists("ada@example.com")
    invite(email="bob@example.com")
    Invitation.objects.filter(email="bob@example.com").update(expires_at=timezone.now())
    assert not invitations.pending_invitation_exists("bob@example.com")


def test_pending_lists_only_open_invitations(invite, organisation):
    open_one = invite(email="open@example.com")
    invitations.invitation_revoke(invitation=invite(email="gone@example.com").invitation)
    invite(email="late@example.com")
    Invitation.objects.filter(email="late@example.com").update(expires_at=timezone.now())
    assert list(invitations.invitations_pending(organisation=organisation)) == [open_one.invitation]
