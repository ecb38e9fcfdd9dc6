"""Reads of apps and keys."""

import uuid
from collections.abc import Callable
from datetime import timedelta

from django.db import connections, router
from django.db.models import Q, QuerySet
from django.utils import timezone

from apikeys import key_cache, keys
from apikeys.models import ApiKey, App, PersonalApiKey
from apikeys.throttling import Hit
from organisations.selectors import organisation_ids_allowing


def api_key_authenticate(
    *, raw_key: str, expected_hit: Callable[[str, str], Hit | None] | None = None
) -> ApiKey | None:
    """The key row whose digest matches ``raw_key``, whatever its status; None for anything else.

    Malformed keys and bad checksums are refused here without touching the database.
    ``expected_hit(lookup_id, digest)``: the rate-limit hit the request will count, counted with the
    key-cache read when the cache can (the key's ``counted_hit``).
    """
    parsed = keys.parse(raw_key)
    if parsed is None:
        return None
    hit = expected_hit(parsed.lookup_id, keys.digest(raw_key)) if expected_hit else None
    api_key = _api_key_with_app(parsed.lookup_id, hit)
    if api_key is None or api_key.kind != parsed.kind or not keys.digests_match(api_key.digest, raw_key):
        return None
    return api_key


class _KeyLookup:
    """`ApiKey.objects.select_related("app").get(lookup_id=...)`, compiled once per connection.

    Every API request runs this lookup; building the query through the ORM cost ~0.34 ms of CPU, most of
    it compiling the same SQL again (bench/auth.py). The SQL, and Django's own converters for each column
    (UUIDs and datetimes differ by backend, JSON is decoded), are prepared once and reused.
    """

    def __init__(self, alias: str):
        connection = connections[alias]
        self.models = [(model, model._meta.concrete_fields) for model in (ApiKey, App)]
        columns, self.converters = [], []
        for model, fields in self.models:
            table = connection.ops.quote_name(model._meta.db_table)
            for field in fields:
                columns.append(f"{table}.{connection.ops.quote_name(field.column)}")
                expression = field.get_col(model._meta.db_table)
                converters = connection.ops.get_db_converters(expression) + expression.get_db_converters(connection)
                self.converters.append((converters, expression))
        self.sql = (
            f"SELECT {', '.join(columns)} FROM {connection.ops.quote_name(ApiKey._meta.db_table)} "  # noqa: S608
            f"INNER JOIN {connection.ops.quote_name(App._meta.db_table)} ON "
            f"{connection.ops.quote_name(App._meta.db_table)}.{connection.ops.quote_name('id')} = "
            f"{connection.ops.quote_name(ApiKey._meta.db_table)}.{connection.ops.quote_name('app_id')} "
            f"WHERE {connection.ops.quote_name(ApiKey._meta.db_table)}.{connection.ops.quote_name('lookup_id')} = %s"
        )

    def fetch(self, alias: str, lookup_id: str) -> ApiKey | None:
        connection = connections[alias]
        with connection.cursor() as cursor:
            cursor.execute(self.sql, [lookup_id])
            row = cursor.fetchone()
        if row is None:
            return None
        values = list(row)
        for index, (converters, expression) in enumerate(self.converters):
            for converter in converters:
                values[index] = converter(values[index], expression, connection)
        instances, start = [], 0
        for model, fields in self.models:
            instances.append(model.from_db(alias, [f.attname for f in fields], values[start : start + len(fields)]))
            start += len(fields)
        api_key, app = instances
        api_key.app = app
        return api_key


_key_lookups: dict[str, _KeyLookup] = {}


def _api_key_with_app(lookup_id: str, hit: Hit | None) -> ApiKey | None:
    api_key, may_store, use_recorded, counted = key_cache.cached(lookup_id, hit)
    if api_key is None:
        alias = router.db_for_read(ApiKey)
        if alias not in _key_lookups:
            _key_lookups[alias] = _KeyLookup(alias)
        api_key = _key_lookups[alias].fetch(alias, lookup_id)
        if api_key is None:
            return None
        if may_store:
            key_cache.store(api_key)
    api_key.use_recorded = use_recorded
    api_key.counted_hit = counted
    return api_key


def personal_key_authenticate(*, raw_key: str) -> PersonalApiKey | None:
    """The personal key row whose digest matches ``raw_key``, whatever its status, with its user."""
    parsed = keys.parse(raw_key)
    if parsed is None or not parsed.is_personal:
        return None
    personal_key = PersonalApiKey.objects.select_related("user").filter(lookup_id=parsed.lookup_id).first()
    if personal_key is None or not keys.digests_match(personal_key.digest, raw_key):
        return None
    return personal_key


def personal_keys_list(*, user) -> QuerySet[PersonalApiKey]:
    return PersonalApiKey.objects.filter(user=user).order_by("-created_at")


def apps_allowing(*, user, operation: str) -> QuerySet[App]:
    """The apps of the organisations where ``user``'s role allows ``operation`` (organisations.permissions)."""
    return App.objects.filter(organisation__in=organisation_ids_allowing(user=user, operation=operation))


def usable_keys_q(now) -> Q:
    """Keys that authenticate at ``now``: the database form of ApiKey.is_usable."""
    return (Q(revoked_at__isnull=True) | Q(revoked_at__gt=now)) & (Q(expires_at__isnull=True) | Q(expires_at__gt=now))


def apps_visible_to(*, user) -> QuerySet[App]:
    """The apps a signed-in operator may see: every app for superusers, else the apps granted to them."""
    if not user.is_active or not user.is_staff:
        return App.objects.none()
    if user.is_superuser:
        return App.objects.all()
    return App.objects.filter(operators=user)


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
    return _find_key(ApiKey.objects.select_related("app"), reference)


def personal_key_find(*, reference: str) -> PersonalApiKey | None:
    """As api_key_find, for personal keys (``uk_AbCd1234…``)."""
    return _find_key(PersonalApiKey.objects.select_related("user"), reference)


def _find_key(queryset: QuerySet, reference: str):
    reference = reference.strip().rstrip("…").rstrip(".")
    if "_" in reference:
        reference = reference.split("_", 1)[1]
    if len(reference) == keys.LOOKUP_ID_LENGTH:
        return queryset.filter(lookup_id=reference).first()
    try:
        key_id = uuid.UUID(reference)
    except ValueError:
        return None
    return queryset.filter(pk=key_id).first()
