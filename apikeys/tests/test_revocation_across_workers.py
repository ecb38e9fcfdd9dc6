import io
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.error import HTTPError

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]
KEY_LIST = "/api/auth/keys"

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="several worker processes share a database server; the embedded SQLite default runs one process",
)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _database_url() -> str:
    db = connection.settings_dict  # the test database, which this test commits to (transaction=True)
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return f"postgresql://{db['USER']}{password}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def _status(base_url: str, raw_key: str) -> int:
    request = urllib.request.Request(base_url + KEY_LIST, headers={"X-API-Key": raw_key})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except HTTPError as error:
        return error.code


@pytest.fixture
def gunicorn_with_two_workers():
    port = _free_port()
    environment = {
        **os.environ,
        "DATABASE_URL": _database_url(),
        "REDIS_URL": settings.REDIS_URL or "",
        "BIND": f"127.0.0.1:{port}",
        "WEB_CONCURRENCY": "2",
        "LOG_LEVEL": "WARNING",
    }
    if not environment["REDIS_URL"]:
        del environment["REDIS_URL"]
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "gunicorn"), "-c", "gunicorn.conf.py", "analytics_project.wsgi"],
        cwd=ROOT,
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                urllib.request.urlopen(base_url + "/health", timeout=1)
                break
            except OSError:  # not listening yet, or too busy starting to answer
                time.sleep(0.1)
        else:
            pytest.fail("gunicorn did not start")
        yield base_url
    finally:
        server.terminate()
        server.wait(timeout=20)


@pytest.mark.django_db(transaction=True)
def test_a_revoked_key_is_refused_at_once_by_every_worker_process(gunicorn_with_two_workers, registered):
    raw_key = registered.secret_key.raw
    # Enough requests that both workers have authenticated the key (and would hold it, had they a cache).
    assert {_status(gunicorn_with_two_workers, raw_key) for _ in range(20)} == {200}

    call_command("revoke_key", registered.secret_key.api_key.lookup_id, "--yes", stdout=io.StringIO())

    assert {_status(gunicorn_with_two_workers, raw_key) for _ in range(20)} == {401}
