"""Every "users" figure counts persons (SPEC §4.6), on every store: generated histories of anonymous
visitors who sign up, come back on a second device, share a device or are aliased, counted
independently here by the identity rules (persons.identity) applied in plain Python."""

import random
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pytest

START = datetime(2024, 6, 3, tzinfo=UTC)
DAYS = 6
RANGE = {"startDate": START.date().isoformat(), "endDate": (START + timedelta(days=DAYS - 1)).date().isoformat()}


@dataclass(frozen=True)
class Sent:
    name: str
    user_id: str | None
    anonymous_id: str | None
    moment: datetime
    previous_id: str | None = None
    traits: tuple = ()  # an identify's, as (key, value) pairs

    @property
    def distinct(self) -> str:
        return self.user_id or self.anonymous_id

    def body(self) -> dict:
        body = {"event": self.name, "timestamp": self.moment.isoformat(), "url": "https://shop.example/"}
        if self.user_id:
            body["userId"] = self.user_id
        if self.anonymous_id:
            body["anonymousId"] = self.anonymous_id
        if self.previous_id:
            body["metadata"] = {"previousId": self.previous_id}
        if self.traits:
            body["metadata"] = dict(self.traits)
        return body


class People:
    """The identity rules, written out plainly: who each id belongs to after the events so far."""

    def __init__(self):
        self.owner: dict[str, int] = {}
        self.identified: set[int] = set()
        self.properties: dict[int, dict] = defaultdict(dict)
        self.made = 0

    def _new(self) -> int:
        self.made += 1
        self.identified.add(self.made)
        return self.made

    def link(self, user: str, other: str, *, merges: bool) -> None:
        mine, theirs = self.owner.get(user), self.owner.get(other)
        if mine is None and theirs is None:
            self.owner[user] = self.owner[other] = self._new()
        elif mine is None:
            self.owner[user] = self._new() if theirs in self.identified and not merges else theirs
            self.identified.add(self.owner[user])
        elif theirs is None:
            self.owner[other] = mine
            self.identified.add(mine)
        elif mine != theirs and (merges or theirs not in self.identified):
            for distinct, owner in self.owner.items():
                if owner == theirs:
                    self.owner[distinct] = mine
            self.identified.add(mine)
            self.properties[mine] = {**self.properties.pop(theirs, {}), **self.properties[mine]}

    def set(self, distinct: str, traits: dict) -> None:
        self.properties[self.owner[distinct]].update(traits)

    def property(self, distinct: str, key: str):
        person = self.owner.get(distinct)
        return None if person is None else self.properties[person].get(key)

    def of(self, distinct: str):
        return self.owner.get(distinct, distinct)


def histories(seed: int) -> list[Sent]:
    chance = random.Random(seed)
    sent: list[Sent] = []
    for visitor in range(70):
        anon, user = f"anon-{visitor}", f"user-{visitor}"
        moment = START + timedelta(hours=chance.randrange(DAYS * 24 - 30), seconds=chance.randrange(3600))

        def later(minutes: int = 20) -> datetime:
            nonlocal moment
            moment += timedelta(minutes=chance.randint(1, minutes), seconds=chance.randint(1, 59))
            return moment

        for _ in range(chance.randint(1, 3)):
            sent.append(Sent("pageview", None, anon, later()))
        story = chance.choice(["anonymous", "signs up", "second device", "shared device", "aliased"])
        if story == "anonymous":
            continue
        if story == "aliased":  # a user id from an older system, with history of its own
            legacy = f"legacy-{visitor}"
            sent.append(Sent("pageview", legacy, None, later()))
            sent.append(Sent("identify", legacy, anon, later()))
        plan = (("plan", chance.choice(["pro", "free"])),) if chance.random() < 0.8 else ()
        sent.append(Sent("identify", user, anon, later(), traits=plan))
        sent.append(Sent("signup", user, anon, later()))
        for _ in range(chance.randint(0, 2)):
            sent.append(Sent("pageview", user, anon, later(600)))
        if story == "second device":
            phone = f"phone-{visitor}"
            sent.append(Sent("pageview", None, phone, later(300)))
            sent.append(Sent("identify", user, phone, later()))
        elif story == "shared device":  # someone else signs in on this browser afterwards
            other = f"friend-{visitor}"
            sent.append(Sent("identify", other, anon, later(300), traits=(("plan", "team"),)))
            sent.append(Sent("pageview", other, anon, later()))
        elif story == "aliased":
            sent.append(Sent("alias", user, None, later(), previous_id=f"legacy-{visitor}"))
    return sent


def people_after(sent: list[Sent]) -> People:
    people = People()
    for event in sorted(sent, key=lambda event: event.moment):
        if event.name == "identify" and event.anonymous_id and event.user_id != event.anonymous_id:
            people.link(event.user_id, event.anonymous_id, merges=False)
            if event.traits:
                people.set(event.user_id, dict(event.traits))
        elif event.name == "alias":
            people.link(event.user_id, event.previous_id, merges=True)
    return people


def first_page_views(sent: list[Sent], people: People) -> dict:
    """Each person's first page view, when a funnel from page views enters them."""
    entered: dict = {}
    for event in sorted(sent, key=lambda event: event.moment):
        if event.name == "pageview":
            entered.setdefault(people.of(event.distinct), event.moment)
    return entered


@pytest.fixture
def generated(registered, send):
    sent = histories(seed=4)
    # In time order, as clients send them: the rules apply in arrival order.
    send(registered, [event.body() for event in sorted(sent, key=lambda event: event.moment)])
    return sent, people_after(sent)


def test_the_history_has_every_kind_of_story(generated):
    sent, people = generated
    assert {event.name for event in sent} == {"pageview", "identify", "signup", "alias"}
    assert len({people.of(event.distinct) for event in sent}) < len({event.distinct for event in sent})


def test_unique_users_per_day_and_in_all_count_persons(generated, registered, report):
    sent, people = generated
    summary = report(registered, "event-summary", **RANGE).json()
    assert summary["count"] == len(sent)
    assert summary["uniqueUsers"] == len({people.of(event.distinct) for event in sent})

    per_day: dict[date, set] = defaultdict(set)
    for event in sent:
        per_day[event.moment.date()].add(people.of(event.distinct))
    days = report(registered, "daily-stats", **RANGE).json()
    assert {day["date"]: day["uniqueUsers"] for day in days} == {
        (START + timedelta(days=n)).date().isoformat(): len(per_day[(START + timedelta(days=n)).date()])
        for n in range(DAYS)
    }


def test_a_funnel_from_an_anonymous_page_view_to_an_identified_signup_converts(generated, registered, client_for):
    sent, people = generated
    entered = first_page_views(sent, people)
    converted = {
        people.of(event.distinct)
        for event in sent
        if event.name == "signup" and entered.get(people.of(event.distinct), event.moment) < event.moment
    }
    body = (
        client_for(registered.secret_key.raw)
        .post("/api/analytics/funnels", {"steps": [{"event": "pageview"}, {"event": "signup"}], **RANGE}, format="json")
        .json()
    )
    assert [step["count"] for step in body["steps"]] == [len(entered), len(converted)]
    # Every signup follows its visitor's anonymous page views: without persons none would convert.
    assert len(converted) == len({event.user_id for event in sent if event.name == "signup"})


def test_active_users_count_persons(generated, registered, report):
    sent, people = generated
    body = report(registered, "active-users", **RANGE).json()
    assert body["mau"] == len({people.of(event.distinct) for event in sent})


def test_user_stats_and_the_journey_cover_every_id_of_the_person(generated, registered, report):
    sent, people = generated
    for user in sorted({event.user_id for event in sent if event.name == "signup"})[:8]:
        person = people.of(user)
        mine = [event for event in sent if people.of(event.distinct) == person]
        ids = sorted({event.distinct for event in mine} | {d for d, owner in people.owner.items() if owner == person})
        stats = report(registered, "user-stats", userId=user).json()
        assert stats["totalEvents"] == len(mine)
        assert sorted(stats["distinctIds"]) == ids
        journey = report(registered, f"users/{user}/journey", limit=500).json()
        assert sum(len(session["events"]) for session in journey["sessions"]) == len(mine)


def test_a_breakdown_by_a_person_property_counts_events_and_persons_by_their_traits(generated, registered, report):
    sent, people = generated
    expected: dict = defaultdict(lambda: [0, set()])
    for event in sent:
        figures = expected[people.property(event.distinct, "plan")]
        figures[0] += 1
        figures[1].add(people.of(event.distinct))
    body = report(registered, "breakdown", by="person.plan", **RANGE).json()
    assert body["by"] == "person.plan"
    assert {value["value"]: (value["count"], value["uniqueUsers"]) for value in body["values"]} == {
        plan: (count, len(persons)) for plan, (count, persons) in expected.items()
    }
    assert {"pro", "free", "team", None} == {value["value"] for value in body["values"]}


def test_a_funnel_step_can_filter_on_a_person_property(generated, registered, client_for):
    sent, people = generated
    entered = first_page_views(sent, people)
    pro = {
        people.of(event.distinct)
        for event in sent
        if event.name == "signup"
        and people.property(event.distinct, "plan") == "pro"
        and entered.get(people.of(event.distinct), event.moment) < event.moment
    }
    steps = [{"event": "pageview"}, {"event": "signup", "filters": [{"property": "person.plan", "value": "pro"}]}]
    body = (
        client_for(registered.secret_key.raw)
        .post("/api/analytics/funnels", {"steps": steps, **RANGE}, format="json")
        .json()
    )
    assert [step["count"] for step in body["steps"]] == [len(entered), len(pro)]
    assert 0 < len(pro) < len(entered)
