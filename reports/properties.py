"""The event properties reports can group and filter by, under the names the API uses.

Breakdowns (``by``), funnel filters and funnel breakdowns all accept the same names: a property below
(or the column spelling of one, ``device_type`` for ``device``), ``metadata.<key>`` for a top-level
metadata key, or ``person.<key>`` for a property of the event's person (persons.identity: traits from
identify and $set). A key may hold dots: ``metadata.a.b`` is the key ``"a.b"``, not a path, everywhere.
"""

import re

METADATA_PREFIX = "metadata."
PERSON_PREFIX = "person."
METADATA_KEY = re.compile(r"^[\w.\-]{1,100}$")
METADATA_KEY_RULE = "1-100 letters, digits, '_', '-' or '.'"

# API name -> events column.
PROPERTIES = {
    "event": "name",
    "url": "url",
    "host": "host",
    "path": "path",
    "referrer": "referrer_host",
    "device": "device_type",
    "browser": "browser",
    "os": "os",
    "country": "country",
    "screen": "screen",
    "locale": "locale",
    "source": "source",
    "utm_source": "utm_source",
    "utm_medium": "utm_medium",
    "utm_campaign": "utm_campaign",
    "utm_term": "utm_term",
    "utm_content": "utm_content",
}
# Column spellings accepted too: funnels took column names before the names were shared.
ALIASES = {"device_type": "device", "referrer_host": "referrer", "name": "event"}


class UnknownProperty(ValueError):
    pass


def canonical(name: str) -> str:
    """The API name of a property (``metadata.<key>`` and ``person.<key>`` as given); UnknownProperty
    for anything else."""
    for prefix in (METADATA_PREFIX, PERSON_PREFIX):
        if name.startswith(prefix):
            if not METADATA_KEY.match(name.removeprefix(prefix)):
                raise UnknownProperty(f"A {prefix.rstrip('.')} key is {METADATA_KEY_RULE}.")
            return name
    name = ALIASES.get(name, name)
    if name not in PROPERTIES:
        raise UnknownProperty(f"Use one of {', '.join(PROPERTIES)}, metadata.<key> or person.<key>.")
    return name


def metadata_key(name: str) -> str | None:
    """The metadata key a canonical property name reads, or None for a column."""
    return name.removeprefix(METADATA_PREFIX) if name.startswith(METADATA_PREFIX) else None


def person_key(name: str) -> str | None:
    """The person property a canonical property name reads, or None."""
    return name.removeprefix(PERSON_PREFIX) if name.startswith(PERSON_PREFIX) else None


# Export columns: (output name, events column), in the order a CSV file lists them.
EXPORT_COLUMNS = (
    ("eventId", "event_id"),
    ("event", "name"),
    ("timestamp", "timestamp"),
    ("receivedAt", "received_at"),
    ("distinctId", "distinct_id"),
    ("userId", "user_id"),
    ("anonymousId", "anonymous_id"),
    ("sessionId", "session_id"),
    ("url", "url"),
    ("host", "host"),
    ("path", "path"),
    ("referrer", "referrer"),
    ("referrerHost", "referrer_host"),
    ("utmSource", "utm_source"),
    ("utmMedium", "utm_medium"),
    ("utmCampaign", "utm_campaign"),
    ("utmTerm", "utm_term"),
    ("utmContent", "utm_content"),
    ("deviceType", "device_type"),
    ("browser", "browser"),
    ("os", "os"),
    ("country", "country"),
    ("screen", "screen"),
    ("locale", "locale"),
    ("ipAddress", "ip"),
    ("userAgent", "user_agent"),
    ("source", "source"),
    ("metadata", "metadata"),
)
