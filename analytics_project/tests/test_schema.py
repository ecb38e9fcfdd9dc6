import io
import re

import yaml
from django.core.management import call_command
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.views import APIView


def _api_routes(patterns=None, prefix="") -> set[str]:
    """Every DRF view route in the URLconf, as an OpenAPI-style path."""
    routes = set()
    for pattern in patterns if patterns is not None else get_resolver().url_patterns:
        if isinstance(pattern, URLResolver):
            routes |= _api_routes(pattern.url_patterns, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            view_class = getattr(pattern.callback, "cls", None)
            if view_class and issubclass(view_class, APIView) and "Spectacular" not in view_class.__name__:
                raw = prefix + str(pattern.pattern)
                routes.add("/" + _openapi_path(raw))
    return routes


def _openapi_path(regex: str) -> str:
    path = regex.replace("^", "").replace("$", "")
    path = re.sub(r"\(\?P<(\w+)>[^)]*\)", r"{\1}", path)
    path = re.sub(r"\\\.\(\?P<format>[^)]*\)/?", "", path)
    return path.replace("{pk}", "{id}")


def _schema() -> dict:
    out = io.StringIO()
    call_command("spectacular", "--fail-on-warn", "--validate", stdout=out)
    return yaml.safe_load(out.getvalue())


def test_schema_generates_without_warnings_and_lists_every_route(db):
    schema = _schema()
    assert _api_routes() <= set(schema["paths"]), _api_routes() - set(schema["paths"])
    assert len(schema["paths"]) >= 8


def test_schema_declares_the_key_scheme_and_every_error_response(db):
    schema = _schema()
    schemes = schema["components"]["securitySchemes"]
    assert schemes["ApiKeyHeader"] == {**schemes["ApiKeyHeader"], "type": "apiKey", "in": "header", "name": "X-API-Key"}
    assert schemes["BearerKey"]["scheme"] == "bearer"
    keys_list = schema["paths"]["/api/auth/keys"]["get"]
    assert {"200", "401", "403", "429", "503"} <= set(keys_list["responses"])
    assert {"ApiKeyHeader": []} in keys_list["security"]
    register = schema["paths"]["/api/auth/register"]["post"]
    assert {"201", "400", "403", "429", "503"} <= set(register["responses"])
    closed = register["responses"]["403"]["content"]["application/json"]["examples"]
    assert [example["value"]["code"] for example in closed.values()] == ["registration_closed"]
    assert {"404"} <= set(schema["paths"]["/api/auth/keys/{id}/revoke"]["post"]["responses"])


def test_swagger_ui_and_redoc_are_served_from_local_static_files(client, db):
    for path in ["/api/docs/", "/api/redoc/"]:
        page = client.get(path).content.decode()
        assert "/static/drf_spectacular_sidecar/" in page
        off_host = [
            url for url in re.findall(r"https?://[^\s\"'<>)]+", page) if not url.startswith("http://testserver/")
        ]
        assert off_host == [], f"{path} links {off_host}"


def test_every_operation_has_a_summary_examples_and_its_error_responses(db):
    schema = _schema()
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            where = f"{method.upper()} {path}"
            assert operation.get("summary"), where
            for media_type, body in operation.get("requestBody", {}).get("content", {}).items():
                assert body.get("examples"), f"{where} request {media_type} has no example"
            for status, response in operation["responses"].items():
                for media_type, body in (response.get("content") or {}).items():
                    if status.startswith("2"):
                        assert body.get("examples"), f"{where} {status} {media_type} has no example"
                    elif body["schema"] == {"$ref": "#/components/schemas/Error"}:
                        (example,) = body["examples"].values()
                        assert {"code", "detail"} <= set(example["value"]), f"{where} {status}"
            assert "503" in operation["responses"], where
            if operation.get("security") and {} not in operation["security"]:
                assert {"401", "429"} <= set(operation["responses"]), where


def test_segment_endpoints_document_every_error_in_segments_shape(db):
    paths = _schema()["paths"]
    segment_paths = [path for path in paths if path.startswith(("/v1/", "/beacon/", "/sourceConfig/"))]
    assert segment_paths
    for path in segment_paths:
        for method, operation in paths[path].items():
            for status, response in operation["responses"].items():
                # 404 is the URLconf's own answer to a kind that is not in the enum, in the native shape.
                if status.startswith(("4", "5")) and (status != "404" or method == "get"):
                    schema = response["content"]["application/json"]["schema"]
                    assert schema == {"$ref": "#/components/schemas/SegmentError"}, (method, path, status)


def _resolve(schema: dict, node: dict) -> dict:
    while "$ref" in node:
        node = schema["components"]["schemas"][node["$ref"].rsplit("/", 1)[1]]
    return node


def _documented(schema: dict, method: str, path: str, status: str) -> dict:
    return schema["paths"][path][method]["responses"][status]["content"]["application/json"]


_REQUIRED_PARAMS = {"/api/analytics/user-stats": {"userId": "u_1"}, "/api/analytics/breakdown": {"by": "browser"}}


def test_every_parameterless_get_is_documented_as_the_shape_it_answers(db, secret_client, person, registered):
    schema = _schema()
    secret_client.post("/api/analytics/collect", {"event": "signup", "userId": "u_1"}, format="json")
    member = person("ada", organisation=registered.app.organisation, role="viewer")
    for path, operations in schema["paths"].items():
        if "get" not in operations or "{" in path or path.endswith("/export"):  # export answers CSV text
            continue
        client = member.client if path.startswith("/api/me") else secret_client  # a person's own endpoints
        response = client.get(path, _REQUIRED_PARAMS.get(path, {}))
        assert response.status_code == 200, (path, response.content)
        documented = _documented(schema, "get", path, "200")["schema"]
        assert (documented.get("type") == "array") == isinstance(response.json(), list), path


def test_every_success_example_has_the_shape_of_its_schema(db):
    schema = _schema()
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            for status, response in operation["responses"].items():
                body = (response.get("content") or {}).get("application/json")
                if not status.startswith("2") or not body:
                    continue
                documented = _resolve(schema, body["schema"])
                for name, example in body["examples"].items():
                    value, where = example["value"], f"{method.upper()} {path} {name}"
                    if documented.get("type") == "array":
                        assert isinstance(value, list) and all(isinstance(item, dict) for item in value), where
                    else:
                        assert isinstance(value, dict), where


def test_segment_batch_is_documented_and_exemplified_as_a_batch(db):
    body = _schema()["paths"]["/v1/batch"]["post"]["requestBody"]["content"]["application/json"]
    assert body["schema"]["required"] == ["batch"]
    (example,) = body["examples"].values()
    assert isinstance(example["value"]["batch"], list) and example["value"]["batch"]


def test_revoke_documents_its_404_and_answers_it(db, secret_client):
    schema = _schema()
    assert "404" in schema["paths"]["/api/auth/revoke"]["post"]["responses"]
    response = secret_client.post("/api/auth/revoke", {"keyId": "5b0f7c1e-2a4d-4e8b-9c3f-0d1e2f3a4b5c"}, format="json")
    assert response.status_code == 404


def test_collect_documents_both_of_its_400_bodies(db, secret_client):
    schema = _schema()
    documented = _documented(schema, "post", "/api/analytics/collect", "400")
    shape = _resolve(schema, documented["schema"])
    assert {example["value"]["code"] for example in documented["examples"].values()} == {
        "no_valid_events",
        "validation_error",
    }
    for body, code in [({"events": []}, "validation_error"), ({"userId": "u_1"}, "no_valid_events")]:
        answer = secret_client.post("/api/analytics/collect", body, format="json").json()
        assert answer["code"] == code
        assert set(shape["required"]) <= set(answer) <= set(shape["properties"]), answer


def test_collect_documents_the_202_that_buffered_mode_answers_in_its_shape(ingest_buffer, secret_client):
    schema = _schema()
    documented = _resolve(schema, _documented(schema, "post", "/api/analytics/collect", "202")["schema"])
    response = secret_client.post("/api/analytics/collect", {"event": "signup", "userId": "u_1"}, format="json")
    assert response.status_code == 202
    assert set(response.json()) == set(documented["properties"]) == {"queued", "rejected", "warnings"}
    assert set(documented["required"]) == {"queued", "rejected", "warnings"}
    assert "503" in schema["paths"]["/api/analytics/collect"]["post"]["responses"]  # and a full queue's


def test_personal_keys_are_their_own_security_scheme_on_the_reports_and_a_persons_own_routes_only(db):
    schema = _schema()
    assert {"PersonalKeyHeader", "PersonalKeyBearer"} <= set(schema["components"]["securitySchemes"])
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            schemes = {name for requirement in operation.get("security", []) for name in requirement}
            takes_personal = path.startswith("/api/me") or (
                path.startswith("/api/analytics/") and path != "/api/analytics/collect"
            )
            assert ("PersonalKeyHeader" in schemes) is takes_personal, (method, path)
            if takes_personal and path.startswith("/api/analytics/"):
                assert "role_required" in operation["responses"]["403"]["description"], (method, path)
    collect = schema["paths"]["/api/analytics/collect"]["post"]["responses"]["403"]["description"]
    assert "personal_key_not_accepted" in collect
