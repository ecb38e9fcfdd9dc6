import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.core.cache import cache

from analytics_project import health
from analytics_project.tests.conftest import COLLECT
from apikeys import keys
from apikeys.keys import KeyKind
from events import buffer

ROOT = Path(__file__).resolve().parents[2]


def test_health_is_200_with_database_and_cache_up(api_client, db):
    response = api_client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "cache": "ok", "ingest": {"mode": "direct"}}


def run_with_environment(code: str, **env) -> subprocess.CompletedProcess:
    """Run Django in a fresh process with its own environment: a really unreachable database."""
    environment = {key: value for key, value in os.environ.items() if key not in ("DATABASE_URL", "SQLITE_PATH")}
    environment.update(env)
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=60
    )


CLIENT_REQUESTS = """
import json, django
django.setup()
from django.test import Client
client = Client()
out = {}
for path in ["/health", "/api/auth/keys"]:
    response = client.get(path, HTTP_X_API_KEY="sk_" + "a" * 46)
    out[path] = [response.status_code, response.json(), response.headers.get("Retry-After")]
print(json.dumps(out))
"""


@pytest.mark.parametrize(
    "unreachable",
    [
        {"DATABASE_URL": "postgresql://postgres@127.0.0.1:1/nothing", "DB_CONNECT_TIMEOUT": "2"},
        {"SQLITE_PATH": "/nonexistent-directory/db.sqlite3"},
    ],
    ids=["postgresql", "sqlite"],
)
def test_health_and_api_are_503_with_the_database_unreachable(unreachable):
    result = run_with_environment(CLIENT_REQUESTS, DJANGO_SETTINGS_MODULE="analytics_project.settings", **unreachable)
    assert result.returncode == 0, result.stderr
    answers = json.loads(result.stdout.strip().splitlines()[-1])
    status, body, retry_after = answers["/health"]
    assert status == 503
    assert body["database"] == "unavailable"
    assert int(retry_after) > 0
    api_status, api_body, _ = answers["/api/auth/keys"]
    # The malformed key is refused before any database work; a well-formed one would need the database.
    assert api_status == 401 and api_body["code"] == "invalid_api_key"
    assert "Traceback" not in result.stdout


def test_api_answers_503_with_retry_after_when_the_database_is_down():
    code = CLIENT_REQUESTS.replace('"sk_" + "a" * 46', repr(keys.generate(KeyKind.SECRET).raw))
    result = run_with_environment(code, SQLITE_PATH="/nonexistent-directory/db.sqlite3")
    status, body, retry_after = json.loads(result.stdout.strip().splitlines()[-1])["/api/auth/keys"]
    assert status == 503
    assert body["code"] == "database_unavailable"
    assert int(retry_after) > 0


def test_a_probe_running_inside_another_does_not_make_the_cache_look_down(api_client, db, monkeypatch):
    """Two workers probing at once: the second one's set lands between the first one's set and get."""
    real_get = cache.get
    inner_results = []

    def get_after_another_probe(key, *args, **kwargs):
        monkeypatch.setattr(cache, "get", real_get)  # only the outer probe is interleaved
        inner_results.append(health._cache_ok())
        return real_get(key, *args, **kwargs)

    monkeypatch.setattr(cache, "get", get_after_another_probe)
    response = api_client.get("/health")
    assert inner_results == [True]
    assert response.json() == {"status": "ok", "database": "ok", "cache": "ok", "ingest": {"mode": "direct"}}


def test_health_reports_a_dead_cache_as_degraded_but_200(api_client, db, dead_redis):
    response = api_client.get("/health")
    assert response.status_code == 200
    assert response.json() == {
        "status": "degraded",
        "database": "ok",
        "cache": "unavailable",
        "ingest": {"mode": "direct"},
    }


def test_buffered_health_reports_the_queue_a_worker_is_holding_part_of(ingest_buffer, secret_client):
    for name in ["first", "second"]:
        response = secret_client.post(COLLECT, {"event": name, "userId": "u"}, format="json")
        assert response.status_code == 202, response.content
    buffer.ensure_group(ingest_buffer)
    buffer.read_new(ingest_buffer, consumer="slow-worker", count=1, block_ms=1)  # taken, not yet stored
    body = secret_client.get("/health").json()
    ingest = body.pop("ingest")
    assert body == {"status": "ok", "database": "ok", "cache": "ok"}
    assert 0 < ingest.pop("oldest_age_seconds") < 5
    assert ingest == {
        "mode": "buffered",
        "status": "ok",
        "length": 2,
        "pending": 1,
        "dead_letters": 0,
        "workers_seen": 1,
    }


@pytest.mark.parametrize(("threshold", "status", "ingest_status"), [(30, "degraded", "lagging"), (60, "ok", "ok")])
def test_buffered_health_degrades_once_the_oldest_entry_is_older_than_the_threshold(
    ingest_buffer, api_client, settings, threshold, status, ingest_status
):
    settings.INGEST_LAG_DEGRADED_SECONDS = threshold
    queued_45_seconds_ago = f"{int((time.time() - 45) * 1000)}-0"
    ingest_buffer.xadd(buffer.STREAM, {"app": "a", "rows": "", "n": 0}, id=queued_45_seconds_ago)
    response = api_client.get("/health")
    assert response.status_code == 200
    assert (response.json()["status"], response.json()["ingest"]["status"]) == (status, ingest_status)
    assert 45 <= response.json()["ingest"]["oldest_age_seconds"] < 50


def test_buffered_health_without_redis_is_degraded_with_the_ingest_figures_unavailable(
    api_client, db, dead_redis, settings
):
    settings.INGEST_MODE = "buffered"
    response = api_client.get("/health")
    assert response.status_code == 200
    assert response.json() == {
        "status": "degraded",
        "database": "ok",
        "cache": "unavailable",
        "ingest": {"mode": "buffered", "status": "unavailable"},
    }


def test_health_in_clickhouse_mode_reports_clickhouse_beside_the_database(api_client, db, clickhouse_settings):
    response = api_client.get("/health")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "database": "ok",
        "clickhouse": "ok",
        "cache": "ok",
        "ingest": {"mode": "direct"},
    }


def test_health_is_503_when_clickhouse_is_unreachable_as_when_the_database_is(api_client, db, settings):
    settings.ANALYTICS_STORE = "clickhouse"
    settings.CLICKHOUSE_URL = "clickhouse://default@127.0.0.1:1/x"
    started = time.monotonic()
    response = api_client.get("/health")
    assert time.monotonic() - started < health.CLICKHOUSE_TIMEOUT_SECONDS + 1
    assert response.status_code == 503
    assert int(response["Retry-After"]) > 0
    assert response.json()["status"] == "unavailable"
    assert (response.json()["database"], response.json()["clickhouse"]) == ("ok", "unavailable")
