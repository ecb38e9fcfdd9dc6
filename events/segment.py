"""Segment HTTP Tracking API messages -> native events (SPEC §4.3), and the settings analytics.js loads."""

import uuid

from events.validation import EventRejected

# Fixed namespace: the same non-UUID messageId always maps to the same eventId, so Segment retries dedupe.
MESSAGE_ID_NAMESPACE = uuid.UUID("6b7e4a8e-3c0f-4d51-9a57-3f1b2e0c9d11")
MESSAGE_TYPES = ("track", "page", "screen", "identify", "group", "alias")
# analytics.js posts each message to the first letter of its type (`/v1/t`), and batches to `/v1/b`.
SHORT_PATHS = {kind[0]: kind for kind in MESSAGE_TYPES}
# RudderStack JS's referrer when the page has none.
NO_REFERRER = "$direct"


def merge_context(batch_context, message):
    """Batch-level context under the message's own: the message wins key by key. A message that is not an
    object is returned as it is, for ``to_native`` to reject."""
    if not isinstance(batch_context, dict) or not batch_context or not isinstance(message, dict):
        return message
    own = message.get("context")
    return {**message, "context": {**batch_context, **(own if isinstance(own, dict) else {})}}


def _event_id(message_id) -> str | None:
    text = "" if message_id is None else str(message_id).strip()
    if not text:  # a blank id is no id: mapping it would make every such message a "duplicate"
        return None
    try:
        return str(uuid.UUID(text))
    except ValueError:
        pass
    try:
        return str(uuid.uuid5(MESSAGE_ID_NAMESPACE, text))
    except UnicodeEncodeError:  # a lone surrogate ("\ud800" in the JSON) has no UTF-8 bytes to hash
        raise EventRejected("invalid_event_id", "`messageId` contains a lone surrogate (not valid Unicode).") from None


def _dict(value) -> dict:
    return value if isinstance(value, dict) else {}


def _name_and_metadata(kind: str, message: dict) -> tuple:
    properties = _dict(message.get("properties"))
    if kind == "track":
        return message.get("event"), properties
    if kind == "page":
        extra = {key: message[key] for key in ("name", "category") if message.get(key) is not None}
        return "pageview", {**properties, **extra}
    if kind == "screen":
        extra = {"name": message["name"]} if message.get("name") is not None else {}
        return "screen", {**properties, **extra}
    if kind == "identify":
        return "identify", _dict(message.get("traits")) or _dict(_dict(message.get("context")).get("traits"))
    if kind == "group":
        return "group", {"groupId": message.get("groupId"), "traits": _dict(message.get("traits"))}
    return "alias", {"previousId": message.get("previousId")}


def _referrer(value):
    return None if value == NO_REFERRER else value


def to_native(message, *, kind: str | None = None, sent_at=None) -> dict:
    if not isinstance(message, dict):
        raise EventRejected("invalid_event", "Each message must be a JSON object.")
    kind = kind or message.get("type")
    if kind not in MESSAGE_TYPES:
        raise EventRejected("invalid_type", f"`type` must be one of {', '.join(MESSAGE_TYPES)}.")
    name, metadata = _name_and_metadata(kind, message)
    context = _dict(message.get("context"))
    page = _dict(context.get("page"))
    screen = _dict(context.get("screen"))
    properties = _dict(message.get("properties"))
    native = {
        "event": name,
        "userId": message.get("userId"),
        "anonymousId": message.get("anonymousId"),
        "sessionId": context.get("sessionId"),
        "url": page.get("url") or (properties.get("url") if kind == "page" else None),
        "referrer": _referrer(page.get("referrer") or (properties.get("referrer") if kind == "page" else None)),
        "userAgent": context.get("userAgent"),
        "ipAddress": context.get("ip"),
        "locale": context.get("locale"),
        "timestamp": message.get("timestamp") or message.get("originalTimestamp"),
        "sentAt": message.get("sentAt") or sent_at,
        "eventId": _event_id(message.get("messageId")),
        "metadata": metadata,
    }
    if screen.get("width") and screen.get("height"):
        native["screen"] = f"{screen['width']}x{screen['height']}"
    return {key: value for key, value in native.items() if value is not None}


def cdn_settings(*, write_key: str, api_host: str, protocol: str) -> dict:
    """What analytics.js reads from Segment's CDN (``/v1/projects/{writeKey}/settings``): deliver to
    ``{protocol}://{api_host}/{t|p|i|a|g|s|b}``, with no destinations, middleware or plugins to load
    (each would be fetched from Segment's CDN) and no metrics of its own (analytics.js would post them to
    ``/m``, a Segment endpoint this server does not have)."""
    return {
        "integrations": {"Segment.io": {"apiKey": write_key, "apiHost": api_host, "protocol": protocol}},
        "plan": {},
        "edgeFunction": {},
        "analyticsNextEnabled": True,
        "middlewareSettings": {},
        "enabledMiddleware": {},
        "metrics": {"sampleRate": 0},
        "legacyVideoPluginsEnabled": False,
        "remotePlugins": [],
    }
