"""Personal (uk_) keys: a person's own, shown once, stored as app keys are, revocable, and read only
the reports of their organisations' apps (the role matrix is reports/tests/test_role_matrix.py)."""

import json
import logging
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from analytics_project.logging import JsonFormatter
from apikeys import keys, services
from apikeys.models import PersonalApiKey
from apikeys.selectors import personal_key_authenticate
from organisations.models import AuditAction, AuditEntry

ME = "/api/me"
KEYS = "/api/me/personal-keys"
SUMMARY = "/api/analytics/event-summary"


@pytest.fixture
def viewer(person, registered):
    return person("ada", organisation=registered.app.organisation, role="viewer")


def test_a_personal_key_has_its_own_prefix_and_is_stored_as_a_digest_only(viewer):
    assert viewer.raw_key.startswith("uk_")
    assert keys.parse(viewer.raw_key).is_personal
    row = PersonalApiKey.objects.get(user=viewer.user)
    assert row.digest == keys.digest(viewer.raw_key)
    assert viewer.raw_key not in json.dumps([str(value) for value in vars(row).values()])
    assert row.prefix == f"uk_{row.lookup_id}…" == str(row)


def test_a_personal_key_reads_its_organisations_app_by_app_id(viewer, registered):
    response = viewer.client.get(SUMMARY, {"appId": registered.app.id})
    assert response.status_code == 200
    assert response.json()["count"] == 0


def test_a_personal_key_must_name_the_app(viewer):
    response = viewer.client.get(SUMMARY)
    assert response.status_code == 400
    assert "appId" in response.json()["fields"]


def test_a_personal_key_also_works_as_a_bearer_token(viewer, registered, api_client):
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {viewer.raw_key}")
    assert api_client.get(SUMMARY, {"appId": registered.app.id}).status_code == 200


def test_a_revoked_personal_key_is_refused_at_once(viewer, registered):
    key = PersonalApiKey.objects.get(user=viewer.user)
    services.personal_key_revoke(personal_key=key)
    response = viewer.client.get(SUMMARY, {"appId": registered.app.id})
    assert response.status_code == 401
    assert response.json()["code"] == "api_key_revoked"


def test_an_expired_personal_key_is_refused(viewer, registered):
    PersonalApiKey.objects.filter(user=viewer.user).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert viewer.client.get(SUMMARY, {"appId": registered.app.id}).json()["code"] == "api_key_expired"


def test_the_key_of_a_deactivated_person_is_refused_like_no_key(viewer, registered):
    viewer.user.is_active = False
    viewer.user.save()
    response = viewer.client.get(SUMMARY, {"appId": registered.app.id})
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_api_key"


def test_a_personal_key_with_a_wrong_secret_is_refused(viewer, registered, client_for):
    forged = viewer.raw_key[:-8] + ("A" if viewer.raw_key[-8] != "A" else "B") + viewer.raw_key[-7:]
    body = forged[: -keys.CHECKSUM_LENGTH]
    forged = body + keys.checksum(body)  # a well-formed key with the right lookup id and another secret
    assert personal_key_authenticate(raw_key=forged) is None
    assert client_for(forged).get(SUMMARY, {"appId": registered.app.id}).status_code == 401


def test_an_app_key_never_authenticates_as_a_personal_key(registered):
    assert personal_key_authenticate(raw_key=registered.secret_key.raw) is None


@pytest.mark.parametrize(
    ("method", "path"),
    [("post", "/api/analytics/collect"), ("get", "/api/auth/keys"), ("get", "/api/auth/api-key")],
)
def test_a_personal_key_is_refused_where_app_keys_belong(method, path, viewer):
    response = getattr(viewer.client, method)(path, {"event": "x"}, format="json")
    assert response.status_code == 403
    assert response.json()["code"] == "personal_key_not_accepted"


def test_use_is_recorded_at_most_once_a_minute(viewer, registered):
    viewer.client.get(SUMMARY, {"appId": registered.app.id})
    first = PersonalApiKey.objects.get(user=viewer.user).last_used_at
    assert first is not None
    viewer.client.get(SUMMARY, {"appId": registered.app.id})
    assert PersonalApiKey.objects.get(user=viewer.user).last_used_at == first


def test_no_log_line_carries_a_whole_personal_key(viewer, registered, caplog):
    caplog.set_level("INFO", logger="analytics.request")
    viewer.client.get(SUMMARY, {"appId": registered.app.id})
    (record,) = [r for r in caplog.records if r.name == "analytics.request"]
    line = json.loads(JsonFormatter().format(record))
    prefix = PersonalApiKey.objects.get(user=viewer.user).prefix
    assert line["keyPrefix"] == prefix
    assert line["appId"] == str(registered.app.id)
    stray = logging.LogRecord(
        "django.request", logging.ERROR, __file__, 1, "Bad: %s", (f"/x?k={viewer.raw_key}",), None
    )
    assert viewer.raw_key not in JsonFormatter().format(stray)
    assert prefix in JsonFormatter().format(stray)


def test_me_lists_the_persons_organisations_roles_and_app_ids(viewer, registered, other_app):
    response = viewer.client.get(ME)
    assert response.status_code == 200
    body = response.json()
    assert body["username"] == "ada"
    (organisation,) = body["organisations"]
    assert organisation["role"] == "viewer"
    assert organisation["apps"] == [{"id": str(registered.app.id), "name": registered.app.name}]


def test_an_app_key_is_no_person(secret_client):
    assert secret_client.get(ME).status_code == 401


def test_a_session_creates_a_personal_key_shown_once(django_user_model):
    user = django_user_model.objects.create_user("grace", "grace@example.com", "pw")
    client = Client(enforce_csrf_checks=False)
    client.force_login(user)
    response = client.post(KEYS, {"name": "laptop"}, content_type="application/json")
    assert response.status_code == 201
    assert response["Cache-Control"] == "no-store"
    raw = response.json()["apiKey"]
    assert raw.startswith("uk_") and response.json()["key"]["prefix"] == raw[:11] + "…"
    listed = client.get(KEYS).json()
    assert [key["name"] for key in listed] == ["laptop"]
    assert raw not in json.dumps(listed)
    assert AuditEntry.objects.filter(action=AuditAction.PERSONAL_KEY_CREATED, actor_user=user).exists()


def test_a_personal_key_cannot_create_another(viewer):
    response = viewer.client.post(KEYS, {"name": "more"}, format="json")
    assert response.status_code == 403
    assert response.json()["code"] == "session_required"
    assert PersonalApiKey.objects.filter(user=viewer.user).count() == 1


def test_a_person_revokes_their_own_key_with_it(viewer, registered):
    key = PersonalApiKey.objects.get(user=viewer.user)
    response = viewer.client.post(f"{KEYS}/{key.id}/revoke")
    assert response.status_code == 200
    assert response.json()["status"] == "revoked"
    assert viewer.client.get(SUMMARY, {"appId": registered.app.id}).status_code == 401
    entry = AuditEntry.objects.get(action=AuditAction.PERSONAL_KEY_REVOKED)
    assert (entry.actor_user, entry.actor_key, entry.target_label) == (viewer.user, key.prefix, key.prefix)


def test_another_persons_key_is_not_found(person, viewer):
    someone = person("bob")
    theirs = PersonalApiKey.objects.get(user=someone.user)
    assert viewer.client.post(f"{KEYS}/{theirs.id}/revoke").status_code == 404
    assert PersonalApiKey.objects.get(pk=theirs.pk).status == "active"


def test_the_commands_create_a_key_and_revoke_it_only_with_yes(django_user_model, capsys):
    user = django_user_model.objects.create_user("lin", "lin@example.com", "pw")
    call_command("personal_key_create", "--user", "LIN@example.com", "--name", "cli")
    out = capsys.readouterr().out
    raw = next(word for word in out.split() if word.startswith("uk_"))
    key = personal_key_authenticate(raw_key=raw)
    assert key.user == user and key.name == "cli"
    call_command("personal_key_revoke", key.prefix)
    assert "Dry run" in capsys.readouterr().out
    assert PersonalApiKey.objects.get(pk=key.pk).status == "active"
    call_command("personal_key_revoke", key.prefix, "--yes")
    assert PersonalApiKey.objects.get(pk=key.pk).status == "revoked"
    assert (
        AuditEntry.objects.get(action=AuditAction.PERSONAL_KEY_REVOKED).actor_label == "manage.py personal_key_revoke"
    )


def test_the_admin_lists_personal_keys_read_only_and_revokes_them(admin_client, viewer):
    key = PersonalApiKey.objects.get(user=viewer.user)
    page = admin_client.get("/admin/apikeys/personalapikey/").content.decode()
    assert key.prefix in page and viewer.raw_key not in page
    assert admin_client.get("/admin/apikeys/personalapikey/add/").status_code == 403
    admin_client.post("/admin/apikeys/personalapikey/", {"action": "revoke_keys", "_selected_action": [str(key.id)]})
    assert PersonalApiKey.objects.get(pk=key.pk).status == "revoked"
