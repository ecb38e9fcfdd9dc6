"""Static files as production serves them: DEBUG off, collectstatic'd, WhiteNoise inside the WSGI app.

The live server and runserver serve static files themselves, so only this path shows that a deploy
without a CDN or a separate web server still has working API docs.
"""

import re
import runpy
from wsgiref.util import setup_testing_defaults

import pytest
from django.core.management import call_command
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections

import analytics_project.settings


@pytest.fixture
def production_static(settings, tmp_path, monkeypatch):
    """Production's storage (hashed, compressed names) over a fresh STATIC_ROOT holding Swagger UI's files."""
    monkeypatch.setenv("DEBUG", "false")
    monkeypatch.setenv("SECRET_KEY", "only-for-reading-the-production-settings")
    production = runpy.run_path(analytics_project.settings.__file__)
    settings.DEBUG = False
    settings.STATIC_ROOT = tmp_path
    settings.STORAGES = production["STORAGES"]
    # Swagger UI is what the docs page links; the rest only makes collectstatic slower.
    call_command("collectstatic", "--noinput", "-i", "admin", "-i", "rest_framework", "-i", "redoc", verbosity=0)
    # As in Django's test client: the database connection is the test session's, not the request's to close.
    for signal in (request_started, request_finished):
        signal.disconnect(close_old_connections)
    yield get_wsgi_application()  # a new handler: WhiteNoise indexes STATIC_ROOT when it starts
    for signal in (request_started, request_finished):
        signal.connect(close_old_connections)


def wsgi_get(application, path: str, **headers) -> tuple[str, dict, bytes]:
    environ = {"PATH_INFO": path, "REQUEST_METHOD": "GET", **headers}
    setup_testing_defaults(environ)
    started = {}

    def start_response(status, response_headers, exc_info=None):
        started.update(status=status, headers=dict(response_headers))

    body = b"".join(application(environ, start_response))
    return started["status"], started["headers"], body


def test_whitenoise_serves_the_docs_pages_hashed_sidecar_assets_with_debug_off(production_static):
    status, _, page = wsgi_get(production_static, "/api/docs/")
    assert status.startswith("200")
    hashed_name = r'src="(/static/drf_spectacular_sidecar/[^"]+/swagger-ui-bundle\.\w{12}\.js)"'
    (bundle,) = re.findall(hashed_name, page.decode())

    status, headers, body = wsgi_get(production_static, bundle, HTTP_ACCEPT_ENCODING="gzip")
    assert status.startswith("200"), (bundle, status)
    assert "immutable" in headers["Cache-Control"] and headers["Content-Encoding"] == "gzip"
    assert len(body) > 100_000


def test_posthog_js_for_posthogs_snippet_is_served_to_every_origin_compressed(production_static):
    # The snippet loads it as a CORS script (crossOrigin="anonymous") from the customer's pages.
    status, headers, body = wsgi_get(production_static, "/static/array.js", HTTP_ACCEPT_ENCODING="gzip")
    assert status.startswith("200")
    assert headers["Access-Control-Allow-Origin"] == "*" and headers["Content-Encoding"] == "gzip"
    assert headers["Content-Type"].startswith("text/javascript") and len(body) > 50_000
