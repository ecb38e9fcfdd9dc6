"""The report tests run unchanged on every store: they insert through collect or bulk_create into the
Django database, and on ClickHouse each report reads a copy of those events, and of the persons'
id mappings, made just before it runs (by the same row conversions the writer and persons.mirror
use), so a test reads what it wrote on either store."""

from django.db.models import Count, Max, Sum

from clickhouse_store import rows, testing
from clickhouse_store.client import Client
from events.models import Event
from persons import mirror
from persons.models import Person, PersonDistinctId
from reports.dialect.clickhouse import ClickHouse

COPY_CHUNK = 5000


class Mirror:
    def __init__(self, store: Client) -> None:
        self.store = store
        self.copied = None

    def refresh(self) -> None:
        """Copies the Django database's events and id mappings when they changed since the last copy."""
        signature = (
            Event.objects.aggregate(count=Count("id"), top=Max("id"), total=Sum("id")),
            PersonDistinctId.objects.aggregate(count=Count("id"), versions=Sum("version"), keys=Max("person_key")),
            Person.objects.aggregate(count=Count("id"), versions=Sum("properties_version")),
        )
        if signature == self.copied:
            return
        testing.empty(self.store)
        mirror.write(PersonDistinctId.objects.select_related("person"), client=self.store)
        batch = []
        for event in Event.objects.order_by("id").iterator(chunk_size=COPY_CHUNK):
            batch.append(rows.from_event(event, seq=event.id))
            if len(batch) == COPY_CHUNK:
                self.store.insert(f"{self.store.database}.events", rows.COLUMNS, batch)
                batch = []
        self.store.insert(f"{self.store.database}.events", rows.COLUMNS, batch)
        self.copied = signature


class MirroredClickHouse(ClickHouse):
    """Copies when made, as a report starts (so an export's copy is not counted as its streaming's
    memory), and again before each statement, for a test that writes between two reads."""

    def __init__(self, mirror: Mirror) -> None:
        super().__init__(mirror.store)
        self.mirror = mirror
        mirror.refresh()

    def fetch(self, sql, params):
        self.mirror.refresh()
        return super().fetch(sql, params)

    def stream(self, sql, params, *, chunk):
        self.mirror.refresh()
        yield from super().stream(sql, params, chunk=chunk)
