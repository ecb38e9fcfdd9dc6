"""An app's site domain: the one domain Plausible's tracker names it by, unique on the server."""

import io

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command

from apikeys.models import App
from apikeys.services import app_register

REGISTER = "/api/auth/register"
VALID = {"name": "Shop", "ownerEmail": "o@shop.example"}


def test_registration_takes_a_site_domain_normalised_as_plausible_compares_it(api_client, secret_client, db):
    response = api_client.post(REGISTER, {**VALID, "siteDomain": " WWW.Shop.Example "}, format="json")

    assert response.status_code == 201
    app = App.objects.get(id=response.json()["appId"])
    assert app.site_domain == "shop.example"


def test_the_current_key_shows_the_apps_site_domain(client_for, db):
    registered = app_register(name="Shop", owner_email="o@shop.example", site_domain="shop.example")

    assert client_for(registered.secret_key.raw).get("/api/auth/api-key").json()["app"]["siteDomain"] == "shop.example"


def test_an_app_without_a_site_domain_stores_none_so_many_apps_can_lack_one(api_client, db):
    for _ in range(2):
        assert api_client.post(REGISTER, VALID, format="json").status_code == 201

    assert list(App.objects.values_list("site_domain", flat=True)) == [None, None]


def test_a_site_domain_another_app_has_is_a_400(api_client, db):
    app_register(name="First", owner_email="o@first.example", site_domain="shop.example")
    response = api_client.post(REGISTER, {**VALID, "siteDomain": "www.shop.example"}, format="json")

    assert response.status_code == 400
    assert response.json()["fields"] == {"siteDomain": ["Another app already has this site domain."]}


@pytest.mark.parametrize("domain", ["*.shop.example", "shop.example:8080", "https://shop.example", "shop example", 7])
def test_a_site_domain_must_be_a_bare_host_name(api_client, db, domain):
    response = api_client.post(REGISTER, {**VALID, "siteDomain": domain}, format="json")

    assert response.status_code == 400 and "siteDomain" in response.json()["fields"]


def test_the_service_refuses_a_duplicate_or_unnormalised_domain(db):
    app_register(name="First", owner_email="o@first.example", site_domain="shop.example")
    for domain in ("shop.example", "www.blog.example"):
        with pytest.raises(ValidationError):
            app_register(name="Second", owner_email="o@second.example", site_domain=domain)


def test_create_app_takes_a_site_domain(db):
    out = io.StringIO()
    call_command("create_app", "Shop", "--owner-email", "o@shop.example", "--site-domain", "shop.example", stdout=out)

    assert App.objects.get().site_domain == "shop.example"
    with pytest.raises(CommandError, match="Another app already has this site domain"):
        call_command("create_app", "Other", "--owner-email", "o@o.example", "--site-domain", "shop.example", stdout=out)


def test_the_admin_edits_the_site_domain(admin_client, registered):
    page = admin_client.get(f"/admin/apikeys/app/{registered.app.id}/change/").content.decode()

    assert 'name="site_domain"' in page
