import re

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, resolve
from rest_framework.test import APIClient

from analytics_project.tests.test_schema import _api_routes


def test_options_answers_every_api_route_without_a_server_error(registered, client_for, person):
    client = client_for(registered.secret_key.raw)
    values = {
        "id": str(registered.secret_key.api_key.id),
        "userId": "u_1",
        "kind": "track",
        "token": "pk_x",
        "write_key": "pk_x",
    }
    # A person's own routes answer a person (their personal key), not an app's key.
    ada = person("ada", organisation=registered.app.organisation, role="viewer")
    personal = {**values, "id": str(ada.user.personal_api_keys.get().id)}
    routes = _api_routes()
    assert {"/api/auth/register", "/api/auth/revoke", "/api/auth/keys/{id}/revoke"} <= routes
    for route in sorted(routes):
        if route.startswith("/api/me"):
            response = ada.client.options(route.format(**personal))
        else:
            response = client.options(route.format(**values))
        assert response.status_code == 200, (route, response.status_code, response.content[:200])
        assert response.json()["name"], route


def _patterns(patterns=None, prefix=""):
    """(URL pattern text, pattern) for every view the URLconf resolves, DRF or not."""
    for pattern in patterns if patterns is not None else get_resolver().url_patterns:
        if isinstance(pattern, URLResolver):
            yield from _patterns(pattern.url_patterns, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            yield prefix + str(pattern.pattern), pattern


def _concrete(text: str, uuid: str) -> str:
    """A path the pattern matches: each parameter filled with a value of its kind."""

    def group(match):
        name, body = match.groups()
        if re.fullmatch(r"\w+(\|\w+)*", body):  # an alternation of names: take the first
            return body.split("|")[0]
        return uuid if name == "pk" else "1"

    text = re.sub(r"\(\?P<(\w+)>((?:[^()]|\([^()]*\))*)\)", group, text)  # regex groups first
    text = re.sub(r"<uuid:\w+>", uuid, text)
    text = re.sub(r"<(?:\w+:)?\w+>", "1", text)
    return "/" + text.replace("^", "").replace("$", "")


@pytest.mark.parametrize("who", ["anonymous", "key", "superuser"])
def test_options_answers_every_url_pattern_without_a_server_error(who, registered, client_for, admin_user):
    client = client_for(registered.secret_key.raw) if who == "key" else APIClient()
    if who == "superuser":
        client.force_login(admin_user)
    seen, errors = set(), []
    for text, pattern in _patterns():
        path = _concrete(text, str(registered.app.id))
        assert resolve(path).func is pattern.callback, (text, path)
        seen.add(path)
        response = client.options(path)
        if response.status_code >= 500:
            errors.append((path, response.status_code, response.content[:200]))
    assert not errors, (who, errors)
    assert {"/api/docs/", "/api/redoc/", "/api/schema/", "/metrics", "/t.js", "/health", "/admin/login/"} <= seen
    assert "/dashboard/" in seen


@pytest.mark.parametrize("path", ["/api/docs/", "/api/redoc/"])
def test_the_docs_pages_answer_options_with_a_405(client, path):
    response = client.options(path)
    assert response.status_code == 405, response.content[:300]
    assert response["Allow"] == "GET, HEAD"
    assert client.get(path).status_code == 200
