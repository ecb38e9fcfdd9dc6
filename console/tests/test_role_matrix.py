"""The organisation pages' role matrix, generated from the one permission table
(organisations.permissions.OPERATIONS), as reports/tests/test_role_matrix.py is for the report API: every
page and form by every role, a person of no organisation, a member of another organisation and someone
signed out. A role the table allows gets the page (or its POST does what it says); a member whose role
does not allow it gets 403 and the POST changes nothing; anyone else a 404 as for an organisation that
does not exist; signed out, the sign-in page.

Built to fail on what it does not know: the pages are found by walking the URL resolver, and each must
have a call below and name an operation of the table. Every change a page makes writes an audit entry, so
"changes nothing" is "writes no audit entry"."""

from dataclasses import dataclass, field

import pytest
from django.conf import settings
from django.shortcuts import resolve_url
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from apikeys.keys import KeyKind
from apikeys.services import api_key_create
from console.views.access import organisation_page
from organisations.models import AuditEntry, Role
from organisations.permissions import OPERATIONS, ROLE_ORDER, role_allows

NON_MEMBER, OTHER_ORGANISATION, SIGNED_OUT = "non-member", "member of another organisation", "signed out"
CALLERS = [*ROLE_ORDER, NON_MEMBER, OTHER_ORGANISATION, SIGNED_OUT]


@dataclass(frozen=True)
class Page:
    operation: str  # what the page must name, so that loosening a page's rule fails here too
    method: str
    path: str  # formatted with the world's ids: {slug}, {app}, {key}, {membership}, {invitation}
    data: dict = field(default_factory=dict)


PAGES = {
    "console:apps": Page("reports.read", "get", "/orgs/{slug}/"),
    "console:app-create": Page("apps.manage", "post", "/orgs/{slug}/apps/new", {"name": "New", "timezone": "UTC"}),
    "console:app-settings": Page(
        "apps.manage", "post", "/orgs/{slug}/apps/{app}/", {"name": "Renamed", "timezone": "UTC"}
    ),
    "console:keys": Page("keys.manage", "post", "/orgs/{slug}/apps/{app}/keys", {"kind": "secret", "name": "ci"}),
    "console:key-rotate": Page(
        "keys.manage", "post", "/orgs/{slug}/apps/{app}/keys/{key}/rotate", {"grace_hours": "1"}
    ),
    "console:key-revoke": Page("keys.manage", "post", "/orgs/{slug}/apps/{app}/keys/{key}/revoke"),
    "console:members": Page("members.manage", "get", "/orgs/{slug}/members"),
    "console:member-role": Page("members.manage", "post", "/orgs/{slug}/members/{membership}/role", {"role": "member"}),
    "console:member-remove": Page("members.manage", "post", "/orgs/{slug}/members/{membership}/remove"),
    "console:invitations": Page(
        "members.manage", "post", "/orgs/{slug}/invitations", {"email": "new@example.com", "role": "viewer"}
    ),
    "console:invitation-revoke": Page("members.manage", "post", "/orgs/{slug}/invitations/{invitation}/revoke"),
    "console:audit": Page("audit.read", "get", "/orgs/{slug}/audit"),
}
# The GET side of the pages whose POST is above.
FORMS = {"console:app-create", "console:app-settings", "console:keys", "console:invitations"}
# Pages of no organisation: the person's own list, and the invitation link (console/tests/test_invitation_page.py).
PERSONAL = {"console:organisations", "console:invitation"}


def _console_routes() -> dict[str, object]:
    def walk(resolver, namespace=""):
        for pattern in resolver.url_patterns:
            if isinstance(pattern, URLResolver):
                yield from walk(pattern, f"{pattern.namespace}:" if pattern.namespace else namespace)
            elif isinstance(pattern, URLPattern) and namespace == "console:":
                yield f"console:{pattern.name}", pattern.callback

    return dict(walk(get_resolver()))


def test_every_organisation_page_is_in_the_matrix_with_an_operation_of_the_table():
    routes = _console_routes()
    assert set(routes) - PERSONAL == set(PAGES), "an organisation page the role matrix does not call"
    for name, page in PAGES.items():
        assert getattr(routes[name], "operation", None) in OPERATIONS, f"{name} names no operation of the table"
        assert routes[name].operation == page.operation, f"{name} is {routes[name].operation}, not {page.operation}"
    for name in PERSONAL:
        assert not hasattr(routes[name], "operation"), f"{name} is a personal page with an operation"


@pytest.fixture
def world(registered, organisation, member, invite):
    """Organisation A (registered's) with a key, a viewer to change and an invitation to revoke."""
    key = api_key_create(app=registered.app, kind=KeyKind.SECRET, name="spare").api_key
    target = member("target", organisation, Role.VIEWER).user.memberships.get()
    return {
        "slug": organisation.slug,
        "app": registered.app.pk,
        "key": key.pk,
        "membership": target.pk,
        "invitation": invite("invited@example.com").invitation.pk,
    }


def _caller(kind, member, organisation, other_app) -> Client:
    if kind == SIGNED_OUT:
        return Client()
    if kind == NON_MEMBER:
        return member("stranger").client
    if kind == OTHER_ORGANISATION:
        return member("elsewhere", other_app.app.organisation, Role.OWNER).client
    return member(f"the-{kind.value}", organisation, kind).client


def _expected(kind, operation: str) -> int | None:
    """The status a caller gets; None where the page is allowed (which the test checks by the method)."""
    if kind == SIGNED_OUT:
        return 302
    if kind in (NON_MEMBER, OTHER_ORGANISATION):
        return 404
    return None if role_allows(kind, operation) else 403


@pytest.mark.parametrize("caller", CALLERS, ids=str)
@pytest.mark.parametrize("name", PAGES)
def test_role_matrix(name, caller, world, member, organisation, other_app):
    page = PAGES[name]
    client = _caller(caller, member, organisation, other_app)
    path = page.path.format(**world)
    audited = AuditEntry.objects.count()
    response = getattr(client, page.method)(path, page.data)
    expected = _expected(caller, page.operation)
    if expected is None:
        assert response.status_code in ((200, 302) if page.method == "post" else (200,)), response.content[:300]
        if page.method == "post":
            assert AuditEntry.objects.count() > audited, f"{name} allowed but changed nothing"
    else:
        assert response.status_code == expected, response.content[:300]
        assert AuditEntry.objects.count() == audited, f"{name} refused but changed something"
    if expected == 302:
        assert response["Location"].startswith(resolve_url(settings.LOGIN_URL))
    if name in FORMS:
        shown = client.get(path)
        assert shown.status_code == (200 if expected is None else expected)


@pytest.mark.parametrize("name", [name for name, page in PAGES.items() if "{" in page.path.replace("{slug}", "")])
def test_another_organisations_objects_are_404_under_ones_own_organisation(name, world, member, other_app):
    """Tenant isolation: B's owner, on B's own pages, names A's app, key, member or invitation: 404, nothing changes."""
    elsewhere = member("elsewhere", other_app.app.organisation, Role.OWNER)
    page = PAGES[name]
    path = page.path.format(**{**world, "slug": other_app.app.organisation.slug})
    audited = AuditEntry.objects.count()
    response = getattr(elsewhere.client, page.method)(path, page.data)
    assert response.status_code == 404, response.content[:300]
    assert AuditEntry.objects.count() == audited


@pytest.mark.parametrize("caller", CALLERS, ids=str)
def test_every_signed_in_person_sees_their_own_organisations_only(caller, member, organisation, other_app):
    client = _caller(caller, member, organisation, other_app)
    response = client.get("/orgs/")
    if caller == SIGNED_OUT:
        assert response.status_code == 302
        return
    assert response.status_code == 200
    shown = response.content.decode()
    assert (organisation.name in shown) == (caller in ROLE_ORDER)
    assert (other_app.app.organisation.name in shown) == (caller == OTHER_ORGANISATION)


def test_a_page_with_an_operation_the_table_does_not_have_fails_at_import():
    with pytest.raises(KeyError):
        organisation_page("apps.delete")
