import json
import logging

import pytest

from analytics_project.logging import JsonFormatter
from apikeys import keys
from apikeys import services as services_keys
from apikeys.models import ApiKey, App
from organisations import services

REGISTER = "/api/auth/register"
VALID = {"name": "Shop", "ownerEmail": "owner@shop.example", "domains": ["shop.example"], "timezone": "Europe/Berlin"}


def test_registration_returns_both_keys_once_and_they_work(api_client, client_for, db):
    response = api_client.post(REGISTER, VALID, format="json")
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"appId", "name", "apiKey", "publishableKey", "keyPrefix", "expiresAt"}
    assert body["apiKey"].startswith("sk_") and body["publishableKey"].startswith("pk_")
    assert body["keyPrefix"] == body["apiKey"][:11] + "…"
    assert response["Cache-Control"] == "no-store"
    app = App.objects.get(pk=body["appId"])
    assert (app.name, app.timezone, app.domains) == ("Shop", "Europe/Berlin", ["shop.example"])
    assert client_for(body["apiKey"]).get("/api/auth/keys").status_code == 200


def test_registration_puts_the_app_in_a_new_organisation_its_owner_email_claims_on_sign_in(
    api_client, client_for, django_user_model, db
):
    body = api_client.post(REGISTER, {**VALID, "ownerEmail": "Owner@Shop.example"}, format="json").json()
    organisation = App.objects.get(pk=body["appId"]).organisation
    assert (organisation.name, organisation.pending_owner_email) == ("Shop", "owner@shop.example")
    assert not organisation.memberships.exists()
    app = client_for(body["apiKey"]).get("/api/auth/api-key").json()["app"]
    assert app["organisationId"] == str(organisation.pk)

    owner = django_user_model.objects.create_user("owner", "owner@shop.example", "pw")
    services.organisations_claim_pending(user=owner, verified_email=owner.email)
    key = services_keys.personal_key_create(user=owner)
    response = client_for(key.raw).get("/api/analytics/export", {"appId": body["appId"]})
    assert response.status_code == 200  # the owner reads the app's reports, the export included


def test_an_owner_email_over_254_characters_is_400_naming_the_field(api_client, db):
    email = "owner@" + ".".join(["a" * 60] * 4) + ".example"  # a valid address, too long for the column
    response = api_client.post(REGISTER, {**VALID, "ownerEmail": email}, format="json")
    assert response.status_code == 400
    assert set(response.json()["fields"]) == {"ownerEmail"}
    assert App.objects.count() == 0


def test_the_database_holds_only_the_lookup_id_and_digest(api_client, db):
    raw = api_client.post(REGISTER, VALID, format="json").json()["apiKey"]
    stored = ApiKey.objects.get(lookup_id=raw[3:11])
    assert stored.digest == keys.digest(raw)
    secret_part = raw[11:43]
    for field in ApiKey._meta.concrete_fields:
        assert secret_part not in str(getattr(stored, field.attname))


def test_no_later_response_admin_page_or_log_line_contains_the_secret(api_client, client_for, admin_client, caplog, db):
    caplog.set_level(logging.DEBUG)
    raw = api_client.post(REGISTER, VALID, format="json").json()["apiKey"]
    secret_part = raw[11:43]
    caplog.clear()
    client = client_for(raw)
    stored = ApiKey.objects.get(lookup_id=raw[3:11])
    pages = [
        client.get("/api/auth/api-key"),
        client.get("/api/auth/keys"),
        client.get(f"/api/auth/keys/{stored.id}"),
        client.post(f"/api/auth/keys/{stored.id}/revoke"),
        admin_client.get("/admin/apikeys/apikey/"),
        admin_client.get(f"/admin/apikeys/apikey/{stored.id}/change/"),
        admin_client.get(f"/admin/apikeys/app/{stored.app_id}/change/"),
    ]
    for page in pages:
        assert page.status_code == 200, page
        assert secret_part not in page.content.decode()
    formatter = JsonFormatter()
    lines = [formatter.format(record) for record in caplog.records]
    assert any(json.loads(line).get("keyPrefix") == stored.prefix for line in lines)
    assert not any(secret_part in line for line in lines)


def test_registration_over_the_per_ip_limit_is_429_with_retry_after(api_client, settings, db):
    settings.REGISTRATION_RATE = "3/h"
    for _ in range(3):
        assert api_client.post(REGISTER, VALID, format="json").status_code == 201
    response = api_client.post(REGISTER, VALID, format="json")
    assert response.status_code == 429
    assert response.json()["code"] == "rate_limited"
    assert int(response["Retry-After"]) > 0
    assert App.objects.count() == 3
    assert api_client.post(REGISTER, VALID, format="json", REMOTE_ADDR="10.1.2.3").status_code == 201


def test_forwarded_for_is_ignored_unless_proxies_are_trusted(api_client, settings, db):
    settings.REGISTRATION_RATE = "1/h"
    assert api_client.post(REGISTER, VALID, format="json", HTTP_X_FORWARDED_FOR="1.1.1.1").status_code == 201
    assert api_client.post(REGISTER, VALID, format="json", HTTP_X_FORWARDED_FOR="2.2.2.2").status_code == 429
    settings.TRUSTED_PROXY_COUNT = 1
    assert api_client.post(REGISTER, VALID, format="json", HTTP_X_FORWARDED_FOR="3.3.3.3").status_code == 201


@pytest.mark.parametrize("field", ["appId", "id", "keyPrefix", "digest", "lookupId", "apiKey"])
def test_client_sent_identity_fields_are_rejected_on_register(api_client, field, db):
    response = api_client.post(REGISTER, {**VALID, field: "attacker-chosen"}, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"
    assert field in response.json()["fields"]
    assert App.objects.count() == 0


@pytest.mark.parametrize("field", ["appId", "id", "prefix", "digest", "lookupId"])
def test_client_sent_identity_fields_are_rejected_on_key_create(secret_client, other_app, field):
    response = secret_client.post("/api/auth/keys", {"kind": "secret", field: str(other_app.app.id)}, format="json")
    assert response.status_code == 400
    assert field in response.json()["fields"]
    assert other_app.app.api_keys.count() == 2


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"domains": ["not a domain"]}, "domains"),
        ({"ownerEmail": "nope"}, "ownerEmail"),
        ({"name": ""}, "name"),
        ({"domains": "shop.example"}, "domains"),
    ],
)
def test_invalid_registration_fields_are_400_naming_the_field(api_client, change, field, db):
    response = api_client.post(REGISTER, {**VALID, **change}, format="json")
    assert response.status_code == 400
    assert field in response.json()["fields"]


def test_registration_can_be_closed(api_client, settings, db):
    settings.REGISTRATION_OPEN = False
    response = api_client.post(REGISTER, VALID, format="json")
    assert response.status_code == 403
    assert response.json()["code"] == "registration_closed"
    assert App.objects.count() == 0


def test_malformed_json_is_400(api_client, db):
    response = api_client.post(REGISTER, "{not json", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["code"] == "malformed_json"
