"""PostHog capture events -> native events (SPEC §4.1). Pure: no request, no database.

Identity: before ``identify`` a PostHog ``distinct_id`` is the anonymous device id (``$device_id``);
after it, the user's own id. So ``distinct_id`` is the userId when the event says the person is
identified (``$is_identified``; or, without that flag, a ``$user_id``, or a ``$device_id`` other
than ``distinct_id``) and the device id is then the anonymousId; otherwise ``distinct_id`` is the
anonymousId. ``$identify`` and ``$create_alias`` always name a user.
"""

import math

from events.validation import EventRejected

# The names this project's reports and the other protocols use for the same things.
EVENT_NAMES = {
    "$pageview": "pageview",
    "$screen": "screen",
    "$identify": "identify",
    "$create_alias": "alias",
    "$groupidentify": "group",
}
# Properties stored as columns (or the key itself) are not repeated in metadata; every other
# property, PostHog's own `$lib`, `$browser` or `$pathname` included, is kept for breakdowns.
COLUMN_PROPERTIES = frozenset(
    {
        "distinct_id",
        "token",
        "$token",
        "$current_url",
        "$referrer",
        "$raw_user_agent",
        "$session_id",
        "$device_id",
        "$anon_distinct_id",
        "$screen_width",
        "$screen_height",
        "$browser_language",
        "$set",
        "$set_once",
    }
)
PERSON_UPDATES = ("$set", "$set_once")
DIRECT = "$direct"  # posthog-js's referrer for a visit that had none
# Any instant works: with an offset only the difference to the send time counts (see _timing).
OFFSET_REFERENCE_MS = 1_577_836_800_000  # 2020-01-01T00:00:00Z
_LIMITS = {"url": 2048, "referrer": 2048, "userAgent": 1024, "locale": 35}


def _dict(value) -> dict:
    return value if isinstance(value, dict) else {}


def _text(value, limit: int) -> str | None:
    # Cut rather than refuse: posthog-js allows 64 KiB per property, and one long URL should not cost the event.
    return value[:limit] if isinstance(value, str) and value else None


def _id(value) -> str | None:
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        return None
    text = str(value).strip()
    return text or None


def instant(value):
    """PostHog's send times: ISO 8601, or digits of epoch seconds or milliseconds (posthog-js's ``?_=``)."""
    # ASCII digits only: str.isdigit() also takes "²", which int() refuses. 16 digits reach year 2286 in ms.
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 16:
        return int(value) * (1 if len(value) > 11 else 1000)
    return value


def person_updates(message: dict, properties: dict) -> dict:
    """``$set`` and ``$set_once`` as objects, from the event's top level (``/engage/``, old SDKs) and its
    properties; the properties win key by key, as PostHog merges them."""
    updates = {}
    for key in PERSON_UPDATES:
        merged = {**_dict(message.get(key)), **_dict(properties.get(key))}
        if merged:
            updates[key] = merged
    return updates


def _identity(name, distinct_id: str, properties: dict) -> tuple[str | None, str | None]:
    device_id = _id(properties.get("$device_id"))
    if name == "$identify":
        return distinct_id, _id(properties.get("$anon_distinct_id")) or device_id
    if name == "$create_alias":
        return distinct_id, None
    identified = properties.get("$is_identified")
    if not isinstance(identified, bool):
        identified = bool(_id(properties.get("$user_id"))) or (device_id is not None and device_id != distinct_id)
    if identified:
        return distinct_id, device_id if device_id != distinct_id else None
    return None, distinct_id


def _metadata(name, properties: dict, updates: dict) -> dict:
    if name == "$identify":
        # The traits themselves, as a Segment identify's; $set_once beside them for the persons layer.
        once = {"$set_once": updates["$set_once"]} if "$set_once" in updates else {}
        return {**updates.get("$set", {}), **once}
    if name == "$create_alias":
        return {"previousId": _id(properties.get("alias"))}
    if name == "$groupidentify":
        return {
            "groupType": properties.get("$group_type"),
            "groupId": properties.get("$group_key"),
            "traits": _dict(properties.get("$group_set")),
        }
    return {**{key: value for key, value in properties.items() if key not in COLUMN_PROPERTIES}, **updates}


def _timing(message: dict, sent_at) -> dict:
    offset = message.get("offset")
    if isinstance(offset, (int, float)) and not isinstance(offset, bool) and math.isfinite(offset):
        # `offset` is how long before sending the event happened, in ms (PostHog's mobile SDKs and
        # older posthog-js): the event time is the receive time minus it, whatever `timestamp` says.
        # Native sentAt correction computes exactly that from a timestamp and a send time `offset` later.
        return {"timestamp": OFFSET_REFERENCE_MS, "sentAt": OFFSET_REFERENCE_MS + offset}
    return {"timestamp": instant(message.get("timestamp")), "sentAt": instant(message.get("sent_at") or sent_at)}


def _screen(properties: dict) -> str | None:
    width, height = properties.get("$screen_width"), properties.get("$screen_height")
    if all(isinstance(side, int) and not isinstance(side, bool) and side > 0 for side in (width, height)):
        return f"{width}x{height}"
    return None


def to_native(message, *, sent_at=None, engage: bool = False) -> dict:
    """One PostHog event as a native event; ``engage`` for ``/engage/``'s person updates, which PostHog
    treats as ``$identify``. Raises EventRejected for what cannot be an event at all."""
    if not isinstance(message, dict):
        raise EventRejected("invalid_event", "Each event must be a JSON object.")
    properties = _dict(message.get("properties"))
    candidates = (message.get("distinct_id"), message.get("$distinct_id"), properties.get("distinct_id"))
    distinct_id = next(filter(None, map(_id, candidates)), None)
    if distinct_id is None:
        raise EventRejected("missing_distinct_id", "`distinct_id` is required (a non-empty string or number).")
    name = "$identify" if engage else message.get("event")
    user_id, anonymous_id = _identity(name, distinct_id, properties)
    referrer = _text(properties.get("$referrer"), _LIMITS["referrer"])
    native = {
        "event": EVENT_NAMES.get(name, name) if isinstance(name, str) else name,
        "userId": user_id,
        "anonymousId": anonymous_id,
        "sessionId": _id(properties.get("$session_id")),
        "url": _text(properties.get("$current_url") or properties.get("$pathname"), _LIMITS["url"]),
        "referrer": referrer if referrer != DIRECT else None,
        "userAgent": _text(properties.get("$raw_user_agent"), _LIMITS["userAgent"]),
        "locale": _text(properties.get("$browser_language"), _LIMITS["locale"]),
        "screen": _screen(properties),
        "eventId": message.get("uuid"),
        "metadata": _metadata(name, properties, person_updates(message, properties)),
        **_timing(message, sent_at),
    }
    return {key: value for key, value in native.items() if value is not None}
