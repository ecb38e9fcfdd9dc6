"""Shared parsing and printing for the key commands; each command stays a thin wrapper over services."""

import uuid

from django.core.management.base import CommandError

from analytics_project.env import parse_duration
from apikeys.models import ApiKey, App
from apikeys.selectors import api_key_find


def duration(value: str):
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise CommandError(str(exc)) from None


def find_app(reference: str) -> App:
    app = App.objects.filter(pk=reference).first() if _is_uuid(reference) else None
    app = app or App.objects.filter(name=reference).first()
    if app is None:
        raise CommandError(f"No app with id or name {reference!r}.")
    return app


def find_key(reference: str) -> ApiKey:
    api_key = api_key_find(reference=reference)
    if api_key is None:
        raise CommandError(f"No key {reference!r} (give its id, lookup id or prefix such as sk_AbCd1234).")
    return api_key


def describe(api_key: ApiKey) -> str:
    expires = api_key.expires_at.isoformat() if api_key.expires_at else "never"
    return f"{api_key.prefix}  {api_key.kind:<11}  app={api_key.app.name!r}  status={api_key.status}  expires={expires}"


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True
