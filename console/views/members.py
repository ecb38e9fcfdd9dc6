"""An organisation's members, its invitations and its audit log.

Changing a role or removing someone needs ``members.manage``, and ``organisation.transfer`` when an owner
is made or unmade (permissions.role_change_operation): an admin manages everyone but the owners, and gives
roles up to admin. The services keep an owner in every organisation that has one."""

from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from console.forms import InviteForm, RoleForm, roles_to_give
from console.views.access import forbidden, organisation_page, page_context
from organisations import invitations, services
from organisations.audit import Actor
from organisations.models import Invitation, Membership, Role
from organisations.permissions import role_change_operation
from organisations.selectors import organisation_audit_entries, organisation_members

AUDIT_PAGE_SIZE = 50


def _membership(page, membership_id) -> Membership:
    membership = (
        Membership.objects.select_related("user", "organisation")
        .filter(organisation=page.organisation, pk=membership_id)
        .first()
    )
    if membership is None:
        raise Http404("No such member.")
    return membership


@require_GET
@organisation_page("members.manage")
def member_list(request, page):
    rows = [
        {"membership": membership, "roles": roles_to_give(page, Role(membership.role))}
        for membership in organisation_members(organisation=page.organisation)
    ]
    return render(request, "console/members.html", page_context(request, page, rows=rows))


@require_POST
@organisation_page("members.manage")
def member_role(request, page, membership_id):
    membership = _membership(page, membership_id)
    form = RoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose one of the roles listed.")
        return redirect("console:members", slug=page.organisation.slug)
    role = Role(form.cleaned_data["role"])
    operation = role_change_operation(membership.role, role)
    if not page.may(operation):
        return forbidden(request, page, operation)
    try:
        services.membership_role_change(membership=membership, role=role, actor=Actor.from_request(request))
    except services.MembershipError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"{membership.user.get_username()} is now {role.label}.")
    return redirect("console:members", slug=page.organisation.slug)


@require_POST
@organisation_page("members.manage")
def member_remove(request, page, membership_id):
    membership = _membership(page, membership_id)
    operation = role_change_operation(membership.role, None)
    if not page.may(operation):
        return forbidden(request, page, operation)
    try:
        services.membership_remove(membership=membership, actor=Actor.from_request(request))
    except services.MembershipError as exc:
        messages.error(request, str(exc))
        return redirect("console:members", slug=page.organisation.slug)
    messages.success(request, f"{membership.user.get_username()} is no longer a member.")
    if membership.user_id == request.user.pk:
        return redirect("console:organisations")
    return redirect("console:members", slug=page.organisation.slug)


@require_http_methods(["GET", "POST"])
@organisation_page("members.manage")
def invitation_list(request, page):
    form = InviteForm(request.POST if request.method == "POST" else None, page=page)
    if request.method == "POST" and form.is_valid():
        role = Role(form.cleaned_data["role"])
        operation = role_change_operation(None, role)
        if not page.may(operation):
            return forbidden(request, page, operation)
        try:
            invitations.invitation_create(
                organisation=page.organisation,
                email=form.cleaned_data["email"],
                role=role,
                link_for=lambda token: request.build_absolute_uri(reverse("console:invitation", args=[token])),
                actor=Actor.from_request(request),
            )
        except invitations.InvitationError as exc:
            form.add_error("email", str(exc))
        else:
            messages.success(request, f"Invitation sent to {form.cleaned_data['email']}.")
            return redirect("console:invitations", slug=page.organisation.slug)
    pending = invitations.invitations_pending(organisation=page.organisation)
    status = 400 if form.is_bound else 200
    return render(
        request,
        "console/invitations.html",
        page_context(request, page, form=form, pending=pending, ttl_days=settings.INVITATION_TTL_DAYS),
        status=status,
    )


@require_POST
@organisation_page("members.manage")
def invitation_revoke(request, page, invitation_id):
    invitation = Invitation.objects.filter(organisation=page.organisation, pk=invitation_id).first()
    if invitation is None:
        raise Http404("No such invitation.")
    invitations.invitation_revoke(invitation=invitation, actor=Actor.from_request(request))
    messages.success(request, f"The invitation to {invitation.email} is withdrawn; its link no longer works.")
    return redirect("console:invitations", slug=page.organisation.slug)


@require_GET
@organisation_page("audit.read")
def audit_log(request, page):
    entries = Paginator(organisation_audit_entries(organisation=page.organisation), AUDIT_PAGE_SIZE)
    return render(
        request,
        "console/audit.html",
        page_context(request, page, entries=entries.get_page(request.GET.get("page"))),
    )
