"""The key and app services write the audit log, whoever calls them: the API, the admin, the commands."""

from django.core.management import call_command

from apikeys import services
from organisations.models import AuditAction, AuditEntry
from organisations.selectors import organisation_audit_entries


def _actions(registered) -> list[str]:
    return [entry.action for entry in organisation_audit_entries(organisation=registered.app.organisation)]


def test_registration_records_the_app_and_its_two_keys(api_client, db):
    response = api_client.post(
        "/api/auth/register",
        {"name": "Shop", "ownerEmail": "me@shop.example"},
        format="json",
        REMOTE_ADDR="198.51.100.4",
    )
    assert response.status_code == 201
    entries = list(AuditEntry.objects.order_by("id"))
    assert [entry.action for entry in entries] == ["app.created", "key.created", "key.created"]
    assert {(entry.ip, entry.actor_label, entry.organisation.name) for entry in entries} == {
        ("198.51.100.4", "anonymous", "Shop")
    }


def test_the_api_records_create_rotate_and_revoke_with_the_calling_key(secret_client, registered):
    caller = registered.secret_key.api_key.prefix
    created = secret_client.post("/api/auth/keys", {"kind": "publishable"}, format="json").json()["key"]
    rotated = secret_client.post(f"/api/auth/keys/{created['id']}/regenerate", {"graceSeconds": 60}, format="json")
    secret_client.post(f"/api/auth/keys/{rotated.json()['key']['id']}/revoke")
    entries = list(organisation_audit_entries(organisation=registered.app.organisation)[:3])
    assert [entry.action for entry in entries] == ["key.revoked", "key.rotated", "key.created"]
    assert {(entry.actor_key, entry.actor_label, entry.ip) for entry in entries} == {(caller, caller, "127.0.0.1")}
    revoked, rotation, creation = entries
    assert rotation.target_label == created["prefix"]
    assert rotation.details["newKey"] == rotated.json()["key"]["prefix"] and rotation.details["graceSeconds"] == 60
    assert creation.details["kind"] == "publishable"
    assert revoked.target_label == rotated.json()["key"]["prefix"]


def test_revoking_a_key_twice_records_it_once(registered):
    key = registered.publishable_key.api_key
    services.api_key_revoke(api_key=key)
    services.api_key_revoke(api_key=key)
    assert _actions(registered).count(AuditAction.KEY_REVOKED) == 1


def test_no_entry_holds_a_whole_key(secret_client, registered):
    raw = secret_client.post("/api/auth/keys", {"kind": "secret"}, format="json").json()["apiKey"]
    texts = [str(vars(entry)) for entry in AuditEntry.objects.all()]
    assert not any(raw in text or registered.secret_key.raw in text for text in texts)


def test_commands_are_named_as_the_actor(registered, capsys):
    call_command("revoke_key", registered.publishable_key.api_key.prefix, "--yes")
    entry = organisation_audit_entries(organisation=registered.app.organisation).first()
    assert (entry.action, entry.actor_label, entry.actor_user) == (
        AuditAction.KEY_REVOKED,
        "manage.py revoke_key",
        None,
    )


def test_app_settings_changes_record_old_and_new_values(registered):
    services.app_update(
        app=registered.app, timezone="Europe/Berlin", domains=["shop.example"], name=registered.app.name
    )
    entry = organisation_audit_entries(organisation=registered.app.organisation).first()
    assert entry.action == AuditAction.APP_UPDATED
    assert entry.details == {"timezone": ["UTC", "Europe/Berlin"], "domains": [[], ["shop.example"]]}


def test_an_app_update_that_changes_nothing_records_nothing(registered):
    before = AuditEntry.objects.count()
    services.app_update(app=registered.app, timezone="UTC")
    assert AuditEntry.objects.count() == before


def test_the_admin_records_app_settings_changes_made_there(admin_client, admin_user, registered):
    app = registered.app
    response = admin_client.post(
        f"/admin/apikeys/app/{app.pk}/change/",
        {
            "name": "Renamed",
            "owner_email": app.owner_email,
            "domains": "[]",
            "site_domain": "",
            "timezone": "UTC",
            "api_keys-TOTAL_FORMS": "0",
            "api_keys-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    entry = organisation_audit_entries(organisation=app.organisation).first()
    assert (entry.action, entry.actor_user, entry.details) == (
        AuditAction.APP_UPDATED,
        admin_user,
        {"name": ["Acme web", "Renamed"]},
    )
