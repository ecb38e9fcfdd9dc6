"""The identity rules (persons.identity) as clients meet them: events through the real collect and
Segment endpoints into the real database, then the mappings and persons they left."""

import uuid

import pytest

from persons.models import Person, PersonDistinctId

COLLECT = "/api/analytics/collect"


@pytest.fixture
def send(client_for, registered):
    def post(*events, app=None):
        body = {"events": [{"eventId": str(uuid.uuid4()), **event} for event in events]}
        response = client_for((app or registered).secret_key.raw).post(COLLECT, body, format="json")
        assert response.status_code == 201, response.content
        return response.json()

    return post


def persons(app) -> dict[str, set[str]]:
    """Each person's key and the ids linked to it."""
    found: dict[str, set[str]] = {}
    for mapping in PersonDistinctId.objects.filter(app=app):
        found.setdefault(mapping.person_key, set()).add(mapping.distinct_id)
        assert mapping.person.key == mapping.person_key
    return found


def identify(user_id, anonymous_id, **traits):
    return {"event": "identify", "userId": user_id, "anonymousId": anonymous_id, "metadata": traits}


def alias(user_id, previous_id):
    return {"event": "alias", "userId": user_id, "metadata": {"previousId": previous_id}}


def test_identify_links_the_anonymous_id_to_the_users_person(send, registered):
    send({"event": "pageview", "anonymousId": "anon-1"}, identify("u1", "anon-1"))
    assert persons(registered.app) == {"u1": {"u1", "anon-1"}}
    assert Person.objects.get(app=registered.app).is_identified


def test_events_without_identity_leave_no_rows(send, registered):
    send({"event": "pageview", "anonymousId": "anon-1"}, {"event": "signup", "userId": "u1", "metadata": {"a": 1}})
    assert not PersonDistinctId.objects.exists() and not Person.objects.exists()


def test_a_second_anonymous_id_joins_the_same_person(send, registered):
    send(identify("u1", "anon-1"), identify("u1", "anon-2"))
    assert persons(registered.app) == {"u1": {"u1", "anon-1", "anon-2"}}


def test_an_anonymous_person_with_traits_is_kept_when_identified(send, registered):
    send({"event": "pageview", "anonymousId": "anon-1", "metadata": {"$set": {"referrer": "ad"}}})
    send(identify("u1", "anon-1", plan="pro"))
    ((person),) = Person.objects.filter(app=registered.app)
    # anon-1 had a person of its own (for its $set); u1 joined it, so its key stays anon-1.
    assert persons(registered.app) == {"anon-1": {"anon-1", "u1"}}
    assert person.properties == {"referrer": "ad", "plan": "pro"} and person.is_identified


def test_identify_never_merges_a_person_another_user_identified(send, registered):
    """A shared device: anon-1 signed in as u1, then as u2. u2 is a person of its own; anon-1 stays u1's."""
    send(identify("u1", "anon-1"), identify("u2", "anon-1"))
    assert persons(registered.app) == {"u1": {"u1", "anon-1"}, "u2": {"u2"}}


def test_identify_of_two_known_persons_merges_an_anonymous_one(send, registered):
    send(
        {"event": "pageview", "anonymousId": "anon-1", "metadata": {"$set": {"first_touch": "ad", "plan": "free"}}},
        identify("u1", "anon-2", plan="pro"),
        identify("u1", "anon-1"),
    )
    assert persons(registered.app) == {"u1": {"u1", "anon-1", "anon-2"}}
    (person,) = Person.objects.filter(app=registered.app)
    assert person.properties == {"first_touch": "ad", "plan": "pro"}  # the kept person's own values win


def test_alias_merges_even_two_identified_persons(send, registered):
    send(identify("u1", "anon-1"), identify("u2", "anon-2"), alias("u1", "u2"))
    assert persons(registered.app) == {"u1": {"u1", "anon-1", "u2", "anon-2"}}
    assert Person.objects.filter(app=registered.app).count() == 1
    moved = PersonDistinctId.objects.get(app=registered.app, distinct_id="anon-2")
    assert moved.version == 2  # ClickHouse's copy takes the newest version of a mapping


def test_segment_alias_links_the_previous_id(client_for, registered):
    response = client_for(registered.secret_key.raw).post(
        "/v1/alias", {"userId": "u1", "previousId": "anon-9", "messageId": "m-1"}, format="json"
    )
    assert response.status_code == 200
    assert persons(registered.app) == {"u1": {"u1", "anon-9"}}


def test_set_once_fills_only_what_is_missing_and_set_overwrites(send, registered):
    send(identify("u1", "anon-1", plan="free"))
    traits = {"$set": {"plan": "pro"}, "$set_once": {"plan": "x", "c": 1}}
    send({"event": "upgrade", "userId": "u1", "metadata": traits})
    assert Person.objects.get(app=registered.app).properties == {"plan": "pro", "c": 1}


def test_identify_traits_keep_dollar_keys_and_apply_set_once(send, registered):
    send(identify("u1", "anon-1", email="a@b.example", **{"$os": "Mac OS X", "$set_once": {"first": "ad"}}))
    assert Person.objects.get(app=registered.app).properties == {
        "email": "a@b.example",
        "$os": "Mac OS X",
        "first": "ad",
    }


def test_a_retried_event_does_not_set_its_old_traits_over_newer_ones(send, registered):
    old = {"eventId": str(uuid.uuid4()), "event": "upgrade", "userId": "u1", "metadata": {"$set": {"plan": "free"}}}
    send(old)
    send({"event": "upgrade", "userId": "u1", "metadata": {"$set": {"plan": "pro"}}})
    assert send(old)["duplicates"] == 1  # an SDK retrying a request whose answer it lost
    assert Person.objects.get(app=registered.app).properties == {"plan": "pro"}


def test_an_alias_the_database_cannot_hold_costs_the_other_events_nothing(send, registered):
    send(alias("u1", "p" * 201), identify("u2", "anon-2"))
    assert persons(registered.app) == {"u2": {"u2", "anon-2"}}


def test_a_replayed_identify_changes_nothing(send, registered):
    event = {"eventId": str(uuid.uuid4()), **identify("u1", "anon-1")}
    send(event)
    mappings = list(PersonDistinctId.objects.values_list("distinct_id", "person_key", "version").order_by("id"))
    assert send(event)["duplicates"] == 1
    assert list(PersonDistinctId.objects.values_list("distinct_id", "person_key", "version").order_by("id")) == mappings


def test_the_same_ids_in_two_apps_are_two_persons(send, registered, other_app):
    send(identify("u1", "anon-1"))
    send(identify("u2", "anon-1"), app=other_app)
    assert persons(registered.app) == {"u1": {"u1", "anon-1"}}
    assert persons(other_app.app) == {"u2": {"u2", "anon-1"}}


@pytest.mark.parametrize(
    "event",
    [
        identify("u1", "u1"),  # the same id twice: nothing to link
        {"event": "identify", "userId": "u1"},  # no anonymous id
        alias("u1", None),
        alias("u1", ["a"]),
        {"event": "alias", "userId": "u1", "metadata": {"previousId": True}},
        {"event": "pageview", "userId": "u1", "metadata": {"$set": "not an object"}},
    ],
)
def test_identity_events_that_link_nothing_leave_no_rows(send, event):
    send(event)
    assert not PersonDistinctId.objects.exists()
