from django.contrib.auth.models import Permission

from apikeys import services as app_services
from organisations import invitations, services
from organisations.models import AuditAction, AuditEntry, Invitation, Membership, Organisation, Role

CHANGE = "/admin/organisations/organisation/{}/change/"


def _form(organisation, rows: list[dict], initial: int) -> dict:
    data = {
        "name": organisation.name,
        "slug": organisation.slug,
        "pending_owner_email": organisation.pending_owner_email,
        "memberships-TOTAL_FORMS": str(len(rows)),
        "memberships-INITIAL_FORMS": str(initial),
        "apps-TOTAL_FORMS": "0",
        "apps-INITIAL_FORMS": "0",
    }
    for index, row in enumerate(rows):
        data.update({f"memberships-{index}-{field}": value for field, value in row.items()})
    return data


def test_the_organisation_page_adds_and_changes_members_through_the_services(
    admin_client, admin_user, registered, django_user_model
):
    organisation = registered.app.organisation
    ada = django_user_model.objects.create_user("ada", "ada@example.com", "pw")
    page = admin_client.get(CHANGE.format(organisation.pk)).content.decode()
    assert registered.app.name in page  # its apps are listed

    added = admin_client.post(
        CHANGE.format(organisation.pk), _form(organisation, [{"user": ada.pk, "role": "viewer"}], 0)
    )
    assert added.status_code == 302
    membership = Membership.objects.get(organisation=organisation, user=ada)
    row = {"id": membership.pk, "organisation": organisation.pk, "user": ada.pk, "role": "admin"}
    admin_client.post(CHANGE.format(organisation.pk), _form(organisation, [row], 1))
    admin_client.post(CHANGE.format(organisation.pk), _form(organisation, [{**row, "DELETE": "on"}], 1))

    entries = AuditEntry.objects.filter(organisation=organisation, target_type="user").order_by("id")
    assert [(e.action, e.actor_user) for e in entries] == [
        (AuditAction.MEMBER_ADDED, admin_user),
        (AuditAction.MEMBER_ROLE_CHANGED, admin_user),
        (AuditAction.MEMBER_REMOVED, admin_user),
    ]
    assert not Membership.objects.filter(organisation=organisation).exists()


def test_the_last_owner_is_kept_and_the_admin_says_why(admin_client, registered, django_user_model):
    organisation = registered.app.organisation
    owner = services.membership_add(
        organisation=organisation, user=django_user_model.objects.create_user("o", "o@example.com", "pw"), role="owner"
    )
    row = {"id": owner.pk, "organisation": organisation.pk, "user": owner.user_id, "role": "owner", "DELETE": "on"}
    response = admin_client.post(CHANGE.format(organisation.pk), _form(organisation, [row], 1), follow=True)
    assert "needs another owner" in response.content.decode()
    assert Membership.objects.get(pk=owner.pk).role == Role.OWNER


def test_the_app_page_shows_its_organisation_and_new_apps_are_created_in_one(admin_client, registered):
    assert registered.app.organisation.name in admin_client.get("/admin/apikeys/app/").content.decode()
    organisation = registered.app.organisation
    response = admin_client.post(
        "/admin/apikeys/app/add/",
        {
            "name": "Second site",
            "organisation": organisation.pk,
            "owner_email": "ops@acme.example",
            "domains": "[]",
            "site_domain": "",
            "timezone": "UTC",
            "api_keys-TOTAL_FORMS": "0",
            "api_keys-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 302
    assert set(organisation.apps.values_list("name", flat=True)) == {"Acme web", "Second site"}
    assert AuditEntry.objects.filter(action=AuditAction.APP_CREATED, target_label="Second site").exists()


def test_the_audit_log_is_read_only_in_the_admin(admin_client, registered):
    entry = AuditEntry.objects.filter(organisation=registered.app.organisation).first()
    listing = admin_client.get("/admin/organisations/auditentry/").content.decode()
    assert entry.target_label in listing
    assert admin_client.get("/admin/organisations/auditentry/add/").status_code == 403
    assert admin_client.post(f"/admin/organisations/auditentry/{entry.pk}/delete/").status_code == 403
    page = admin_client.get(f"/admin/organisations/auditentry/{entry.pk}/change/")
    assert page.status_code == 200 and 'name="_save"' not in page.content.decode()


def test_staff_see_only_the_organisations_of_the_apps_granted_to_them(client, django_user_model, registered, other_app):
    clerk = django_user_model.objects.create_user("clerk", "c@example.com", "pw", is_staff=True)
    clerk.user_permissions.add(*_view_permissions())
    registered.app.operators.add(clerk)
    client.force_login(clerk)
    page = client.get("/admin/organisations/organisation/").content.decode()
    assert registered.app.organisation.name in page and other_app.app.organisation.name not in page
    assert Organisation.objects.count() == 2
    app_services.api_key_revoke(api_key=other_app.publishable_key.api_key)
    audit = client.get("/admin/organisations/auditentry/?action=key.revoked").content.decode()
    assert other_app.publishable_key.api_key.prefix not in audit


def _view_permissions():
    return Permission.objects.filter(
        content_type__app_label="organisations", codename__in=["view_organisation", "view_auditentry"]
    )


def test_invitations_are_listed_read_only_and_revoked_through_the_service(admin_client, registered):
    sent = invitations.invitation_create(
        organisation=registered.app.organisation, email="ada@example.com", role=Role.VIEWER, link_for=str
    )
    listing = admin_client.get("/admin/organisations/invitation/").content.decode()
    assert "ada@example.com" in listing and sent.invitation.token_digest not in listing
    page = admin_client.get(f"/admin/organisations/invitation/{sent.invitation.pk}/change/").content.decode()
    assert sent.invitation.token_digest not in page and 'name="_save"' not in page
    admin_client.post(
        "/admin/organisations/invitation/", {"action": "revoke", "_selected_action": [str(sent.invitation.pk)]}
    )
    assert Invitation.objects.get().status == "revoked"
    assert AuditEntry.objects.filter(action=AuditAction.INVITATION_REVOKED).count() == 1
