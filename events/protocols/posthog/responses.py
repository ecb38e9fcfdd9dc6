"""What PostHog answers: capture's success and error bodies, "no feature flags", and the remote config.

Shapes as PostHog's capture (``posthog/api/capture.py``: ``{"status": 1}``; errors from
``generate_exception_response``: ``{"type", "code", "detail", "attr"}``) and as posthog-js 1.449,
posthog-node 5.70 and posthog-python 7.91 read them (``flags``/``featureFlags``,
``errorsWhileComputingFlags``, ``quotaLimited``, ``supportedCompression``, ``hasFeatureFlags``).
"""

import json
import uuid

from django.utils import timezone

from analytics_project.errors import exception_handler

SUCCESS = {"status": 1}
# PostHog's code for a missing token; the other native codes (invalid_api_key, ...) are PostHog's too.
_CODES = {"authentication_required": "missing_api_key"}
# Versions from which each endpoint answers flags v2 (`flags` of details) instead of v1 (`featureFlags`).
FLAGS_V2_FROM = {"flags": 2, "decide": 4}


def error_type(status: int) -> str:
    if status in (401, 403):
        return "authentication_error"
    if status == 429:
        return "throttled_error"
    return "server_error" if status >= 500 else "validation_error"


def posthog_error(status: int, code: str, detail: str) -> dict:
    return {"type": error_type(status), "code": _CODES.get(code, code), "detail": detail, "attr": None}


def posthog_exception_handler(exc, context):
    """The native error (analytics_project.errors) in PostHog's shape; posthog-python shows ``detail``."""
    response = exception_handler(exc, context)
    if response is None:
        return None
    if hasattr(response, "data"):
        response.data = posthog_error(response.status_code, response.data["code"], response.data["detail"])
    else:  # a database outage or an internal error: an already rendered JsonResponse
        body = json.loads(response.content)
        response.content = json.dumps(posthog_error(response.status_code, body["code"], body["detail"]))
    return response


def remote_config(token: str | None = None) -> dict:
    """Everything optional switched off: no flags to fetch (``hasFeatureFlags``), no recordings,
    heatmaps or performance events this server could not store; events to ``/i/v0/e/``,
    gzip-compressed as posthog-js prefers.

    No ``surveys`` key at all: given ``false``, posthog-js 1.449 still fetches its 150 KB surveys
    bundle from the api_host on every page (to show none); without one it does not load it."""
    return {
        **({"token": token} if token else {}),
        "supportedCompression": ["gzip", "gzip-js"],
        "hasFeatureFlags": False,
        "analytics": {"endpoint": "/i/v0/e/"},
        "elementsChainAsString": True,
        "autocapture_opt_out": False,
        "autocaptureExceptions": False,
        "errorTracking": {"autocaptureExceptions": False, "suppressionRules": []},
        "captureDeadClicks": False,
        "capturePerformance": False,
        "sessionRecording": False,
        "heatmaps": False,
        "productTours": False,
        "defaultIdentifiedOnly": True,
        "siteApps": [],
    }


def remote_config_script(token: str) -> str:
    """config.js: the global posthog-js's remote-config loader reads, keyed by token, as PostHog serves it."""
    key = json.dumps(token)
    config = json.dumps({"config": remote_config(token), "siteApps": []})
    return (
        "(function () {\n"
        "  window._POSTHOG_REMOTE_CONFIG = window._POSTHOG_REMOTE_CONFIG || {};\n"
        f"  window._POSTHOG_REMOTE_CONFIG[{key}] = {config};\n"
        "})();\n"
    )


def flags_version(raw) -> int:
    """``?v=``: any value is accepted, as PostHog does; what is not a number is version 1."""
    try:
        return int(str(raw).strip())
    except ValueError:
        return 1


def no_flags(*, endpoint: str, version: int, with_config: bool) -> dict:
    """The answer to ``/flags/`` or ``/decide/``: no flag is defined, and none failed to compute."""
    v2 = version >= FLAGS_V2_FROM[endpoint]
    flags = {"flags": {}} if v2 else {"featureFlags": {}, "featureFlagPayloads": {}}
    body = {
        **flags,
        "errorsWhileComputingFlags": False,
        "quotaLimited": [],
        "requestId": str(uuid.uuid4()),
        "evaluatedAt": int(timezone.now().timestamp() * 1000),
    }
    if endpoint == "decide":
        legacy = {"config": {"enable_collect_everything": True}, "toolbarParams": {}, "isAuthenticated": False}
        return {**remote_config(), **legacy, **body}
    return {**remote_config(), **body} if with_config else body
