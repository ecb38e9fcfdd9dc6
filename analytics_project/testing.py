"""Shared pytest fixtures for the browser tests and the JavaScript SDKs' (registered by the root conftest.py).

Debian's Chromium driven by Playwright: its own browser download cannot work on a machine without
internet access, so `make test` and CI install the `chromium` package instead. Any other Chromium
works too: `CHROMIUM_PATH`, else the first of CHROMIUM_NAMES on PATH. Without one, a developer's run
skips the browser tests and says so in one line; CI never skips them, it fails.

The JavaScript SDKs (posthog-node, analytics-next, ...) are npm packages pinned in sdk_tests/package.json,
installed by `make sdk` (`make test` and CI run it) with npm ci; the same rule: skipped without them on a
developer's machine, failed in CI.
"""

import os
import shutil
import subprocess
import threading
import time
from pathlib import Path

import pytest
from asgiref.sync import SyncToAsync
from django.conf import settings
from django.db import connection, connections

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    # Without these Chromium phones home at start, and this machine's closed network refuses it.
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
SDK_TESTS = Path(__file__).resolve().parents[1] / "sdk_tests"
SDK_MODULES = SDK_TESTS / "node_modules"
DATABASE_LOCK = threading.Lock()
_FALSE = {"", "0", "false", "no", "off"}
_SKIPPED_BROWSER_TESTS = pytest.StashKey[tuple[int, str]]()


def find_chromium() -> str | None:
    """CHROMIUM_PATH (a path, or a name looked up on PATH) when set, else the first of CHROMIUM_NAMES on PATH."""
    explicit = os.environ.get("CHROMIUM_PATH", "").strip()
    for name in [explicit] if explicit else CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in _FALSE


def browser_skip_reason() -> str | None:
    """Why this run skips the browser tests, or None when they run (and fail loudly if they cannot).

    Only a run that asked for nothing is skipped: CI, or a CHROMIUM_PATH that leads nowhere, means
    someone expects these tests to run.
    """
    if _in_ci():
        return None
    if os.environ.get("SKIP_BROWSER_TESTS") == "1":
        return "SKIP_BROWSER_TESTS=1"
    if os.environ.get("CHROMIUM_PATH", "").strip() or find_chromium():
        return None
    return (
        f"no Chromium: none of {', '.join(CHROMIUM_NAMES)} is on PATH and CHROMIUM_PATH is unset "
        "(install Debian's chromium package; `make test` does it when run as root)"
    )


def pytest_collection_modifyitems(config, items):
    reason = browser_skip_reason()
    if reason is None:
        return
    skipped = [item for item in items if "browser" in item.fixturenames]
    for item in skipped:
        item.add_marker(pytest.mark.skip(reason=reason))
    config.stash[_SKIPPED_BROWSER_TESTS] = (len(skipped), reason)


def pytest_terminal_summary(terminalreporter, config):
    count, reason = config.stash.get(_SKIPPED_BROWSER_TESTS, (0, ""))
    if count:
        terminalreporter.write_line(f"{count} browser tests skipped: {reason}", yellow=True, bold=True)


@pytest.fixture(scope="module")
def browser():
    chromium = find_chromium()
    if chromium is None:
        pytest.fail(
            f"No Chromium: CHROMIUM_PATH={os.environ.get('CHROMIUM_PATH', '')!r}, and none of "
            f"{', '.join(CHROMIUM_NAMES)} is on PATH. Install Debian's chromium package or set CHROMIUM_PATH."
        )
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an asyncio loop in this thread, so Django would refuse every query as
    # "from an async context". The loop sits idle while test code runs: there is nothing to block.
    with pytest.MonkeyPatch.context() as patch, sync_playwright() as playwright:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def server(django_db_setup, live_server):
    """The live server, its static files shared with every origin, as WhiteNoise shares them in
    production (test_static_files checks it): posthog-js's snippet loads /static/array.js as a CORS
    script, and the live server's own static handler sends no such header.

    It takes one request at a time when the test database is SQLite in memory. That database is reached
    through one connection shared by every thread (or several in one shared cache): concurrent beacons
    meet "database table is locked", which ignores the busy timeout, and get a 503. A SQLite file or
    PostgreSQL has no such limit. Requesting django_db_setup first lets the session's live server share
    the test database's connection, as pytest-django intends.
    """
    httpd = live_server.thread.httpd
    app = httpd.get_app()
    one_at_a_time = connection.vendor == "sqlite" and connection.is_in_memory_db()

    def as_deployed(environ, start_response):
        def start(status, headers, exc_info=None):
            if environ["PATH_INFO"].startswith(settings.STATIC_URL):
                headers = [*headers, ("Access-Control-Allow-Origin", "*")]
            return start_response(status, headers, exc_info)

        if not one_at_a_time:
            return app(environ, start)
        with DATABASE_LOCK:
            return app(environ, start)

    httpd.set_app(as_deployed)
    yield live_server
    httpd.set_app(app)


@pytest.fixture
def page(browser, request):
    """A fresh browser profile (empty localStorage); its last view is saved in artifacts/, pass or fail."""
    context = browser.new_context()
    page = context.new_page()
    yield page
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)
    context.close()


@pytest.fixture(scope="session")
def sdk_modules() -> Path:
    """sdk_tests/node_modules with the pinned JavaScript SDKs, and node to run them."""
    if shutil.which("node") is None or not (SDK_MODULES / ".package-lock.json").exists():
        reason = "no Node or no sdk_tests/node_modules: `make sdk` installs the SDKs (Node 20 and npm)"
        if _in_ci():
            pytest.fail(reason)
        pytest.skip(reason)
    return SDK_MODULES


def run_node(script: str, *, timeout: float = 60, **env: str) -> str:
    """Run a Node script (CommonJS, its requires resolved in sdk_tests/) and return its stdout; a
    non-zero exit fails the test with the script's stderr."""
    done = subprocess.run(  # noqa: S603 (the tests' own scripts)
        [shutil.which("node") or "node", "-e", script],
        cwd=SDK_TESTS,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if done.returncode:
        pytest.fail(f"node exited {done.returncode}: {done.stderr[-4000:]}")
    return done.stdout


class AsgiServer:
    """The ASGI application (HTTP and the live socket) under uvicorn, the server the README runs, on a port
    of its own in a thread; stop() and start() again on the same port, as a deploy restarts a server
    under its clients."""

    def __init__(self):
        self.port = None
        self.server = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        import uvicorn  # here, not at the top: the plugin loads before Django is set up

        from analytics_project.asgi import application

        config = uvicorn.Config(application, host="127.0.0.1", port=self.port or 0, lifespan="off", log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.02)
        self.port = self.server.servers[0].sockets[0].getsockname()[1]

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        # Served outside any sync thread, Django's code ran on asgiref's one thread for it, whose
        # persistent database connection would keep the test database from being dropped.
        SyncToAsync.single_thread_executor.submit(connections.close_all).result()


@pytest.fixture
def asgi_server():
    server = AsgiServer()
    server.start()
    yield server
    server.stop()
