import functools

from django.http import HttpResponse
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from apikeys.permissions import HasApiKey
from apikeys.throttling import IngestRateThrottle
from events.intake import check_origin, ingest_messages
from events.models import EventSource
from events.protocols.posthog import schema as docs
from events.protocols.posthog.mapping import to_native
from events.protocols.posthog.payload import InvalidPayload, batch_sent_at, capture_events, posthog_body, tokens
from events.protocols.posthog.responses import (
    SUCCESS,
    flags_version,
    no_flags,
    posthog_exception_handler,
    remote_config,
    remote_config_script,
)


class PostHogView(APIView):
    """Authenticated by the project token in the payload, as PostHog's SDKs send it (or a key header)."""

    permission_classes = [HasApiKey]
    throttle_classes = [IngestRateThrottle]
    schema = docs.PostHogAutoSchema()

    def api_key_from_body(self, request) -> str | None:
        found = tokens(posthog_body(request))
        return found[0] if found else None

    def get_exception_handler(self):
        return posthog_exception_handler


class CaptureView(PostHogView):
    engage = False  # /engage/: legacy person updates, stored as identify events

    @docs.capture_schema
    def post(self, request):
        payload = posthog_body(request)
        messages = capture_events(payload)
        if len(tokens(payload)) > 1:
            # One request, one project: events of another token must not land in this one.
            raise InvalidPayload("All events of a request must carry the same token.")
        sent_at = batch_sent_at(payload, request.query_params)
        native = functools.partial(to_native, sent_at=sent_at, engage=self.engage)
        result, refused = ingest_messages(request, messages, native, EventSource.POSTHOG)
        # Like PostHog, a batch with some invalid events succeeds: the valid ones are stored.
        if result is None or not result.valid:
            reasons = "; ".join(f"event {index}: {detail}" for index, detail in refused[:5])
            raise InvalidPayload(f"No valid event. {reasons}")
        return Response(SUCCESS)


class FlagsView(PostHogView):
    """No feature flags are defined here; answering so keeps the SDKs quiet and their flags off."""

    endpoint = "flags"  # or "decide", the legacy endpoint with the remote config in its answer

    @docs.flags_schema
    def get(self, request):
        return self._no_flags(request)

    @docs.flags_schema
    def post(self, request):
        return self._no_flags(request)

    def _no_flags(self, request):
        posthog_body(request)  # a body that cannot be read is refused, whichever way the key came
        check_origin(request)
        version = flags_version(request.query_params.get("v", "1"))
        with_config = request.query_params.get("config") == "true"
        return Response(no_flags(endpoint=self.endpoint, version=version, with_config=with_config))


class RemoteConfigView(APIView):
    """The same configuration for every app, with no data of any: nothing to authenticate, and a key
    in a URL is not taken as a credential."""

    authentication_classes = []
    permission_classes = [AllowAny]

    @docs.config_schema
    def get(self, request, token: str):
        return _cacheable(Response(remote_config(token)))


class RemoteConfigScriptView(RemoteConfigView):
    @docs.config_script_schema
    def get(self, request, token: str):
        script = remote_config_script(token)
        return _cacheable(HttpResponse(script, content_type="application/javascript; charset=utf-8"))


def _cacheable(response):
    response["Cache-Control"] = "public, max-age=300"
    return response
