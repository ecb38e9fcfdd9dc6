import io
import urllib.request
from datetime import timedelta
from urllib.error import HTTPError

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.utils import timezone

from apikeys import keys
from apikeys.keys import KeyKind
from apikeys.models import ApiKey

KEY_LIST = "/api/auth/keys"


def _with_wrong_checksum(raw_key: str) -> str:
    """The key with its last checksum character replaced by one that always differs from it."""
    return raw_key[:-1] + ("1" if raw_key.endswith("0") else "0")


def test_missing_key_is_401_authentication_required(api_client, db):
    response = api_client.get(KEY_LIST)
    assert response.status_code == 401
    assert response.json()["code"] == "authentication_required"
    assert response["WWW-Authenticate"]


@pytest.mark.parametrize(
    "raw_key",
    [
        "not-a-key",
        "sk_" + "A" * 46,  # right shape, wrong checksum
        _with_wrong_checksum(keys.generate(KeyKind.SECRET).raw),
    ],
)
def test_malformed_keys_are_refused_without_a_database_query(api_client, db, django_assert_num_queries, raw_key):
    assert keys.parse(raw_key) is None
    with django_assert_num_queries(0):
        response = api_client.get(KEY_LIST, HTTP_X_API_KEY=raw_key)
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_api_key"


def test_unknown_key_with_a_valid_checksum_is_401(api_client, db):
    response = api_client.get(KEY_LIST, HTTP_X_API_KEY=keys.generate(KeyKind.SECRET).raw)
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_api_key"


def test_key_with_a_valid_lookup_id_but_wrong_secret_is_401(api_client, registered):
    stored = registered.secret_key.api_key
    body = f"sk_{stored.lookup_id}{'x' * 32}"
    forged = body + keys.checksum(body)
    response = api_client.get(KEY_LIST, HTTP_X_API_KEY=forged)
    assert response.status_code == 401


def test_revoked_key_is_401(client_for, make_key):
    issued = make_key()
    ApiKey.objects.filter(pk=issued.api_key.pk).update(revoked_at=timezone.now())
    response = client_for(issued.raw).get(KEY_LIST)
    assert response.status_code == 401
    assert response.json()["code"] == "api_key_revoked"


def test_expired_key_is_401(client_for, make_key):
    issued = make_key()
    ApiKey.objects.filter(pk=issued.api_key.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    response = client_for(issued.raw).get(KEY_LIST)
    assert response.status_code == 401
    assert response.json()["code"] == "api_key_expired"


def test_key_created_with_zero_ttl_never_expires(make_key):
    assert make_key(ttl_days=0).api_key.expires_at is None


def test_bearer_authorization_header_is_accepted(api_client, registered):
    response = api_client.get(KEY_LIST, HTTP_AUTHORIZATION=f"Bearer {registered.secret_key.raw}")
    assert response.status_code == 200


def test_a_key_in_the_query_string_is_refused(api_client, registered):
    response = api_client.get(f"{KEY_LIST}?apiKey={registered.secret_key.raw}")
    assert response.status_code == 400
    assert response.json()["code"] == "key_in_query_string"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/api/auth/api-key"),
        ("get", KEY_LIST),
        ("post", KEY_LIST),
        ("get", "/api/auth/keys/{id}"),
        ("post", "/api/auth/keys/{id}/regenerate"),
        ("post", "/api/auth/keys/{id}/revoke"),
        ("post", "/api/auth/revoke"),
    ],
)
def test_publishable_key_is_403_on_key_management(publishable_client, registered, method, path):
    url = path.format(id=registered.publishable_key.api_key.id)
    response = getattr(publishable_client, method)(url, {}, format="json")
    assert response.status_code == 403
    assert response.json()["code"] == "secret_key_required"
    assert ApiKey.objects.filter(revoked_at__isnull=False).count() == 0


@pytest.mark.parametrize(
    "path", ["/api/auth/keys/{id}", "/api/auth/keys/{id}/regenerate", "/api/auth/keys/{id}/revoke"]
)
def test_another_apps_key_id_is_404(secret_client, other_app, path):
    method = secret_client.get if path.endswith("{id}") else secret_client.post
    response = method(path.format(id=other_app.secret_key.api_key.id), {}, format="json")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    other = ApiKey.objects.get(pk=other_app.secret_key.api_key.pk)
    assert other.revoked_at is None and other.replaced_by is None


def test_revoking_another_apps_key_by_its_value_is_404(secret_client, other_app):
    response = secret_client.post("/api/auth/revoke", {"apiKey": other_app.secret_key.raw}, format="json")
    assert response.status_code == 404
    assert ApiKey.objects.get(pk=other_app.secret_key.api_key.pk).revoked_at is None


def test_a_malformed_key_id_is_404(secret_client):
    response = secret_client.get("/api/auth/keys/not-a-uuid")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_last_used_is_written_at_most_once_a_minute(secret_client, registered, django_assert_num_queries):
    secret_client.get(KEY_LIST)
    first_use = ApiKey.objects.get(pk=registered.secret_key.api_key.pk).last_used_at
    assert first_use is not None
    secret_client.get(KEY_LIST)
    assert ApiKey.objects.get(pk=registered.secret_key.api_key.pk).last_used_at == first_use
    ApiKey.objects.filter(pk=registered.secret_key.api_key.pk).update(last_used_at=first_use - timedelta(minutes=2))
    cache.clear()  # two minutes on, the key cache's entry and its last-use marker have expired too
    secret_client.get(KEY_LIST)
    assert ApiKey.objects.get(pk=registered.secret_key.api_key.pk).last_used_at > first_use


def test_failed_authentication_is_rate_limited_per_ip(api_client, registered, settings):
    settings.AUTH_FAILURE_RATE = "3/m"
    bad = keys.generate(KeyKind.SECRET).raw
    statuses = [api_client.get(KEY_LIST, HTTP_X_API_KEY=bad).status_code for _ in range(3)]
    assert statuses == [401, 401, 401]
    response = api_client.get(KEY_LIST, HTTP_X_API_KEY=bad)
    assert response.status_code == 429
    assert response.json()["code"] == "rate_limited"
    assert int(response["Retry-After"]) >= 1
    assert api_client.get(KEY_LIST, HTTP_X_API_KEY=bad, REMOTE_ADDR="10.9.9.9").status_code == 401
    # A working key is never locked out by another client's failures behind the same address.
    assert api_client.get(KEY_LIST, HTTP_X_API_KEY=registered.secret_key.raw).status_code == 200


@pytest.mark.django_db(transaction=True)
def test_revocation_applies_at_once_to_a_separately_running_server(live_server, registered):
    """The live server answers from its own thread and database connection: no stale auth state."""

    def get_status() -> int:
        request = urllib.request.Request(live_server.url + KEY_LIST, headers={"X-API-Key": registered.secret_key.raw})
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status
        except HTTPError as error:
            return error.code

    assert get_status() == 200
    call_command("revoke_key", registered.secret_key.api_key.lookup_id, "--yes", stdout=io.StringIO())
    assert get_status() == 401
