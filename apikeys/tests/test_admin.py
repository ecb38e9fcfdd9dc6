import re

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
