"""Segment HTTP Tracking API messages -> native events (SPEC §4.3)."""

import uuid

from events.validation import EventRejected

# Fixed namespace: the same non-UUID messageId always maps to the same eventId, so Segment retries dedupe.
MESSAGE_ID_NAMESPACE = uuid.UUID("6b7e4a8e-3c0f-4d51-9a57-3f1b2e0c9d11")
MESSAGE_TYPES = ("track", "page", "screen", "identify", "group", "alias")


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
        "referrer": page.get("referrer") or (properties.get("referrer") if kind == "page" else None),
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
