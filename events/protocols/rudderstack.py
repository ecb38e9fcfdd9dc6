"""What RudderStack JS (v3) needs beyond the Segment API it shares (events/protocols/segment.py): the
source configuration it loads from its control plane, and the beacon it can send events by.

Its data plane calls (`/v1/{type}`, `/v1/batch`) are Segment's and land in SegmentViewSet.
"""

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from analytics_project.schema import response_example
from apikeys.models import App
from apikeys.permissions import HasApiKey
from events.intake import check_origin
from events.protocols.segment import (
    BATCH_BODY,
    SEGMENT_ERRORS,
    SegmentIntake,
    batch_example,
    segment_error_examples,
    segment_exception_handler,
    segment_schema,
)
from events.serializers import SegmentError

# The SDK puts the write key in the query string of both (and in Basic auth too, for the source config).
WRITE_KEY_PARAMETER = "writeKey"


def source_config(app: App) -> dict:
    """The fields RudderStack JS checks (``source.id``, ``source.config``, ``source.destinations``) and
    reads. No destinations: each would make it load a device-mode integration from RudderStack's CDN; and
    an empty ``config`` leaves its error and metrics reporting to RudderStack off."""
    return {
        "isHosted": False,
        "source": {
            "id": str(app.id),
            "name": app.name,
            "workspaceId": str(app.id),
            "enabled": True,
            "config": {},
            "destinations": [],
        },
    }


_SOURCE_CONFIG = {
    "type": "object",
    "properties": {
        "isHosted": {"type": "boolean"},
        "source": {
            "type": "object",
            "properties": {
                "id": {"type": "string", "description": "The app's id."},
                "name": {"type": "string", "description": "The app's name."},
                "workspaceId": {"type": "string", "description": "The app's id."},
                "enabled": {"type": "boolean"},
                "config": {"type": "object"},
                "destinations": {"type": "array", "items": {"type": "object"}, "maxItems": 0},
            },
            "required": ["id", "name", "workspaceId", "enabled", "config", "destinations"],
        },
    },
    "required": ["source"],
}
_SOURCE_CONFIG_ERRORS = tuple(error for error in SEGMENT_ERRORS if error[0] in ("400", "401", "403", "429", "503"))


class RudderStackSourceConfigViewSet(viewsets.ViewSet):
    permission_classes = [HasApiKey]
    accepts_basic_auth = True
    api_key_query_parameter = WRITE_KEY_PARAMETER

    def get_exception_handler(self):
        return segment_exception_handler

    @extend_schema(
        summary="RudderStack JS source configuration",
        description="What `rudderanalytics.load(writeKey, 'https://HOST', {configUrl: 'https://HOST'})` loads "
        "first: the app as a source with no destinations, so the SDK sends every event to this server "
        "(its `dataPlaneUrl`) and loads nothing else. The write key as the Basic-auth user name, as the SDK "
        "sends it, or `writeKey` in the query string; any key kind. A page outside the app's allowed domains "
        "gets a 403, and the SDK sends nothing. The SDK's other query parameters (`p`, `v`, `build`, "
        "`lockIntegrationsVersion`, `lockPluginsVersion`) are ignored.",
        responses={
            200: OpenApiResponse(_SOURCE_CONFIG, description="The source configuration."),
            **{int(status_code): SegmentError for status_code, _, _ in _SOURCE_CONFIG_ERRORS},
        },
        examples=[
            response_example(
                "Source",
                {
                    "isHosted": False,
                    "source": {
                        "id": "0b7f3c52-9d4e-4f7a-8c1b-2e6d5a9f8c31",
                        "name": "Acme web",
                        "workspaceId": "0b7f3c52-9d4e-4f7a-8c1b-2e6d5a9f8c31",
                        "enabled": True,
                        "config": {},
                        "destinations": [],
                    },
                },
                "200",
            ),
            *segment_error_examples(_SOURCE_CONFIG_ERRORS),
        ],
        tags=["rudderstack"],
    )
    def source_config(self, request):
        check_origin(request)
        return Response(source_config(request.auth.app))


class RudderStackBeaconViewSet(SegmentIntake):
    """RudderStack JS with ``useBeacon: true``: ``navigator.sendBeacon`` cannot set headers, so the key
    comes in the query string and the batch as a ``text/plain`` blob."""

    api_key_query_parameter = WRITE_KEY_PARAMETER

    @extend_schema(
        summary="RudderStack JS beacon batch",
        description="`/v1/batch` for `navigator.sendBeacon`: the write key in the `writeKey` query "
        "parameter, the `{batch, sentAt}` body as `text/plain`. Checked against the app's allowed domains "
        "like every browser request; answers and errors as for `/v1/batch`.",
        **segment_schema(BATCH_BODY, batch_example("text/plain"), media_types=("text/plain",)),
    )
    @action(detail=False, methods=["post"])
    def batch(self, request):
        return self.accept_batch(request)
