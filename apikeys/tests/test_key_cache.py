"""The key cache (apikeys/key_cache.py), switched on in every test here so it runs on both back ends:
local memory is one shared cache within the single test process, as Redis is across workers."""

from datetime import timedelta

import psycopg
import pytest
import redis
from django.conf import settings
from django.db import OperationalError, connection
from django.test.utils import CaptureQueriesContext

from apikeys import key_cache, keys, services
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


@pytest.mark.skipif(not settings.REDIS_URL, reason="the shared round trip is a Redis pipeline")
def test_a_known_key_reaches_the_insert_after_one_redis_round_trip(client_for, registered, monkeypatch):
    """The key lookup and the rate-limit count share a round trip; the other one is the report-cache
    generation bump after the insert."""
    client = client_for(registered.secret_key.raw)
    assert client.post(COLLECT, {"event": "first"}, format="json").status_code == 201  # the rate is learnt
    round_trips = []
    send = redis.connection.Connection.send_packed_command
    monkeypatch.setattr(
        redis.connection.Connection,
        "send_packed_command",
        lambda connection, command, check_health=True: round_trips.append(command) or send(connection, command),
    )

    assert client.post(COLLECT, {"event": "second"}, format="json").status_code == 201

    assert len(round_trips) == 2


def test_the_rate_limit_counts_every_request_whether_or_not_the_lookup_counted_it(client_for, make_key):
    """The first request of a key is counted by the throttle, the next ones with the key lookup."""
    client = client_for(make_key(ingest_rate="3/m").raw)
    statuses = [client.post(COLLECT, {"event": "e"}, format="json").status_code for _ in range(4)]
    assert statuses == [201, 201, 201, 429]


def test_a_changed_rate_applies_from_the_next_request(client_for, make_key):
    issued = make_key(ingest_rate="100/m")
    client = client_for(issued.raw)
    assert [client.post(COLLECT, {"event": "e"}, format="json").status_code for _ in range(2)] == [201, 201]

    issued.api_key.ingest_rate = "2/m"
    issued.api_key.save()

    statuses = [client.post(COLLECT, {"event": "e"}, format="json").status_code for _ in range(3)]
    assert statuses == [201, 201, 429]


def test_a_forged_key_with_another_keys_lookup_id_does_not_use_up_that_keys_limit(client_for, make_key):
    """The lookup id is shown in logs and pages; only the whole key may be counted before it is checked."""
    victim = make_key(ingest_rate="3/m")
    client = client_for(victim.raw)
    assert client.post(COLLECT, {"event": "e"}, format="json").status_code == 201  # the rate is learnt
    body = f"sk_{victim.api_key.lookup_id}{'A' * 32}"
    forger = client_for(body + keys.checksum(body))  # well formed, valid checksum, wrong secret

    assert {forger.post(COLLECT, {"event": "e"}, format="json").status_code for _ in range(6)} <= {401, 429}

    assert [client.post(COLLECT, {"event": "e"}, format="json").status_code for _ in range(3)] == [201, 201, 429]


@pytest.mark.django_db(transaction=True)  # autocommit, as a server runs: no test transaction to break
def test_a_cached_key_works_and_tries_its_use_once_a_minute_while_the_database_is_down(client_for, registered):
    """The last-use write is the one query a cached key makes: with the database down it is logged and
    skipped, and not tried again by every request (each would wait DB_CONNECT_TIMEOUT for a silent host)."""
    client = client_for(registered.secret_key.raw)
    key_cache.store(api_key_authenticate(raw_key=registered.secret_key.raw))
    attempts = []

    def database_down(execute, sql, params, many, context):
        if sql.startswith("UPDATE") and "last_used_at" in sql:
            attempts.append(sql)
            raise OperationalError("server closed the connection") from psycopg.errors.AdminShutdown("terminating")
        return execute(sql, params, many, context)

    with connection.execute_wrapper(database_down):
        statuses = [client.get(KEYS).status_code for _ in range(3)]
    assert statuses == [200] * 3
    assert len(attempts) == 1
