import pytest

from organisations import services
from organisations.audit import Actor
from organisations.models import AuditAction, AuditEntry, Membership, Role
from organisations.selectors import organisation_audit_entries, organisations_of


def test_organisations_get_unique_slugs(db):
    first = services.organisation_create(name="Acme Inc.")
    second = services.organisation_create(name="Acme inc")
    nameless = services.organisation_create(name="???")
    assert (first.slug, second.slug, nameless.slug) == ("acme-inc", "acme-inc-2", "org")


def test_membership_changes_are_audited_with_who_and_from_where(organisation, user_factory):
    admin, ada = user_factory("admin"), user_factory("ada")
    actor = Actor(user=admin, ip="203.0.113.7")
    membership = services.membership_add(organisation=organisation, user=ada, role=Role.VIEWER, actor=actor)
    services.membership_role_change(membership=membership, role=Role.MEMBER, actor=actor)
    services.membership_remove(membership=membership, actor=actor)
    entries = list(organisation_audit_entries(organisation=organisation))
    assert [(entry.action, entry.details) for entry in entries] == [
        (AuditAction.MEMBER_REMOVED, {"role": "member"}),
        (AuditAction.MEMBER_ROLE_CHANGED, {"from": "viewer", "to": "member"}),
        (AuditAction.MEMBER_ADDED, {"role": "viewer"}),
    ]
    assert {(e.actor_user, e.actor_label, e.ip, e.target_label) for e in entries} == {
        (admin, "admin", "203.0.113.7", "ada")
    }


def test_a_person_is_a_member_once(organisation, user_factory):
    ada = user_factory("ada")
    services.membership_add(organisation=organisation, user=ada, role=Role.VIEWER)
    with pytest.raises(services.MembershipError):
        services.membership_add(organisation=organisation, user=ada, role=Role.ADMIN)


def test_the_last_owner_can_be_neither_removed_nor_demoted(organisation, user_factory):
    owner = services.membership_add(organisation=organisation, user=user_factory("owner"), role=Role.OWNER)
    with pytest.raises(services.MembershipError):
        services.membership_remove(membership=owner)
    with pytest.raises(services.MembershipError):
        services.membership_role_change(membership=owner, role=Role.ADMIN)
    services.membership_add(organisation=organisation, user=user_factory("heir"), role=Role.OWNER)
    services.membership_role_change(membership=owner, role=Role.ADMIN)
    assert Membership.objects.get(pk=owner.pk).role == Role.ADMIN


def test_a_verified_sign_in_claims_the_organisations_pending_for_that_address(db, user_factory):
    waiting = services.organisation_create(name="Shop", pending_owner_email="Owner@Shop.example")
    also = services.organisation_create(name="Blog", pending_owner_email="owner@shop.example")
    other = services.organisation_create(name="Other", pending_owner_email="someone@else.example")
    owner = user_factory("owner", email="owner@shop.example")

    claimed = services.organisations_claim_pending(user=owner, verified_email="OWNER@shop.example ")

    assert {organisation.pk for organisation in claimed} == {waiting.pk, also.pk}
    assert set(organisations_of(user=owner)) == {waiting, also}
    assert Membership.objects.get(organisation=waiting, user=owner).role == Role.OWNER
    waiting.refresh_from_db()
    other.refresh_from_db()
    assert waiting.pending_owner_email == "" and other.pending_owner_email == "someone@else.example"
    # Claimed once: a second sign-in, or another account with the address, finds nothing waiting.
    assert services.organisations_claim_pending(user=user_factory("late"), verified_email="owner@shop.example") == []
    assert AuditEntry.objects.filter(action=AuditAction.MEMBER_ADDED, organisation=waiting).count() == 1


def test_a_member_who_claims_an_organisation_becomes_its_owner(db, user_factory):
    organisation = services.organisation_create(name="Shop", pending_owner_email="ada@example.com")
    ada = user_factory("ada")
    services.membership_add(organisation=organisation, user=ada, role=Role.VIEWER)
    services.organisations_claim_pending(user=ada, verified_email="ada@example.com")
    assert Membership.objects.get(organisation=organisation, user=ada).role == Role.OWNER


def test_an_empty_address_claims_nothing(db, user_factory):
    services.organisation_create(name="No owner yet")
    assert services.organisations_claim_pending(user=user_factory("x", email=""), verified_email="") == []
