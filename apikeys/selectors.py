"""Reads of apps and keys."""

import uuid
from datetime import timedelta

from django.db.models import Q, QuerySet
from django.utils import timezone

from apikeys import keys
from apikeys.models import ApiKey, App


def api_key_authenticate(*, raw_key: str) -> ApiKey | None:
    """The key row whose digest matches ``raw_key``, whatever its status; None for anything else.

    Malformed keys and bad checksums are refused here without touching the database.
    """
    parsed = keys.parse(raw_key)
    if parsed is None:
        return None
    try:
        api_key = ApiKey.objects.select_related("app").get(lookup_id=parsed.lookup_id)
    except ApiKey.DoesNotExist:
        return None
    if api_key.kind != parsed.kind or not keys.digests_match(api_key.digest, raw_key):
        return None
    return api_key


def usable_keys_q(now) -> Q:
    """Keys that authenticate at ``now``: the database form of ApiKey.is_usable."""
    return (Q(revoked_at__isnull=True) | Q(revoked_at__gt=now)) & (Q(expires_at__isnull=True) | Q(expires_at__gt=now))


def app_keys_list(*, app: App) -> QuerySet[ApiKey]:
    return ApiKey.objects.filter(app=app).select_related("app").order_by("-created_at")


def api_keys_expiring(*, within: timedelta, app: App | None = None) -> QuerySet[ApiKey]:
    """Working keys whose expiry falls within ``within`` from now and that are not already being replaced."""
    now = timezone.now()
    keys_qs = ApiKey.objects.select_related("app").filter(
        revoked_at__isnull=True, expires_at__gt=now, expires_at__lte=now + within
    )
    if app is not None:
        keys_qs = keys_qs.filter(app=app)
    return keys_qs.order_by("expires_at")


def api_key_find(*, reference: str) -> ApiKey | None:
    """A key by id, by lookup id, or by its masked prefix (``sk_AbCd1234…``), as operators type them."""
    reference = reference.strip().rstrip("…").rstrip(".")
    if "_" in reference:
        reference = reference.split("_", 1)[1]
    if len(reference) == keys.LOOKUP_ID_LENGTH:
        return ApiKey.objects.select_related("app").filter(lookup_id=reference).first()
    try:
        key_id = uuid.UUID(reference)
    except ValueError:
        return None
    return ApiKey.objects.select_related("app").filter(pk=key_id).first()
