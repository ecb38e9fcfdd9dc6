"""The OpenAPI description of the PostHog-compatible endpoints (tag "posthog")."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers

from analytics_project.schema import ErrorDocumentingAutoSchema
from events.protocols.posthog.responses import SUCCESS, no_flags, posthog_error, remote_config, remote_config_script


class PostHogAutoSchema(ErrorDocumentingAutoSchema):
    def get_operation_id(self) -> str:
        # Each endpoint answers with and without its trailing slash: two paths, two distinct ids.
        operation_id = super().get_operation_id()
        return operation_id if self.path.endswith("/") else f"{operation_id}_no_slash"


class PostHogSuccess(serializers.Serializer):
    status = serializers.IntegerField(help_text="Always 1.")


class PostHogError(serializers.Serializer):
    type = serializers.CharField(
        help_text="`validation_error`, `authentication_error`, `throttled_error` or `server_error`."
    )
    code = serializers.CharField(help_text="e.g. `invalid_payload`, `missing_api_key`, `invalid_api_key`.")
    detail = serializers.CharField()
    attr = serializers.CharField(allow_null=True, help_text="Always null.")


_ERRORS = (
    (400, "invalid_payload", "No valid event. event 0: `distinct_id` is required (a non-empty string or number)."),
    (401, "invalid_api_key", "The API key is not valid."),
    (403, "origin_not_allowed", "This origin is not in the app's allowed domains."),
    (413, "payload_too_large", "The request body may be at most 1048576 bytes."),
    (415, "unsupported_media_type", "Content-Encoding 'br' is not supported; send gzip or no encoding."),
    (429, "rate_limited", "Request was throttled. Expected available in 30 seconds."),
    (503, "database_unavailable", "The database is unavailable; try again shortly."),
)


def _example(name: str, value, status: int, media_type: str = "application/json") -> OpenApiExample:
    return OpenApiExample(name, value=value, response_only=True, status_codes=[str(status)], media_type=media_type)


# Both the capture and the flags endpoints can answer each of them.
ERROR_RESPONSES = {status: OpenApiResponse(PostHogError, description=f"`{code}`, ...") for status, code, _ in _ERRORS}
ERROR_EXAMPLES = [_example(code, posthog_error(status, code, detail), status) for status, code, detail in _ERRORS]


_ANY_OBJECT = {"type": "object", "additionalProperties": True}
_EVENT = {
    "type": "object",
    "properties": {
        "event": {"type": "string", "description": "`$pageview`, `$identify`, `$create_alias`, or any name."},
        "distinct_id": {"type": "string"},
        "uuid": {"type": "string", "format": "uuid", "description": "The idempotency key."},
        "timestamp": {"type": "string"},
        "properties": _ANY_OBJECT,
    },
    "required": ["event", "distinct_id"],
    "additionalProperties": True,
}
_CAPTURE_BODY = {
    "oneOf": [
        _EVENT,
        {"type": "array", "items": _EVENT, "minItems": 1},
        {
            "type": "object",
            "properties": {
                "api_key": {"type": "string"},
                "batch": {"type": "array", "items": _EVENT, "minItems": 1},
                "sent_at": {"type": "string"},
            },
            "required": ["batch"],
            "additionalProperties": True,
        },
    ]
}
_CAPTURE_EXAMPLE = {
    "api_key": "pk_AbCd1234…",
    "sent_at": "2026-01-06T08:12:45Z",
    "batch": [
        {
            "event": "$pageview",
            "distinct_id": "u_42",
            "uuid": "0190a5c2-6f1e-7c3a-9d2b-5e8f4a1b2c3d",
            "timestamp": "2026-01-06T08:12:44Z",
            "properties": {"$current_url": "https://shop.example/pricing", "$device_id": "0190a5c2-anon"},
        }
    ],
}
capture_schema = extend_schema(
    summary="PostHog capture",
    description="PostHog's capture API, so posthog-js, posthog-node and posthog-python work by changing only "
    "their host. Token in the body (`api_key`, `token`, `$token`, `properties.token`, or per event) or the "
    '`X-API-Key` header. Body: one event, an array, or `{"batch": [...]}`; JSON, gzip (recognised by its '
    "bytes, whatever the headers say) or a `data=` form of base64 JSON (also in the query string). `uuid` is "
    "the idempotency key; invalid events of a batch are skipped, the others stored. `/engage/` takes legacy "
    "`$set` person updates and stores them as `identify` events.",
    tags=["posthog"],
    parameters=[
        OpenApiParameter("data", str, description="The payload as base64 of JSON, when the body has none."),
        OpenApiParameter("compression", str, description="posthog-js's `gzip-js` or `base64`; the body is sniffed."),
        OpenApiParameter("sent_at", str, description="posthog-js's send time in epoch ms, to correct clock skew."),
    ],
    request={"application/json": _CAPTURE_BODY},
    responses={200: PostHogSuccess, **ERROR_RESPONSES},
    examples=[
        OpenApiExample("Batch", value=_CAPTURE_EXAMPLE, request_only=True),
        _example("Success", SUCCESS, 200),
        *ERROR_EXAMPLES,
    ],
)

flags_schema = extend_schema(
    summary="PostHog feature flags (none defined)",
    description="`/flags/` and the legacy `/decide/`: no feature flag is defined here, so every SDK evaluates "
    "them all as off and stays quiet. `/flags/?v=2` (and up) answers `flags`, lower versions `featureFlags`; "
    "`/decide/` answers `flags` from `v=4`, and the remote configuration too. Token as for capture.",
    tags=["posthog"],
    parameters=[
        OpenApiParameter("v", str, description="Response version; any value is accepted."),
        OpenApiParameter("config", str, description="`true` adds the remote configuration to `/flags/`."),
    ],
    request={"application/json": {**_ANY_OBJECT, "properties": {"token": {"type": "string"}}}},
    responses={200: OpenApiResponse(OpenApiTypes.OBJECT, description="No flags."), **ERROR_RESPONSES},
    examples=[
        OpenApiExample("Flags request", value={"token": "pk_AbCd1234…", "distinct_id": "u_42"}, request_only=True),
        _example("Flags v2", no_flags(endpoint="flags", version=2, with_config=False), 200),
        _example("Flags v1", no_flags(endpoint="flags", version=1, with_config=False), 200),
        *ERROR_EXAMPLES,
    ],
)

config_schema = extend_schema(
    operation_id="posthog_config_retrieve",
    summary="PostHog remote config (JSON)",
    description="The configuration posthog-js loads at start: feature flags, recordings and surveys off (no "
    "`surveys` key), events to `/i/v0/e/`, gzip compression. The same for every token; no key is checked.",
    tags=["posthog"],
    responses={200: OpenApiResponse(OpenApiTypes.OBJECT, description="The remote configuration.")},
    examples=[_example("Config", remote_config("pk_AbCd1234…"), 200)],
)

config_script_schema = extend_schema(
    operation_id="posthog_config_script_retrieve",
    summary="PostHog remote config (script)",
    description="The remote configuration as the script posthog-js loads: it sets "
    "`window._POSTHOG_REMOTE_CONFIG[token]`.",
    tags=["posthog"],
    responses={(200, "application/javascript"): OpenApiTypes.STR},
    examples=[_example("Script", remote_config_script("pk_AbCd1234…"), 200, "application/javascript")],
)
