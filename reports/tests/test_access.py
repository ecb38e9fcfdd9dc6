import pytest
from django.contrib.auth.models import Group
from django.core.cache import cache

from apikeys import services
from reports.tests.conftest import CHROME_WINDOWS, FIREFOX_MAC, REPORTS, event, view_event

ENDPOINTS = [
    "event-summary",
    "user-stats?userId=u1",
    "daily-stats",
    "timeseries",
    "top-pages",
    "top-referrers",
    "breakdown?by=browser",
    "active-users",
    "web-stats",
    "export",
]


def _url(endpoint: str, **params) -> str:
    query = "&".join(f"{key}={value}" for key, value in params.items())
    joiner = "&" if "?" in endpoint else "?"
    return REPORTS + endpoint + (joiner + query if query else "")


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_every_report_answers_a_secret_key(endpoint, secret_client, send, registered):
    send(registered, [event()])
    assert secret_client.get(_url(endpoint)).status_code == 200


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_a_publishable_key_is_refused_every_report(endpoint, publishable_client):
    response = publishable_client.get(_url(endpoint))
    assert response.status_code == 403
    assert response.json()["code"] == "secret_key_required"


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_no_credentials_at_all_is_a_401(endpoint, api_client, db):
    response = api_client.get(_url(endpoint))
    assert response.status_code == 401
    assert response.json()["code"] == "authentication_required"


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_a_key_naming_another_apps_id_gets_404(endpoint, secret_client, other_app):
    response = secret_client.get(_url(endpoint, appId=other_app.app.id))
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_a_key_may_name_its_own_app(secret_client, registered, send):
    send(registered, [event()])
    response = secret_client.get(_url("event-summary", appId=registered.app.id))
    assert response.status_code == 200
    assert response.json()["count"] == 1


def _read(client, endpoint: str) -> tuple[int, str | None, object]:
    """Status, X-Cache and body, the streamed export read at once (it is computed as it is read)."""
    response = client.get(_url(endpoint))
    body = b"".join(response.streaming_content).decode() if response.streaming else response.json()
    return response.status_code, response.get("X-Cache"), body


def test_another_apps_events_never_change_a_report(secret_client, report, send, registered, other_app):
    mine = {"url": "https://a.example/mine", "referrer": "https://ref.example/", "userAgent": CHROME_WINDOWS}
    send(registered, [event(**mine), event(userId="u2", event="signup", **mine)])
    before = {endpoint: _read(secret_client, endpoint) for endpoint in ENDPOINTS}
    # The same user id and event name, other pages, referrers and browsers: any leak changes a figure.
    theirs = {"url": "https://b.example/theirs", "referrer": "https://elsewhere.example/", "userAgent": FIREFOX_MAC}
    send(other_app, [event(userId=user, **theirs) for user in ("u1", "u1", "theirs1", "theirs2")])

    cache.clear()  # so the second answers are computed again, not the first ones read back
    for endpoint, (status, _, body) in before.items():
        again_status, again_cache, again_body = _read(secret_client, endpoint)
        assert again_status == status == 200, endpoint
        assert again_cache == (None if endpoint == "export" else "miss"), endpoint  # the export is never cached
        assert again_body == body, endpoint
    assert before["event-summary"][2]["count"] == 2
    assert before["user-stats?userId=u1"][2]["totalEvents"] == 1
    assert len(before["export"][2].splitlines()) == 1 + 2
    assert report(other_app, "event-summary").json()["count"] == 4


def test_user_stats_of_a_user_known_only_to_another_app_is_a_404(report, send, registered, other_app):
    send(other_app, [event(userId="elsewhere")])
    response = report(registered, "user-stats", userId="elsewhere")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_a_superuser_session_reads_any_app_by_id(api_client, django_user_model, send, registered):
    send(registered, [event(), event()])
    admin = django_user_model.objects.create_superuser("root", "root@example.com", "pw")
    api_client.force_login(admin)
    response = api_client.get(_url("event-summary", appId=registered.app.id))
    assert response.status_code == 200
    assert response.json()["count"] == 2


def test_a_staff_session_reads_only_the_apps_granted_to_it(staff_client, staff_user, send, registered, other_app):
    send(registered, [event()])
    registered.app.operators.add(staff_user)
    assert staff_client.get(_url("daily-stats", appId=registered.app.id)).status_code == 200
    assert staff_client.get(_url("daily-stats", appId=other_app.app.id)).status_code == 404


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_staff_without_the_view_event_permission_are_refused_every_report(
    endpoint, api_client, django_user_model, registered
):
    """Granted the app but not `events.view_event`: the admin would not list these events, nor may the API."""
    clerk = django_user_model.objects.create_user("key-clerk", "clerk@example.com", "pw", is_staff=True)
    registered.app.operators.add(clerk)
    api_client.force_login(clerk)
    response = api_client.get(_url(endpoint, appId=registered.app.id))
    assert response.status_code == 403
    assert response.json()["code"] == "permission_required"
    assert "events.view_event" in response.json()["detail"]


def test_the_view_event_permission_may_come_from_a_group(api_client, django_user_model, registered):
    analysts = Group.objects.create(name="analysts")
    analysts.permissions.add(view_event())
    user = django_user_model.objects.create_user("grouped", "g@example.com", "pw", is_staff=True)
    user.groups.add(analysts)
    registered.app.operators.add(user)
    api_client.force_login(user)
    assert api_client.get(_url("event-summary", appId=registered.app.id)).status_code == 200


def test_a_staff_session_must_name_the_app(staff_client):
    response = staff_client.get(_url("event-summary"))
    assert response.status_code == 400
    assert "appId" in response.json()["fields"]


def test_a_staff_session_naming_an_unknown_app_gets_404(staff_client):
    response = staff_client.get(_url("event-summary", appId="00000000-0000-4000-8000-000000000000"))
    assert response.status_code == 404


def test_a_signed_in_user_who_is_not_staff_is_refused(api_client, django_user_model, registered):
    api_client.force_login(django_user_model.objects.create_user("someone", "s@example.com", "pw"))
    assert api_client.get(_url("event-summary", appId=registered.app.id)).status_code == 403


def test_report_requests_count_against_the_keys_report_rate(registered, client_for, send):
    key = services.api_key_create(app=registered.app, kind="secret", report_rate="2/m")
    client = client_for(key.raw)
    assert [client.get(_url("event-summary")).status_code for _ in range(3)] == [200, 200, 429]
    assert client.get(_url("event-summary"))["Retry-After"].isdigit()
