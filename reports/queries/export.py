"""The export: an app's raw events in a range, oldest first, streamed as CSV or NDJSON.

Rows are read a chunk at a time and gathered into blocks of about 64 KiB before being yielded, so the
server writes a few large chunks rather than one tiny one per event, and holds no more than one block.
"""

import csv
import io
import json
from collections.abc import Iterable, Iterator
from datetime import datetime

from reports.dialect import current
from reports.params import Window
from reports.properties import EXPORT_COLUMNS
from reports.queries.base import in_window

BLOCK_BYTES = 64 * 1024
EXPORT_CHUNK = 2000
HEADER = [name for name, _ in EXPORT_COLUMNS]
# The columns the store may hand back in its own representation, and the Dialect method that reads them.
_CONVERTERS = {"event_id": "to_uuid", "timestamp": "to_timestamp", "received_at": "to_timestamp", "metadata": "to_json"}
# A spreadsheet runs a cell that starts with one of these as a formula (=HYPERLINK(...) sent with a
# publishable key would run on the analyst's machine); a leading ' makes it text (OWASP CSV injection).
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return str(value)


def _csv_cell(value) -> str:
    text = _text(value)
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def csv_lines(header: list[str], rows: Iterable[tuple]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    for row in rows:
        writer.writerow([_csv_cell(value) for value in row])
        if buffer.tell() >= BLOCK_BYTES:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def _json_value(value):
    if value is None or isinstance(value, (str, int, float, dict, list)):
        return value
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)  # UUIDs, and IP addresses where the driver returns objects


def ndjson_lines(header: list[str], rows: Iterable[tuple]) -> Iterator[str]:
    block: list[str] = []
    size = 0
    for row in rows:
        line = json.dumps(
            {name: _json_value(value) for name, value in zip(header, row, strict=True)},
            separators=(",", ":"),
            ensure_ascii=False,
        )
        block.append(line)
        size += len(line) + 1
        if size >= BLOCK_BYTES:
            yield "\n".join(block) + "\n"
            block, size = [], 0
    if block:
        yield "\n".join(block) + "\n"


def events_export(*, app_id, window: Window, event: str | None) -> Iterator[tuple]:
    """The window's events in time order (ties in arrival order), in EXPORT_COLUMNS order, fetched
    EXPORT_CHUNK rows at a time so memory stays flat however many there are. The store is chosen now,
    when the response is made; rows are read as it is sent."""
    dialect = current()
    c = dialect.column
    where, params = in_window(dialect, app_id, window, event)
    columns = ", ".join(f"e.{c(field)}" for _, field in EXPORT_COLUMNS)
    sql = f"SELECT {columns} FROM {dialect.table} e WHERE {where} ORDER BY e.{c('timestamp')}, e.{c('id')}"  # noqa: S608
    readers = {
        position: getattr(dialect, _CONVERTERS[field])
        for position, (_, field) in enumerate(EXPORT_COLUMNS)
        if field in _CONVERTERS
    }
    return _read(dialect.stream(sql, params, chunk=EXPORT_CHUNK), readers)


def _read(rows: Iterable[tuple], readers: dict) -> Iterator[tuple]:
    for row in rows:
        values = list(row)
        for position, read in readers.items():
            if values[position] is not None:
                values[position] = read(values[position])
        yield tuple(values)
