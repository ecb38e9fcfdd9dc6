from analytics_project.tests.test_schema import _api_routes


def test_options_answers_every_api_route_without_a_server_error(registered, client_for):
    client = client_for(registered.secret_key.raw)
    values = {"id": str(registered.secret_key.api_key.id), "userId": "u_1", "kind": "track"}
    routes = _api_routes()
    assert {"/api/auth/register", "/api/auth/revoke", "/api/auth/keys/{id}/revoke"} <= routes
    for route in sorted(routes):
        response = client.options(route.format(**values))
        assert response.status_code == 200, (route, response.status_code, response.content[:200])
        assert response.json()["name"], route
