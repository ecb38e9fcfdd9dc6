from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers

from analytics_project.env import rate_per_second
from analytics_project.serializers import StrictSerializer
from apikeys.keys import KeyKind
from apikeys.models import App
from apikeys.validators import (
    normalize_site_domain,
    validate_domains,
    validate_rate,
    validate_site_domain,
    validate_timezone,
)
from organisations.models import Role

MAX_GRACE_SECONDS = 30 * 24 * 3600


class _DomainField(serializers.CharField):
    """Text only: DRF's CharField would take the number 0 as the domain "0"."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class RegisterInput(StrictSerializer):
    name = serializers.CharField(max_length=200)
    ownerEmail = serializers.EmailField(source="owner_email", max_length=254)
    domains = serializers.ListField(
        child=serializers.CharField(max_length=253), required=False, default=list, max_length=100
    )
    timezone = serializers.CharField(required=False, default="UTC", max_length=64)
    siteDomain = _DomainField(
        source="site_domain",
        max_length=253,
        required=False,
        default=None,
        allow_null=True,
        help_text="The domain Plausible's tracker sends (`domain` in its init); unique on this server.",
    )

    def validate_siteDomain(self, value):
        if value is None:
            return None
        value = normalize_site_domain(value)
        _run_django_validator(validate_site_domain, value)
        if App.objects.filter(site_domain=value).exists():
            raise serializers.ValidationError("Another app already has this site domain.", code="site_domain_taken")
        return value

    def validate_domains(self, value):
        value = [domain.strip().lower() for domain in value]
        _run_django_validator(validate_domains, value)
        return value

    def validate_timezone(self, value):
        _run_django_validator(validate_timezone, value)
        return value


class RegisterOutput(serializers.Serializer):
    appId = serializers.UUIDField(source="app.id")
    name = serializers.CharField(source="app.name")
    apiKey = serializers.CharField(source="secret_key.raw", help_text="Secret key. Shown this once only.")
    publishableKey = serializers.CharField(
        source="publishable_key.raw", help_text="Publishable key for browsers. Shown this once only."
    )
    keyPrefix = serializers.CharField(source="secret_key.api_key.prefix")
    expiresAt = serializers.DateTimeField(source="secret_key.api_key.expires_at", allow_null=True)


class KeyOutput(serializers.Serializer):
    """What every key shows of itself: never its secret."""

    id = serializers.UUIDField()
    name = serializers.CharField()
    prefix = serializers.CharField(help_text="The key's public part, e.g. `sk_AbCd1234…` or `uk_AbCd1234…`.")
    status = serializers.CharField()
    createdAt = serializers.DateTimeField(source="created_at")
    expiresAt = serializers.DateTimeField(source="expires_at", allow_null=True)
    revokedAt = serializers.DateTimeField(
        source="revoked_at", allow_null=True, help_text="In the future while a rotated key is in its grace period."
    )
    lastUsedAt = serializers.DateTimeField(source="last_used_at", allow_null=True)


class ApiKeyOutput(KeyOutput):
    kind = serializers.ChoiceField(choices=[k.value for k in KeyKind])
    replacedBy = serializers.UUIDField(source="replaced_by_id", allow_null=True)
    ingestRate = serializers.CharField(source="ingest_rate")
    reportRate = serializers.CharField(source="report_rate")


class IssuedKeyOutput(serializers.Serializer):
    apiKey = serializers.CharField(source="raw", help_text="The new key. Shown this once only.")
    key = ApiKeyOutput(source="api_key")


class IssuedPersonalKeyOutput(serializers.Serializer):
    apiKey = serializers.CharField(source="raw", help_text="The new personal key. Shown this once only.")
    key = KeyOutput(source="api_key")


class NewKeyInput(StrictSerializer):
    name = serializers.CharField(max_length=100, required=False, default="", allow_blank=True)
    expiresInDays = serializers.IntegerField(
        source="ttl_days",
        required=False,
        min_value=0,
        max_value=3650,
        help_text="Days until the key expires; 0 = never. Default API_KEY_TTL_DAYS (365).",
    )


class CreatePersonalKeyInput(NewKeyInput):
    pass


class MemberAppOutput(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()


class MemberOrganisationOutput(serializers.Serializer):
    """One membership, as the organisation it is in and the person's role there."""

    id = serializers.UUIDField(source="organisation.id")
    name = serializers.CharField(source="organisation.name")
    slug = serializers.CharField(source="organisation.slug")
    role = serializers.ChoiceField(choices=Role.values)
    apps = MemberAppOutput(
        source="organisation.apps.all", many=True, help_text="Pass an app's id as `appId` to the reports."
    )


class PersonOutput(serializers.Serializer):
    username = serializers.CharField()
    email = serializers.EmailField(allow_blank=True)
    organisations = MemberOrganisationOutput(many=True)


class AppOutput(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    organisationId = serializers.UUIDField(source="organisation_id", help_text="The organisation that owns the app.")
    ownerEmail = serializers.EmailField(source="owner_email")
    domains = serializers.ListField(child=serializers.CharField())
    siteDomain = serializers.CharField(source="site_domain", allow_null=True)
    timezone = serializers.CharField()
    createdAt = serializers.DateTimeField(source="created_at")


class CurrentKeyOutput(serializers.Serializer):
    app = AppOutput()
    key = ApiKeyOutput(help_text="The key this request was made with.")
    keys = ApiKeyOutput(many=True, help_text="Every key of the app, newest first.")


class CreateKeyInput(NewKeyInput):
    kind = serializers.ChoiceField(choices=[k.value for k in KeyKind])
    ingestRate = serializers.CharField(
        source="ingest_rate", required=False, default="", allow_blank=True, max_length=16
    )
    reportRate = serializers.CharField(
        source="report_rate", required=False, default="", allow_blank=True, max_length=16
    )

    def validate_ingestRate(self, value):
        return _rate_within(value, settings.INGEST_RATE, "INGEST_RATE")

    def validate_reportRate(self, value):
        return _rate_within(value, settings.REPORT_RATE, "REPORT_RATE")


class RegenerateInput(StrictSerializer):
    graceSeconds = serializers.IntegerField(
        source="grace_seconds",
        required=False,
        min_value=0,
        max_value=MAX_GRACE_SECONDS,
        help_text="How long the old key keeps working; 0 revokes it at once. Default 86400 (24 h).",
    )

    def validate(self, attrs):
        attrs.setdefault("grace_seconds", settings.API_KEY_ROTATION_GRACE_SECONDS)
        return attrs


class RevokeInput(StrictSerializer):
    apiKey = serializers.CharField(source="raw_key", required=False, help_text="The full key to revoke.")
    keyId = serializers.UUIDField(source="key_id", required=False, help_text="Or the key's id.")
    regenerate = serializers.BooleanField(
        required=False, default=False, help_text="Also issue a replacement key of the same kind."
    )

    def validate(self, attrs):
        if ("raw_key" in attrs) == ("key_id" in attrs):
            raise serializers.ValidationError("Send exactly one of apiKey or keyId.")
        return attrs


class RotationOutput(serializers.Serializer):
    apiKey = serializers.CharField(source="raw", help_text="The new key. Shown this once only.")
    key = ApiKeyOutput(source="api_key")
    previousKey = ApiKeyOutput(source="api_key.replaces", help_text="The rotated key, with its grace end in revokedAt.")


class RevokeOutput(serializers.Serializer):
    revoked = ApiKeyOutput()
    replacement = IssuedKeyOutput(required=False, allow_null=True)


def _rate_within(value: str, server_rate: str, setting: str) -> str:
    """A key may be given a lower rate than the server's through the API, never a higher one: raising a
    key's limit is for operators (the admin, ``manage.py create_key``). Lower means both a burst (the count
    in one period) no larger than the server's and an average per second no higher: ``8640000/d`` averages
    100/s but would allow the whole day's requests at once."""
    if value:
        _run_django_validator(validate_rate, value)
        if _rate_count(value) > _rate_count(server_rate) or rate_per_second(value) > rate_per_second(server_rate):
            raise serializers.ValidationError(
                f"May be at most the server's {setting} ({server_rate}); ask an operator for a higher rate."
            )
    return value


def _rate_count(rate: str) -> int:
    return int(rate.split("/")[0])


def _run_django_validator(validator, value):
    try:
        validator(value)
    except DjangoValidationError as exc:
        raise serializers.ValidationError(exc.messages) from None
