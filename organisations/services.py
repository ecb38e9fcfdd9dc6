"""Use cases that write organisations and memberships. Callers check ``permissions.can`` first (the
operation a role change needs is ``permissions.role_change_operation``); these keep the invariants that
hold whoever calls: one membership a person, and never an organisation without an owner once it has one."""

from django.db import transaction

from organisations.audit import Actor, audit_record
from organisations.models import AuditAction, Membership, Organisation, Role
from organisations.slugs import unique_slug


class MembershipError(Exception):
    pass


@transaction.atomic
def organisation_create(
    *, name: str, pending_owner_email: str = "", owner=None, actor: Actor | None = None
) -> Organisation:
    organisation = Organisation(
        name=name,
        slug=unique_slug(name, taken=lambda slug: Organisation.objects.filter(slug=slug).exists()),
        pending_owner_email=pending_owner_email.strip().lower(),
    )
    organisation.full_clean()
    organisation.save()
    if owner is not None:
        membership_add(organisation=organisation, user=owner, role=Role.OWNER, actor=actor)
    return organisation


@transaction.atomic
def membership_add(*, organisation: Organisation, user, role: Role | str, actor: Actor | None = None) -> Membership:
    if Membership.objects.filter(organisation=organisation, user=user).exists():
        raise MembershipError(f"{user.get_username()} is already a member of {organisation}.")
    membership = Membership.objects.create(organisation=organisation, user=user, role=Role(role))
    _record(AuditAction.MEMBER_ADDED, membership, actor, {"role": membership.role})
    return membership


@transaction.atomic
def membership_role_change(*, membership: Membership, role: Role | str, actor: Actor | None = None) -> Membership:
    membership = Membership.objects.select_for_update().select_related("user", "organisation").get(pk=membership.pk)
    old, new = Role(membership.role), Role(role)
    if old == new:
        return membership
    if old == Role.OWNER:
        _keep_an_owner(membership)
    membership.role = new
    membership.save(update_fields=["role"])
    _record(AuditAction.MEMBER_ROLE_CHANGED, membership, actor, {"from": old, "to": new})
    return membership


@transaction.atomic
def membership_remove(*, membership: Membership, actor: Actor | None = None) -> None:
    membership = Membership.objects.select_for_update().select_related("user", "organisation").get(pk=membership.pk)
    if membership.role == Role.OWNER:
        _keep_an_owner(membership)
    _record(AuditAction.MEMBER_REMOVED, membership, actor, {"role": membership.role})
    membership.delete()


@transaction.atomic
def organisations_claim_pending(*, user, verified_email: str, actor: Actor | None = None) -> list[Organisation]:
    """Make ``user`` the owner of every organisation waiting for ``verified_email`` (the register
    endpoint's ``ownerEmail``). Call it only with an address the sign-in has verified as the user's: the
    address is all that names the owner."""
    email = verified_email.strip().lower()
    if not email:
        return []
    claimed = list(Organisation.objects.select_for_update().filter(pending_owner_email=email))
    for organisation in claimed:
        membership = Membership.objects.filter(organisation=organisation, user=user).first()
        if membership is None:
            membership_add(organisation=organisation, user=user, role=Role.OWNER, actor=actor)
        else:
            membership_role_change(membership=membership, role=Role.OWNER, actor=actor)
        organisation.pending_owner_email = ""
        organisation.save(update_fields=["pending_owner_email"])
    return claimed


def _keep_an_owner(membership: Membership) -> None:
    # Locked so two admins demoting the last two owners at once cannot both succeed.
    owners = Membership.objects.select_for_update().filter(organisation_id=membership.organisation_id, role=Role.OWNER)
    if not owners.exclude(pk=membership.pk).exists():
        raise MembershipError(f"{membership.organisation} needs another owner first.")


def _record(action: AuditAction, membership: Membership, actor: Actor | None, details: dict) -> None:
    audit_record(
        action=action, organisation=membership.organisation, target=membership.user, actor=actor, details=details
    )
