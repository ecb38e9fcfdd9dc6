"""OpenAPI additions: the API-key security scheme and the error responses every endpoint can give."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiResponse

from analytics_project.serializers import ErrorSerializer


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "apikeys.authentication.ApiKeyAuthentication"
    name = ["ApiKeyHeader", "BearerKey", "WriteKeyBasic"]

    def get_security_requirement(self, auto_schema):
        # Each way of sending the key is an alternative (OR), not one requirement naming all (AND).
        names = self.name if getattr(auto_schema.view, "accepts_basic_auth", False) else self.name[:2]
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
        ]


_ERRORS = {
    "400": "Invalid input (`validation_error`, `malformed_request`), with `fields` naming what is wrong.",
    "401": "Missing key (`authentication_required`) or a bad, revoked or expired key.",
    "403": "The key's kind may not use this endpoint (`secret_key_required`).",
    "404": "No such resource in the calling app (`not_found`).",
    "413": "Request body too large (`payload_too_large`).",
    "429": "Rate limited (`rate_limited`); wait the whole seconds in `Retry-After`.",
    "503": "Database or rate-limit store unavailable; retry after `Retry-After` seconds.",
}


class ErrorDocumentingAutoSchema(AutoSchema):
    """Adds the SPEC §6 error responses an operation can actually produce, from how its view is built."""

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        if direction != "response":
            return responses
        for code in self._error_codes():
            responses.setdefault(code, self._get_response_for_code(_error_response(code), code, direction=direction))
        return responses

    def _error_codes(self) -> list[str]:
        codes = ["503"]
        view = self.view
        if self.method in ("POST", "PUT", "PATCH"):
            codes += ["400", "413"]
        if getattr(view, "authentication_classes", None):
            codes += ["401", "403"]
            if self.method == "GET":
                codes.append("400")  # keys in the query string are refused
        if getattr(view, "throttle_classes", None):
            codes.append("429")
        if "{" in self.path or getattr(view, "may_not_find", False):
            codes.append("404")
        return sorted(set(codes))


def _error_response(code: str) -> OpenApiResponse:
    return OpenApiResponse(response=ErrorSerializer, description=_ERRORS[code])
