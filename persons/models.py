"""One person per user of an app: the ids identify and alias linked, and the traits they set.

Only linked ids have a row. An id with none is a person of its own, whose key is the id itself, so
reports count ``COALESCE(person_key, distinct_id)`` over one LEFT JOIN and never need a row per id.
"""

from django.db import models

from apikeys.models import App


class Person(models.Model):
    app = models.ForeignKey(App, on_delete=models.CASCADE, related_name="persons", db_index=False)
    key = models.CharField(max_length=200, help_text="One of the person's distinct ids: what reports count.")
    properties = models.JSONField(default=dict, blank=True, help_text="Traits from identify and $set.")
    # Raised each time the properties change: ClickHouse's copy (person_properties) keeps the highest.
    properties_version = models.PositiveBigIntegerField(default=0)
    is_identified = models.BooleanField(
        default=False, help_text="A user id (not only anonymous ids) belongs to this person."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["app", "key"], name="person_key_unique_per_app")]

    def __str__(self) -> str:
        return self.key


class PersonDistinctId(models.Model):
    app = models.ForeignKey(App, on_delete=models.CASCADE, db_index=False)
    distinct_id = models.CharField(max_length=200)
    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="distinct_ids")
    # The person's key, copied so reports resolve an id with one join, not two.
    person_key = models.CharField(max_length=200)
    # Raised each time the id moves to another person: ClickHouse's copy keeps the highest.
    version = models.PositiveBigIntegerField(default=1)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["app", "distinct_id"], name="person_distinct_id_unique")]
        # The reports read a person's ids by its key (reports.dialect.django.ids_of_persons).
        indexes = [models.Index(fields=["app", "person_key"], name="person_ids_by_key")]

    def __str__(self) -> str:
        return f"{self.distinct_id} -> {self.person_key}"
