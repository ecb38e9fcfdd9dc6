"""Server-side enrichment: pure functions from request facts to stored columns (SPEC §4.2)."""

import hashlib
import hmac
import ipaddress
import re
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from urllib.parse import SplitResult, parse_qs, urlsplit

import maxminddb
from ua_parser import parse as parse_user_agent

from events.models import DeviceType

UTM_FIELDS = ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content")
_HTTP_CLIENTS = re.compile(r"bot|crawl|spider|slurp|curl|wget|python|http-client|okhttp|go-http|java/|headless", re.I)
_MOBILE_OS = {"iOS", "Android", "Windows Phone", "BlackBerry OS", "KaiOS", "Firefox OS", "Symbian OS"}
_TABLET_HINTS = ("iPad", "Tablet", "Kindle", "Nexus 7", "Nexus 9", "Nexus 10", "Galaxy Tab")


@dataclass(frozen=True)
class UserAgentFacts:
    browser: str
    os: str
    device_type: str


@lru_cache(maxsize=20_000)
def user_agent_facts(user_agent: str) -> UserAgentFacts:
    """Browser, OS and device type from the uap-core rules, plus the rules user-agents uses for the type."""
    if not user_agent:
        return UserAgentFacts(browser="", os="", device_type="")
    parsed = parse_user_agent(user_agent)
    browser = parsed.user_agent.family if parsed.user_agent else ""
    os_name = parsed.os.family if parsed.os else ""
    device = parsed.device.family if parsed.device else ""
    brand = (parsed.device.brand or "") if parsed.device else ""
    if device == "Spider" or _HTTP_CLIENTS.search(browser or user_agent):
        device_type = DeviceType.BOT
    elif (
        any(hint in device for hint in _TABLET_HINTS)
        or "Tablet" in brand
        or (os_name == "Android" and "Mobile" not in user_agent)
    ):
        device_type = DeviceType.TABLET
    elif os_name in _MOBILE_OS or "Mobi" in user_agent:
        device_type = DeviceType.MOBILE
    elif os_name:
        device_type = DeviceType.DESKTOP
    else:
        device_type = DeviceType.OTHER
    return UserAgentFacts(browser=browser[:64], os=os_name[:64], device_type=str(device_type))


@dataclass(frozen=True)
class UrlFacts:
    host: str
    path: str
    utm: dict[str, str]


def _split(url: str) -> SplitResult | None:
    """urlsplit, or None for what it refuses (an unclosed IPv6 bracket such as ``http://[::1``): the
    event is still worth keeping, its URL just has no host or path to report on."""
    try:
        return urlsplit(url)
    except ValueError:
        return None


def url_facts(url: str, *, hash_routing: bool = False) -> UrlFacts:
    """Host, path and UTM tags; with ``hash_routing`` (a hash-based router's page, Plausible's ``h: 1``)
    the fragment, "#/settings", is part of the path, since it is what tells the router's pages apart."""
    parts = _split(url) if url else None
    if parts is None:
        return UrlFacts(host="", path="", utm=dict.fromkeys(UTM_FIELDS, ""))
    query = parse_qs(parts.query)
    # %00 decodes to a NUL, which PostgreSQL text cannot hold; nothing else percent-decoding makes is unstorable.
    utm = {field: query.get(field, [""])[0].replace("\x00", "")[:200] for field in UTM_FIELDS}
    path = (parts.path or "/") + (f"#{parts.fragment}" if hash_routing and parts.fragment else "")
    return UrlFacts(host=(parts.hostname or "")[:255], path=path[:2048], utm=utm)


def referrer_host(referrer: str, page_host: str = "") -> str:
    """The referring site's host; '' when there is none or it is the page's own site (a reload, a
    multi-page site's previous page, with or without www.), as Plausible counts sources: a site never
    refers itself, whichever tracker sent the event."""
    parts = _split(referrer) if referrer else None
    host = (parts.hostname or "")[:255] if parts else ""
    if host and page_host and host.removeprefix("www.") == page_host.lower().removeprefix("www."):
        return ""
    return host


@lru_cache(maxsize=1)
def _geoip_reader(path: str):
    return maxminddb.open_database(path)


@lru_cache(maxsize=50_000)
def country_for_ip(ip: str, database: str) -> str:
    """ISO country code from a GeoIP database ('' without one, or for private and unknown addresses)."""
    if not database or not ip:
        return ""
    try:
        record = _geoip_reader(database).get(ip)
    except ValueError:  # not an IP address the database can look up
        return ""
    if not isinstance(record, dict):
        return ""
    country = record.get("country") or record.get("registered_country") or {}
    return str(country.get("iso_code", ""))[:2].upper()


def valid_ip(value: str) -> str | None:
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        return None


def anonymize_ip(ip: str) -> str:
    """Keep the network, drop the host: /24 for IPv4, /48 for IPv6 (Google Analytics' IP masking)."""
    address = ipaddress.ip_address(ip)
    prefix = 24 if address.version == 4 else 48
    return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False).network_address)


def anonymous_distinct_id(*, secret: str, app_id: str, day: date, ip: str, user_agent: str) -> str:
    """A visitor id without cookies: the same browser counts once a day and cannot be followed across days
    or apps, because the salt changes daily and is never stored (Plausible's scheme)."""
    salt = f"{secret}:{app_id}:{day.isoformat()}".encode()
    return "anon_" + hmac.new(salt, f"{ip}|{user_agent}".encode(), hashlib.sha256).hexdigest()[:32]
