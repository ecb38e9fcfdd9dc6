"""Shared pytest fixtures for the browser tests (registered by the root conftest.py).

Debian's Chromium driven by Playwright: its own browser download cannot work on a machine without
internet access, so CI installs the `chromium` package instead.
"""

import os
import threading
from pathlib import Path

import pytest
from django.db import connection

CHROMIUM = Path("/usr/bin/chromium")
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
DATABASE_LOCK = threading.Lock()


@pytest.fixture(scope="module")
def browser():
    if os.environ.get("SKIP_BROWSER_TESTS") == "1":
        pytest.skip("SKIP_BROWSER_TESTS=1")
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium package, or set SKIP_BROWSER_TESTS=1.")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an asyncio loop in this thread, so Django would refuse every query as
    # "from an async context". The loop sits idle while test code runs: there is nothing to block.
    with pytest.MonkeyPatch.context() as patch, sync_playwright() as playwright:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def server(django_db_setup, live_server):
    """The live server, taking one request at a time when the test database is SQLite in memory.

    That database is reached through one connection shared by every thread (or several in one shared
    cache): concurrent beacons meet "database table is locked", which ignores the busy timeout, and get a
    503. A SQLite file or PostgreSQL has no such limit. Requesting django_db_setup first lets the
    session's live server share the test database's connection, as pytest-django intends.
    """
    if not (connection.vendor == "sqlite" and connection.is_in_memory_db()):
        yield live_server
        return
    httpd = live_server.thread.httpd
    app = httpd.get_app()

    def one_at_a_time(environ, start_response):
        with DATABASE_LOCK:
            return app(environ, start_response)

    httpd.set_app(one_at_a_time)
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
