"""Recording persons from events on their way into the store, in the Django database and, when the
reports read ClickHouse, in its copy of the id mappings."""

import logging
from collections.abc import Iterable, Sequence

from django.db import DatabaseError

from analytics_project.errors import is_database_outage
from events import store
from persons import identity, mirror

logger = logging.getLogger(__name__)


def persons_record(rows: Iterable[Sequence], *, clickhouse: bool = False) -> None:
    """Link ids and set properties as the rows (events.store.COLUMNS order) ask, and with
    ``clickhouse`` copy the mappings that changed there. Before the rows are stored, so a retried flush
    records again (every rule is idempotent) rather than never. An outage raises; the database refusing
    a change is logged and the events go on to the store without it."""
    try:
        mappings = identity.record(rows)
    except DatabaseError as exc:
        if is_database_outage(exc):
            raise
        logger.exception("persons not recorded for a batch: %s", exc.__class__.__name__)
        return
    if mappings and clickhouse:
        mirror.write(mappings)


def persons_record_copy_text(text: str, *, clickhouse: bool) -> None:
    """As persons_record, for the ingestion buffer's COPY text: only the lines that may ask are parsed."""
    rows = (store.copy_line_row(line) for line in store.copy_lines(text) if identity.may_change(line))
    persons_record(rows, clickhouse=clickhouse)
