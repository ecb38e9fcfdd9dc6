"""Reading persons: what reports ask of the Django database, whichever store holds the events."""

from persons.models import Person, PersonDistinctId


def person_of(app_id, distinct_id: str) -> Person | None:
    """The person an id was linked to; None for an id never linked (a person of its own, no properties)."""
    mapping = PersonDistinctId.objects.filter(app_id=app_id, distinct_id=distinct_id).select_related("person").first()
    return mapping.person if mapping else None


def distinct_ids_of(app_id, distinct_id: str) -> list[str]:
    """Every id of the person ``distinct_id`` belongs to, the person's key first; the id alone when it
    was never linked."""
    person = person_of(app_id, distinct_id)
    if person is None:
        return [distinct_id]
    linked = PersonDistinctId.objects.filter(app_id=app_id, person=person).exclude(distinct_id=person.key)
    return [person.key, *sorted(linked.values_list("distinct_id", flat=True))]
