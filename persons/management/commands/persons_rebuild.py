"""Record the persons of events already stored: for events from before persons existed, or after the
mappings were lost. Every identity rule is idempotent, so a second run changes nothing."""

import json
from collections.abc import Iterator

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db.models import F, Q

from apikeys.management.commands._helpers import find_app
from clickhouse_store.client import ClickHouseStoreError, client
from events.models import Event
from events.store import COLUMNS
from persons import mirror
from persons.identity import ALIAS, IDENTIFY
from persons.models import PersonDistinctId
from persons.services import persons_record

BATCH = 1000
# What persons.identity reads of a row; the other columns stay empty.
_FIELDS = ("app_id", "name", "distinct_id", "user_id", "anonymous_id", "metadata")
_SET_KEYS = ("$set", "$set_once")


def _row(values: tuple) -> tuple:
    row = [None] * len(COLUMNS)
    for field, value in zip(_FIELDS, values, strict=True):
        row[COLUMNS.index(field)] = value
    return tuple(row)


def _django_rows(app) -> Iterator[tuple]:
    events = Event.objects.filter(Q(name__in=[IDENTIFY, ALIAS]) | Q(metadata__has_any_keys=_SET_KEYS))
    if app is not None:
        events = events.filter(app=app)
    for *values, metadata in events.order_by("timestamp", "id").values_list(*_FIELDS).iterator(chunk_size=BATCH):
        yield _row((*values, json.dumps(metadata)))


def _clickhouse_rows(app) -> Iterator[tuple]:
    store = client()
    only_app = " AND app_id = %(app)s" if app is not None else ""
    sql = (
        f"SELECT {', '.join(_FIELDS)} FROM {store.database}.events "  # noqa: S608 (identifiers, placeholders)
        "WHERE (name IN ('identify', 'alias') OR hasAny(metadata_keys, ['$set', '$set_once']))"
        f"{only_app} ORDER BY timestamp_us, seq"
    )
    for values in store.iter_rows(sql, {"app": app.id} if app is not None else None, chunk=BATCH):
        yield _row(values)


def _supersede_clickhouse_copy(app) -> None:
    """Rebuilt mappings may start again at version 1, below what ClickHouse's copy still holds from
    before they were lost: raise them past its highest version and copy them all, so argMax picks them."""
    store = client()
    only_app = " WHERE app_id = %(app)s" if app is not None else ""
    ((highest,),) = store.execute(
        f"SELECT max(version) FROM {store.database}.person_ids{only_app}",  # noqa: S608 (identifiers, placeholders)
        {"app": app.id} if app is not None else None,
    )
    mappings = PersonDistinctId.objects.filter(app=app) if app is not None else PersonDistinctId.objects.all()
    if highest:
        mappings.update(version=F("version") + highest)
    mirror.write(mappings.select_related("person").iterator(chunk_size=10_000))


class Command(BaseCommand):
    help = "Link ids and set person properties from the identify, alias and $set events already stored."

    def add_arguments(self, parser):
        parser.add_argument("--app", help="Only this app (id or name).")

    def handle(self, *args, app, **options):
        target = find_app(app) if app else None
        on_clickhouse = settings.ANALYTICS_STORE == "clickhouse"
        rows = _clickhouse_rows(target) if on_clickhouse else _django_rows(target)
        batch, seen = [], 0
        try:
            for row in rows:
                batch.append(row)
                if len(batch) == BATCH:
                    persons_record(batch, clickhouse=on_clickhouse, replaying=True)
                    seen, batch = seen + len(batch), []
            persons_record(batch, clickhouse=on_clickhouse, replaying=True)
            if on_clickhouse:
                _supersede_clickhouse_copy(target)
        except ClickHouseStoreError as exc:
            raise CommandError(f"ClickHouse: {exc}") from exc
        self.stdout.write(f"read {seen + len(batch):,} identify, alias and $set events; persons recorded")
