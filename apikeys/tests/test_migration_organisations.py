"""An install of the release before organisations, migrated forward: its apps, keys and events as they
were, each app now in an organisation of its own, every key still working and the reports answering."""

import uuid
from datetime import timedelta

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone
from rest_framework.test import APIClient

from apikeys import keys
from apikeys.keys import KeyKind
from apikeys.models import App
from apikeys.selectors import api_key_authenticate
from organisations.models import Organisation

BEFORE = [("apikeys", "0003_app_site_domain"), ("organisations", None)]


def _migrate(targets):
    """Migrate the test database to ``targets``; the models as they are there."""
    return MigrationExecutor(connection).migrate(targets).apps


def _latest():
    return MigrationExecutor(connection).loader.graph.leaf_nodes()


def _old_app(old, name: str, owner_email: str, events: int) -> tuple[str, dict[str, str]]:
    """An app of the previous release, with a key of each kind and a few events, through its own models."""
    app = old.get_model("apikeys", "App").objects.create(name=name, owner_email=owner_email, timezone="UTC")
    raw = {}
    for kind in KeyKind:
        generated = keys.generate(kind)
        old.get_model("apikeys", "ApiKey").objects.create(
            app=app, kind=kind.value, lookup_id=generated.lookup_id, digest=generated.digest
        )
        raw[kind.value] = generated.raw
    now = timezone.now()
    old.get_model("events", "Event").objects.bulk_create(
        old.get_model("events", "Event")(
            app=app,
            event_id=uuid.uuid4(),
            name="page_view",
            distinct_id=f"u{number}",
            user_id=f"u{number}",
            timestamp=now - timedelta(hours=number + 1),
        )
        for number in range(events)
    )
    return str(app.pk), raw


@pytest.mark.django_db(transaction=True)
def test_apps_keys_and_reports_survive_the_migration_to_organisations():
    try:
        old = _migrate(BEFORE)
        shop, shop_keys = _old_app(old, "Shop", "Owner@Shop.example", events=3)
        # Two apps of one name: each still gets an organisation of its own, with a slug of its own.
        blog, blog_keys = _old_app(old, "Shop", "blog@example.com", events=1)
    finally:
        _migrate(_latest())

    apps = {str(app.pk): app for app in App.objects.select_related("organisation")}
    assert apps[shop].organisation != apps[blog].organisation
    assert Organisation.objects.count() == 2
    assert {apps[shop].organisation.slug, apps[blog].organisation.slug} == {"shop", "shop-2"}
    assert apps[shop].organisation.name == "Shop"
    # The owner email waits, lower-cased, for its person to sign in with it verified.
    assert apps[shop].organisation.pending_owner_email == "owner@shop.example"
    assert not apps[shop].organisation.memberships.exists()

    for app_id, raw_keys in ((shop, shop_keys), (blog, blog_keys)):
        for raw in raw_keys.values():
            assert str(api_key_authenticate(raw_key=raw).app_id) == app_id
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=shop_keys["secret"])
    response = client.get("/api/analytics/event-summary")
    assert response.status_code == 200
    assert (response.json()["count"], response.json()["uniqueUsers"]) == (3, 3)
    ingest = APIClient()
    ingest.credentials(HTTP_X_API_KEY=blog_keys["publishable"])
    assert ingest.post("/api/analytics/collect", {"event": "signup"}, format="json").status_code == 201


@pytest.mark.django_db(transaction=True)
def test_the_migration_can_be_reversed_and_applied_again():
    try:
        _old_app(_migrate(BEFORE), "Shop", "owner@shop.example", events=0)
        _migrate([("apikeys", "0006_app_organisation_required")])
        _migrate([("apikeys", "0004_app_organisation")])  # 0005 backwards unlinks the apps
        _migrate([("apikeys", "0006_app_organisation_required")])
    finally:
        _migrate(_latest())
    assert Organisation.objects.count() == 1
    assert App.objects.get().organisation.slug == "shop"
