import re

from django.contrib.auth.models import Permission, User

from apikeys.models import ApiKey

RAW_KEY = re.compile(r"[sp]k_[0-9A-Za-z]{46}")


def test_admin_rotate_action_shows_the_new_key_once_and_it_works(admin_client, registered, client_for):
    target = registered.secret_key.api_key
    response = admin_client.post(
        "/admin/apikeys/apikey/", {"action": "rotate_keys", "_selected_action": [str(target.id)]}
    )
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    (new_key,) = set(RAW_KEY.findall(response.content.decode()))
    assert client_for(new_key).get("/api/auth/keys").status_code == 200
    target.refresh_from_db()
    assert target.replaced_by is not None and target.status == "rotating"
    # Shown once: the list page afterwards has only masked prefixes.
    assert not RAW_KEY.search(admin_client.get("/admin/apikeys/apikey/").content.decode())


def test_admin_revoke_action_refuses_the_key_at_once(admin_client, registered, client_for):
    target = registered.secret_key.api_key
    admin_client.post("/admin/apikeys/apikey/", {"action": "revoke_keys", "_selected_action": [str(target.id)]})
    assert client_for(registered.secret_key.raw).get("/api/auth/keys").status_code == 401


def test_admin_app_action_creates_a_publishable_key_shown_once(admin_client, registered):
    response = admin_client.post(
        "/admin/apikeys/app/", {"action": "create_publishable_key", "_selected_action": [str(registered.app.id)]}
    )
    (new_key,) = RAW_KEY.findall(response.content.decode())
    assert new_key.startswith("pk_")
    assert ApiKey.objects.filter(app=registered.app).count() == 3


def test_admin_cannot_add_or_delete_keys_or_delete_apps(admin_client, registered):
    assert admin_client.get("/admin/apikeys/apikey/add/").status_code == 403
    assert admin_client.get(f"/admin/apikeys/apikey/{registered.secret_key.api_key.id}/delete/").status_code == 403
    assert admin_client.get(f"/admin/apikeys/app/{registered.app.id}/delete/").status_code == 403


def test_admin_key_list_filters_by_status(admin_client, registered):
    admin_client.post(
        "/admin/apikeys/apikey/",
        {"action": "revoke_keys", "_selected_action": [str(registered.publishable_key.api_key.id)]},
    )
    usable = admin_client.get("/admin/apikeys/apikey/?status=usable").content.decode()
    assert registered.secret_key.api_key.prefix in usable
    assert registered.publishable_key.api_key.prefix not in usable


def _change_form(client, app) -> dict:
    """The app's change form as the browser would post it back, unchanged."""
    page = client.get(f"/admin/apikeys/app/{app.pk}/change/")
    forms = [page.context["adminform"].form]
    data = {}
    for inline in page.context["inline_admin_formsets"]:
        management = inline.formset.management_form
        data.update({management.add_prefix(name): value for name, value in management.initial.items()})
        forms += inline.formset.forms
    for form in forms:
        data.update({form.add_prefix(name): form[name].value() for name in form.fields})
    return {key: value for key, value in data.items() if value is not None}


def test_only_a_superuser_may_change_who_operates_an_app(client, admin_client, registered):
    operator = User.objects.create_user("operator", password="pw-for-tests-only", is_staff=True)
    operator.user_permissions.set(Permission.objects.filter(codename__in=["view_app", "change_app"]))
    outsider = User.objects.create_user("outsider-account", password="pw-for-tests-only", is_staff=True)
    registered.app.operators.add(operator)
    client.force_login(operator)

    page = client.get(f"/admin/apikeys/app/{registered.app.pk}/change/").content.decode()
    assert 'name="operators"' not in page and "outsider-account" not in page
    data = {**_change_form(client, registered.app), "name": "Renamed", "operators": [operator.pk, outsider.pk]}
    assert client.post(f"/admin/apikeys/app/{registered.app.pk}/change/", data).status_code == 302
    registered.app.refresh_from_db()
    assert registered.app.name == "Renamed"
    assert list(registered.app.operators.all()) == [operator]

    assert 'name="operators"' in admin_client.get(f"/admin/apikeys/app/{registered.app.pk}/change/").content.decode()
    data = {**_change_form(admin_client, registered.app), "operators": [operator.pk, outsider.pk]}
    assert admin_client.post(f"/admin/apikeys/app/{registered.app.pk}/change/", data).status_code == 302
    assert set(registered.app.operators.all()) == {operator, outsider}
