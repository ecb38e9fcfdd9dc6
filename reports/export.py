"""Export files written row by row: CSV and NDJSON generators over a row iterator.

Rows are gathered into blocks of about 64 KiB before being yielded, so the server writes a few large
chunks rather than one tiny one per event, and holds no more than one block at a time.
"""

import csv
import io
import json
from collections.abc import Iterable, Iterator
from datetime import datetime

BLOCK_BYTES = 64 * 1024
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
