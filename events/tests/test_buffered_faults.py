"""Buffered ingestion under faults, with the worker (and the server) in processes of their own: a worker
killed mid-flush, a worker stopped mid-flush, and PostgreSQL itself stopped while events keep arriving."""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from urllib.error import HTTPError

import psycopg
import pytest
from django.conf import settings
from django.core.cache import caches
from django.db import connection
from django_redis.cache import RedisCache

from events import buffer
from events.models import Event
from events.tests.conftest import COLLECT, make_event

ROOT = Path(__file__).resolve().parents[2]
PG_BIN = next(iter(sorted(Path("/usr/lib/postgresql").glob("*/bin"))), None)

pytestmark = [
    pytest.mark.skipif(
        connection.vendor != "postgresql" or not isinstance(caches["default"], RedisCache),
        reason="buffered ingestion needs Redis and PostgreSQL",
    ),
    pytest.mark.django_db(transaction=True),  # the worker's process must see the app and key committed
]


def _url(db: dict) -> str:
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return f"postgresql://{db['USER']}{password}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def _environment(database_url: str, **extra) -> dict:
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": settings.REDIS_URL,
        "INGEST_MODE": "buffered",
        "INGEST_CLAIM_IDLE_MS": "1000",
        "DJANGO_SETTINGS_MODULE": "analytics_project.settings",
        **extra,
    }


def _worker(database_url: str, *arguments: str, **settings_env) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "manage.py", "ingest_worker", *arguments],
        cwd=ROOT,
        env=_environment(database_url, **settings_env),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _wait_for(condition, *, seconds: float, what: str):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if value := condition():
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def _queue(client, count: int, per_request: int = 100) -> list[dict]:
    events = [make_event(event="queued", userId=f"u{n}") for n in range(count)]
    for start in range(0, count, per_request):
        response = client.post(COLLECT, {"events": events[start : start + per_request]}, format="json")
        assert response.status_code == 202, response.content
    return events


@pytest.fixture
def queued_client(settings, client_for, registered):
    settings.INGEST_MODE = "buffered"
    return client_for(registered.secret_key.raw)


@pytest.fixture
def locked_events_table():
    """Another session holds the events table: a worker's COPY waits on it, mid-flush, until released."""
    with psycopg.connect(_url(connection.settings_dict)) as holder:
        holder.execute("LOCK TABLE events_event IN EXCLUSIVE MODE")
        yield holder
        holder.rollback()


def _insert_waiting() -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query ~ %s",
            ['(COPY|INSERT INTO) "events_event"'],
        )
        return cursor.fetchone()[0] > 0


def test_a_worker_killed_mid_flush_loses_nothing_and_doubles_nothing(queued_client, locked_events_table):
    events = _queue(queued_client, 3000)
    database_url = _url(connection.settings_dict)
    victim = _worker(database_url)
    _wait_for(_insert_waiting, seconds=20, what="the worker's COPY to wait on the lock")
    victim.send_signal(signal.SIGKILL)  # mid-flush: entries read and held, rows not committed
    victim.wait(timeout=10)
    locked_events_table.rollback()
    assert buffer.web_client().xpending(buffer.STREAM, buffer.GROUP)["pending"] > 0  # the dead worker's
    successor = _worker(database_url, "--until-empty")
    assert successor.wait(timeout=60) == 0
    assert Event.objects.count() == 3000
    assert {str(event_id) for event_id in Event.objects.values_list("event_id", flat=True)} == {
        event["eventId"] for event in events
    }
    assert buffer.web_client().xlen(buffer.STREAM) == 0


def test_sigterm_finishes_the_flush_in_hand_before_the_worker_exits(queued_client, locked_events_table):
    _queue(queued_client, 500)
    worker = _worker(_url(connection.settings_dict))
    _wait_for(_insert_waiting, seconds=20, what="the worker's COPY to wait on the lock")
    worker.send_signal(signal.SIGTERM)
    time.sleep(0.3)
    assert worker.poll() is None  # still finishing its flush
    locked_events_table.rollback()
    assert worker.wait(timeout=30) == 0
    assert Event.objects.count() == 500
    client = buffer.web_client()
    assert (client.xlen(buffer.STREAM), client.xpending(buffer.STREAM, buffer.GROUP)["pending"]) == (0, 0)


def test_a_flush_held_up_past_the_claim_timeout_is_not_taken_back_nor_stored_twice(queued_client, locked_events_table):
    events = _queue(queued_client, 600)  # six entries: a flush of two in hand, two more read ahead
    worker = _worker(_url(connection.settings_dict), INGEST_FLUSH_ROWS="200")
    try:
        _wait_for(_insert_waiting, seconds=20, what="the worker's COPY to wait on the lock")
        time.sleep(3.5)  # more than three claim timeouts (INGEST_CLAIM_IDLE_MS=1000)
        locked_events_table.rollback()
        client = buffer.web_client()
        _wait_for(lambda: not client.xlen(buffer.STREAM), seconds=30, what="the stream to empty")
    finally:
        worker.terminate()
        worker.wait(timeout=30)
    assert Event.objects.count() == len(events)
    figures = buffer.web_client().hgetall(buffer.METRICS)
    assert (int(figures[b"stored"]), int(figures.get(b"duplicates", 0))) == (600, 0)  # none handled twice
    assert buffer.dead_letters(buffer.web_client()) == []


# A database outage, for real: a PostgreSQL cluster of the test's own, stopped and started again -----------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class PrivateCluster:
    """A throwaway PostgreSQL cluster in a temporary directory, run as the postgres user."""

    def __init__(self):
        self.directory = Path(tempfile.mkdtemp(prefix="uea-pg-"))
        self.port = _free_port()
        shutil.chown(self.directory, "postgres")
        self._as_postgres(str(PG_BIN / "initdb"), "-D", str(self.directory / "data"), "-A", "trust", "-U", "postgres")
        self.start()
        self._as_postgres(str(PG_BIN / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "uea")
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/uea"

    def _as_postgres(self, *command: str) -> None:
        subprocess.run(["su", "postgres", "-c", " ".join(command)], check=True, capture_output=True, timeout=60)

    def start(self) -> None:
        options = f"'-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1 -c fsync=off'"
        data, log = str(self.directory / "data"), str(self.directory / "log")  # a log file: no pipe held open
        self._as_postgres(str(PG_BIN / "pg_ctl"), "-D", data, "-l", log, "-o", options, "-w", "start")

    def stop(self) -> None:
        self._as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(self.directory / "data"), "-m", "fast", "-w", "stop")

    def remove(self) -> None:
        subprocess.run(["su", "postgres", "-c", f"{PG_BIN / 'pg_ctl'} -D {self.directory / 'data'} -m immediate stop"])
        shutil.rmtree(self.directory, ignore_errors=True)

    def count(self, name: str) -> int:
        with psycopg.connect(self.url) as database:
            return database.execute("SELECT count(*) FROM events_event WHERE name = %s", [name]).fetchone()[0]


@pytest.fixture
def cluster():
    if PG_BIN is None or os.geteuid() != 0:
        pytest.skip("needs PostgreSQL's server binaries and root, to run a cluster of the test's own")
    cluster = PrivateCluster()
    yield cluster
    cluster.remove()


def _manage(database_url: str, *arguments: str) -> str:
    return subprocess.run(
        [sys.executable, "manage.py", *arguments],
        cwd=ROOT,
        env=_environment(database_url),
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout


def _post(base_url: str, raw_key: str, body: bytes) -> int:
    request = urllib.request.Request(
        base_url + COLLECT, data=body, headers={"X-API-Key": raw_key, "Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except HTTPError as error:
        return error.code


def test_with_postgresql_stopped_collect_keeps_answering_202_and_every_event_is_stored_after(cluster):
    _manage(cluster.url, "migrate", "--noinput")
    raw_key = re.search(r"\bsk_\w+", _manage(cluster.url, "create_app", "Outage", "--owner-email", "o@o.example"))[0]
    port = _free_port()
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "gunicorn"), "-c", "gunicorn.conf.py", "analytics_project.wsgi"],
        cwd=ROOT,
        env=_environment(cluster.url, BIND=f"127.0.0.1:{port}", WEB_CONCURRENCY="2", API_KEY_CACHE_SECONDS="300"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    worker = _worker(cluster.url)
    base_url = f"http://127.0.0.1:{port}"
    try:
        _wait_for(lambda: _reachable(base_url), seconds=30, what="gunicorn")
        # Warm the key cache in both workers' shared Redis: from here on no request needs the database.
        assert [_post(base_url, raw_key, _body("before")) for _ in range(4)] == [202] * 4
        _wait_for(lambda: cluster.count("before") == 4, seconds=20, what="the first events to be stored")
        cluster.stop()
        statuses = [_post(base_url, raw_key, _body("during")) for _ in range(200)]
        time.sleep(1.5)  # the worker meets the outage and backs off
        cluster.start()
        _wait_for(lambda: cluster.count("during") == 200, seconds=60, what="the queued events after the outage")
    finally:
        for process in (server, worker):
            process.terminate()
            process.wait(timeout=30)
    assert statuses == [202] * 200  # no 5xx, none refused
    assert cluster.count("during") == 200  # none lost, none doubled


def _body(name: str) -> bytes:
    return json.dumps(make_event(event=name)).encode()


def _reachable(base_url: str) -> bool:
    try:
        urllib.request.urlopen(base_url + "/t.js", timeout=1)
        return True
    except OSError:
        return False
