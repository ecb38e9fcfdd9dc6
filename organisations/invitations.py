"""Invitations: an admin asks an address to join an organisation with a role; the emailed link makes
whoever signs in with that address, verified, a member with that role.

The link's token is 32 random bytes, shown once (in the email) and kept as its SHA-256 digest only. A link
works once, until INVITATION_TTL_DAYS after it was sent, and only for the invited address: anyone else
holding it, signed in with another address, is refused and the invitation stays open for its invitee.
Callers check the permission to invite first: ``permissions.role_change_operation(None, role)``.
"""

import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from django.apps import apps
from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from organisations.audit import Actor, audit_record
from organisations.models import AuditAction, Invitation, Membership, Organisation, Role
from organisations.services import membership_add

TOKEN_BYTES = 32


class InvitationError(Exception):
    """Why an invitation cannot be sent or accepted, in words for the person who tried; ``reason``
    (unknown, closed, wrong_account, member) lets a page answer with the matching status."""

    def __init__(self, message: str, *, reason: str):
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class NewInvitation:
    """An invitation just sent: the only moment its token exists outside the invitee's mailbox."""

    invitation: Invitation
    token: str


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _normalise(email: str) -> str:
    return email.strip().lower()


def _open(now) -> dict:
    return {"accepted_at__isnull": True, "revoked_at__isnull": True, "expires_at__gt": now}


def invitation_create(
    *,
    organisation: Organisation,
    email: str,
    role: Role | str,
    link_for: Callable[[str], str],
    actor: Actor | None = None,
) -> NewInvitation:
    """Invite ``email`` and send it the link, ``link_for(token)`` (an absolute URL). An earlier open
    invitation to the same address is revoked: the newest link is the one that works."""
    email, role = _normalise(email), Role(role)
    with transaction.atomic():
        if Membership.objects.filter(organisation=organisation, user__email__iexact=email).exists():
            raise InvitationError(f"{email} is already a member of {organisation}.", reason="member")
        now = timezone.now()
        for earlier in Invitation.objects.select_for_update().filter(
            organisation=organisation, email=email, **_open(now)
        ):
            _revoke(earlier, actor, now)
        token = secrets.token_urlsafe(TOKEN_BYTES)
        invitation = Invitation(
            organisation=organisation,
            email=email,
            role=role,
            token_digest=_digest(token),
            invited_by=actor.user if actor else None,
            created_at=now,
            expires_at=now + timedelta(days=settings.INVITATION_TTL_DAYS),
        )
        invitation.full_clean()
        invitation.save()
        audit_record(
            action=AuditAction.MEMBER_INVITED,
            organisation=organisation,
            target=invitation,
            actor=actor,
            details={"email": email, "role": role},
        )
    # After the commit: a mail server slow to answer must not hold the row locks. Should sending fail, the
    # invitation is listed and inviting the address again sends a new link.
    _send(invitation, link_for(token), actor)
    return NewInvitation(invitation=invitation, token=token)


def _send(invitation: Invitation, link: str, actor: Actor | None) -> None:
    inviter = actor.describe() if actor else "An administrator"
    expires = invitation.expires_at.strftime("%Y-%m-%d %H:%M UTC")
    send_mail(
        subject=f"You are invited to {invitation.organisation} on Unified Event Analytics",
        message=(
            f"{inviter} invites you to join {invitation.organisation} as {invitation.get_role_display()}.\n\n"
            f"Accept the invitation, signed in as {invitation.email}:\n{link}\n\n"
            f"The link works once and until {expires}. If you did not expect it, ignore this email."
        ),
        from_email=None,
        recipient_list=[invitation.email],
    )


@transaction.atomic
def invitation_revoke(*, invitation: Invitation, actor: Actor | None = None) -> Invitation:
    invitation = Invitation.objects.select_for_update().select_related("organisation").get(pk=invitation.pk)
    if invitation.accepted_at is None and invitation.revoked_at is None:
        _revoke(invitation, actor, timezone.now())
    return invitation


def _revoke(invitation: Invitation, actor: Actor | None, now) -> None:
    invitation.revoked_at = now
    invitation.save(update_fields=["revoked_at"])
    audit_record(
        action=AuditAction.INVITATION_REVOKED,
        organisation=invitation.organisation,
        target=invitation,
        actor=actor,
        details={"email": invitation.email, "role": invitation.role},
    )


def invitation_for_token(token: str) -> Invitation | None:
    """The invitation a link's token names, whatever its status; None for an unknown or malformed token."""
    if not token or len(token) > 100:
        return None
    return Invitation.objects.select_related("organisation", "invited_by").filter(token_digest=_digest(token)).first()


def refusal(invitation: Invitation, *, now=None) -> str | None:
    """Why the link no longer works (used, revoked, expired), or None while it is open."""
    status = invitation.status_at(now or timezone.now())
    return {
        "accepted": "This invitation has already been accepted; a link works once.",
        "revoked": "This invitation was withdrawn. Ask an administrator of the organisation for a new one.",
        "expired": "This invitation has expired. Ask an administrator of the organisation for a new one.",
    }.get(status)


def verified_emails(user) -> set[str]:
    """The addresses ``user`` has shown they own: allauth's verified addresses when it is installed; until
    then the account's own address, which only an operator can set."""
    if apps.is_installed("allauth.account"):
        email_address = apps.get_model("account", "EmailAddress")
        return {
            _normalise(e)
            for e in email_address.objects.filter(user=user, verified=True).values_list("email", flat=True)
        }
    return {_normalise(user.email)} if user.email else set()


@transaction.atomic
def invitation_accept(*, token: str, user, actor: Actor | None = None) -> Membership:
    """Make ``user`` a member with the invitation's role, once. Refused (InvitationError, nothing changed)
    for an unknown, used, revoked or expired link, for someone whose verified addresses do not include the
    invited one, and for someone already a member."""
    found = invitation_for_token(token)
    if found is None:
        raise InvitationError("This invitation link is not valid. Check that it was copied whole.", reason="unknown")
    # Locked: the same link followed twice at once makes one membership, and the second sees it used.
    invitation = Invitation.objects.select_for_update().select_related("organisation").get(pk=found.pk)
    reason = refusal(invitation)
    if reason:
        raise InvitationError(reason, reason="closed")
    if invitation.email not in verified_emails(user):
        raise InvitationError(
            f"This invitation is for {invitation.email}. Sign in with that address (verified) to accept it.",
            reason="wrong_account",
        )
    if Membership.objects.filter(organisation=invitation.organisation, user=user).exists():
        raise InvitationError(f"You are already a member of {invitation.organisation}.", reason="member")
    membership = membership_add(
        organisation=invitation.organisation, user=user, role=invitation.role, actor=actor or Actor(user=user)
    )
    invitation.accepted_at = timezone.now()
    invitation.accepted_by = user
    invitation.save(update_fields=["accepted_at", "accepted_by"])
    return membership


def invitations_pending(*, organisation: Organisation) -> QuerySet[Invitation]:
    """The organisation's invitations still waiting for their invitee, newest first."""
    return (
        Invitation.objects.filter(organisation=organisation, **_open(timezone.now()))
        .select_related("invited_by")
        .order_by("-created_at")
    )


def pending_invitation_exists(email: str) -> bool:
    """Whether an open (unused, unrevoked, unexpired) invitation names ``email``, in any organisation.

    For invite-only sign-up: an address may create an account when this is true. Signing up grants
    nothing by itself; the person joins by following the link, signed in with the address verified."""
    email = _normalise(email)
    return bool(email) and Invitation.objects.filter(email=email, **_open(timezone.now())).exists()
