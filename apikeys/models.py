import uuid
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import models
from django.utils import timezone as django_timezone

from apikeys.keys import PERSONAL_PREFIX, KeyKind, mask, masked
from apikeys.validators import validate_domains, validate_rate, validate_site_domain, validate_timezone


class App(models.Model):
    """A website or mobile app: the tenant every event, key and report belongs to."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=200)
    organisation = models.ForeignKey(
        "organisations.Organisation",
        on_delete=models.PROTECT,  # an organisation goes only once its apps (and their events) are gone
        related_name="apps",
    )
    # What registration was given: the organisation's pending owner until someone claims it, then history.
    owner_email = models.EmailField()
    domains = models.JSONField(
        default=list,
        blank=True,
        validators=[validate_domains],
        help_text="Host names the browser tracker may send from; empty allows any origin.",
    )
    # Unique, so a Plausible event's domain names one app on the whole server; null for apps without one.
    site_domain = models.CharField(
        max_length=253,
        unique=True,
        null=True,
        blank=True,
        validators=[validate_site_domain],
        error_messages={"unique": "Another app already has this site domain."},
        help_text="The domain Plausible's tracker and Events API send as `domain`, e.g. example.com.",
    )
    timezone = models.CharField(max_length=64, default="UTC", validators=[validate_timezone])
    created_at = models.DateTimeField(default=django_timezone.now, editable=False)
    operators = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        blank=True,
        related_name="granted_apps",
        help_text="Staff who may see this app in the admin and the dashboard. Superusers see every app.",
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True)
class SiteVisitor:
    """The caller of a keyless protocol (Plausible's, Umami's): a visitor of the app's site, found by its
    site domain or id, with a publishable key's rights (it may send events and nothing else)."""

    app: App
    is_secret = False

    @property
    def app_id(self) -> uuid.UUID:
        return self.app.id


class KeyStatus(models.TextChoices):
    ACTIVE = "active"
    ROTATING = "rotating", "rotating (grace period)"
    REVOKED = "revoked"
    EXPIRED = "expired"


class HashedKey(models.Model):
    """What every key row keeps: never the key, only its lookup id and SHA-256 digest (apikeys.keys), and
    its life: created, expires, revoked, last used."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=100, blank=True)
    lookup_id = models.CharField(max_length=8, unique=True, editable=False)
    digest = models.CharField(max_length=64, editable=False)
    created_at = models.DateTimeField(default=django_timezone.now, editable=False)
    expires_at = models.DateTimeField(null=True, blank=True, editable=False)
    # Set in the future by a rotation with a grace period: the key works until then.
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)

    # Not a column: set by authentication when the key cache says a use was recorded within the last
    # minute, which the cached row's own last_used_at cannot tell (apikeys.key_cache).
    use_recorded = False
    # Not a column: the request's rate-limit hit when authentication counted it (apikeys.throttling).
    counted_hit = None

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return self.prefix

    @property
    def prefix(self) -> str:
        raise NotImplementedError

    def status_at(self, now: datetime) -> KeyStatus:
        if self.revoked_at is not None and self.revoked_at <= now:
            return KeyStatus.REVOKED
        if self.expires_at is not None and self.expires_at <= now:
            return KeyStatus.EXPIRED
        if self.revoked_at is not None:
            return KeyStatus.ROTATING
        return KeyStatus.ACTIVE

    @property
    def status(self) -> KeyStatus:
        return self.status_at(django_timezone.now())

    @property
    def is_usable(self) -> bool:
        return self.status in (KeyStatus.ACTIVE, KeyStatus.ROTATING)


class ApiKey(HashedKey):
    """An app's key: secret (ingest, reports, key management) or publishable (ingest only)."""

    app = models.ForeignKey(App, on_delete=models.CASCADE, related_name="api_keys")
    kind = models.CharField(max_length=16, choices=[(k.value, k.value) for k in KeyKind])
    replaced_by = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="replaces", editable=False
    )
    ingest_rate = models.CharField(
        max_length=16, blank=True, validators=[validate_rate], help_text="Overrides INGEST_RATE, e.g. 100/m."
    )
    report_rate = models.CharField(
        max_length=16, blank=True, validators=[validate_rate], help_text="Overrides REPORT_RATE, e.g. 60/m."
    )

    class Meta:
        ordering = ["app", "-created_at"]
        verbose_name = "API key"

    @property
    def prefix(self) -> str:
        return mask(self.kind, self.lookup_id)

    @property
    def is_secret(self) -> bool:
        return self.kind == KeyKind.SECRET


class PersonalApiKey(HashedKey):
    """A person's own key (PostHog's personal API key): it reads the reports of the apps of the
    organisations the person belongs to, as far as their role there allows, naming the app with
    ``appId``. It works only while its user is active."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="personal_api_keys")

    is_secret = False  # not an app's secret key: apikeys.permissions.IsSecretKey refuses it
    report_rate = ""  # REPORT_RATE, as for an app key without a rate of its own

    class Meta:
        ordering = ["user", "-created_at"]
        verbose_name = "personal API key"

    @property
    def prefix(self) -> str:
        return masked(PERSONAL_PREFIX, self.lookup_id)
