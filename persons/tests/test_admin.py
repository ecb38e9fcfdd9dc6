from django.contrib.auth.models import Permission, User
from django.utils import timezone

from events.services import RequestFacts, events_ingest
from persons.models import Person


def identify(registered, user_id: str, anonymous_id: str) -> None:
    facts = RequestFacts(
        api_key=registered.secret_key.api_key, ip="127.0.0.1", user_agent="", received_at=timezone.now(), source="api"
    )
    event = {"event": "identify", "userId": user_id, "anonymousId": anonymous_id, "metadata": {"plan": "pro"}}
    assert events_ingest(raw_events=[event], facts=facts).accepted == 1


def test_a_staff_user_sees_the_persons_of_the_apps_granted_to_them_read_only(client, registered, other_app):
    identify(registered, "granted-user", "anon-granted")
    identify(other_app, "hidden-user", "anon-hidden")
    operator = User.objects.create_user("operator", password="pw-for-tests-only", is_staff=True)
    operator.user_permissions.set(Permission.objects.filter(codename__in=["view_person", "view_app"]))
    registered.app.operators.add(operator)
    client.force_login(operator)

    listing = client.get("/admin/persons/person/").content.decode()
    assert "granted-user" in listing and "hidden-user" not in listing
    found = client.get("/admin/persons/person/", {"q": "anon-granted"}).content.decode()
    assert "granted-user" in found  # found by any of its ids
    person = Person.objects.get(key="granted-user")
    page = client.get(f"/admin/persons/person/{person.pk}/change/").content.decode()
    assert "anon-granted" in page and "pro" in page
    hidden = Person.objects.get(key="hidden-user")
    assert client.get(f"/admin/persons/person/{hidden.pk}/change/").status_code == 302
    assert client.post(f"/admin/persons/person/{person.pk}/delete/").status_code == 403
