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
from apikeys.models import ApiKey, App

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class IssuedKey:
    """A key just created: the only moment its plain text exists outside the client."""

    api_key: ApiKey
    raw: str


@dataclass(frozen=True)
class RegisteredApp:
    app: App
    secret_key: IssuedKey
    publishable_key: IssuedKey


def _default_expiry(ttl_days: int | None):
    days = settings.API_KEY_TTL_DAYS if ttl_days is None else ttl_days
    return timezone.now() + timedelta(days=days) if days else None


@transaction.atomic
def app_create(
    *,
    name: str,
    owner_email: str,
    domains: list[str] | None = None,
    timezone_name: str = "UTC",
    site_domain: str | None = None,
) -> App:
    app = App(
        name=name,
        owner_email=owner_email,
        domains=list(domains or []),
        timezone=timezone_name,
        site_domain=site_domain or None,
    )
    app.full_clean()
    app.save()
    return app


@transaction.atomic
def app_register(
    *,
    name: str,
    owner_email: str,
    domains: list[str] | None = None,
    timezone_name: str = "UTC",
    site_domain: str | None = None,
) -> RegisteredApp:
    """A new app with one secret and one publishable key, as self-service registration hands out."""
    app = app_create(
        name=name, owner_email=owner_email, domains=domains, timezone_name=timezone_name, site_domain=site_domain
    )
    return RegisteredApp(
        app=app,
        secret_key=api_key_create(app=app, kind=KeyKind.SECRET, name="default secret key"),
        publishable_key=api_key_create(app=app, kind=KeyKind.PUBLISHABLE, name="default publishable key"),
    )


@transaction.atomic
def api_key_create(
    *,
    app: App,
    kind: KeyKind,
    name: str = "",
    ttl_days: int | None = None,
    ingest_rate: str = "",
    report_rate: str = "",
) -> IssuedKey:
    """``ttl_days`` None takes API_KEY_TTL_DAYS; 0 means the key never expires."""
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
def api_key_rotate(*, api_key: ApiKey, grace: timedelta | None = None) -> IssuedKey:
    """A new key of the same kind; the old one keeps working for ``grace`` (0 revokes it at once)."""
    if grace is None:
        grace = timedelta(seconds=settings.API_KEY_ROTATION_GRACE_SECONDS)
    # Lock the row so two concurrent rotations cannot both replace the same key.
    api_key = ApiKey.objects.select_for_update().get(pk=api_key.pk)
    if not api_key.is_usable:
        raise KeyNotRotatable(f"{api_key.prefix} is {api_key.status}; create a new key instead.")
    issued = api_key_create(
        app=api_key.app,
        kind=KeyKind(api_key.kind),
        name=api_key.name,
        ingest_rate=api_key.ingest_rate,
        report_rate=api_key.report_rate,
    )
    ends_at = timezone.now() + grace
    # A key already inside an earlier grace period never gets a longer life from a second rotation.
    if api_key.revoked_at is None or ends_at < api_key.revoked_at:
        api_key.revoked_at = ends_at
    api_key.replaced_by = issued.api_key
    api_key.save(update_fields=["revoked_at", "replaced_by"])
    return issued


@transaction.atomic
def api_key_revoke(*, api_key: ApiKey) -> ApiKey:
    now = timezone.now()
    api_key = ApiKey.objects.select_for_update().get(pk=api_key.pk)
    if api_key.revoked_at is None or api_key.revoked_at > now:
        api_key.revoked_at = now
        api_key.save(update_fields=["revoked_at"])
    return api_key


def api_key_touch(*, api_key: ApiKey, interval: timedelta = timedelta(minutes=1)) -> None:
    """Record use at most once per ``interval``: authentication is a read path and must stay cheap.

    A key served from the key cache carries the last_used_at of when it was cached; the marker the
    cache keeps beside it (``use_recorded``) says whether a worker recorded a use since."""
    now = timezone.now()
    if api_key.use_recorded or (api_key.last_used_at is not None and now - api_key.last_used_at < interval):
        return
    try:
        ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
    except DatabaseError as exc:
        # A key served from the key cache needs no database: with buffered ingestion a request that
        # would otherwise be queued must not fail for want of a last-used time.
        if not is_database_outage(exc):
            raise
        logger.warning("last use of key %s not recorded: database unavailable", api_key.prefix)
    else:
        api_key.last_used_at = now
    # Marked either way: with the database unreachable, every request would otherwise try the write
    # again, and wait DB_CONNECT_TIMEOUT for it when the server does not answer at all.
    key_cache.mark_touched(api_key.lookup_id, seconds=int(interval.total_seconds()))
