import zoneinfo
from functools import cache

from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator

from analytics_project.env import is_rate

domain_validator = RegexValidator(
    r"^(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(:\d{1,5})?$",
    "Enter a host name such as example.com, *.example.com or localhost:3000.",
)

# A site domain is one host: no wildcard, no port (Plausible's domains are bare host names).
site_domain_validator = RegexValidator(
    r"^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$",
    "Enter a host name such as example.com, without www., a port or a wildcard.",
)


def normalize_site_domain(value: str) -> str:
    """Plausible compares domains without a leading ``www.``, in lower case."""
    return value.strip().lower().removeprefix("www.")


def validate_site_domain(value: str) -> None:
    site_domain_validator(value)
    if value != normalize_site_domain(value):
        raise ValidationError("Enter the domain in lower case, without a leading www.")


@cache
def _timezones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def validate_timezone(value: str) -> None:
    if value not in _timezones():
        raise ValidationError(f"{value!r} is not an IANA time zone such as Europe/Berlin.")


def validate_domains(value) -> None:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ValidationError("Enter a list of host names.")
    for item in value:
        domain_validator(item)


def validate_rate(value: str) -> None:
    if not is_rate(value):
        raise ValidationError(f"{value!r} is not a rate such as 600/m or 20/h.")
