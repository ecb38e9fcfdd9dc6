import time

import pytest
from django.utils import timezone

from apikeys.models import ApiKey

KEYS = "/api/auth/keys"


def test_current_key_endpoint_describes_the_app_and_its_keys(secret_client, registered):
    body = secret_client.get("/api/auth/api-key").json()
    assert body["app"]["id"] == str(registered.app.id)
    assert body["key"]["id"] == str(registered.secret_key.api_key.id)
    assert {key["id"] for key in body["keys"]} == {
        str(registered.secret_key.api_key.id),
        str(registered.publishable_key.api_key.id),
    }
    assert all(key["prefix"].endswith("…") for key in body["keys"])


def test_list_shows_only_the_callers_keys(secret_client, registered, other_app):
    ids = {key["id"] for key in secret_client.get(KEYS).json()}
    assert ids == {str(registered.secret_key.api_key.id), str(registered.publishable_key.api_key.id)}


def test_create_key_of_a_kind_returns_it_once(secret_client, client_for, registered):
    response = secret_client.post(KEYS, {"kind": "publishable", "name": "web", "expiresInDays": 0}, format="json")
    assert response.status_code == 201
    body = response.json()
    assert body["apiKey"].startswith("pk_")
    assert body["key"]["expiresAt"] is None and body["key"]["name"] == "web"
    assert ApiKey.objects.get(pk=body["key"]["id"]).app_id == registered.app.id
    listed = secret_client.get(f"{KEYS}/{body['key']['id']}").json()
    assert "apiKey" not in listed


def test_create_key_rejects_a_bad_kind_and_rate(secret_client):
    response = secret_client.post(KEYS, {"kind": "admin", "ingestRate": "lots"}, format="json")
    assert response.status_code == 400
    assert set(response.json()["fields"]) == {"kind", "ingestRate"}


@pytest.mark.parametrize("field", ["ingestRate", "reportRate"])
@pytest.mark.parametrize(
    "rate",
    ["1/0m", "0/m", "10000000000000000/m"],
    ids=["zero-period", "zero-count", "longer-than-the-column"],
)
def test_create_key_refuses_a_zero_or_overlong_rate_naming_the_field(secret_client, registered, field, rate):
    response = secret_client.post(KEYS, {"kind": "secret", field: rate}, format="json")
    assert response.status_code == 400
    assert set(response.json()["fields"]) == {field}
    assert ApiKey.objects.filter(app=registered.app).count() == 2


def test_rotation_keeps_the_old_key_working_during_the_grace_period(secret_client, client_for, registered):
    old = registered.publishable_key
    response = secret_client.post(f"{KEYS}/{old.api_key.id}/regenerate", {"graceSeconds": 2}, format="json")
    assert response.status_code == 201
    body = response.json()
    assert body["previousKey"]["status"] == "rotating"
    assert body["key"]["kind"] == "publishable"
    new_client, old_client = client_for(body["apiKey"]), client_for(old.raw)
    # Publishable keys authenticate but may not manage keys: 403 proves authentication passed.
    assert old_client.get(KEYS).status_code == 403
    assert new_client.get(KEYS).status_code == 403
    time.sleep(2.1)
    refused = old_client.get(KEYS)
    assert refused.status_code == 401
    assert refused.json()["code"] == "api_key_revoked"
    assert new_client.get(KEYS).status_code == 403


def test_rotation_with_zero_grace_refuses_the_old_key_at_once(secret_client, client_for, registered):
    old = registered.secret_key
    response = secret_client.post(f"{KEYS}/{old.api_key.id}/regenerate", {"graceSeconds": 0}, format="json")
    assert response.status_code == 201
    assert client_for(old.raw).get(KEYS).status_code == 401
    assert client_for(response.json()["apiKey"]).get(KEYS).status_code == 200


def test_rotation_defaults_to_a_24_hour_grace(secret_client, registered):
    before = timezone.now()
    secret_client.post(f"{KEYS}/{registered.publishable_key.api_key.id}/regenerate", {}, format="json")
    revoked_at = ApiKey.objects.get(pk=registered.publishable_key.api_key.pk).revoked_at
    assert abs((revoked_at - before).total_seconds() - 86400) < 5


def test_a_revoked_key_cannot_be_rotated(secret_client, registered):
    target = registered.publishable_key.api_key
    secret_client.post(f"{KEYS}/{target.id}/revoke")
    response = secret_client.post(f"{KEYS}/{target.id}/regenerate", {}, format="json")
    assert response.status_code == 400
    assert "key" in response.json()["fields"]


def test_negative_grace_is_400(secret_client, registered):
    response = secret_client.post(
        f"{KEYS}/{registered.publishable_key.api_key.id}/regenerate", {"graceSeconds": -1}, format="json"
    )
    assert response.status_code == 400
    assert "graceSeconds" in response.json()["fields"]


def test_revoke_endpoint_refuses_the_key_at_once(secret_client, client_for, registered):
    response = secret_client.post(f"{KEYS}/{registered.publishable_key.api_key.id}/revoke")
    assert response.status_code == 200
    assert response.json()["status"] == "revoked"
    assert client_for(registered.publishable_key.raw).get(KEYS).status_code == 401


def test_seed_style_revoke_by_value_with_regenerate(secret_client, client_for, registered, make_key):
    extra = make_key(name="ci")
    response = secret_client.post("/api/auth/revoke", {"apiKey": extra.raw, "regenerate": True}, format="json")
    assert response.status_code == 200
    body = response.json()
    assert body["revoked"]["status"] == "revoked"
    assert body["replacement"]["key"]["name"] == "ci"
    assert client_for(extra.raw).get(KEYS).status_code == 401
    assert client_for(body["replacement"]["apiKey"]).get(KEYS).status_code == 200


def test_seed_style_revoke_by_id_without_replacement(secret_client, registered):
    response = secret_client.post(
        "/api/auth/revoke", {"keyId": str(registered.publishable_key.api_key.id)}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["replacement"] is None


def test_seed_style_revoke_needs_exactly_one_target(secret_client, registered):
    both = {"keyId": str(registered.publishable_key.api_key.id), "apiKey": registered.publishable_key.raw}
    assert secret_client.post("/api/auth/revoke", both, format="json").status_code == 400
    assert secret_client.post("/api/auth/revoke", {}, format="json").status_code == 400


@pytest.mark.parametrize(("field", "setting"), [("ingestRate", "INGEST_RATE"), ("reportRate", "REPORT_RATE")])
def test_a_key_cannot_be_given_a_higher_rate_than_the_servers_through_the_api(secret_client, settings, field, setting):
    setattr(settings, setting, "600/m")
    keys_before = ApiKey.objects.count()
    for too_high in ("1000000/s", "601/m", "11/s", "36001/h", "36000/h", "8640000/d"):
        response = secret_client.post(KEYS, {"kind": "secret", field: too_high}, format="json")
        assert response.status_code == 400, too_high
        assert field in response.json()["fields"], response.json()
    assert ApiKey.objects.count() == keys_before
    for allowed in ("600/m", "10/s", "1/2h", "300/30s"):
        response = secret_client.post(KEYS, {"kind": "secret", field: allowed}, format="json")
        assert response.status_code == 201, (allowed, response.json())
        assert response.json()["key"][field] == allowed
