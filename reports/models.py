from django.conf import settings
from django.db import models


class SharedLink(models.Model):
    """A read-only link to one app's dashboard page, for people without an account (Plausible's shared
    links). The URL's token is shown once, when the link is made; only its SHA-256 digest is kept, so
    a database dump opens no dashboard. Revoking it stops it at once."""

    app = models.ForeignKey("apikeys.App", on_delete=models.CASCADE, related_name="shared_links")
    label = models.CharField(max_length=100, blank=True, help_text="Who it is for, e.g. 'investors'.")
    token_digest = models.CharField(max_length=64, unique=True, editable=False)
    password_hash = models.CharField(max_length=128, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    revoked_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.app} · {self.label or 'shared link'}"

    @property
    def has_password(self) -> bool:
        return bool(self.password_hash)


class Goal(models.Model):
    """What counts as a conversion on an app's dashboard: an event name, or a page viewed (a path)."""

    class Kind(models.TextChoices):
        EVENT = "event", "event"
        PAGE = "page", "page view"

    app = models.ForeignKey("apikeys.App", on_delete=models.CASCADE, related_name="goals")
    kind = models.CharField(max_length=8, choices=Kind.choices)
    value = models.CharField(max_length=200, help_text="The event name, or the path (e.g. /thanks).")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["app", "kind", "value"], name="goal_unique_per_app")]
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.value}"
