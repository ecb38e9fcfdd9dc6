import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone


class Role(models.TextChoices):
    """Highest first; what each may do is organisations.permissions.OPERATIONS."""

    OWNER = "owner"
    ADMIN = "admin"
    MEMBER = "member"
    VIEWER = "viewer"


class Organisation(models.Model):
    """Owns apps; people belong to it through a Membership with a role."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=60, unique=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    # The public register endpoint names an owner by address only: whoever signs in with that address,
    # verified, becomes the owner (organisations.services.organisations_claim_pending) and this is cleared.
    pending_owner_email = models.EmailField(
        blank=True,
        db_index=True,
        help_text="Becomes the owner on signing in with this verified address.",
    )
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, through="Membership", related_name="organisations")

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.VIEWER)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["organisation", "user"]
        constraints = [models.UniqueConstraint(fields=["organisation", "user"], name="one_membership_per_person")]

    def __str__(self) -> str:
        return f"{self.user} in {self.organisation} ({self.role})"


class Invitation(models.Model):
    """An address asked to join an organisation with a role (organisations.invitations). The link's token
    is shown once, in the email; only its SHA-256 digest is kept, so a database dump opens no invitation.
    It works once, until ``expires_at``, for the person whose verified address it names."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField()
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.VIEWER)
    token_digest = models.CharField(max_length=64, unique=True, editable=False)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["email"], name="invitation_by_email")]

    def __str__(self) -> str:
        return f"{self.email} to {self.organisation} ({self.role})"

    def status_at(self, now) -> str:
        if self.accepted_at is not None:
            return "accepted"
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at <= now:
            return "expired"
        return "pending"

    @property
    def status(self) -> str:
        return self.status_at(timezone.now())


class AuditAction(models.TextChoices):
    APP_CREATED = "app.created"
    APP_UPDATED = "app.updated"
    KEY_CREATED = "key.created"
    KEY_ROTATED = "key.rotated"
    KEY_REVOKED = "key.revoked"
    PERSONAL_KEY_CREATED = "personal_key.created"
    PERSONAL_KEY_REVOKED = "personal_key.revoked"
    MEMBER_ADDED = "member.added"
    MEMBER_REMOVED = "member.removed"
    MEMBER_ROLE_CHANGED = "member.role_changed"
    MEMBER_INVITED = "member.invited"
    INVITATION_REVOKED = "invitation.revoked"


class AuditEntry(models.Model):
    """Who did what to which target, when and from where. Written by the services only, never edited.

    The actor and target are also kept as text, so an entry still reads right after its user, key or
    organisation is gone."""

    created_at = models.DateTimeField(default=timezone.now, editable=False)
    organisation = models.ForeignKey(
        Organisation, null=True, blank=True, on_delete=models.SET_NULL, related_name="audit_entries"
    )
    actor_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_key = models.CharField(max_length=16, blank=True, help_text="The masked key the request was made with.")
    actor_label = models.CharField(max_length=254, blank=True)
    action = models.CharField(max_length=32, choices=AuditAction.choices)
    target_type = models.CharField(max_length=32)
    target_id = models.CharField(max_length=64)
    target_label = models.CharField(max_length=254, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "audit entries"
        indexes = [models.Index(fields=["organisation", "-created_at"], name="audit_by_organisation")]

    def __str__(self) -> str:
        return f"{self.action} {self.target_label or self.target_id}"
