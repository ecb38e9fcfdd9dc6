"""OpenAPI additions: the API-key security scheme and the error responses every endpoint can give."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import is_list_serializer, is_serializer
from drf_spectacular.utils import OpenApiExample, OpenApiResponse
from rest_framework.permissions import AllowAny

from analytics_project.serializers import ErrorSerializer, StrictSerializer
from apikeys.authentication import PERSONAL_KEY_NOT_ACCEPTED, ApiKeyAuthentication, PersonalKeyAuthentication


def response_example(name: str, value, status_code: str = "400") -> OpenApiExample:
    return OpenApiExample(name, value=value, response_only=True, status_codes=[status_code])


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "apikeys.authentication.ApiKeyAuthentication"
    name = ["ApiKeyHeader", "BearerKey", "WriteKeyBasic", "WriteKeyQuery"]

    def get_security_requirement(self, auto_schema):
        # Each way of sending the key is an alternative (OR), not one requirement naming all (AND).
        view = auto_schema.view
        names = self.name[:2]
        if getattr(view, "accepts_basic_auth", False):
            names.append("WriteKeyBasic")
        if getattr(view, "api_key_query_parameter", None):
            names.append("WriteKeyQuery")
        return [{name: []} for name in names]

    def get_security_definition(self, auto_schema):
        return [
            {
                "type": "apiKey",
                "in": "header",
                "name": "X-API-Key",
                "description": "A secret (`sk_…`) or publishable (`pk_…`) key.",
            },
            {"type": "http", "scheme": "bearer", "description": "The same key as `Authorization: Bearer <key>`."},
            {
                "type": "http",
                "scheme": "basic",
                "description": "Segment-compatible endpoints only: the key as the user name, empty password.",
            },
            {
                "type": "apiKey",
                "in": "query",
                "name": "writeKey",
                "description": "RudderStack JS's settings request and beacons only, which put the key in the URL.",
            },
        ]


class PersonalKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "apikeys.authentication.PersonalKeyAuthentication"
    name = ["PersonalKeyHeader", "PersonalKeyBearer"]

    def get_security_requirement(self, auto_schema):
        return [{name: []} for name in self.name]

    def get_security_definition(self, auto_schema):
        description = (
            "A person's own key (`uk_…`): reads the reports of the apps of the organisations they belong to, "
            "named with `appId`, as far as their role allows (the export needs the member role)."
        )
        return [
            {"type": "apiKey", "in": "header", "name": "X-API-Key", "description": description},
            {"type": "http", "scheme": "bearer", "description": description + " As `Authorization: Bearer <key>`."},
        ]


_ERRORS = {
    "400": (
        "Invalid input (`validation_error`, `malformed_request`), with `fields` naming what is wrong.",
        {"code": "validation_error", "detail": "The request has invalid fields.", "fields": {"name": ["Required."]}},
    ),
    "401": (
        "Missing key (`authentication_required`) or a bad, revoked or expired key.",
        {"code": "invalid_api_key", "detail": "The API key is not valid."},
    ),
    # Used when no permission class of the view names its refusal: ingestion takes either key kind, and
    # its 403 is the browser-origin check.
    "403": (
        "A browser request from an `Origin` outside the app's domains (`origin_not_allowed`).",
        {"code": "origin_not_allowed", "detail": "This origin is not in the app's allowed domains."},
    ),
    "404": ("No such resource in the calling app (`not_found`).", {"code": "not_found", "detail": "Not found."}),
    "413": (
        "Request body too large (`payload_too_large`).",
        {"code": "payload_too_large", "detail": "The request body is too large."},
    ),
    "415": (
        "A body in a media type other than JSON (`unsupported_media_type`).",
        {"code": "unsupported_media_type", "detail": 'Unsupported media type "text/xml" in request.'},
    ),
    "429": (
        "Rate limited (`rate_limited`); wait the whole seconds in `Retry-After`.",
        {"code": "rate_limited", "detail": "Request was throttled. Expected available in 30 seconds."},
    ),
    "503": (
        "Database or rate-limit store unavailable; retry after `Retry-After` seconds.",
        {"code": "database_unavailable", "detail": "The database is unavailable; try again shortly."},
    ),
}


class ErrorDocumentingAutoSchema(AutoSchema):
    """Adds the SPEC §6 error responses an operation can actually produce, from how its view is built."""

    def _is_list_view(self, serializer=None) -> bool:
        # drf-spectacular takes every `list` action for an array, but most of ours (the reports, the
        # current key, /health) answer one object: a response is an array only when its serializer says
        # many=True. Without a serializer it asks the view, so operation ids keep their `_list` names.
        if serializer is not None and is_serializer(serializer):
            return is_list_serializer(serializer)
        return super()._is_list_view(serializer)

    def _get_parameters(self) -> list[dict]:
        parameters = super()._get_parameters()
        for parameter in parameters:
            # DRF reads an empty optional field of a query string (`?tz=`) as one not given, which is
            # what OpenAPI 3.0's allowEmptyValue says.
            if parameter["in"] == "query" and not parameter.get("required"):
                parameter["allowEmptyValue"] = True
        return parameters

    def _map_basic_serializer(self, serializer, direction):
        schema = super()._map_basic_serializer(serializer, direction)
        if direction == "request" and isinstance(serializer, StrictSerializer):
            schema["additionalProperties"] = False  # StrictSerializer refuses fields it does not know
        return schema

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        if direction != "response":
            return responses
        for code in self._error_codes():
            if code not in responses:
                responses[code] = self._get_response_for_code(self._error_response(code), code, direction=direction)
        return responses

    def _error_codes(self) -> list[str]:
        codes = ["503"]
        view = self.view
        if self.method in ("POST", "PUT", "PATCH"):
            codes += ["400", "413"]
            if self.get_request_serializer() is not None:
                codes.append("415")
        # Only a key can be refused: the keyless protocols' SiteAuthentication never answers 401.
        authentication = getattr(view, "authentication_classes", [])
        if any(issubclass(auth, ApiKeyAuthentication | PersonalKeyAuthentication) for auth in authentication):
            codes += ["401", "403"]
        if self.method == "GET" and any(issubclass(auth, ApiKeyAuthentication) for auth in authentication):
            codes.append("400")  # keys in the query string are refused
        if any(permission is not AllowAny for permission in getattr(view, "permission_classes", [])):
            codes.append("403")  # without authentication classes DRF answers a refusal with 403, not 401
        if getattr(view, "throttle_classes", None):
            codes.append("429")
        if "{" in self.path or getattr(view, "may_not_find", False):
            codes.append("404")
        return sorted(set(codes))

    def _error_response(self, code: str) -> OpenApiResponse:
        description, body = _ERRORS[code]
        if code == "403":
            refusals = [(p.message, p.code) for p in self.view.get_permissions() if getattr(p, "code", None)]
            refusals += getattr(self.view, "refusals", [])
            if refusals:
                description = " ".join(f"{message} (`{refused}`)" for message, refused in refusals)
                body = {"code": refusals[0][1], "detail": refusals[0][0]}
            authentication = getattr(self.view, "authentication_classes", [])
            if any(issubclass(auth, ApiKeyAuthentication) for auth in authentication) and not any(
                issubclass(auth, PersonalKeyAuthentication) for auth in authentication
            ):
                description += " {} (`{}`)".format(*PERSONAL_KEY_NOT_ACCEPTED)
        return OpenApiResponse(
            response=ErrorSerializer,
            description=description,
            examples=[OpenApiExample(body["code"], value=body, response_only=True)],
        )
