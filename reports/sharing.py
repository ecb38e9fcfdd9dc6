"""Shared links: one app's dashboard page, read-only, for anyone holding the link (and its password).

``/share/<token>/`` shows what the app page shows for the range and filters asked, without the live
view, the export or anything else reached through a login. The token is 32 random bytes; the server
keeps its digest only. A password, when set, is asked once per browser session and checked against
Django's password hash; wrong guesses are limited per client IP (SHARE_PASSWORD_RATE).
"""

import hashlib
import secrets
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.hashers import check_password, make_password
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect

from analytics_project.client_ip import client_ip
from apikeys.throttling import rate_limit_wait
from reports.dashboard import app_page_context
from reports.models import SharedLink
from reports.panels import render_panel

TOKEN_BYTES = 32


@dataclass(frozen=True)
class NewSharedLink:
    """A link just made: the only moment its token exists outside the URL's holder."""

    link: SharedLink
    token: str

    @property
    def path(self) -> str:
        return f"/share/{self.token}/"


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def shared_link_create(*, app, label: str = "", password: str = "", created_by=None) -> NewSharedLink:
    token = secrets.token_urlsafe(TOKEN_BYTES)
    link = SharedLink.objects.create(
        app=app,
        label=label,
        token_digest=_digest(token),
        password_hash=make_password(password) if password else "",
        created_by=created_by,
    )
    return NewSharedLink(link=link, token=token)


def shared_link_revoke(*, link: SharedLink) -> SharedLink:
    if link.revoked_at is None:
        link.revoked_at = timezone.now()
        link.save(update_fields=["revoked_at"])
    return link


def shared_link_for(token: str) -> SharedLink | None:
    """The working link a token opens; None for an unknown, malformed or revoked one."""
    if not token or len(token) > 100:
        return None
    link = SharedLink.objects.select_related("app").filter(token_digest=_digest(token)).first()
    if link is None or link.revoked_at is not None:
        return None
    return link


def _unlocked_key(link: SharedLink) -> str:
    return f"uea-shared-link-{link.pk}"


def _working_link(token: str) -> SharedLink:
    link = shared_link_for(token)
    if link is None:
        raise Http404("No such shared link.")
    return link


def _locked(request, link: SharedLink) -> bool:
    return link.has_password and not request.session.get(_unlocked_key(link))


@never_cache
@csrf_protect
def shared_app_page(request, token):
    """The app page for a shared link; its password form first when it has one."""
    link = _working_link(token)
    if _locked(request, link):
        error = None
        if request.method == "POST":
            rate = settings.SHARE_PASSWORD_RATE
            wait = rate_limit_wait(request, group="share-password", key=client_ip(request), rate=rate, fail_open=True)
            if wait:
                error, status = f"Too many attempts; try again in {wait} s.", 429
            elif check_password(request.POST.get("password", ""), link.password_hash):
                request.session[_unlocked_key(link)] = True
                return redirect(request.get_full_path())
            else:
                error, status = "That is not the password.", 403
            return render(request, "dashboard/share_password.html", {"link": link, "error": error}, status=status)
        return render(request, "dashboard/share_password.html", {"link": link, "error": None})
    context = app_page_context(
        request, link.app, panel_url=lambda name: reverse("shared-app-panel", args=[token, name]), shared=True
    )
    return render(request, "dashboard/app_detail.html", {**context, "shared": True})


@never_cache
def shared_app_panel(request, token, name):
    """One panel of a shared page, for a browser that has opened the page (and given its password)."""
    link = _working_link(token)
    if _locked(request, link):
        raise PermissionDenied("This shared link asks for its password first.")
    return render_panel(request, link.app, name, shared=True)
