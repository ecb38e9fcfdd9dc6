"""Use cases that write apps and keys. The API, the admin and the management commands all call these."""

import logging
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import DatabaseError, transaction
from django.utils import timezone

from analytics_project.errors import is_database_outage
from apikeys import key_cache, keys
from apikeys.keys import KeyKind
from apikeys.models import ApiKey, App, HashedKey, PersonalApiKey
from organisations.audit import Actor, audit_record
from organisations.models import AuditAction, Organisation
from organisations.services import organisation_create

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class IssuedKey:
    """A key just created: the only moment its plain text exists outside the client."""

    api_key: HashedKey  # an ApiKey, or a PersonalApiKey
    raw: str


@dataclass(frozen=True)
class RegisteredApp:
    app: App
    secret_key: IssuedKey
    publishable_key: IssuedKey


def _default_expiry(ttl_days: int | None):
    days = settings.API_KEY_TTL_DAYS if ttl_days is None else ttl_days
    return timezone.now() + timedelta(days=days) if days else None


# What app_update may change: the settings an app's admins edit. Never its organisation or id.
APP_SETTINGS = ("name", "owner_email", "domains", "site_domain", "timezone")


@transaction.atomic
def app_create(
    *,
    name: str,
    owner_email: str,
    organisation: Organisation | None = None,
    domains: list[str] | None = None,
    timezone_name: str = "UTC",
    site_domain: str | None = None,
    actor: Actor | None = None,
) -> App:
    """Without ``organisation``, the app gets a new one of its own, named after it, whose owner is
    pending for ``owner_email`` (organisations.services.organisations_claim_pending)."""
    if organisation is None:
        organisation = organisation_create(name=name, pending_owner_email=owner_email, actor=actor)
    app = App(
        name=name,
        owner_email=owner_email,
        organisation=organisation,
        domains=list(domains or []),
        timezone=timezone_name,
        site_domain=site_domain or None,
    )
    app.full_clean()
    app.save()
    _audit_app(AuditAction.APP_CREATED, app, actor, {"ownerEmail": owner_email})
    return app


@transaction.atomic
def app_register(
    *,
    name: str,
    owner_email: str,
    organisation: Organisation | None = None,
    domains: list[str] | None = None,
    timezone_name: str = "UTC",
    site_domain: str | None = None,
    actor: Actor | None = None,
) -> RegisteredApp:
    """A new app with one secret and one publishable key, as self-service registration hands out."""
    app = app_create(
        name=name,
        owner_email=owner_email,
        organisation=organisation,
        domains=domains,
        timezone_name=timezone_name,
        site_domain=site_domain,
        actor=actor,
    )
    return RegisteredApp(
        app=app,
        secret_key=api_key_create(app=app, kind=KeyKind.SECRET, name="default secret key", actor=actor),
        publishable_key=api_key_create(app=app, kind=KeyKind.PUBLISHABLE, name="default publishable key", actor=actor),
    )


@transaction.atomic
def app_update(*, app: App, actor: Actor | None = None, **changes) -> App:
    """Change an app's settings (APP_SETTINGS); the audit entry holds each changed field's old and new value."""
    unknown = set(changes) - set(APP_SETTINGS)
    if unknown:
        raise TypeError(f"not an app setting: {', '.join(sorted(unknown))}")
    app = App.objects.select_for_update().select_related("organisation").get(pk=app.pk)
    changed = {field: [getattr(app, field), value] for field, value in changes.items() if getattr(app, field) != value}
    if not changed:
        return app
    for field, (_old, new) in changed.items():
        setattr(app, field, new)
    app.full_clean()
    app.save(update_fields=list(changed))
    _audit_app(AuditAction.APP_UPDATED, app, actor, changed)
    return app


def _audit_app(action: AuditAction, app: App, actor: Actor | None, details: dict) -> None:
    audit_record(action=action, organisation=app.organisation, target=app, actor=actor, details=details)


@transaction.atomic
def api_key_create(
    *,
    app: App,
    kind: KeyKind,
    name: str = "",
    ttl_days: int | None = None,
    ingest_rate: str = "",
    report_rate: str = "",
    actor: Actor | None = None,
) -> IssuedKey:
    """``ttl_days`` None takes API_KEY_TTL_DAYS; 0 means the key never expires."""
    issued = _api_key_new(
        app=app, kind=kind, name=name, ttl_days=ttl_days, ingest_rate=ingest_rate, report_rate=report_rate
    )
    _audit_key(AuditAction.KEY_CREATED, issued.api_key, actor, {"kind": issued.api_key.kind, "name": name})
    return issued


def _api_key_new(
    *, app: App, kind: KeyKind, name: str, ttl_days: int | None, ingest_rate: str, report_rate: str
) -> IssuedKey:
    generated = keys.generate(KeyKind(kind))
    api_key = ApiKey(
        app=app,
        kind=generated.kind,
        name=name,
        lookup_id=generated.lookup_id,
        digest=generated.digest,
        expires_at=_default_expiry(ttl_days),
        ingest_rate=ingest_rate,
        report_rate=report_rate,
    )
    api_key.full_clean(exclude=["app", "replaced_by"])
    api_key.save()
    return IssuedKey(api_key=api_key, raw=generated.raw)


class KeyNotRotatable(Exception):
    pass


@transaction.atomic
def api_key_rotate(*, api_key: ApiKey, grace: timedelta | None = None, actor: Actor | None = None) -> IssuedKey:
    """A new key of the same kind; the old one keeps working for ``grace`` (0 revokes it at once)."""
    if grace is None:
        grace = timedelta(seconds=settings.API_KEY_ROTATION_GRACE_SECONDS)
    # Lock the row so two concurrent rotations cannot both replace the same key.
    api_key = ApiKey.objects.select_for_update().get(pk=api_key.pk)
    if not api_key.is_usable:
        raise KeyNotRotatable(f"{api_key.prefix} is {api_key.status}; create a new key instead.")
    issued = _api_key_new(
        app=api_key.app,
        kind=KeyKind(api_key.kind),
        name=api_key.name,
        ttl_days=None,
        ingest_rate=api_key.ingest_rate,
        report_rate=api_key.report_rate,
    )
    ends_at = timezone.now() + grace
    # A key already inside an earlier grace period never gets a longer life from a second rotation.
    if api_key.revoked_at is None or ends_at < api_key.revoked_at:
        api_key.revoked_at = ends_at
    api_key.replaced_by = issued.api_key
    api_key.save(update_fields=["revoked_at", "replaced_by"])
    details = {"newKey": issued.api_key.prefix, "graceSeconds": int(grace.total_seconds())}
    _audit_key(AuditAction.KEY_ROTATED, api_key, actor, details)
    return issued


@transaction.atomic
def api_key_revoke(*, api_key: ApiKey, actor: Actor | None = None) -> ApiKey:
    api_key = ApiKey.objects.select_for_update().get(pk=api_key.pk)
    if _revoke_now(api_key):
        _audit_key(AuditAction.KEY_REVOKED, api_key, actor, {})
    return api_key


def _revoke_now(key: HashedKey) -> bool:
    """Revoke a locked key row at once (ending a grace period early); False if it already was."""
    now = timezone.now()
    if key.revoked_at is not None and key.revoked_at <= now:
        return False
    key.revoked_at = now
    key.save(update_fields=["revoked_at"])
    return True


def _audit_key(action: AuditAction, api_key: ApiKey, actor: Actor | None, details: dict) -> None:
    details = {"app": str(api_key.app_id), **details}
    audit_record(action=action, organisation=api_key.app.organisation, target=api_key, actor=actor, details=details)


@transaction.atomic
def personal_key_create(*, user, name: str = "", ttl_days: int | None = None, actor: Actor | None = None) -> IssuedKey:
    """A person's own key, shown once; ``ttl_days`` as for app keys."""
    generated = keys.generate_personal()
    personal_key = PersonalApiKey(
        user=user,
        name=name,
        lookup_id=generated.lookup_id,
        digest=generated.digest,
        expires_at=_default_expiry(ttl_days),
    )
    personal_key.full_clean(exclude=["user"])
    personal_key.save()
    _audit_personal_key(AuditAction.PERSONAL_KEY_CREATED, personal_key, actor, {"name": name})
    return IssuedKey(api_key=personal_key, raw=generated.raw)


@transaction.atomic
def personal_key_revoke(*, personal_key: PersonalApiKey, actor: Actor | None = None) -> PersonalApiKey:
    personal_key = PersonalApiKey.objects.select_for_update().select_related("user").get(pk=personal_key.pk)
    if _revoke_now(personal_key):
        _audit_personal_key(AuditAction.PERSONAL_KEY_REVOKED, personal_key, actor, {})
    return personal_key


def _audit_personal_key(action: AuditAction, key: PersonalApiKey, actor: Actor | None, details: dict) -> None:
    # A person's key is no organisation's: the entry names its user.
    details = {"user": key.user.get_username(), **details}
    audit_record(action=action, organisation=None, target=key, actor=actor, details=details)


def api_key_touch(*, api_key: HashedKey, interval: timedelta = timedelta(minutes=1)) -> None:
    """Record use at most once per ``interval``: authentication is a read path and must stay cheap.

    A key served from the key cache carries the last_used_at of when it was cached; the marker the
    cache keeps beside it (``use_recorded``) says whether a worker recorded a use since."""
    now = timezone.now()
    if api_key.use_recorded or (api_key.last_used_at is not None and now - api_key.last_used_at < interval):
        return
    try:
        type(api_key).objects.filter(pk=api_key.pk).update(last_used_at=now)
    except DatabaseError as exc:
        # A key served from the key cache needs no database: with buffered ingestion a request that
        # would otherwise be queued must not fail for want of a last-used time.
        if not is_database_outage(exc):
            raise
        logger.warning("last use of key %s not recorded: database unavailable", api_key.prefix)
    else:
        api_key.last_used_at = now
    # Marked either way: with the database unreachable, every request would otherwise try the write
    # again, and wait DB_CONNECT_TIMEOUT for it when the server does not answer at all. Personal keys
    # are read from the database on every request (no key cache), so their row says it already.
    if isinstance(api_key, ApiKey):
        key_cache.mark_touched(api_key.lookup_id, seconds=int(interval.total_seconds()))
