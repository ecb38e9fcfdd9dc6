"""Reads of organisations, members and the audit log."""

from django.db.models import QuerySet

from organisations.models import AuditEntry, Membership, Organisation
from organisations.permissions import roles_allowed


def organisations_of(*, user) -> QuerySet[Organisation]:
    if not user.is_authenticated or not user.is_active:
        return Organisation.objects.none()
    return Organisation.objects.filter(memberships__user=user)


def organisation_ids_allowing(*, user, operation: str) -> QuerySet:
    """The ids of the organisations in which ``user``'s role allows ``operation``, as a subquery."""
    if not user.is_authenticated or not user.is_active:
        return Membership.objects.none().values("organisation_id")
    return Membership.objects.filter(user=user, role__in=roles_allowed(operation)).values("organisation_id")


def memberships_of(*, user) -> QuerySet[Membership]:
    """The person's memberships with their organisations and those organisations' apps, in three queries."""
    return (
        Membership.objects.filter(user=user)
        .select_related("organisation")
        .prefetch_related("organisation__apps")
        .order_by("organisation__name")
    )


def organisation_members(*, organisation: Organisation) -> QuerySet[Membership]:
    return Membership.objects.filter(organisation=organisation).select_related("user").order_by("user__username")


def organisation_audit_entries(*, organisation: Organisation) -> QuerySet[AuditEntry]:
    """The organisation's audit log, newest first: what its admins are shown (``audit.read``)."""
    return (
        AuditEntry.objects.filter(organisation=organisation).select_related("actor_user").order_by("-created_at", "-id")
    )
