import pytest
from django.contrib.auth.models import Permission, User
from django.utils import timezone

from apikeys.models import App
from events.models import Event
from events.services import RequestFacts, events_ingest
from events.tests.conftest import make_event


def _ingest(registered, count: int, **fields):
    facts = RequestFacts(
        api_key=registered.secret_key.api_key, ip="127.0.0.1", user_agent="", received_at=timezone.now(), source="api"
    )
    for start in range(0, count, 1000):
        events_ingest(raw_events=[make_event(**fields) for _ in range(min(1000, count - start))], facts=facts)


@pytest.fixture
def operator(db):
    """A staff user who is not a superuser, with view rights on the analytics models."""
    user = User.objects.create_user("operator", password="pw-for-tests-only", is_staff=True)
    user.user_permissions.set(
        Permission.objects.filter(codename__in=["view_event", "view_app", "view_apikey", "change_app"])
    )
    return user


def test_the_event_list_loads_in_under_20_queries_with_10k_events(
    client, admin_client, operator, registered, other_app, django_assert_max_num_queries
):
    # Alice's events are the newest, so they fill the unfiltered first page; Bob's show only when filtered.
    _ingest(registered, 500, userId="bob", device="mobile", url="https://acme.example/pricing")
    _ingest(registered, 500, userId="bob", device="desktop", url="https://acme.example/checkout")
    _ingest(registered, 9_000, userId="alice", device="mobile")
    _ingest(other_app, 10, userId="bob", device="mobile", url="https://other.example/elsewhere")
    registered.app.operators.add(operator)
    client.force_login(operator)
    today = timezone.now()
    month = f"timestamp__year={today.year}&timestamp__month={today.month}"
    pages = {
        "/admin/events/event/": "alice",
        f"/admin/events/event/?app={registered.app.pk}&device_type=mobile&q=bob": "/pricing",
        f"/admin/events/event/?{month}": "alice",  # date hierarchy: a month, then a day
        f"/admin/events/event/?{month}&timestamp__day={today.day}": "alice",
    }
    for who, browser in [("superuser", admin_client), ("operator", client)]:
        for url, expected in pages.items():
            with django_assert_max_num_queries(20):
                response = browser.get(url)
            assert response.status_code == 200, (who, url)
            page = response.content.decode()
            assert expected in page, (who, url)
            if "q=bob" in url:
                assert all(other not in page for other in ["alice", "/checkout", "/elsewhere"]), (who, url)


def test_events_cannot_be_added_changed_or_deleted_in_the_admin(admin_client, registered):
    _ingest(registered, 1)
    event = Event.objects.get()
    assert admin_client.get("/admin/events/event/add/").status_code == 403
    assert admin_client.get(f"/admin/events/event/{event.pk}/delete/").status_code == 403
    page = admin_client.get(f"/admin/events/event/{event.pk}/change/")
    assert page.status_code == 200 and 'type="submit" value="Save"' not in page.content.decode()
    assert admin_client.post(f"/admin/events/event/{event.pk}/change/", {"name": "forged"}).status_code == 403
    assert Event.objects.get().name == "page_view"


def test_events_can_be_searched_by_user(admin_client, registered):
    _ingest(registered, 1, userId="alice")
    _ingest(registered, 1, userId="bob")
    page = admin_client.get("/admin/events/event/?q=alice").content.decode()
    assert "alice" in page and "bob" not in page


def test_a_staff_user_sees_only_the_apps_granted_to_them(client, operator, registered, other_app):
    _ingest(registered, 2, userId="granted-user")
    _ingest(other_app, 2, userId="hidden-user")
    registered.app.operators.add(operator)
    client.force_login(operator)
    events_page = client.get("/admin/events/event/").content.decode()
    assert "granted-user" in events_page and "hidden-user" not in events_page
    assert other_app.app.name not in events_page  # not even in the app filter
    apps_page = client.get("/admin/apikeys/app/").content.decode()
    assert registered.app.name in apps_page and other_app.app.name not in apps_page
    assert client.get(f"/admin/apikeys/app/{other_app.app.pk}/change/").status_code == 302  # "doesn't exist"
    keys_page = client.get("/admin/apikeys/apikey/").content.decode()
    assert other_app.secret_key.api_key.prefix not in keys_page
    assert registered.secret_key.api_key.prefix in keys_page


def test_a_staff_user_with_no_grants_sees_no_app(client, operator, registered):
    _ingest(registered, 1)
    client.force_login(operator)
    assert registered.app.name not in client.get("/admin/apikeys/app/").content.decode()
    assert "page_view" not in client.get("/admin/events/event/").content.decode()


def test_the_app_page_shows_its_event_count_and_dashboard_link(admin_client, registered):
    _ingest(registered, 3)
    page = admin_client.get(f"/admin/apikeys/app/{registered.app.pk}/change/").content.decode()
    assert f"/dashboard/apps/{registered.app.pk}/" in page
    assert ">3<" in page.replace(" ", "")


def test_apps_are_never_deleted_from_the_admin(admin_client, registered):
    assert admin_client.get(f"/admin/apikeys/app/{registered.app.pk}/delete/").status_code == 403
    assert App.objects.filter(pk=registered.app.pk).exists()
