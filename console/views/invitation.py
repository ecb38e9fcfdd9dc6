"""The page an invitation's link opens: what it invites to, then, signed in with the invited address,
one button that accepts it (organisations.invitations.invitation_accept, which decides)."""

from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import REDIRECT_FIELD_NAME
from django.contrib.auth.views import redirect_to_login
from django.shortcuts import redirect, render, resolve_url
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from organisations import invitations
from organisations.audit import Actor

STATUS = {"unknown": 404, "closed": 410, "wrong_account": 403, "member": 409}


def _refused(request, error: invitations.InvitationError):
    return render(request, "console/invitation_refused.html", {"reason": str(error)}, status=STATUS[error.reason])


@never_cache
@require_http_methods(["GET", "POST"])
def invitation(request, token):
    """GET shows the invitation; POST, signed in, accepts it. Signed out, either leads to the sign-in page
    and back here."""
    if request.method == "POST":
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        try:
            membership = invitations.invitation_accept(
                token=token, user=request.user, actor=Actor.from_request(request)
            )
        except invitations.InvitationError as error:
            return _refused(request, error)
        messages.success(request, f"You joined {membership.organisation} as {membership.get_role_display()}.")
        return redirect("console:apps", slug=membership.organisation.slug)
    found = invitations.invitation_for_token(token)
    if found is None:
        return _refused(request, invitations.InvitationError("This invitation link is not valid.", reason="unknown"))
    closed = invitations.refusal(found)
    if closed:
        return _refused(request, invitations.InvitationError(closed, reason="closed"))
    user = request.user
    context = {
        "invitation": found,
        "signed_in": user.is_authenticated,
        "matches": user.is_authenticated and found.email in invitations.verified_emails(user),
        "login_url": f"{resolve_url(settings.LOGIN_URL)}?{urlencode({REDIRECT_FIELD_NAME: request.get_full_path()})}",
    }
    return render(request, "console/invitation.html", context)
