"""Typed readers for environment variables.

Each one raises ImproperlyConfigured naming the variable, so a bad value stops the server at start
instead of surfacing as a confusing error on the first request.
"""

import ipaddress
import os
import re
from datetime import timedelta
from fractions import Fraction
from urllib.parse import parse_qs, unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}
# A zero count or period ("0/m", "1/0m") would pass django-ratelimit's parser and then block or divide by zero.
_RATE = re.compile(r"^[1-9]\d*/([1-9]\d*)?[smhd]$")
_PERIOD_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_DURATION = re.compile(r"^(\d+)([smhd]?)$")
_DURATION_UNITS = {"s": "seconds", "": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def env_str(name: str, default: str | None = None) -> str | None:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (true/false), got {raw!r}")


def env_int(name: str, default: int, *, minimum: int = 0) -> int:
    raw = os.environ.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, got {raw!r}") from None
    if value < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, got {value}")
    return value


def env_choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    value = os.environ.get(name, default).strip().lower()
    if value not in choices:
        raise ImproperlyConfigured(f"{name} must be one of {', '.join(choices)}, got {value!r}")
    return value


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_networks(name: str, default: list[str]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    """A comma-separated list of networks (``10.0.0.0/8``) or single addresses (``192.0.2.7``)."""
    try:
        return tuple(ipaddress.ip_network(item) for item in env_list(name, default))
    except ValueError:
        raise ImproperlyConfigured(
            f"{name} must be IP networks like 10.0.0.0/8,::1/128, got {os.environ[name]!r}"
        ) from None


def is_rate(value: str) -> bool:
    """A django-ratelimit rate such as ``600/m`` or ``20/h``."""
    return bool(_RATE.match(value))


def rate_per_second(rate: str) -> Fraction:
    """How many requests a second a valid rate allows on average: ``600/m`` -> 10, ``1/2h`` -> 1/7200."""
    count, period = rate.split("/")
    return Fraction(int(count), int(period[:-1] or 1) * _PERIOD_SECONDS[period[-1]])


def env_rate(name: str, default: str) -> str:
    value = os.environ.get(name, default).strip()
    if not is_rate(value):
        raise ImproperlyConfigured(f"{name} must be a rate like 600/m or 20/h, got {value!r}")
    return value


def parse_duration(value: str) -> timedelta:
    """``90``, ``90s``, ``15m``, ``24h``, ``30d`` -> timedelta; ValueError otherwise."""
    match = _DURATION.match(value.strip().lower())
    if not match:
        raise ValueError(f"not a duration: {value!r} (use e.g. 90s, 15m, 24h, 30d)")
    amount, unit = match.groups()
    return timedelta(**{_DURATION_UNITS[unit]: int(amount)})


_EMAIL_SCHEMES = {
    "console": "django.core.mail.backends.console.EmailBackend",
    "locmem": "django.core.mail.backends.locmem.EmailBackend",
    "smtp": "django.core.mail.backends.smtp.EmailBackend",
    "smtps": "django.core.mail.backends.smtp.EmailBackend",
}


def env_email(name: str, default: str) -> dict:
    """Django's EMAIL_* settings from a URL: ``smtp://user:password@host:587?tls=true`` (STARTTLS),
    ``smtps://user:password@host:465`` (TLS from the first byte), ``smtp://host:25`` (plain), or
    ``console://`` (each message printed to stdout, the log)."""
    raw = (os.environ.get(name) or default).strip()  # empty, as Compose passes an unset variable: the default
    url = urlsplit(raw)
    if url.scheme not in _EMAIL_SCHEMES:
        schemes = ", ".join(f"{scheme}://" for scheme in _EMAIL_SCHEMES)
        raise ImproperlyConfigured(f"{name} must start with one of {schemes}, got {raw!r}")
    email = {
        "EMAIL_BACKEND": _EMAIL_SCHEMES[url.scheme],
        "EMAIL_HOST": "localhost",
        "EMAIL_PORT": 25,
        "EMAIL_HOST_USER": "",
        "EMAIL_HOST_PASSWORD": "",
        "EMAIL_USE_SSL": False,
        "EMAIL_USE_TLS": False,
        "EMAIL_TIMEOUT": None,
    }
    if not url.scheme.startswith("smtp"):
        return email
    try:
        port = url.port
    except ValueError:
        raise ImproperlyConfigured(f"{name} has a port that is not a number: {raw!r}") from None
    if not url.hostname:
        raise ImproperlyConfigured(f"{name} names no host: {raw!r}")
    implicit_tls = url.scheme == "smtps"
    tls = parse_qs(url.query).get("tls", [""])[-1].strip().lower()
    return {
        **email,
        "EMAIL_HOST": url.hostname,
        "EMAIL_PORT": port or (465 if implicit_tls else 25),
        "EMAIL_HOST_USER": unquote(url.username or ""),
        "EMAIL_HOST_PASSWORD": unquote(url.password or ""),
        "EMAIL_USE_SSL": implicit_tls,
        "EMAIL_USE_TLS": not implicit_tls and tls in _TRUE,
        "EMAIL_TIMEOUT": 10,  # a dead mail server must not hold a sign-up request for the OS default
    }
