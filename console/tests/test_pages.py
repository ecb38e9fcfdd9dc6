"""What the organisation pages do for those allowed (who is allowed: test_role_matrix.py)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from apikeys.keys import KeyKind
from apikeys.models import ApiKey, App, KeyStatus
from apikeys.selectors import api_key_authenticate
from apikeys.services import api_key_create
from organisations.models import AuditAction, AuditEntry, Membership, Role


@pytest.fixture
def keys_path(organisation, registered):
    return f"/orgs/{organisation.slug}/apps/{registered.app.pk}/keys"


def test_a_new_key_is_shown_once_and_then_by_its_prefix_only(admin, keys_path):
    created = admin.client.post(keys_path, {"kind": "publishable", "name": "web"})
    assert created.status_code == 200
    assert "no-store" in created["Cache-Control"]
    key = ApiKey.objects.get(name="web")
    raw = created.context["issued"].raw
    assert raw in created.content.decode()
    assert api_key_authenticate(raw_key=raw) == key
    later = admin.client.get(keys_path).content.decode()
    assert raw not in later
    assert key.prefix in later
    assert raw not in str(AuditEntry.objects.values_list("details", "target_label"))


def test_rotating_shows_the_new_key_once_and_keeps_the_old_for_the_grace_chosen(admin, keys_path, registered):
    old = registered.secret_key.api_key
    rotated = admin.client.post(f"{keys_path}/{old.pk}/rotate", {"grace_hours": "2"})
    assert rotated.status_code == 200
    new_raw = rotated.context["issued"].raw
    assert new_raw in rotated.content.decode()
    old.refresh_from_db()
    assert old.status == KeyStatus.ROTATING
    assert timedelta(minutes=119) < old.revoked_at - timezone.now() <= timedelta(hours=2)
    assert api_key_authenticate(raw_key=new_raw).replaces == old
    assert new_raw not in admin.client.get(keys_path).content.decode()


def test_a_grace_of_zero_hours_revokes_at_once_and_a_revoked_key_cannot_be_rotated(admin, keys_path, registered):
    old = registered.secret_key.api_key
    admin.client.post(f"{keys_path}/{old.pk}/rotate", {"grace_hours": "0"})
    old.refresh_from_db()
    assert old.status == KeyStatus.REVOKED
    again = admin.client.post(f"{keys_path}/{old.pk}/rotate", {"grace_hours": "1"}, follow=True)
    assert "create a new key instead" in again.content.decode()
    assert ApiKey.objects.filter(app=registered.app).count() == 3  # the two registered and one replacement


def test_a_grace_out_of_range_is_refused(admin, keys_path, registered):
    old = registered.secret_key.api_key
    response = admin.client.post(f"{keys_path}/{old.pk}/rotate", {"grace_hours": "100000"}, follow=True)
    assert "Not rotated" in response.content.decode()
    old.refresh_from_db()
    assert old.status == KeyStatus.ACTIVE


def test_revoking_stops_the_key_at_once(admin, keys_path, registered):
    issued = api_key_create(app=registered.app, kind=KeyKind.SECRET)
    response = admin.client.post(f"{keys_path}/{issued.api_key.pk}/revoke", follow=True)
    assert "is revoked" in response.content.decode()
    assert not api_key_authenticate(raw_key=issued.raw).is_usable
    assert AuditEntry.objects.filter(action=AuditAction.KEY_REVOKED, actor_user=admin.user).count() == 1


def test_app_settings_are_validated_as_the_api_validates_them(admin, organisation, registered, other_app):
    path = f"/orgs/{organisation.slug}/apps/{registered.app.pk}/"
    App.objects.filter(pk=other_app.app.pk).update(site_domain="taken.example")
    cases = [
        ({"name": "", "timezone": "UTC"}, "name", "This field is required."),
        ({"name": "x", "timezone": "Mars/Olympus"}, "timezone", "Select a valid choice."),
        (
            {"name": "x", "timezone": "UTC", "domains": "exa_ mple.com bad_host!"},
            "domains",
            "Not a host name: exa_, bad_host!",
        ),
        ({"name": "x", "timezone": "UTC", "site_domain": "www.Taken.example"}, "site_domain", "Another app already"),
    ]
    for data, field, message in cases:
        response = admin.client.post(path, data)
        assert response.status_code == 400, data
        assert message in str(response.context["form"].errors[field]), (data, response.context["form"].errors)
    registered.app.refresh_from_db()
    assert registered.app.name == "Acme web"
    assert not AuditEntry.objects.filter(action=AuditAction.APP_UPDATED).exists()


def test_saved_settings_are_audited_with_the_old_and_new_values(admin, organisation, registered):
    path = f"/orgs/{organisation.slug}/apps/{registered.app.pk}/"
    data = {"name": "Shop", "timezone": "Europe/Berlin", "domains": "Shop.example\n*.shop.example", "site_domain": ""}
    response = admin.client.post(path, data, follow=True)
    assert "Settings saved." in response.content.decode()
    app = App.objects.get(pk=registered.app.pk)
    assert (app.name, app.timezone, app.domains) == ("Shop", "Europe/Berlin", ["shop.example", "*.shop.example"])
    entry = AuditEntry.objects.get(action=AuditAction.APP_UPDATED)
    assert entry.details["timezone"] == ["UTC", "Europe/Berlin"]
    assert entry.actor_user == admin.user


def test_a_new_app_belongs_to_the_organisation_and_shows_its_keys_and_snippet_once(admin, organisation):
    response = admin.client.post(f"/orgs/{organisation.slug}/apps/new", {"name": "Blog", "timezone": "UTC"})
    assert response.status_code == 200
    registered = response.context["registered"]
    assert registered.app.organisation == organisation
    assert registered.app.owner_email == "admin@example.com"
    page = response.content.decode()
    assert registered.secret_key.raw in page
    assert f'data-key="{registered.publishable_key.raw}"' in page.replace("&quot;", '"')
    assert registered.secret_key.raw not in admin.client.get(f"/orgs/{organisation.slug}/").content.decode()


def test_the_apps_list_shows_the_organisations_apps_and_the_links_the_role_allows(member, organisation, registered):
    viewer = member("viewer", organisation, Role.VIEWER)
    page = viewer.client.get(f"/orgs/{organisation.slug}/").content.decode()
    assert registered.app.name in page
    assert "/keys" not in page
    assert "/members" not in page
    assert "Create an app" not in page


def test_an_admin_cannot_touch_an_owner_nor_make_one(admin, owner, member, organisation):
    viewer = member("viewer", organisation, Role.VIEWER).user.memberships.get()
    owners = owner.user.memberships.get()
    base = f"/orgs/{organisation.slug}/members"
    assert admin.client.post(f"{base}/{owners.pk}/role", {"role": "admin"}).status_code == 403
    assert admin.client.post(f"{base}/{owners.pk}/remove").status_code == 403
    assert admin.client.post(f"{base}/{viewer.pk}/role", {"role": "owner"}).status_code == 403
    assert Membership.objects.get(pk=owners.pk).role == Role.OWNER
    assert Membership.objects.get(pk=viewer.pk).role == Role.VIEWER
    page = admin.client.get(base).content.decode()
    assert 'value="owner"' not in page
    assert owner.client.post(f"{base}/{viewer.pk}/role", {"role": "owner"}).status_code == 302
    assert Membership.objects.get(pk=viewer.pk).role == Role.OWNER


def test_the_last_owner_is_not_removed_nor_demoted(owner, organisation):
    mine = owner.user.memberships.get()
    base = f"/orgs/{organisation.slug}/members"
    for response in (
        owner.client.post(f"{base}/{mine.pk}/remove", follow=True),
        owner.client.post(f"{base}/{mine.pk}/role", {"role": "admin"}, follow=True),
    ):
        assert "needs another owner first" in response.content.decode()
    assert Membership.objects.get(pk=mine.pk).role == Role.OWNER


def test_the_audit_log_shows_who_did_what(admin, keys_path, organisation):
    admin.client.post(keys_path, {"kind": "secret", "name": "ci"})
    page = admin.client.get(f"/orgs/{organisation.slug}/audit").content.decode()
    assert "Key Created" in page
    assert "admin" in page
    assert "127.0.0.1" in page


def test_the_switcher_lists_each_organisation_with_the_role(member, organisation, other_app):
    ada = member("ada", organisation, Role.VIEWER)
    Membership.objects.create(organisation=other_app.app.organisation, user=ada.user, role=Role.ADMIN)
    page = ada.client.get("/orgs/").content.decode()
    assert "Acme web" in page and "Other" in page
    assert "Viewer" in page and "Admin" in page
    inside = ada.client.get(f"/orgs/{organisation.slug}/").content.decode()
    assert f'href="/orgs/{other_app.app.organisation.slug}/"' in inside


def test_anyone_signed_in_starts_an_organisation_of_which_they_are_the_owner(member):
    bo = member("bo")
    assert "not a member of any organisation" in bo.client.get("/orgs/").content.decode()
    assert bo.client.post("/orgs/", {"name": "  "}).status_code == 400
    response = bo.client.post("/orgs/", {"name": "Bo's shop"})
    membership = Membership.objects.get(user=bo.user)
    assert (membership.role, membership.organisation.name) == (Role.OWNER, "Bo's shop")
    assert response["Location"] == f"/orgs/{membership.organisation.slug}/"
    assert AuditEntry.objects.filter(action=AuditAction.MEMBER_ADDED, organisation=membership.organisation).exists()
    assert bo.client.get(f"/orgs/{membership.organisation.slug}/apps/new").status_code == 200  # apps.manage


def test_the_dashboard_header_links_to_the_organisation_pages(member):
    operator = member("operator")
    operator.user.is_superuser = operator.user.is_staff = True
    operator.user.save()
    assert 'href="/orgs/"' in operator.client.get("/dashboard/").content.decode()


def test_a_member_who_is_not_staff_is_led_to_the_organisation_pages_and_the_dashboard_not_the_admin(
    member, organisation
):
    page = member("viewer", organisation, Role.VIEWER).client.get("/orgs/").content.decode()
    header = page.split("<header>")[1].split("</header>")[0]
    assert 'href="/orgs/"' in header and 'href="/dashboard/"' in header  # the dashboard shows members their apps
    assert "/admin/" not in header
