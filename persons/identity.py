"""The identity rules: which stored events link ids into one person, and which set its properties.

Read from events as they are stored (events.services on the request path, events.worker for the
buffered one), so a replayed event links nothing new and every store sees the same persons.

- ``identify`` (userId U, anonymousId A: Segment, RudderStack, PostHog's ``$identify``, our tracker)
  links A to U's person. As in PostHog, it never merges a person that is already identified: when A
  belongs to a person another user id identified (a shared device), U gets a person of its own and
  A stays where it was.
- ``alias`` (userId U, ``metadata.previousId`` P: Segment's alias, PostHog's ``$create_alias``) is the
  explicit "these are one user": it links P to U's person and merges two persons if it must.
- A merge keeps U's person (its key, so U's figures stay where they were) and moves every id of the
  other to it; properties the kept person lacks come from the other.
- Linking is retroactive: reports resolve ids when they run, so events already stored under A count as
  U's person from then on, in every report, on both stores.
- Traits: an identify event's metadata (PostHog's ``$os`` and the like included) and ``metadata["$set"]``
  on any event overwrite the person's properties; ``metadata["$set_once"]`` only fills what is missing. An
  event's traits go to the person of its distinct id, created for the id if it has none.
"""

import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import DatabaseError, IntegrityError, transaction
from django.db.models import F

from analytics_project.errors import is_database_outage
from events.store import COLUMNS
from persons.models import Person, PersonDistinctId

logger = logging.getLogger(__name__)
IDENTIFY, ALIAS = "identify", "alias"
_APP, _EVENT, _NAME, _DISTINCT, _USER, _ANONYMOUS, _METADATA = (
    COLUMNS.index(column)
    for column in ("app_id", "event_id", "name", "distinct_id", "user_id", "anonymous_id", "metadata")
)
MAX_ID = 200  # PersonDistinctId.distinct_id, as every id column of an event


@dataclass
class Change:
    """What one event asks of the persons: ids to link, and properties to set."""

    app_id: Any
    event_id: Any  # of the event that asks: a retried event must not set its old traits again
    distinct_id: str
    link: tuple[str, str] | None = None  # (user id, the other id)
    merges_identified: bool = False
    set: dict = field(default_factory=dict)
    set_once: dict = field(default_factory=dict)


def _object(value) -> dict:
    return value if isinstance(value, dict) else {}


def may_change(copy_line: str) -> bool:
    """Whether a line of COPY text may ask for a change: a cheap test, so most lines are never parsed."""
    return f"\t{IDENTIFY}\t" in copy_line or f"\t{ALIAS}\t" in copy_line or '"$set' in copy_line


def change_for(row: Sequence) -> Change | None:
    """The change an events row (events.store.COLUMNS order; values typed or COPY text) asks for, if any."""
    name, metadata_json = row[_NAME], row[_METADATA]
    if name not in (IDENTIFY, ALIAS) and (not metadata_json or '"$set' not in metadata_json):
        return None  # the common case, decided without parsing the metadata
    metadata = _object(json.loads(metadata_json)) if metadata_json else {}
    change = Change(
        app_id=row[_APP],
        event_id=row[_EVENT],
        distinct_id=row[_DISTINCT],
        set=dict(_object(metadata.get("$set"))),
        set_once=dict(_object(metadata.get("$set_once"))),
    )
    user_id = row[_USER] or ""
    if name == IDENTIFY:
        traits = {key: value for key, value in metadata.items() if key not in ("$set", "$set_once")}
        change.set = {**traits, **change.set}
        if user_id and row[_ANONYMOUS] and row[_ANONYMOUS] != user_id:
            change.link = (user_id, row[_ANONYMOUS])
    elif name == ALIAS:
        previous = metadata.get("previousId")
        previous = str(previous) if isinstance(previous, str | int) and not isinstance(previous, bool) else ""
        if user_id and previous and previous != user_id and len(previous) <= MAX_ID:
            change.link, change.merges_identified = (user_id, previous), True
    if change.link is None and not change.set and not change.set_once:
        return None
    return change


def changes_in(rows: Iterable[Sequence]) -> list[Change]:
    return [change for change in map(change_for, rows) if change is not None]


def record(changes: Iterable[Change]) -> list[PersonDistinctId]:
    """Apply the changes, in order, each in a transaction of its own; the id mappings they touched, as
    now stored (for ClickHouse's copy, persons.mirror). A change the database refuses is logged and
    skipped, so it costs no other event (of any app) its link; an outage raises."""
    touched: dict[tuple[str, str], None] = {}
    for change in changes:
        for attempt in range(2):
            try:
                with transaction.atomic():
                    touched.update(dict.fromkeys(_apply(change)))
                break
            except IntegrityError:  # another worker created the same id or person first: read it now
                if attempt:
                    raise
            except DatabaseError as exc:
                if is_database_outage(exc):
                    raise
                logger.warning("persons: event %s changed nothing: %s", change.event_id, exc.__class__.__name__)
                break
    if not touched:
        return []
    found = []
    for app_id in {app_id for app_id, _ in touched}:
        ids = [distinct_id for app, distinct_id in touched if app == app_id]
        found += PersonDistinctId.objects.filter(app_id=app_id, distinct_id__in=ids).select_related("person")
    return found


def _apply(change: Change) -> list[tuple[str, str]]:
    """One change in the caller's transaction; the (app, distinct id) pairs whose mapping or person it
    wrote."""
    touched = []
    if change.link:
        touched += _link(change.app_id, *change.link, merges_identified=change.merges_identified)
    if change.set or change.set_once:
        person, _created = _person_of(change.app_id, change.distinct_id)
        touched.append((str(change.app_id), change.distinct_id))  # its person's properties, at least
        _set_properties(person, {**change.set_once, **person.properties, **change.set})
    return touched


def _set_properties(person: Person, properties: dict, also: list[str] | None = None) -> None:
    changed = properties != person.properties
    person.properties = properties
    if changed:
        person.properties_version += 1
    person.save(update_fields=["properties", "properties_version", "updated_at", *(also or [])])


def _mappings(app_id, distinct_ids: list[str]) -> dict[str, PersonDistinctId]:
    rows = PersonDistinctId.objects.select_for_update().select_related("person")
    return {row.distinct_id: row for row in rows.filter(app_id=app_id, distinct_id__in=distinct_ids)}


def _person_of(app_id, distinct_id: str) -> tuple[Person, bool]:
    mapping = _mappings(app_id, [distinct_id]).get(distinct_id)
    if mapping is not None:
        return Person.objects.select_for_update().get(pk=mapping.person_id), False
    person = Person.objects.create(app_id=app_id, key=distinct_id)
    PersonDistinctId.objects.create(app_id=app_id, distinct_id=distinct_id, person=person, person_key=person.key)
    return person, True


def _link(app_id, user_id: str, other_id: str, *, merges_identified: bool) -> list[tuple[str, str]]:
    found = _mappings(app_id, [user_id, other_id])
    user, other = found.get(user_id), found.get(other_id)
    app = str(app_id)
    if user is None and other is None:
        person = Person.objects.create(app_id=app_id, key=user_id, is_identified=True)
        for distinct_id in (user_id, other_id):
            PersonDistinctId.objects.create(app_id=app_id, distinct_id=distinct_id, person=person, person_key=user_id)
        return [(app, user_id), (app, other_id)]
    if user is None:
        if other.person.is_identified and not merges_identified:
            person = Person.objects.create(app_id=app_id, key=user_id, is_identified=True)
        else:
            person = other.person
            Person.objects.filter(pk=person.pk).update(is_identified=True)
        PersonDistinctId.objects.create(app_id=app_id, distinct_id=user_id, person=person, person_key=person.key)
        return [(app, user_id)]
    if not user.person.is_identified:
        Person.objects.filter(pk=user.person_id).update(is_identified=True)
    if other is None:
        PersonDistinctId.objects.create(
            app_id=app_id, distinct_id=other_id, person_id=user.person_id, person_key=user.person_key
        )
        return [(app, other_id)]
    if other.person_id == user.person_id or (other.person.is_identified and not merges_identified):
        return []
    return [(app, distinct_id) for distinct_id in _merge(user.person, other.person)]


def _merge(kept: Person, merged: Person) -> list[str]:
    """Move every id of ``merged`` to ``kept``; the ids moved."""
    moving = PersonDistinctId.objects.select_for_update().filter(person=merged)
    moved = list(moving.values_list("distinct_id", flat=True))
    moving.update(person=kept, person_key=kept.key, version=F("version") + 1)
    kept.is_identified = True
    _set_properties(kept, {**merged.properties, **kept.properties}, also=["is_identified"])
    merged.delete()
    return moved
