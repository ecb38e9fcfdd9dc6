"""The key cache (apikeys/key_cache.py), switched on in every test here so it runs on both back ends:
local memory is one shared cache within the single test process, as Redis is across workers."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apikeys import key_cache, services
from apikeys.models import ApiKey, KeyStatus
from apikeys.selectors import api_key_authenticate

KEYS = "/api/auth/keys"
COLLECT = "/api/analytics/collect"


@pytest.fixture(autouse=True)
def _key_cache_on(settings):
    settings.API_KEY_CACHE_SECONDS = 60


def _updates_of_last_used(queries) -> int:
    return sum(1 for query in queries if query["sql"].startswith("UPDATE") and "last_used_at" in query["sql"])


def test_a_cached_key_authenticates_without_a_database_query(registered, django_assert_num_queries):
    raw = registered.secret_key.raw
    assert api_key_authenticate(raw_key=raw) is not None
    with django_assert_num_queries(0):
        cached = api_key_authenticate(raw_key=raw)
    assert cached.pk == registered.secret_key.api_key.pk
    assert cached.app.pk == registered.app.pk


def test_without_the_cache_every_authentication_reads_the_database(settings, registered, django_assert_num_queries):
    settings.API_KEY_CACHE_SECONDS = 0
    api_key_authenticate(raw_key=registered.secret_key.raw)
    with django_assert_num_queries(1):
        api_key_authenticate(raw_key=registered.secret_key.raw)


@pytest.mark.parametrize(
    "change",
    [
        lambda issued: services.api_key_revoke(api_key=issued.api_key),
        lambda issued: services.api_key_rotate(api_key=issued.api_key, grace=timedelta(0)),
    ],
    ids=["revoke", "rotate-without-grace"],
)
def test_a_cached_key_is_refused_at_once_after_a_change(change, client_for, registered):
    client = client_for(registered.secret_key.raw)
    assert client.get(KEYS).status_code == 200  # now cached

    change(registered.secret_key)

    assert client.get(KEYS).status_code == 401


def test_a_change_to_the_app_applies_at_once_to_its_cached_keys(client_for, registered):
    client = client_for(registered.publishable_key.raw)
    event = {"event": "signup"}
    assert client.post(COLLECT, event, format="json", HTTP_ORIGIN="https://shop.example").status_code == 201

    registered.app.domains = ["other.example"]
    registered.app.save()  # as the admin saves it

    response = client.post(COLLECT, event, format="json", HTTP_ORIGIN="https://shop.example")
    assert response.status_code == 403
    assert response.json()["code"] == "origin_not_allowed"


def test_deleting_an_app_refuses_its_cached_keys(client_for, registered):
    client = client_for(registered.secret_key.raw)
    assert client.post(COLLECT, {"event": "signup"}, format="json").status_code == 201

    registered.app.delete()

    assert client.post(COLLECT, {"event": "signup"}, format="json").status_code == 401


def test_a_row_read_before_a_revocation_cannot_be_stored_after_it(registered):
    read_before = ApiKey.objects.select_related("app").get(pk=registered.secret_key.api_key.pk)
    services.api_key_revoke(api_key=registered.secret_key.api_key)

    key_cache.store(read_before)  # a request that fetched the row just before the revocation, finishing late

    assert api_key_authenticate(raw_key=registered.secret_key.raw).status == KeyStatus.REVOKED


def test_with_the_cache_down_keys_are_read_from_the_database(dead_redis, registered):
    dead_redis.API_KEY_CACHE_SECONDS = 60
    assert api_key_authenticate(raw_key=registered.secret_key.raw).pk == registered.secret_key.api_key.pk


def test_a_cached_key_records_its_use_once_a_minute(client_for, registered):
    client = client_for(registered.secret_key.raw)
    with CaptureQueriesContext(connection) as queries:
        for _ in range(3):
            assert client.get(KEYS).status_code == 200
    assert _updates_of_last_used(queries.captured_queries) == 1
    assert ApiKey.objects.get(pk=registered.secret_key.api_key.pk).last_used_at is not None
