"""Writing the audit log: who (a person, a key, or a command), from where, did what to which target.

The services that change keys, members and app settings call ``audit_record`` in their own transaction,
so an entry exists exactly when the change does."""

from dataclasses import dataclass

from analytics_project.client_ip import client_ip
from organisations.models import AuditAction, AuditEntry, Organisation


@dataclass(frozen=True)
class Actor:
    user: object | None = None  # a django.contrib.auth User
    key_prefix: str = ""  # the masked key a request was made with, e.g. sk_AbCd1234…
    label: str = ""  # what to call the actor when there is no user: "manage.py revoke_key", "system"
    ip: str | None = None

    @classmethod
    def from_request(cls, request) -> "Actor":
        """The caller of a DRF or Django request: its signed-in person, and the key it was made with."""
        user = getattr(request, "user", None)
        user = user if user is not None and user.is_authenticated else None
        prefix = getattr(getattr(request, "auth", None), "prefix", "")
        prefix = prefix if isinstance(prefix, str) else ""
        label = "" if user is not None or prefix else "anonymous"  # the public register endpoint
        return cls(user=user, key_prefix=prefix, label=label, ip=client_ip(request) or None)

    @classmethod
    def command(cls, name: str) -> "Actor":
        return cls(label=f"manage.py {name}")

    def describe(self) -> str:
        if self.user is not None:
            return self.user.get_username()
        return self.key_prefix or self.label or "system"


SYSTEM = Actor(label="system")


def audit_record(
    *,
    action: AuditAction,
    organisation: Organisation | None,
    target,
    actor: Actor | None = None,
    details: dict | None = None,
) -> AuditEntry:
    """``target``: the model instance acted on (an app, a key, a user), named by its model and its
    ``str``, which for keys is their masked prefix."""
    actor = actor or SYSTEM
    return AuditEntry.objects.create(
        organisation=organisation,
        actor_user=actor.user,
        actor_key=actor.key_prefix,
        actor_label=actor.describe(),
        action=action,
        target_type=target._meta.model_name,
        target_id=str(target.pk),
        target_label=str(target)[:254],
        ip=actor.ip,
        details=details or {},
    )
