"""Who may open an organisation's page: each page names one operation of the permission table
(organisations.permissions.OPERATIONS), which its role matrix test reads from the view.

An organisation the person is not a member of is a 404, exactly like one that does not exist, so slugs
cannot be probed; a member whose role does not allow the page's operation gets a 403 page naming the role
it needs. Objects of another organisation (an app id, a key id) are 404s too: every lookup goes through
the organisation of the URL."""

from dataclasses import dataclass
from functools import wraps

from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import render
from django.views.decorators.cache import never_cache

from organisations.models import Membership, Organisation, Role
from organisations.permissions import OPERATIONS, role_allows
from organisations.selectors import organisations_of


@dataclass(frozen=True)
class OrganisationPage:
    """The organisation of the URL and the signed-in person's role in it."""

    organisation: Organisation
    role: Role

    def may(self, operation: str) -> bool:
        return role_allows(self.role, operation)

    @property
    def allowed(self) -> dict[str, bool]:
        """For templates, which cannot call ``may``: ``allowed.keys_manage``."""
        return {name.replace(".", "_"): self.may(name) for name in OPERATIONS}


def organisation_page(operation: str):
    """A view of ``/orgs/<slug>/…`` that needs ``operation``; it is called with the OrganisationPage."""
    OPERATIONS[operation]  # a page with no rule fails at import, not at its first request

    def decorate(view):
        @never_cache
        @login_required
        @wraps(view)
        def checked(request, slug, **kwargs):
            membership = (
                Membership.objects.select_related("organisation")
                .filter(user=request.user, organisation__slug=slug)
                .first()
                if request.user.is_active
                else None
            )
            if membership is None:
                raise Http404("No such organisation.")
            page = OrganisationPage(organisation=membership.organisation, role=Role(membership.role))
            if not page.may(operation):
                return forbidden(request, page, operation)
            return view(request, page, **kwargs)

        checked.operation = operation
        return checked

    return decorate


def forbidden(request, page: OrganisationPage, operation: str):
    return render(
        request,
        "console/forbidden.html",
        {
            **page_context(request, page),
            "operation": operation,
            "description": OPERATIONS[operation].description,
            "least_role": OPERATIONS[operation].least_role,
        },
        status=403,
    )


def page_context(request, page: OrganisationPage, **extra) -> dict:
    """What the organisation pages' frame shows: the organisation, the person's role, what it allows,
    and the person's other organisations for the switcher."""
    return {
        "page": page,
        "organisation": page.organisation,
        "allowed": page.allowed,
        "organisations": organisations_of(user=request.user).order_by("name"),
        **extra,
    }
